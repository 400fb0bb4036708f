"""Twins: candidate nodes that are interchangeable for this order.

Two columns are twins when they cost the same per shipment and per unit of every line, may serve
the same lines, hold the same units of every ordered SKU, and no capacity can bind at either
(each can handle every unit of the order). Swapping two twins in any plan gives a plan that is
feasible exactly when the first is and costs the same, so among the plans that use m of a group
of twins, the one using the group's first m (in any fixed order) is as good as any. A search
that only builds such canonical sets, or a model that counts how many of a group ship instead of
which, loses no optimum and visits each plan once instead of once per permutation.

Real networks have them: stores in one mall or buildings of one campus with one price list and
the same replenishment, and costs on a price grid (a network of stores charging 4.10 per
shipment and 0.75 per unit within one zone).
"""

from __future__ import annotations

import numpy as np

from engine.network import IntArray
from engine.problem import Problem


def twin_groups(problem: Problem, cols: IntArray) -> IntArray:
    """[len(cols)] a group id per column: columns with equal ids are twins (ids are the position of
    the group's first column, so a column alone has its own position)."""
    n = cols.shape[0]
    group = np.arange(n)
    if n < 2:
        return group
    fixed = problem.fixed[cols]
    if np.unique(fixed).shape[0] == n:  # no two cost the same per shipment: no twins (the usual case)
        return group
    free = problem.max_units[cols] >= int(problem.qty.sum())  # no capacity can bind
    if not free.any():
        return group
    # One row per column: everything that prices or limits it for this order.
    allowed = problem.allowed[:, cols]
    key = np.concatenate(
        [
            fixed[None, :],
            np.where(allowed, problem.unit[:, cols], np.inf),
            problem.avail[:, cols].astype(np.float64),
        ]
    ).T
    key = np.where(free[:, None], key, np.nan)  # NaN rows never compare equal: capped columns stay alone
    order = np.lexsort(key.T[::-1])  # stable: equal rows keep their position order
    sorted_keys = key[order]
    starts = np.concatenate([[True], ~np.all(sorted_keys[1:] == sorted_keys[:-1], axis=1)])
    # Each run of equal rows is named by its first (lowest) position.
    group[order] = order[starts][np.cumsum(starts) - 1]
    return group


def previous_twin(group: IntArray) -> IntArray:
    """[n] for each position, the last position before it in the same group (-1: none)."""
    order = np.argsort(group, kind="stable")  # by group, positions ascending within one
    previous = np.full(group.shape[0], -1, dtype=np.int64)
    same = group[order][1:] == group[order][:-1]
    previous[order[1:][same]] = order[:-1][same]
    return previous


class TwinColumns:
    """Columns grouped into twins: ``heads`` (the first column of each group, ascending) and each
    group's columns, for a model whose column j counts how many of group j's twins ship."""

    def __init__(self, problem: Problem, cols: IntArray) -> None:
        group = twin_groups(problem, cols)
        heads = np.unique(group)
        self.problem = problem
        self.heads: IntArray = cols[heads]
        self.members: list[IntArray] = [cols[np.flatnonzero(group == g)] for g in heads.tolist()]
        self.sizes: IntArray = np.array([len(m) for m in self.members], dtype=np.int64)

    @property
    def any(self) -> bool:
        return bool((self.sizes > 1).any())

    def fold(self, x: IntArray) -> tuple[IntArray, IntArray]:
        """A plan's [L, N] units as [L, groups] units and [groups] twins used."""
        folded = np.stack([x[:, m].sum(axis=1) for m in self.members], axis=1)
        used = np.array([int((x[:, m].sum(axis=0) > 0).sum()) for m in self.members], dtype=np.int64)
        return folded, used

    def unfold(self, folded: IntArray) -> IntArray:
        """[L, groups] units as an [L, N] plan: each group's twins filled in turn, first twin first,
        each within its own stock of every SKU (lines of one SKU share it). A group given at most
        m twins' worth of every SKU uses at most m twins."""
        problem = self.problem
        x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
        for g, members in enumerate(self.members):
            left = folded[:, g].copy()
            for column in members.tolist():
                if not left.any():
                    break
                stock = problem.avail[:, column].copy()
                for line in np.flatnonzero(left).tolist():
                    k = int(problem.sku_row[line])
                    take = int(min(left[line], stock[k]))
                    x[line, column] = take
                    stock[k] -= take
                    left[line] -= take
        return x
