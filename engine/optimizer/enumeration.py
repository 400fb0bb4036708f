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

from engine.optimizer.plan import Plan
from engine.optimizer.twins import previous_twin, twin_groups
from engine.problem import IntArray, Problem

MAX_SUBSETS = 100_000
# subsets x members x lines: about 35 ms per million here (~40 ms at the limit), while CBC spends 40-600 ms on the
# 20-40 column, 30-line models this would otherwise go to (docs/decisions.md).
MAX_WORK = 1_200_000
# Elements of one chunk of [lines, subsets, members]: a few hundred KB per working array.
CHUNK_ELEMENTS = 16_384


@lru_cache(maxsize=256)
def _members(n: int, max_size: int) -> IntArray:
    """[M, max_size] every non-empty subset of at most ``max_size`` of n columns, smallest first,
    then in lexicographic order; members are ascending column indices, padded with ``n`` (a
    stand-in column that holds nothing)."""
    blocks = []
    for size in range(1, max_size + 1):
        members = np.array(list(itertools.combinations(range(n), size)), dtype=np.int64).reshape(-1, size)
        blocks.append(np.pad(members, ((0, 0), (0, max_size - size)), constant_values=n))
    result = np.concatenate(blocks) if blocks else np.zeros((0, max_size), dtype=np.int64)
    result.setflags(write=False)
    return result


def _canonical(problem: Problem, cols: IntArray, members: IntArray) -> IntArray:
    """The subsets that take the first twins of every group of twins (engine/optimizer/twins.py):
    every other subset costs what one of these does. All of them when there are no twins."""
    group = twin_groups(problem, cols)
    if (group == np.arange(group.shape[0])).all():
        return members
    previous = np.append(previous_twin(group), -1)  # the stand-in has no twin
    before = previous[members]  # [M, S]
    present = (members[:, None, :] == before[:, :, None]).any(axis=2)
    keep = ((before < 0) | present).all(axis=1)
    result: IntArray = members[keep]
    return result


def subset_count(n: int, max_size: int) -> int:
    return sum(math.comb(n, size) for size in range(1, max_size + 1))


def enumerable(problem: Problem, cols: IntArray, max_size: int, max_work: int = MAX_WORK) -> bool:
    """Whether enumerating subsets of at most ``max_size`` of these columns is exact and cheap."""
    if len(problem.skus) != problem.n_lines:  # a SKU on several lines couples them
        return False
    if (problem.max_units[cols] < problem.qty.sum()).any():  # a capacity could bind
        return False
    size = min(max_size, len(cols))
    if len(cols) > 128 and size > 2:  # cheap refusal before counting large binomials
        return False
    subsets = subset_count(len(cols), size)
    return subsets <= MAX_SUBSETS and subsets * size * problem.n_lines <= max_work


def best_by_enumeration(problem: Problem, cols: IntArray, max_size: int) -> Plan:
    """The best plan shipping from at most ``max_size`` of ``cols`` (callers prove no optimum uses more).

    Vectorized over [lines, subsets, members], lines in chunks of about ``CHUNK_ELEMENTS``: small
    pools (typical orders) take one pass whatever their number of lines, where the fixed cost of
    each numpy call is what counts; large ones a few lines at a time, so the working arrays stay
    in cache. The first minimum wins: fewer nodes, then lower columns.
    """
    terms = problem.terms
    n = len(cols)
    members = _canonical(problem, cols, _members(n, min(max_size, n)))  # [M, S], n = the stand-in
    bo = terms.backorder_penalty
    n_lines = problem.n_lines
    # [L, n + 1]: the stand-in column costs nothing and offers nothing.
    unit = np.zeros((n_lines, n + 1))
    unit[:, :n] = problem.unit[:, cols]
    held = np.zeros((n_lines, n + 1), dtype=np.int64)
    held[:, :n] = np.where(problem.allowed[:, cols], problem.avail[problem.sku_row][:, cols], 0)
    if not terms.all_or_nothing:
        held[:, :n][unit[:, :n] >= bo] = 0  # dearer than its backorder: unshipped
    units = np.zeros(members.shape, dtype=np.int64)  # [M, S] units each subset ships from each member
    total = np.zeros(members.shape[0])
    takes: list[IntArray] = []
    step = max(1, CHUNK_ELEMENTS // members.size)
    for first in range(0, n_lines, step):
        lines = slice(first, first + step)
        qty = problem.qty[lines]
        cost = unit[lines][:, members]  # [l, M, S]
        order = np.argsort(cost, axis=2, kind="stable")  # cheapest first; ties to the lower column
        offered = np.take_along_axis(held[lines][:, members], order, axis=2)
        before = np.cumsum(offered, axis=2) - offered
        take = np.empty_like(offered)
        np.put_along_axis(take, order, np.clip(qty[:, None, None] - before, 0, offered), axis=2)
        shipped = take.sum(axis=0)
        units += shipped
        total += (take * cost).sum(axis=(0, 2)) + bo * (int(qty.sum()) - shipped.sum(axis=1))
        takes.append(take)
    used = units > 0
    shipments = used.sum(axis=1)
    total += (np.append(problem.fixed[cols], 0.0)[members] * used).sum(axis=1)
    total += terms.split_penalty * np.maximum(0, shipments - 1)
    if terms.all_or_nothing:
        total[units.sum(axis=1) < problem.qty.sum()] = np.inf
    best = int(np.argmin(total))
    empty = Plan.empty(problem)
    if not np.isfinite(total[best]) or empty.objective(problem) <= total[best]:
        return empty
    real = members[best] < n
    x = np.zeros((n_lines, problem.n_nodes), dtype=np.int64)
    x[:, cols[members[best][real]]] = np.concatenate([take[:, best, real] for take in takes])
    return Plan(x)
