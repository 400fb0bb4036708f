"""Data onboarding: ``oms-sourcing import`` reads CSV and JSON Lines exports, maps their columns
to the service's fields, checks every row as the network file and the Upsert RPCs do, reports
every rejected row, and writes a file whole or not at all (docs/onboarding.md).

``sources`` reads rows (streaming, hostile bytes refused by name), ``mapping`` reads the mapping
file and applies it, ``records`` turns mapped rows into nodes, items, counts and orders,
``report`` writes the rejects, ``run`` puts them together against a store.
"""
