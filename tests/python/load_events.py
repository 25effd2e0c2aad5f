"""The event log as our users load it: a bare read gives one row per event and every
column of the data dictionary; the one option each reader needs (README, Analysing outputs)
gives every integer column an integer type; DuckDB takes `time` for a timestamp with its
zone as it is.

    load_events.py RUN_DIR
"""
import json
import pathlib
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.csv

run = pathlib.Path(sys.argv[1])
log = run / "events.csv"
meta = json.loads((run / "events.meta.json").read_text())
names = [c["name"] for c in meta["columns"]]
integers = [c["name"] for c in meta["columns"] if c["type"] in ("integer", "boolean")]
rows = meta["events"]
failures = []


def check(client, shape, columns):
    if shape != (rows, len(names)) or list(columns) != names:
        failures.append(f"{client}: {shape} {list(columns)}, expected ({rows}, {len(names)}) {names}")


def check_integers(client, types):
    for name in integers:
        if not types[name]:
            failures.append(f"{client}: column {name} is not read as an integer")


# Bare reads: rows and columns.
df = pd.read_csv(log)
check("pandas", df.shape, df.columns)
rel = duckdb.read_csv(str(log))
check("duckdb", (rel.shape[0], len(rel.columns)), rel.columns)
pdf = pl.read_csv(log)
check("polars", pdf.shape, pdf.columns)
table = pyarrow.csv.read_csv(log)
check("pyarrow", (table.num_rows, table.num_columns), table.column_names)
if str(dict(zip(rel.columns, rel.types))["time"]) != "TIMESTAMP WITH TIME ZONE":
    failures.append("duckdb: `time` is not a TIMESTAMP WITH TIME ZONE")

# The one option each: integers stay integers.
df = pd.read_csv(log, dtype_backend="numpy_nullable")
check_integers("pandas (numpy_nullable)", {n: str(df[n].dtype) == "Int64" for n in integers})
rel = duckdb.read_csv(str(log), sample_size=-1)
types = {c: str(t) for c, t in zip(rel.columns, rel.types)}
check_integers("duckdb (sample_size=-1)", {n: types[n] == "BIGINT" for n in integers})
pdf = pl.read_csv(log, infer_schema_length=None)
check_integers("polars (infer_schema_length=None)", {n: pdf.schema[n].is_integer() for n in integers})
# The data dictionary as Polars' schema.
pl_types = {"integer": pl.Int64, "boolean": pl.Int8, "text": pl.String, "timestamp": pl.String}
typed = pl.read_csv(log, schema={c["name"]: pl_types[c["type"]] for c in meta["columns"]})
if typed.shape != (rows, len(names)):
    failures.append(f"polars (schema from the dictionary): {typed.shape}")
# The sums the tables fold are the log's: duty over all customs clearances.
duty = duckdb.sql(f"SELECT sum(duty_cents) FROM read_csv('{log}', sample_size=-1)").fetchall()[0][0]
summary = pd.read_csv(run / "summary.csv")
expected = summary.query("entity_kind == 'all' and metric == 'duty_usd'").value.iloc[0]
if round(duty) != round(expected * 100):
    failures.append(f"duckdb: duty {duty} cents, summary.csv says {expected} USD")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"events.csv: {rows} rows and {len(names)} columns read alike in pandas, DuckDB, Polars and pyarrow")
