"""Reads an OCEL 2.0 JSON file written by `tradesim export-ocel` with PM4Py and discovers
object-centric process models from it, as a process-mining user would.

Usage: ocel_pm4py.py FILE EXPECTED_EVENTS EXPECTED_ORDERS
  EXPECTED_EVENTS: the events in the run's log; EXPECTED_ORDERS: the orders placed in it.
Run by tests/it/clients.rs; exit 1 names every failure.
"""

import sys

# PM4Py greets on stderr when imported from a script; failures should show only ours.
sys._pm4py_welcome_shown = True
import pm4py  # noqa: E402

ACTIVITIES_EXPECTED = {"order_placed", "payment_attempted", "dispatched", "delivered"}


def main():
    path, expected_events, expected_orders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    problems = []
    ocel = pm4py.read_ocel2_json(path)

    events = len(ocel.events)
    if events != expected_events:
        problems.append(f"{events} events read, the log has {expected_events}")
    placed = int((ocel.events["ocel:activity"] == "order_placed").sum())
    if placed != expected_orders:
        problems.append(f"{placed} order_placed events, the run placed {expected_orders} orders")

    orders = ocel.objects[ocel.objects["ocel:type"] == "order"]
    # Orders placed before a warm-up's end have only their later events in the log, and
    # so no placement attributes; those placed in it have them all.
    with_placement = int(orders["value_cents"].notna().sum())
    if with_placement != expected_orders:
        problems.append(
            f"{with_placement} order objects have their placement's attributes, "
            f"the run placed {expected_orders} orders"
        )
    related = set(ocel.relations["ocel:oid"])
    unrelated = [o for o in orders["ocel:oid"] if o not in related]
    if unrelated:
        problems.append(f"{len(unrelated)} order objects in no event, e.g. {unrelated[:3]}")
    parcels_without_order = set(
        ocel.objects.loc[ocel.objects["ocel:type"] == "parcel", "ocel:oid"]
    ) - set(ocel.o2o.loc[ocel.o2o["ocel:qualifier"] == "ships", "ocel:oid"])
    if parcels_without_order:
        problems.append(f"parcels with no order: {sorted(parcels_without_order)[:3]}")

    dfg = pm4py.discover_ocdfg(ocel)
    missing = ACTIVITIES_EXPECTED - set(dfg["activities"])
    if missing:
        problems.append(f"the object-centric DFG lacks the activities {sorted(missing)}")
    order_edges = dfg["edges"]["event_couples"].get("order", {})
    if ("order_placed", "payment_attempted") not in order_edges:
        problems.append(
            f"the orders' DFG has no edge order_placed -> payment_attempted: {sorted(order_edges)}"
        )
    net = pm4py.discover_oc_petri_net(ocel)
    for object_type in ("order", "parcel"):
        if object_type not in net["object_types"]:
            problems.append(f"the object-centric Petri net has no {object_type} net")
    labels = {t.label for t in net["petri_nets"]["order"][0].transitions if t.label}
    if not ACTIVITIES_EXPECTED <= labels:
        problems.append(f"the orders' Petri net lacks {sorted(ACTIVITIES_EXPECTED - labels)}")

    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{events} events, {len(orders)} orders; activities {sorted(dfg['activities'])}")


if __name__ == "__main__":
    main()
