"""Dominated nodes: ones some other node can always replace at no extra cost.

Node m dominates node n when m costs no more per shipment and per unit for every
line n may serve, m may serve every such line, m can ship the whole demand of
every SKU n holds, and m can handle all the order's units. Moving everything n
ships to m then keeps the plan feasible and never raises its cost (it saves n's
fixed cost, and a split penalty when m was already shipping), so some optimal
plan avoids n. Among equals, the lower index survives, so exactly one of a group
of twins is kept. Dominance is transitive, so removing all dominated nodes at
once is safe.
"""

from __future__ import annotations

import numpy as np

from engine.network import BoolArray
from engine.problem import Problem

_CHUNK = 256  # rows of the pairwise comparison evaluated at once, to bound memory


def undominated(problem: Problem) -> BoolArray:
    """[N] True for nodes no other node dominates."""
    n_nodes = problem.n_nodes
    keep = np.ones(n_nodes, dtype=np.bool_)
    if n_nodes < 2:
        return keep
    demand = np.zeros(len(problem.skus), dtype=np.int64)
    np.add.at(demand, problem.sku_row, problem.qty)
    covers = problem.avail >= demand[:, None]  # [K, N] m ships the whole demand of sku k
    holds = problem.avail > 0  # [K, N]
    enough_capacity = problem.max_units >= problem.qty.sum()
    # Only nodes covering some SKU fully and with enough capacity can dominate anyone.
    if not (covers.any(axis=0) & enough_capacity).any():
        return keep
    ends = _unit_cost_ends(problem)
    if ends is not None:
        return _undominated_fast(problem, covers, holds, enough_capacity, ends)
    return _undominated_pairwise(problem, covers, holds, enough_capacity)


def _unit_cost_ends(problem: Problem) -> tuple[np.ndarray, np.ndarray] | None:
    """Each node's unit cost for the lightest and the heaviest line, when unit costs are affine in weight.

    Without per-line rule penalties, unit[l, n] = handling[n] + weight[l] * rate[n]: a line's cost
    lies between the two ends, so comparing two nodes at both ends compares them on every line.
    """
    light, heavy = int(np.argmin(problem.weight)), int(np.argmax(problem.weight))
    low, high = problem.unit[light], problem.unit[heavy]
    span = problem.weight[heavy] - problem.weight[light]
    if span > 0:
        share = (problem.weight - problem.weight[light]) / span
        expected = low[None, :] + share[:, None] * (high - low)[None, :]
    else:
        expected = np.broadcast_to(low, problem.unit.shape)
    if not np.allclose(problem.unit, expected, rtol=0.0, atol=1e-9):
        return None
    return low, high


def _undominated_fast(
    problem: Problem,
    covers: np.ndarray,
    holds: np.ndarray,
    enough_capacity: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray],
) -> BoolArray:
    """Dominance from packed SKU and line bitsets and the two unit-cost ends: O(N^2 * bytes), no per-line loop.

    Unit costs affine in weight make "m no dearer at both ends" imply "m no dearer on every line",
    so line-level exclusions (rules that keep some lines from some nodes) only add a subset check.
    """
    low, high = ends
    cover_bits = _words(covers)  # [N, W] SKU bitsets, 64 SKUs a word
    hold_bits = _words(holds)
    serve_bits = _words(problem.allowed)  # [N, W'] line bitsets
    n_nodes = problem.n_nodes
    index = np.arange(n_nodes)
    dominates = np.zeros((n_nodes, n_nodes), dtype=np.bool_)  # [m, n]; rows of non-dominators stay False
    dominators = np.nonzero(covers.any(axis=0) & enough_capacity)[0]
    for start in range(0, dominators.shape[0], _CHUNK):
        m = dominators[start : start + _CHUNK]
        # Every SKU n holds, m covers fully: no bit of n's set outside m's.
        stock_ok = ((hold_bits[None, :, :] & ~cover_bits[m][:, None, :]) == 0).all(axis=2)
        # Every line n may serve, m may serve too.
        lines_ok = ((serve_bits[None, :, :] & ~serve_bits[m][:, None, :]) == 0).all(axis=2)
        dominates[m] = (
            stock_ok
            & lines_ok
            & (problem.fixed[m][:, None] <= problem.fixed[None, :])
            & (low[m][:, None] <= low[None, :])
            & (high[m][:, None] <= high[None, :])
        )
    np.fill_diagonal(dominates, False)
    # Mutual dominance (twins): only the lower index dominates.
    dominates &= ~dominates.T | (index[:, None] < index[None, :])
    keep: BoolArray = np.logical_not(dominates.any(axis=0))
    return keep


def _words(flags: np.ndarray) -> np.ndarray:
    """[K, N] booleans as [N, W] uint64 bitsets (64 rows per word): one AND compares 64 SKUs or lines."""
    packed = np.packbits(flags.T, axis=1)  # [N, ceil(K/8)] bytes
    padding = (-packed.shape[1]) % 8
    if padding:
        packed = np.pad(packed, ((0, 0), (0, padding)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _undominated_pairwise(
    problem: Problem, covers: np.ndarray, holds: np.ndarray, enough_capacity: np.ndarray
) -> BoolArray:
    """The general check, line by line (rule penalties or line-level exclusions in play)."""
    n_nodes = problem.n_nodes
    keep = np.ones(n_nodes, dtype=np.bool_)
    dominators = np.nonzero(covers.any(axis=0) & enough_capacity)[0]
    unit = np.where(problem.allowed, problem.unit, np.inf)  # [L, N]
    index = np.arange(n_nodes)
    for start in range(0, dominators.shape[0], _CHUNK):
        m = dominators[start : start + _CHUNK]
        fixed_ok = problem.fixed[m][:, None] <= problem.fixed[None, :]  # [M, N]
        # Every line n may serve, m may serve at no higher unit cost.
        unit_ok = ((unit[:, m][:, :, None] <= unit[:, None, :]) | ~problem.allowed[:, None, :]).all(axis=0)
        # Every SKU n holds, m covers fully.
        stock_ok = (covers[:, m][:, :, None] | ~holds[:, None, :]).all(axis=0)
        dominates = fixed_ok & unit_ok & stock_ok
        # Mutual dominance (twins): only the lower index dominates.
        mutual = dominates & _reverse(problem, m, covers, holds, unit)
        dominates &= ~mutual | (m[:, None] < index[None, :])
        dominates[np.arange(m.shape[0]), m] = False
        keep &= ~dominates.any(axis=0)
    return keep


def _reverse(problem: Problem, m: np.ndarray, covers: np.ndarray, holds: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """[M, N] whether node n also dominates node m (for the twin tie-break)."""
    fixed_ok = problem.fixed[None, :] <= problem.fixed[m][:, None]
    unit_ok = ((unit[:, None, :] <= unit[:, m][:, :, None]) | ~problem.allowed[:, m][:, :, None]).all(axis=0)
    stock_ok = (covers[:, None, :] | ~holds[:, m][:, :, None]).all(axis=0)
    capacity_ok = (problem.max_units >= problem.qty.sum())[None, :]
    result: np.ndarray = fixed_ok & unit_ok & stock_ok & capacity_ok
    return result
