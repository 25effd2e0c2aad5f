"""Loads every table of a run directory with pandas, DuckDB, Polars and pyarrow, each with
no options, as our users do, and checks that each client sees the file as it is: as many
rows and columns, the header's names, and numbers where the table has numbers.

A column empty in every row (nothing measured, e.g. days to cash in a run where no seller
was paid) comes out as text or null in DuckDB, Polars and pyarrow: CSV carries no types.
That is a failure here, not an exception; tests/data/small.toml has no such column.

Usage: load_tables.py RUN_DIR   (run by tests/it/clients.rs; exit 1 names every failure)
"""

import csv
import sys
from pathlib import Path

import duckdb
import pandas
import polars
import pyarrow
import pyarrow.csv

# The columns that hold text by design, per table; every other column must come out
# numeric in every client. A table missing here is a failure: name its text columns.
TEXT_COLUMNS = {
    "daily_markets.csv": {"date", "market"},
    "daily_facilities.csv": {"date", "facility", "kind"},
    "payments.csv": {"market", "method"},
    "sellers.csv": {"sellers", "market", "tier"},
    "cashflow.csv": {"date", "sellers", "market"},
    "lead_times.csv": {"market", "route"},
    "summary.csv": {"entity", "entity_kind", "metric"},
}

# The event log has its own test: its `#` lines need each client's comment option.
NOT_TABLES = {"events.csv"}


def counted(path):
    """The header and the number of rows, as the csv module reads the file."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], len(rows) - 1


def load_pandas(path):
    df = pandas.read_csv(path)
    numeric = {c: pandas.api.types.is_numeric_dtype(df[c]) for c in df.columns}
    return list(df.columns), len(df), numeric, {c: str(df[c].dtype) for c in df.columns}


DUCKDB_NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
    "FLOAT", "DOUBLE", "DECIMAL",
)


def load_duckdb(path):
    rel = duckdb.read_csv(str(path))
    types = [str(t) for t in rel.types]
    rows = rel.aggregate("count(*)").fetchall()[0][0]
    numeric = {c: t.startswith(DUCKDB_NUMERIC) for c, t in zip(rel.columns, types)}
    return list(rel.columns), rows, numeric, dict(zip(rel.columns, types))


def load_polars(path):
    df = polars.read_csv(path)
    numeric = {c: df.schema[c].is_numeric() for c in df.columns}
    return list(df.columns), df.height, numeric, {c: str(df.schema[c]) for c in df.columns}


def load_pyarrow(path):
    table = pyarrow.csv.read_csv(path)
    types = {f.name: f.type for f in table.schema}
    numeric = {
        c: pyarrow.types.is_integer(t) or pyarrow.types.is_floating(t) or pyarrow.types.is_decimal(t)
        for c, t in types.items()
    }
    return table.column_names, table.num_rows, numeric, {c: str(t) for c, t in types.items()}


CLIENTS = {
    "pandas": load_pandas,
    "duckdb": load_duckdb,
    "polars": load_polars,
    "pyarrow": load_pyarrow,
}


def check_table(path):
    name = path.name
    problems = []
    if name not in TEXT_COLUMNS:
        return [f"{name}: not in TEXT_COLUMNS of {__file__}: name its text columns there"]
    header, rows = counted(path)
    for client, load in CLIENTS.items():
        try:
            columns, n, numeric, types = load(path)
        except Exception as e:  # the client could not read it at all
            problems.append(f"{name}: {client} cannot read it: {e}")
            continue
        if columns != header:
            problems.append(f"{name}: {client} reads the columns {columns}, the header is {header}")
        if n != rows:
            problems.append(f"{name}: {client} reads {n} rows, the file has {rows}")
        if rows == 0:
            # A table with no rows (daily_facilities.csv of a scenario without facilities)
            # has no values to infer types from, and CSV carries none: only its header and
            # count are checked.
            continue
        for column in header:
            if column in TEXT_COLUMNS[name] or column not in numeric:
                continue
            if not numeric[column]:
                problems.append(
                    f"{name}: {client} reads column `{column}` as {types[column]}, not as numbers"
                )
    return problems


def main():
    run_dir = Path(sys.argv[1])
    tables = sorted(p for p in run_dir.glob("*.csv") if p.name not in NOT_TABLES)
    if not tables:
        sys.exit(f"{run_dir}: no tables (*.csv) to load")
    problems = [p for t in tables for p in check_table(t)]
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{len(tables)} tables read alike by {', '.join(CLIENTS)}")


if __name__ == "__main__":
    main()
