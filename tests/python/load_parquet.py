"""Reads a tradesim run's Parquet event log (RUN_DIR/events/) with bare calls in pandas,
DuckDB and Polars, and checks what each sees: the row count, the columns, integer
columns as (nullable) integers, `time` as a timestamp with a time zone, and `kind` as a
category or string.

Usage: python load_parquet.py RUN_DIR EXPECTED_ROWS
"""

import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

COLUMNS = [
    "seq", "time_s", "time", "kind", "order_id", "market", "route", "hub", "seller",
    "category", "method", "attempt", "success", "value_cents", "duty_cents", "vat_cents",
    "inspected", "wait_s", "service_s", "lead_s", "freight_cents", "fee_cents",
    "commission_cents", "finance_cents", "cod_cents", "to_cash_s",
]
INTEGERS = [
    "seq", "time_s", "order_id", "seller", "attempt", "value_cents", "duty_cents",
    "vat_cents", "wait_s", "service_s", "lead_s", "freight_cents", "fee_cents",
    "commission_cents", "finance_cents", "cod_cents", "to_cash_s",
]
# Hive partitioning adds the day's directory as a column.
PARTITION = "date"


def check(client, rows, columns, expected):
    columns = [c for c in columns if c != PARTITION]
    assert rows == expected, f"{client}: {rows} rows, expected {expected}"
    assert columns == COLUMNS, f"{client}: columns {columns}"
    print(f"{client}: {rows} rows, {len(columns)} columns")


def with_pandas(log, expected):
    df = pd.read_parquet(log)
    check("pandas", len(df), list(df.columns), expected)
    for c in INTEGERS:
        assert pd.api.types.is_integer_dtype(df[c].dtype), f"pandas: {c} is {df[c].dtype}"
    # Sparse columns stay integers, with missing values.
    assert df["duty_cents"].isna().any() and df["duty_cents"].notna().any()
    assert isinstance(df["time"].dtype, pd.DatetimeTZDtype), f"pandas: time is {df['time'].dtype}"
    assert isinstance(df["kind"].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
        df["kind"].dtype
    ), f"pandas: kind is {df['kind'].dtype}"
    assert (df["seq"].diff().dropna() != 0).all()


def with_duckdb(log, expected):
    rel = duckdb.read_parquet(f"{log}/*/*.parquet")
    types = dict(zip(rel.columns, [str(t) for t in rel.types]))
    rows = rel.aggregate("count(*)").fetchall()[0][0]
    check("duckdb", rows, rel.columns, expected)
    for c in INTEGERS:
        assert "INT" in types[c], f"duckdb: {c} is {types[c]}"
    assert types["time"] == "TIMESTAMP WITH TIME ZONE", f"duckdb: time is {types['time']}"
    assert types["kind"] in ("VARCHAR",) or types["kind"].startswith("ENUM"), types["kind"]
    nulls = rel.aggregate("count(*) - count(duty_cents)").fetchall()[0][0]
    assert 0 < nulls < rows, f"duckdb: {nulls} null duty_cents"


def with_polars(log, expected):
    df = pl.read_parquet(log)
    check("polars", df.height, df.columns, expected)
    for c in INTEGERS:
        assert df.schema[c].is_integer(), f"polars: {c} is {df.schema[c]}"
    time = df.schema["time"]
    assert isinstance(time, pl.Datetime) and time.time_zone, f"polars: time is {time}"
    assert df.schema["kind"] in (pl.Categorical, pl.String) or isinstance(
        df.schema["kind"], (pl.Categorical, pl.Enum)
    ), f"polars: kind is {df.schema['kind']}"
    assert 0 < df["duty_cents"].null_count() < df.height


def main():
    run, expected = Path(sys.argv[1]), int(sys.argv[2])
    log = run / "events"
    with_pandas(log, expected)
    with_duckdb(log, expected)
    with_polars(log, expected)


if __name__ == "__main__":
    main()
