"""Planner simulation: replay an order history against a network, consuming stock as it goes.

Pure (no files, clocks or processes): history.py reads order-history records (docs/order-history.md)
into engine orders; stock.py is the simulator's own in-memory stock; replay.py decides each order in
time order; kpis.py, compare.py and gate.py turn outcomes into KPIs, changed decisions, legacy
divergences and CI-gate verdicts. The shell (server/simulation/) reads files, runs sides in
processes and writes the report.
"""
