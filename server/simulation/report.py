"""The simulation report: one self-contained HTML file (inline SVG charts from matplotlib, no scripts, no network)."""

from __future__ import annotations

import random
from collections import Counter
from html import escape

from engine.simulation.compare import describe_plan, rules_behind
from engine.simulation.kpis import HEADLINE, deltas
from engine.simulation.on_time import LATE_CAUSES
from engine.simulation.replay import OutcomeStatus
from server.simulation import charts
from server.simulation.outputs import SideResult, SimulationResult

MAX_TABLE_ROWS = 500
MAX_MAP_POINTS = 3000
_MONEY = {"cost_per_order", "cost_per_unit", "objective_per_order", "total_cost"}
_RATES = {"split_rate", "fill_rate"}

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1340px;color:#1f2937;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.meta{color:#6b7280;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px;background:#fff}
table{border-collapse:collapse;font-size:12.5px}th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f9fafb;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#00785a;font-weight:600}.bad{color:#b84a00;font-weight:600}.fail{background:#fee2e2}.pass{background:#dcfce7}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}code{background:#f3f4f6;padding:1px 4px}
.scroll{max-height:640px;overflow:auto;border:1px solid #e5e7eb}td.nw{white-space:nowrap}
svg.chart{display:block;max-width:100%;height:auto}
"""


def _fmt(name: str, value: float) -> str:
    if name in _MONEY:
        return f"${value:,.2f}" if name != "total_cost" else f"${value:,.0f}"
    if name in _RATES:
        return f"{value:.2%}"
    if name in ("shipments_per_order", "miles_per_shipment"):
        return f"{value:,.3f}" if name == "shipments_per_order" else f"{value:,.1f}"
    return f"{value:,.0f}"


def render_report(result: SimulationResult) -> str:
    sides = result.sides
    other = result.side(result.candidate)
    title = str(result.run.get("title", "Sourcing simulation"))
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>oms-sourcing: {escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _meta(result),
        _banner(result),
        "<h2>KPIs</h2><div class='grid'>",
        _kpi_table(result),
    ]
    if other is not None:
        rows = [
            (name, d.relative, HEADLINE[name])
            for d in deltas(result.base.kpis, other.kpis)
            if (name := d.name) in HEADLINE and name != "total_cost"
        ]
        title = f"KPI change: {other.name} vs {result.base.name}"
        parts.append(_card(charts.kpi_changes("kpi-changes", title, rows)))
    parts.append("</div>")
    parts.append(_promise_section(sides))
    parts.append("<h2>Distributions</h2><div class='grid'>")
    parts.append(_card(_cost_chart(sides, result.snapshot.currency)))
    parts.append(_card(_shipments_chart(sides)))
    parts.append(_card(_zone_chart(sides)))
    parts.append(_card(_miles_chart(sides)))
    parts.append("</div><h2>Node utilization</h2><div class='grid'>")
    parts.append(_card(_node_chart(sides)))
    # Beside the chart, not below it: the card shrinks and its table scrolls sideways.
    parts.append(f"<div class='card' style='flex:1 1 0;min-width:0'>{_utilization_table(result)}</div>")
    parts.append("</div><h2>Where orders ship from</h2>")
    parts.append(
        f"<p class='meta'>Each dot is a ship-to point (a sample of up to {MAX_MAP_POINTS:,} orders, the same "
        "orders on every map), coloured by the node that ships its first box; the nine busiest nodes have "
        "their own colour.</p>"
    )
    parts.append(_card(_maps(result)))
    parts.append(_rules_table(sides))
    if other is not None and result.changes:
        parts.append(_changes_table(result))
    elif len(sides) > 1 and result.candidate != "legacy" and result.run.get("source") != "store":
        parts.append("<h2>Changed decisions</h2><p>No order was decided differently.</p>")
    if result.side("legacy") is not None:
        parts.append(_divergence_table(result))
    parts.append("<p class='meta'>Every number is also in kpis.json; every order of every side in orders.csv.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _promise_section(sides: list[SideResult]) -> str:
    """On-time KPIs (engine/simulation/on_time.py): a table per side and the on-time chart."""
    kpis = [(s.name, s.kpis.promise) for s in sides]
    if not any(k.dated_orders or k.promised_orders or k.confirmed_shipments for _, k in kpis):
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{k.promised_orders:,}</td><td>{k.on_time_rate:.1%}</td>"
        f"<td>{k.promised_days:.2f}</td><td>{k.delivery_days:.2f}</td>"
        + "".join(f"<td>{k.late_by_cause[c]:,}</td>" for c in LATE_CAUSES)
        + f"<td>{k.confirmed_shipments:,}</td><td>{k.on_time_ship_rate:.1%}</td>"
        + f"<td>{k.on_time_ship_order_rate:.1%}</td></tr>"
        for name, k in kpis
    )
    head = "".join(f"<th>late: {escape(c)}</th>" for c in LATE_CAUSES)
    table = (
        "<table><tr><th>side</th><th>orders with a promised date</th><th>on time</th><th>promised days (mean)</th>"
        f"<th>days to estimated delivery (mean, dated orders)</th>{head}"
        "<th>shipments confirmed (dated)</th><th>shipped on time (by the planned ship date)</th>"
        f"<th>orders shipped on time</th></tr>{rows}</table>"
    )
    parts = ["<h2>Delivery promise</h2>", "<div class='grid'>", _card(table)]
    if any(k.promised_orders for _, k in kpis):
        categories = ["on time", *LATE_CAUSES]
        series = {
            name: [k.on_time_orders / max(1, k.promised_orders)]
            + [k.late_by_cause[c] / max(1, k.promised_orders) for c in LATE_CAUSES]
            for name, k in kpis
        }
        chart = charts.grouped_bars(
            "on-time",
            "Orders with a promised date: on time, or late and why",
            categories,
            series,
            x_label="delivery against the promised date",
            y_label="share of the side's promised orders",
        )
        parts.append(_card(chart))
    parts.append("</div>")
    return "".join(parts)


def _card(body: str) -> str:
    return f"<div class='card'>{body}</div>"


def _decided(side: SideResult) -> list:  # type: ignore[type-arg]
    return [o for o in side.outcomes if o.status is OutcomeStatus.DECIDED]


def _meta(result: SimulationResult) -> str:
    run = result.run
    if run.get("source") == "store":  # oms-sourcing report: decisions the service made
        live = result.side("live") or result.base
        items = [
            f"store <code>{escape(str(run.get('database', '')))}</code>",
            f"allocated from {escape(str(run.get('since', '')))} to {escape(str(run.get('until', '')))}",
            f"{live.kpis.orders:,} orders over {live.kpis.days} days",
            f"costed with {escape(str(run.get('network', '')))}",
            f"{run.get('confirmed_shipments', 0):,} shipments confirmed so far",
        ]
        if run.get("baseline_since"):
            items.append(f"compared with the orders allocated from {escape(str(run['baseline_since']))}")
        sides = "".join(f"<li><b>{escape(s.name)}</b>: {escape(s.description)}</li>" for s in result.sides)
        return f"<div class='meta'>{' · '.join(items)}</div><ul class='meta'>{sides}</ul>"
    items = [
        f"network <code>{escape(str(run.get('network', '')))}</code>",
        f"history <code>{escape(str(run.get('history', '')))}</code>",
        f"{result.base.kpis.orders:,} orders over {result.base.kpis.days} days",
        f"restock every {run['restock_every_days']} days" if run.get("restock_every_days") else "no restocking",
        f"{run.get('seconds', 0):.1f} s on {run.get('workers', 1)} worker(s)",
    ]
    sides = "".join(f"<li><b>{escape(s.name)}</b>: {escape(s.description)}</li>" for s in result.sides)
    return f"<div class='meta'>{' · '.join(items)}</div><ul class='meta'>{sides}</ul>"


def _banner(result: SimulationResult) -> str:
    if not result.verdicts:
        return ""
    failed = [v for v in result.verdicts if v.failed]
    cls = "fail" if failed else "pass"
    head = (
        f"CI gate: {len(failed)} of {len(result.verdicts)} threshold(s) failed"
        if failed
        else "CI gate: every threshold passed"
    )
    lines = "".join(f"<div>{escape(v.explanation)}</div>" for v in result.verdicts)
    return f"<div class='banner {cls}'>{head}<div style='font-weight:400'>{lines}</div></div>"


def _kpi_table(result: SimulationResult) -> str:
    sides = result.sides
    other = result.side(result.candidate)
    head = "".join(f"<th>{escape(s.name)}</th>" for s in sides)
    extra = (
        f"<th>change<br>({escape(other.name)} − {escape(result.base.name)})</th>"
        f"<th>relative change<br>(change / {escape(result.base.name)})</th>"
        if other
        else ""
    )
    rows = []
    names = [*HEADLINE, "decided_orders", "shipments", "units_ordered", "units_allocated"]
    for name in names:
        cells = "".join(f"<td class='n'>{_fmt(name, s.kpis.value(name))}</td>" for s in sides)
        if other is not None:
            base, new = result.base.kpis.value(name), other.kpis.value(name)
            change = new - base
            better = HEADLINE.get(name)
            cls = "" if change == 0 or better is None else ("good" if (change > 0) == better else "bad")
            rel = f"{change / abs(base):+.2%}" if base else "–"
            cells += f"<td class='n {cls}'>{_change(name, change)}</td><td class='n {cls}'>{rel}</td>"
        rows.append(f"<tr><td>{name.replace('_', ' ')}</td>{cells}</tr>")
    counts = ""
    if len(sides) > 1 and result.run.get("source") == "store":  # two windows: different orders, nothing "changed"
        if result.side("legacy"):
            counts = f"<p>Legacy divergences: <b>{len(result.divergences):,}</b></p>"
    elif len(sides) > 1:
        counts = (
            f"<p>Decisions changed: <b>{len(result.changes):,}</b>"
            + (f" · legacy divergences: <b>{len(result.divergences):,}</b>" if result.side("legacy") else "")
            + "</p>"
        )
    note = (
        "<p class='meta'>A change in a rate is in percentage points (pts); the relative change is the change "
        "as a share of the baseline's value.</p>"
        if other
        else ""
    )
    table = f"<table><tr><th>KPI</th>{head}{extra}</tr>{''.join(rows)}</table>"
    return f"<div style='max-width:680px'>{table}{counts}{note}</div>"


def _change(name: str, change: float) -> str:
    """The absolute change in the KPI's unit: rates in percentage points, not as a second percentage."""
    sign = "+" if change > 0 else ("−" if change < 0 else "")
    if name in _RATES:
        return f"{sign}{abs(change) * 100:.2f} pts" if change else "0 pts"
    shown = _fmt(name, abs(change))
    if name in _MONEY and 0 < abs(change) < 0.005:  # not "+$0.00" for a change of a tenth of a cent
        shown = f"${abs(change):.4f}"
    return f"{sign}{shown}"


def _cost_chart(sides: list[SideResult], currency: str) -> str:
    return charts.histogram(
        "cost-per-order",
        "Fulfilment cost per order",
        {s.name: [o.cost for o in _decided(s)] for s in sides},
        x_label=f"fulfilment cost of the order ({currency})",
        y_label="share of the side's orders",
        prefix="$" if currency == "USD" else f"{currency} ",
        mean_decimals=2,
    )


def _shipments_chart(sides: list[SideResult]) -> str:
    cats = ["0", "1", "2", "3", "4+"]
    series = {}
    for s in sides:
        counts = Counter(min(4, len(o.shipments)) for o in _decided(s))
        n = max(1, sum(counts.values()))
        series[s.name] = [counts[i] / n for i in range(5)]
    return charts.grouped_bars(
        "shipments-per-order",
        "Shipments per order",
        cats,
        series,
        x_label="shipments (boxes) in the order",
        y_label="share of the side's orders",
    )


def _zone_chart(sides: list[SideResult]) -> str:
    zones = sorted({z for s in sides for z in s.kpis.zone_mix})
    cats = ["pickup" if z == 0 else f"zone {z}" for z in zones]
    return charts.grouped_bars(
        "zone-mix",
        "Zone mix",
        cats,
        {s.name: [s.kpis.zone_mix.get(z, 0.0) for z in zones] for s in sides},
        x_label="carrier zone of the shipment",
        y_label="share of the side's shipments",
    )


def _miles_chart(sides: list[SideResult]) -> str:
    return charts.histogram(
        "miles-per-shipment",
        "Distance per shipment",
        {s.name: [sh.distance_miles for o in _decided(s) for sh in o.shipments] for s in sides},
        x_label="great-circle distance, node to ship-to (miles)",
        y_label="share of the side's shipments",
    )


def _node_chart(sides: list[SideResult]) -> str:
    totals: Counter[str] = Counter()
    for s in sides:
        for n in s.kpis.nodes:
            totals[n.node_id] += n.shipments
    top = [node for node, _ in totals.most_common(25)]
    series = {
        s.name: [float(next((n.shipments for n in s.kpis.nodes if n.node_id == node), 0)) for node in top]
        for s in sides
    }
    return charts.node_bars("node-shipments", "Shipments by node (25 busiest)", top, series)  # the table fits beside


def _utilization_table(result: SimulationResult) -> str:
    rows = []
    sides = result.sides
    ids: list[str] = []
    for s in sides:
        ids += [n.node_id for n in s.kpis.nodes if n.node_id not in ids]
    by_side = [{n.node_id: n for n in s.kpis.nodes} for s in sides]
    for node_id in ids[:25]:
        cells = ""
        for side in by_side:
            n = side.get(node_id)
            if n is None:
                cells += "<td class='n'>–</td><td class='n'>–</td>"
                continue
            util = "uncapped" if n.utilization is None else f"{n.utilization:.1%}"
            breach = f" <span class='bad'>{n.breach_days} breach day(s)</span>" if n.breach_days else ""
            cells += f"<td class='n'>{n.shipments:,}</td><td class='n'>{util}{breach}</td>"
        kind = result.snapshot.node(node_id).type.value
        rows.append(f"<tr><td class='nw'>{escape(node_id)}</td><td>{kind}</td>{cells}</tr>")
    head = "".join(f"<th>{escape(s.name)} shipments</th><th>daily capacity used</th>" for s in sides)
    return (
        "<div style='font-weight:600'>Busiest nodes: shipments and share of daily max_shipments used</div>"
        f"<div class='scroll' style='max-height:900px'><table><tr><th>node</th><th>type</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def _node_colours(result: SimulationResult) -> dict[str, str]:
    totals: Counter[str] = Counter()
    for s in result.sides[:2]:
        for n in s.kpis.nodes:
            totals[n.node_id] += n.shipments
    busiest = totals.most_common(len(charts.NODE_COLOURS))
    return {node: charts.NODE_COLOURS[i] for i, (node, _) in enumerate(busiest)}


def _maps(result: SimulationResult) -> str:
    """The first two sides' maps side by side, over the same sample of orders."""
    ids = sorted(o.order_id for o in _decided(result.base) if o.shipments)
    if len(ids) > MAX_MAP_POINTS:
        ids = random.Random(7).sample(ids, MAX_MAP_POINTS)  # the same sample on every run
    chosen = set(ids)
    panels = []
    for side in result.sides[:2]:
        points = [
            (o.lat, o.lon, o.shipments[0].node_id) for o in _decided(side) if o.shipments and o.order_id in chosen
        ]
        panels.append((f"{side.name}: ship-to points by serving node", points))
    nodes = [charts.MapNode(n.id, n.location.lat, n.location.lon, n.type.value) for n in result.snapshot.nodes]
    return charts.ship_to_maps("ship-to-map", "Ship-to points by serving node", panels, nodes, _node_colours(result))


def _rules_table(sides: list[SideResult]) -> str:
    simulated = [s for s in sides if s.name != "legacy"]
    rules = sorted({r for s in simulated for r in s.kpis.rules_fired})
    if not rules:
        return "<h2>Rules fired</h2><p>No rule fired on any order.</p>"
    head = "".join(f"<th>{escape(s.name)} orders</th>" for s in simulated)
    rows = "".join(
        f"<tr><td>{escape(r)}</td>"
        + "".join(f"<td class='n'>{s.kpis.rules_fired.get(r, 0):,}</td>" for s in simulated)
        + "</tr>"
        for r in rules
    )
    return f"<h2>Rules fired</h2><table><tr><th>rule</th>{head}</tr>{rows}</table>"


def _changes_table(result: SimulationResult) -> str:
    other = result.side(result.candidate)
    assert other is not None
    changes = result.changes
    rows = []
    for c in changes[:MAX_TABLE_ROWS]:
        only_b = ", ".join(c.rules_only_base) or "–"
        only_o = ", ".join(c.rules_only_other) or "–"
        behind = ", ".join(f"{r} ({result.rule_edits[r]})" for r in rules_behind(c, result.rule_edits)) or "–"
        delta = c.other.cost - c.base.cost
        cls = "bad" if delta > 0 else ("good" if delta < 0 else "")
        rows.append(
            f"<tr><td class='nw'>{escape(c.order_id)}</td><td class='nw'>{c.base.created_at:%Y-%m-%d %H:%M}</td>"
            f"<td>{escape(describe_plan(c.base))}</td><td class='n'>${c.base.cost:,.2f}</td>"
            f"<td>{escape(describe_plan(c.other))}</td><td class='n'>${c.other.cost:,.2f}</td>"
            f"<td class='n {cls}'>{delta:+,.2f}</td>"
            f"<td><b>{escape(behind)}</b></td><td>{escape(only_b)}</td><td>{escape(only_o)}</td>"
            f"<td style='color:#6b7280'>{escape(', '.join(c.other.fired_rules))}</td></tr>"
        )
    more = (
        f"<p class='meta'>Showing the first {MAX_TABLE_ROWS:,} of {len(changes):,}; orders.csv has them all "
        "(column <code>changed</code>).</p>"
        if len(changes) > MAX_TABLE_ROWS
        else ""
    )
    b, o = escape(result.base.name), escape(other.name)
    edits = ", ".join(f"<b>{escape(r)}</b> ({kind})" for r, kind in result.rule_edits.items()) or "none"
    return (
        f"<h2>Changed decisions ({len(changes):,})</h2><p>Rules edited from {b} to {o}: {edits}.</p>{more}"
        "<div class='scroll'><table><tr><th>order</th><th>created</th>"
        f"<th>{b} decision</th><th>{b} cost</th><th>{o} decision</th><th>{o} cost</th><th>Δ cost</th>"
        f"<th>edited rules that fired</th><th>rules only in {b}</th><th>rules only in {o}</th>"
        f"<th>all rules fired ({o})</th></tr>{''.join(rows)}</table></div>"
    )


def _divergence_table(result: SimulationResult) -> str:
    kinds = Counter(d.kind for d in result.divergences)
    summary = ", ".join(f"{k}: {n:,}" for k, n in kinds.most_common()) or "none"
    rows = "".join(
        f"<tr><td class='nw'>{escape(d.order_id)}</td><td class='nw'>{escape(d.kind)}</td>"
        f"<td>{escape(d.detail)}</td></tr>"
        for d in result.divergences[:MAX_TABLE_ROWS]
    )
    return (
        f"<h2>Legacy divergences ({len(result.divergences):,})</h2><p>{summary}. Compared with "
        f"<b>{escape(result.base.name)}</b>; orders.csv column <code>legacy_divergence</code> lists every one.</p>"
        f"<div class='scroll'><table><tr><th>order</th><th>kind</th><th>detail</th></tr>{rows}</table></div>"
    )
