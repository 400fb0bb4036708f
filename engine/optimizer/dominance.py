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
    dominators = np.nonzero(covers.any(axis=0) & enough_capacity)[0]
    if dominators.shape[0] == 0:
        return keep
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
