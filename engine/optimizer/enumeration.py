"""Exact search over node subsets, for problems pruning has left small.

For a fixed set of nodes, when no node's unit capacity can bind and each SKU is on
one line only, lines do not interact: each line takes units from its cheapest
nodes in the set (while cheaper than backordering), which is exact. Every optimal
plan ships from some subset of at most ``max_shipments`` candidates, so the best
over all such subsets is optimal. Vectorized over subsets; far cheaper than a
solver call (about 2.6 ms of CBC for a handful of columns) when there are few.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from engine.network import BoolArray
from engine.optimizer.plan import Plan
from engine.problem import IntArray, Problem

MAX_SUBSETS = 4_096
MAX_WORK = 300_000  # subsets x lines x columns: beyond it a solver call is cheaper


@lru_cache(maxsize=256)
def _subsets(n: int, max_size: int) -> BoolArray:
    """[M, n] every non-empty subset of n columns with at most ``max_size`` members, smallest first."""
    blocks = []
    for size in range(1, max_size + 1):
        members = np.array(list(itertools.combinations(range(n), size)), dtype=np.int64).reshape(-1, size)
        block = np.zeros((members.shape[0], n), dtype=np.bool_)
        block[np.arange(members.shape[0])[:, None], members] = True
        blocks.append(block)
    masks = np.concatenate(blocks) if blocks else np.zeros((0, n), dtype=np.bool_)
    masks.setflags(write=False)
    return masks


def subset_count(n: int, max_size: int) -> int:
    return sum(math.comb(n, size) for size in range(1, max_size + 1))


def enumerable(problem: Problem, cols: IntArray, max_size: int) -> bool:
    """Whether enumerating subsets of at most ``max_size`` of these columns is exact and cheap."""
    if len(problem.skus) != problem.n_lines:  # a SKU on several lines couples them
        return False
    if (problem.max_units[cols] < problem.qty.sum()).any():  # a capacity could bind
        return False
    size = min(max_size, len(cols))
    if len(cols) > 64 and size > 2:  # cheap refusal before counting large binomials
        return False
    subsets = subset_count(len(cols), size)
    return subsets <= MAX_SUBSETS and subsets * problem.n_lines * len(cols) <= MAX_WORK


def best_by_enumeration(problem: Problem, cols: IntArray, max_size: int) -> Plan:
    """The best plan shipping from at most ``max_size`` of ``cols`` (callers prove no optimum uses more)."""
    terms = problem.terms
    n = len(cols)
    masks = _subsets(n, min(max_size, n))  # [M, n]
    n_subsets = masks.shape[0]
    bo = terms.backorder_penalty
    units = np.zeros((n_subsets, n), dtype=np.int64)  # units each subset ships from each column
    takes: list[IntArray] = []
    total = np.zeros(n_subsets)
    for line in range(problem.n_lines):
        qty = int(problem.qty[line])
        cost = problem.unit[line, cols]
        avail = np.where(problem.allowed[line, cols], problem.avail[problem.sku_row[line], cols], 0)
        if not terms.all_or_nothing:
            avail = np.where(cost < bo, avail, 0)  # a unit dearer than its backorder stays unshipped
        order = np.argsort(cost, kind="stable")
        offered = masks[:, order] * avail[order][None, :]  # [M, n] cheapest first
        before: IntArray = np.cumsum(offered, axis=1) - offered
        take_sorted = np.clip(qty - before, 0, offered)
        take = np.empty_like(take_sorted)
        take[:, order] = take_sorted
        takes.append(take)
        units += take
        total += take @ cost + bo * (qty - take.sum(axis=1))
    used = units > 0
    shipments = used.sum(axis=1)
    total += used @ problem.fixed[cols] + terms.split_penalty * np.maximum(0, shipments - 1)
    if terms.all_or_nothing:
        total[units.sum(axis=1) < problem.qty.sum()] = np.inf
    best = int(np.argmin(total))  # the first minimum: fewer nodes, then lower columns
    empty = Plan.empty(problem)
    if not np.isfinite(total[best]) or empty.objective(problem) <= total[best]:
        return empty
    x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
    for line, take in enumerate(takes):
        x[line, cols] = take[best]
    return Plan(x)
