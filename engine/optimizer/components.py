"""Which orders of a batch actually compete: the decomposition of a batch into independent parts.

Orders interact only through the stock positions (SKU, node) and capacitated nodes they share, and
only where the plans they would like together ask for more than there is. Given one plan per order
(each order's decision alone, to begin with), a position or capped node is **over-asked** when
those plans together do not fit it; the orders taking from it are linked. The linked sets are the
batch's contested groups; an order in none takes only what every other order leaves it.

Why that is exact (engine/batch.py uses it so): relaxing the stock an order shares with orders of
other groups can only lower the optimum, so the sum of each group's optimum on all the stock, plus
each ungrouped order's own optimum, is a lower bound on every batch plan; when the groups' optimal
plans, put together with the ungrouped orders' own, fit the shared stock, that plan meets the bound
and is optimal. When they do not fit, the groups whose plans over-ask a position are merged and
solved again: at worst the whole batch is one group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from engine.network import UNLIMITED, NetworkSnapshot
from engine.optimizer.plan import Plan
from engine.optimizer.shared import per_sku
from engine.problem import Problem


def over_asked(snapshot: NetworkSnapshot, problems: Sequence[Problem], plans: Sequence[Plan]) -> list[list[int]]:
    """For each position or capped node the plans together over-ask, the orders taking from it.

    A position fits when, most protected first, every order's take stays within what its own
    protections leave (engine/optimizer/shared.shares_fit reads it the same way)."""
    takes: dict[tuple[str, int], list[tuple[int, int, int]]] = defaultdict(list)  # position -> (cap, units, o)
    units = np.zeros(len(snapshot), dtype=np.int64)
    shipments = np.zeros(len(snapshot), dtype=np.int64)
    users: dict[int, list[int]] = defaultdict(list)  # capped snapshot node -> orders shipping from it
    capped = (snapshot.max_units < UNLIMITED) | (snapshot.max_shipments < UNLIMITED)
    for o, (problem, plan) in enumerate(zip(problems, plans, strict=True)):
        by_sku = per_sku(problem, plan)
        rows, cols = np.nonzero(by_sku)
        for k, j, qty in zip(rows.tolist(), cols.tolist(), by_sku[rows, cols].tolist(), strict=True):
            takes[problem.skus[k], int(problem.nodes[j])].append((int(problem.avail[k, j]), qty, o))
        used = plan.x.sum(axis=0)
        nodes = problem.nodes[used > 0]
        units[problem.nodes] += used
        shipments[nodes] += 1
        for n in nodes[capped[nodes]].tolist():
            users[n].append(o)
    linked: list[list[int]] = []
    for at in takes.values():
        if len(at) < 2 and at[0][1] <= at[0][0]:
            continue
        taken = 0
        for cap, qty, _ in sorted(at):
            taken += qty
            if taken > cap:
                linked.append([o for _, _, o in at])
                break
    full = (units > snapshot.max_units) | (shipments > snapshot.max_shipments)
    linked += [users[n] for n in np.flatnonzero(full & capped).tolist()]
    return linked


def merge(n_orders: int, links: Iterable[Sequence[int]]) -> list[list[int]]:
    """The connected sets of orders (each sorted) through ``links``; orders in no link are in none.
    Sets come in the order of their first order."""
    parent = list(range(n_orders))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    touched: set[int] = set()
    for link in links:
        touched.update(link)
        for o in link[1:]:
            a, b = find(o), find(link[0])
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for o in sorted(touched):
        groups[find(o)].append(o)
    return sorted(groups.values(), key=lambda g: g[0])
