#!/usr/bin/env python3
"""Writes the log_reader fuzz target's seeds (fuzz/seeds/log_reader/) from the checked-in
tiny log. A seed is the sidecar as one line of JSON without its `columns` (the target adds
the data dictionary), a line break, then the CSV. Run it again when the log's format changes:
    python3 fuzz/log_reader_seeds.py
"""
import hashlib
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
run = root / "tests/data/tiny_run"
out = root / "fuzz/seeds/log_reader"
meta = json.loads((run / "events.meta.json").read_text())
del meta["columns"]
lines = (run / "events.csv").read_text().splitlines(keepends=True)
header, rows = lines[0], lines[1:]


def seed(name, csv_lines, **changes):
    text = "".join(csv_lines)
    m = dict(meta, events=len(csv_lines) - 1, bytes=len(text.encode()),
             sha256=hashlib.sha256(text.encode()).hexdigest())
    m.update(changes)
    (out / f"{name}.csv").write_text(json.dumps(m, separators=(",", ":")) + "\n" + text)


for old in out.glob("*.csv"):
    old.unlink()
seed("head40_complete", [header] + rows[:40])
kinds = {}
for r in rows:
    kinds.setdefault(r.split(",")[3], r)
every = [f"{i + 1}," + r.split(",", 1)[1] for i, r in enumerate(kinds.values())]
seed("every_kind", [header] + every)
seed("cut_mid_row", [header] + rows[:10] + [rows[10][:25]])
seed("truncated", [header] + rows[:40], events=41)
seed("bad_header", [header.replace("kind", "kinds")] + rows[:5])
seed("bad_schema", [header] + rows[:5], schema=3)
ctx = dict(meta["context"], days=0)
seed("bad_context_values", [header] + rows[:5], context=ctx)
seed("field_removed", [header] + rows[:5] + [rows[5].replace(",", "", 1)])
seed("rows_swapped", [header] + rows[:5] + [rows[6], rows[5]])
seed("bad_time", [header] + rows[:5] + [rows[5].replace("T00:", "T01:", 1)])
seed("edited", [header] + rows[:20], sha256="0" * 64)
late = [r for r in rows if r.split(",")[3] in ("delivered", "seller_paid", "returned")][:30]
seed("orders_never_placed", [header] + [f"{i + 1}," + r.split(",", 1)[1] for i, r in enumerate(late)])
