"""Random walks with restart: visit shares converge to personalised PageRank; neighbour
averaging follows its formula."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from embedlab import randomwalk as rw

threadpool_limits(1)


def _graph(seed=3, shape=(40, 30), density=0.15):
    G = sp.random(*shape, density=density, random_state=seed, format="csr")
    G.data[:] = 1.0
    return G


def _dense_ppr(G, q, alpha):
    """The fixed point of pi = alpha q + (1 - alpha) pi P, by a direct linear solve."""
    A = G.toarray()
    item_deg, node_deg = A.sum(axis=0), A.sum(axis=1)
    P = (A / np.where(item_deg > 0, item_deg, 1)).T @ (A / np.where(node_deg > 0, node_deg, 1)[:, None])
    q = q / q.sum()
    n = len(q)
    return np.linalg.solve((np.eye(n) - (1 - alpha) * P).T, alpha * q)


@pytest.mark.parametrize("alpha", [0.2, 0.6])
def test_pagerank_is_the_fixed_point(alpha):
    G = _graph()
    Q = sp.random(4, 30, density=0.2, random_state=4, format="csr")
    ppr = rw.personalized_pagerank(G, Q, restart=alpha)
    usable = np.asarray(G.sum(axis=0)).ravel() > 0
    for r in range(4):
        q = Q[r].toarray().ravel() * usable
        if q.sum() == 0:
            assert np.all(ppr[r] == 0)
            continue
        assert np.allclose(ppr[r], _dense_ppr(G, q, alpha), atol=1e-8)
        assert ppr[r].sum() == pytest.approx(1.0)


def test_walk_visit_shares_converge_to_pagerank():
    G = _graph()
    q = sp.csr_matrix(np.array([[0, 1.0, 0, 2.0] + [0] * 26]))
    Q = sp.vstack([q] * 200).tocsr()                      # 200 walkers on the same query
    visits = rw.walk_visits(G, Q, steps=1500, restart=0.3, seed=1)
    assert np.all(visits.sum(axis=1) == 1500)
    share = visits.sum(axis=0) / visits.sum()
    exact = rw.personalized_pagerank(G, q, restart=0.3)[0]
    assert 0.5 * np.abs(share - exact).sum() < 0.02      # total variation distance
    assert np.array_equal(visits, rw.walk_visits(G, Q, steps=1500, restart=0.3, seed=1))


def test_walks_only_reach_connected_items():
    # two components: items 0-1 share node 0, items 2-3 share node 1
    G = sp.csr_matrix(np.array([[1.0, 1, 0, 0], [0, 0, 1, 1]]))
    v = rw.walk_visits(G, sp.csr_matrix(np.array([[1.0, 0, 0, 0]])), steps=200, seed=0)
    assert v[0, 2:].sum() == 0 and v[0, :2].sum() == 200
    empty = rw.walk_visits(G, sp.csr_matrix((1, 4)), steps=10)
    assert np.all(empty == 0)


def test_bipartite_graph_and_top_neighbours():
    G = rw.bipartite_graph([0, 0, 1], [1, 1, 2], 2, 3)
    assert G.toarray().tolist() == [[0, 1, 0], [0, 0, 1]]
    W = rw.top_neighbours(np.array([[5.0, 1, 2], [0, 9, 3], [4, 4, 0]]), 1)
    assert W.toarray().tolist() == [[0, 0, 2], [0, 0, 3], [4, 0, 0]]


def test_neighbour_average_follows_its_formula():
    H = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    W = sp.csr_matrix(np.array([[0, 1.0, 3.0], [0, 0, 0], [1.0, 1.0, 0]]))
    out = rw.neighbour_average(H, W, self_weight=0.25)
    assert np.allclose(out[0], 0.25 * H[0] + 0.75 * (H[1] + 3 * H[2]) / 4)
    assert np.allclose(out[1], H[1])                      # no neighbour: unchanged
    assert np.allclose(out[2], 0.25 * H[2] + 0.75 * (H[0] + H[1]) / 2)
    assert np.allclose(rw.neighbour_average(H, W, self_weight=1.0), H)


@pytest.mark.parametrize("call, error, match", [
    (lambda: rw.walk_visits(np.ones((2, 2)), sp.csr_matrix((1, 2))), TypeError,
     "graph must be a scipy sparse"),
    (lambda: rw.walk_visits(sp.csr_matrix((2, 2)), sp.csr_matrix((1, 2))), ValueError, "no edge"),
    (lambda: rw.walk_visits(sp.csr_matrix(np.ones((2, 2))), sp.csr_matrix((1, 3))), ValueError,
     "queries must have 2 columns"),
    (lambda: rw.walk_visits(sp.csr_matrix(np.ones((2, 2))), np.ones((1, 2))), TypeError,
     "queries must be a scipy sparse"),
    (lambda: rw.walk_visits(sp.csr_matrix(np.ones((2, 2))), sp.csr_matrix(np.ones((1, 2))),
                            restart=1.5), ValueError, "restart must be <= 1"),
    (lambda: rw.personalized_pagerank(sp.csr_matrix(np.ones((2, 2))),
                                      sp.csr_matrix(-np.ones((1, 2)))), ValueError, "non-negative"),
    (lambda: rw.personalized_pagerank(sp.csr_matrix(np.ones((2, 2))),
                                      sp.csr_matrix(np.ones((1, 2))), restart=0.0), ValueError,
     "restart must be > 0"),
    (lambda: rw.bipartite_graph([0], [3], 1, 2), ValueError, r"items must hold indices in \[0, 2\)"),
    (lambda: rw.top_neighbours(np.ones((2, 3)), 1), ValueError, "must be square"),
    (lambda: rw.neighbour_average(np.ones((2, 2)), np.ones((3, 3))), ValueError, "shape"),
    (lambda: rw.neighbour_average(np.ones((2, 2)), np.ones((2, 2)), self_weight=2.0), ValueError,
     "self_weight must be <= 1"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
