"""Item-to-item models: cosine item-kNN equal to implicit's, EASE equal to its per-item ridge
regressions, co-occurrence counts and shifted PMI."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from embedlab import itemitem

threadpool_limits(1)
pytestmark = pytest.mark.filterwarnings("ignore::Warning:implicit")   # implicit's input-format notes


def _weighted(seed, shape=(80, 30), density=0.2):
    X = sp.random(*shape, density=density, random_state=seed, format="csr")
    X.data = 1.0 + np.random.default_rng(seed).random(X.nnz)   # weights: no ties in cosine
    return X


@pytest.mark.parametrize("k", [1, 5, 30])
def test_cosine_knn_equals_implicits_cosine_recommender(k):
    from implicit.nearest_neighbours import CosineRecommender

    X = _weighted(0)
    ref = CosineRecommender(K=k, num_threads=1)
    ref.fit(X, show_progress=False)
    ours = itemitem.cosine_knn(X, k)
    assert np.allclose(ours.toarray(), ref.similarity.toarray(), atol=1e-6)
    if k == 1:                                 # only the item itself: nothing to recommend
        return
    users = np.arange(10)
    ids, scores = ref.recommend(users, X[users], N=5, filter_already_liked_items=True)
    mine = itemitem.item_scores(X, ours)[users]
    shown = (ids >= 0) & (scores > 0)          # implicit pads short lists with arbitrary items
    assert shown.sum() >= 10
    assert np.allclose(np.take_along_axis(mine, np.maximum(ids, 0), axis=1)[shown], scores[shown],
                       atol=1e-5)


def test_cosine_knn_leaves_unseen_items_empty():
    X = sp.csr_matrix(np.array([[1.0, 0, 1], [1, 0, 0]]))
    B = itemitem.cosine_knn(X, 3).toarray()
    assert np.all(B[1] == 0) and np.all(B[:, 1] == 0)
    assert B[0, 0] == pytest.approx(1.0) and B[0, 2] == pytest.approx(1 / np.sqrt(2))


@pytest.mark.parametrize("lam", [0.5, 10.0, 300.0])
def test_ease_is_the_ridge_regression_of_each_item_on_the_others(lam):
    X = _weighted(1, shape=(60, 12), density=0.3)
    X.data[:] = 1.0
    B = itemitem.ease(X, lam)
    D = X.toarray()
    assert np.allclose(np.diag(B), 0)
    for j in range(D.shape[1]):
        others = np.delete(np.arange(D.shape[1]), j)
        A = D[:, others]
        b = np.linalg.solve(A.T @ A + lam * np.eye(len(others)), A.T @ D[:, j])
        assert np.allclose(B[others, j], b, atol=1e-9)


def test_item_scores_is_x_times_b():
    X = _weighted(2, shape=(5, 4), density=0.5)
    B = np.arange(16.0).reshape(4, 4)
    assert np.allclose(itemitem.item_scores(X, B), X.toarray() @ B)
    assert np.allclose(itemitem.item_scores(X, sp.csr_matrix(B)), X.toarray() @ B)


def test_cooccurrence_counts_pairs_within_the_window():
    C = itemitem.cooccurrence([[0, 1, 2], [2, 0]], 3, window=1).toarray()
    assert C.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    C2 = itemitem.cooccurrence([[0, 1, 2]], 3, window=2).toarray()
    assert C2[0, 2] == 1 and C2[2, 0] == 1
    assert itemitem.cooccurrence([[1]], 3).nnz == 0


def test_sppmi_against_a_dense_computation():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, size=(6, 6)).astype(float)
    counts = counts + counts.T
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * counts.sum() / np.outer(counts.sum(1), counts.sum(0)))
    for shift in (1.0, 5.0):
        expected = np.where(counts > 0, np.maximum(pmi - np.log(shift), 0), 0)
        assert np.allclose(itemitem.sppmi(sp.csr_matrix(counts), shift).toarray(), expected)


@pytest.mark.parametrize("call, error, match", [
    (lambda: itemitem.cosine_knn(np.ones((2, 2))), TypeError, "X must be a scipy sparse"),
    (lambda: itemitem.cosine_knn(sp.csr_matrix((2, 2)), 0), ValueError, "k must be >= 1"),
    (lambda: itemitem.ease(sp.csr_matrix((2, 2)), 0.0), ValueError, "lam must be > 0"),
    (lambda: itemitem.ease(sp.csr_matrix((0, 2)), 1.0), ValueError, "at least one user"),
    (lambda: itemitem.item_scores(sp.csr_matrix((2, 3)), np.ones((2, 2))), ValueError,
     r"B must have shape \(3, 3\)"),
    (lambda: itemitem.item_scores(sp.csr_matrix((2, 3)), [[1]]), TypeError, "B must be a NumPy"),
    (lambda: itemitem.cooccurrence("abc", 3), TypeError, "sessions must be a list"),
    (lambda: itemitem.cooccurrence([[0, 5]], 3), ValueError, r"outside \[0, 3\)"),
    (lambda: itemitem.cooccurrence([[0.5, 1.0]], 3), TypeError, "integer item indices"),
    (lambda: itemitem.sppmi(sp.csr_matrix((2, 2)), 1.0), ValueError, "all zeros"),
    (lambda: itemitem.sppmi(sp.csr_matrix(np.ones((2, 2))), 0.0), ValueError, "shift must be > 0"),
    (lambda: itemitem.sppmi(sp.csr_matrix(-np.ones((2, 2))), 1.0), ValueError, "non-negative"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
