r"""Random walks with restart on a bipartite graph (Pixie) and one-layer neighbour averaging.

The graph links items to the nodes on the other side: users who interacted with them, or
the entities of a knowledge graph (actors, directors, genres). It is stored as a sparse
``(n_nodes, n_items)`` matrix :math:`G` whose non-zero cells are the edges.

**The walk** (after Pixie, Eksombatchai et al., 2018). A query is a set of items
:math:`Q` with weights :math:`q` (a user's history). A walker starts at an item drawn from
:math:`q`; at every step, with probability :math:`\alpha` it jumps back to an item drawn
from :math:`q`, otherwise it moves to a random neighbour node of its item and from there to
a random item of that node. The item it lands on gets a visit. Items that many short paths
connect to the query collect many visits, and the visit counts rank the candidates.

**What the counts estimate.** With :math:`D_I` and :math:`D_N` the degrees of items and
nodes, one two-hop move is the item-to-item transition matrix
:math:`P = D_I^{-1} G^\top D_N^{-1} G`, and the share of visits converges to the stationary
distribution of the walk with restart, the personalised PageRank

.. math::

    \pi = \alpha\, q + (1 - \alpha)\, \pi P ,

which :func:`personalized_pagerank` computes by iterating this equation. Pixie simulates
the walk instead because a fixed budget of steps answers a query in constant time on a graph
with billions of edges, without ever touching most of it.

**Neighbour averaging** (the idea of PinSage, Ying et al., 2018, reduced to one layer with no
learned weights). Each item's vector :math:`h_i` is mixed with a weighted mean of the
vectors of its graph neighbours :math:`N(i)`, with importance weights :math:`w_{ij}` (for
PinSage, the visit counts of walks started at :math:`i`):

.. math::

    h_i' = \beta\, h_i + (1 - \beta)\, \frac{\sum_{j \in N(i)} w_{ij} h_j}
                                           {\sum_{j \in N(i)} w_{ij}} .
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_float, check_int, check_seed

__all__ = ["bipartite_graph", "walk_visits", "personalized_pagerank", "top_neighbours",
           "neighbour_average"]


def _check_graph(G) -> sp.csr_matrix:
    if not sp.issparse(G):
        raise TypeError(f"graph must be a scipy sparse (nodes x items) matrix, got "
                        f"{type(G).__name__}")
    G = sp.csr_matrix(G, dtype=np.float64)
    G.sum_duplicates()
    G.data[:] = 1.0
    G.eliminate_zeros()
    if G.nnz == 0:
        raise ValueError("graph has no edge")
    return G


def _check_queries(queries, n_items, degrees) -> sp.csr_matrix:
    if not sp.issparse(queries):
        raise TypeError(f"queries must be a scipy sparse (queries x items) matrix of weights, "
                        f"got {type(queries).__name__}")
    queries = sp.csr_matrix(queries, dtype=np.float64)
    if queries.shape[1] != n_items:
        raise ValueError(f"queries must have {n_items} columns (one per item), got "
                         f"{queries.shape[1]}")
    if queries.nnz and queries.data.min() < 0:
        raise ValueError("queries must hold non-negative weights")
    # items without any edge cannot start a walk: drop them from the queries
    queries = queries @ sp.diags((degrees > 0).astype(float))
    queries.eliminate_zeros()
    return queries


def bipartite_graph(nodes, items, n_nodes: int, n_items: int) -> sp.csr_matrix:
    """The ``(n_nodes, n_items)`` 0/1 matrix with an edge for each (node, item) pair."""
    n_nodes = check_int("n_nodes", n_nodes, minimum=1)
    n_items = check_int("n_items", n_items, minimum=1)
    nodes = check_array("nodes", nodes, ndim=1, dtype=int)
    items = check_array("items", items, ndim=1, dtype=int)
    if len(nodes) != len(items):
        raise ValueError(f"nodes and items must have the same length, got {len(nodes)} and "
                         f"{len(items)}")
    for name, ids, n in (("nodes", nodes, n_nodes), ("items", items, n_items)):
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"{name} must hold indices in [0, {n})")
    G = sp.csr_matrix((np.ones(len(nodes)), (nodes, items)), shape=(n_nodes, n_items))
    G.data[:] = 1.0
    return G


def walk_visits(graph, queries, *, steps: int = 2000, restart: float = 0.5,
                seed: int | None = 0, progress: bool = False) -> np.ndarray:
    """Visit counts of Pixie-style walks with restart, one row per query.

    ``graph`` is the sparse ``(n_nodes, n_items)`` bipartite graph; ``queries`` a sparse
    ``(n_queries, n_items)`` matrix of query weights (a user's items). Each query runs one
    walker for ``steps`` steps (all queries advance together, vectorised). Returns a dense
    ``(n_queries, n_items)`` array of visits; its rows sum to ``steps`` (0 for a query with
    no usable item).
    """
    from tqdm.auto import tqdm

    G = _check_graph(graph)
    n_nodes, n_items = G.shape
    Gt = G.T.tocsr()                                    # item -> nodes
    q = _check_queries(queries, n_items, np.diff(Gt.indptr))
    steps = check_int("steps", steps, minimum=1)
    restart = check_float("restart", restart, minimum=0.0, maximum=1.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    live = np.flatnonzero(np.diff(q.indptr) > 0)
    visits = np.zeros((q.shape[0], n_items))
    if live.size == 0:
        return visits
    # one running sum over all query weights: a restart draws a point in its query's stretch
    gcum = np.cumsum(q.data)
    before = np.concatenate([[0.0], gcum])[q.indptr[live]]
    totals = gcum[q.indptr[live + 1] - 1] - before

    def draw_start(rows):
        target = before[rows] + rng.random(len(rows)) * totals[rows]
        idx = np.searchsorted(gcum, target, side="right")
        idx = np.clip(idx, q.indptr[live[rows]], q.indptr[live[rows] + 1] - 1)
        return q.indices[idx].astype(np.int64)

    def hop(indptr, indices, at):
        deg = indptr[at + 1] - indptr[at]
        return indices[indptr[at] + (rng.random(len(at)) * deg).astype(np.int64)]

    everyone = np.arange(len(live))
    pos = draw_start(everyone)
    flat = np.zeros(len(live) * n_items)
    chunk = max(1, 2**22 // len(live))                  # steps between two tallies
    landed = np.empty((min(chunk, steps), len(live)), dtype=np.int64)
    filled = 0
    for _ in tqdm(range(steps), disable=not progress, desc="walk steps"):
        jump = rng.random(len(live)) < restart
        moving = np.flatnonzero(~jump)
        if moving.size:
            node = hop(Gt.indptr, Gt.indices, pos[moving])
            pos[moving] = hop(G.indptr, G.indices, node)
        if jump.any():
            pos[jump] = draw_start(np.flatnonzero(jump))
        landed[filled] = everyone * n_items + pos
        filled += 1
        if filled == len(landed):
            flat += np.bincount(landed.ravel(), minlength=len(flat))
            filled = 0
    if filled:
        flat += np.bincount(landed[:filled].ravel(), minlength=len(flat))
    visits[live] = flat.reshape(len(live), n_items)
    return visits


def personalized_pagerank(graph, queries, *, restart: float = 0.5, tol: float = 1e-10,
                          max_iter: int = 1000) -> np.ndarray:
    """Stationary visit distribution of the walk of :func:`walk_visits`, computed exactly.

    Iterates :math:`\\pi \\leftarrow \\alpha q + (1 - \\alpha) \\pi P` for all queries at once
    (``q`` is each query's weights normalised to sum 1) until the largest change is below
    ``tol``. Returns a dense ``(n_queries, n_items)`` array whose rows sum to 1 (0 for a query
    with no usable item).
    """
    G = _check_graph(graph)
    n_items = G.shape[1]
    item_deg = np.asarray(G.sum(axis=0)).ravel()
    node_deg = np.asarray(G.sum(axis=1)).ravel()
    q = _check_queries(queries, n_items, item_deg)
    restart = check_float("restart", restart, minimum=0.0, maximum=1.0, strict_min=True)
    tol = check_float("tol", tol, minimum=0.0, strict_min=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    sums = np.asarray(q.sum(axis=1)).ravel()
    Q = (sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ q).toarray()
    inv_item = np.divide(1.0, item_deg, out=np.zeros_like(item_deg), where=item_deg > 0)
    inv_node = np.divide(1.0, node_deg, out=np.zeros_like(node_deg), where=node_deg > 0)
    left = (sp.diags(inv_node) @ G).tocsr()             # node -> item, rows sum to 1
    pi = Q.copy()
    for _ in range(max_iter):
        moved = ((pi * inv_item) @ G.T) @ left         # pi P without forming P
        new = restart * Q + (1 - restart) * moved
        if np.abs(new - pi).max() < tol:
            return new
        pi = new
    return pi


def top_neighbours(weights, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest positive entries of each row of a square weight matrix
    (the diagonal, an item's weight to itself, is dropped first)."""
    W = check_array("weights", weights, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"weights must be square (items x items), got {W.shape}")
    n = check_int("n", n, minimum=1)
    W = W.copy()
    np.fill_diagonal(W, 0.0)
    kk = min(n, W.shape[1])
    idx = np.argpartition(-W, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(W, idx, axis=1)
    rows = np.repeat(np.arange(W.shape[0]), kk)
    keep = vals.ravel() > 0
    return sp.csr_matrix((vals.ravel()[keep], (rows[keep], idx.ravel()[keep])), shape=W.shape)


def neighbour_average(vectors, weights, self_weight: float = 0.5) -> np.ndarray:
    """One layer of neighbour averaging: :math:`\\beta h_i + (1 - \\beta)` times the weighted
    mean of the neighbours' vectors (``weights`` is a sparse or dense items-by-items matrix
    of non-negative importances). Items with no neighbour keep their vector."""
    H = check_array("vectors", vectors, ndim=2)
    self_weight = check_float("self_weight", self_weight, minimum=0.0, maximum=1.0)
    W = sp.csr_matrix(weights, dtype=np.float64) if sp.issparse(weights) else \
        sp.csr_matrix(check_array("weights", weights, ndim=2))
    if W.shape != (len(H), len(H)):
        raise ValueError(f"weights must have shape ({len(H)}, {len(H)}), got {W.shape}")
    if W.nnz and W.data.min() < 0:
        raise ValueError("weights must be non-negative")
    sums = np.asarray(W.sum(axis=1)).ravel()
    has = sums > 0
    mean = np.asarray(W @ H) / np.where(has, sums, 1.0)[:, None]
    out = H.copy()
    out[has] = self_weight * H[has] + (1 - self_weight) * mean[has]
    return out
