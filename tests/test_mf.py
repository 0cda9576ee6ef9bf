"""Matrix factorisation: ALS equal to implicit's exact solver, its loss, fold-in, and BPR."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from embedlab import mf, recsys

threadpool_limits(1)
pytestmark = pytest.mark.filterwarnings("ignore::Warning:implicit")


def _interactions(seed, shape=(70, 50), density=0.1):
    X = sp.random(*shape, density=density, random_state=seed, format="csr")
    X.data = np.ceil(3 * X.data)                 # counts 1..3 (exact in float32)
    X = sp.diags((np.arange(shape[0]) % 9 != 4).astype(float)) @ X   # some users have nothing
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    return X


def _start(n_users, n_items, f, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_users, f)) * 0.01, rng.random((n_items, f)) * 0.01


def test_one_half_sweep_equals_a_dense_weighted_ridge_per_row():
    X = _interactions(0)
    C = mf.confidence(X, 2.0)
    Y = np.random.default_rng(1).normal(size=(X.shape[1], 6))
    ours = mf.solve_rows(C, Y, 0.3)
    dense_c = np.ones(X.shape) + (C.toarray() - 1) * (X.toarray() > 0)
    for u in range(X.shape[0]):
        if X[u].nnz == 0:
            assert np.all(ours[u] == 0)
            continue
        W = np.diag(dense_c[u])
        p = (X[u].toarray().ravel() > 0).astype(float)
        x = np.linalg.solve(Y.T @ W @ Y + 0.3 * np.eye(6), Y.T @ W @ p)
        assert np.allclose(ours[u], x, atol=1e-10)


def test_small_batches_give_the_same_half_sweep():
    X = _interactions(2, shape=(120, 40), density=0.2)
    C = mf.confidence(X, 5.0)
    Y = np.random.default_rng(3).normal(size=(40, 8))
    assert np.allclose(mf.solve_rows(C, Y, 0.1), mf.solve_rows(C, Y, 0.1, batch_elements=1),
                       atol=1e-12)


@pytest.mark.parametrize("factors, reg, alpha", [(8, 0.1, 3.0), (16, 1.0, 39.0)])
def test_als_equals_implicits_exact_solver_from_the_same_start(factors, reg, alpha):
    from implicit.als import AlternatingLeastSquares

    X = _interactions(4)
    U0, V0 = _start(*X.shape, factors)
    ours = mf.ALS(factors, regularization=reg, alpha=alpha, iterations=3).fit(
        X, user_factors=U0, item_factors=V0)
    ref = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=1.0, use_cg=False,
                                  iterations=3, dtype=np.float64, num_threads=1)
    ref.user_factors, ref.item_factors = U0.copy(), V0.copy()
    ref.fit(mf.confidence(X, alpha).astype(np.float32), show_progress=False)
    assert np.abs(ours.user_factors - ref.user_factors).max() < 1e-6
    assert np.abs(ours.item_factors - ref.item_factors).max() < 1e-6


def test_loss_equals_implicits_and_never_increases():
    from implicit.cpu._als import calculate_loss

    X = _interactions(5)
    model = mf.ALS(6, regularization=0.5, alpha=4.0, iterations=6, track_loss=True, seed=1).fit(X)
    C = mf.confidence(X, 4.0)
    ref = calculate_loss(C.astype(np.float32).tocsr(), model.user_factors, model.item_factors, 0.5)
    assert abs(model.loss_history_[-1] - ref) < 1e-9
    assert np.all(np.diff(model.loss_history_) <= 1e-12)
    dense = C.toarray()
    conf = np.where(X.toarray() > 0, dense, 1.0)
    pred = model.user_factors @ model.item_factors.T
    direct = (np.sum(conf * ((X.toarray() > 0) - pred) ** 2)
              + 0.5 * (np.sum(model.user_factors**2) + np.sum(model.item_factors**2)))
    assert abs(mf.als_loss(C, model.user_factors, model.item_factors, 0.5) - direct / conf.sum()) < 1e-12


def test_fold_in_equals_implicits_recalculate_user():
    from implicit.als import AlternatingLeastSquares

    X = _interactions(6)
    model = mf.ALS(5, regularization=0.2, alpha=2.0, iterations=4).fit(X)
    ref = AlternatingLeastSquares(factors=5, regularization=0.2, alpha=1.0, use_cg=False,
                                  dtype=np.float64, num_threads=1)
    ref.user_factors, ref.item_factors = model.user_factors.copy(), model.item_factors.copy()
    new_users = _interactions(60)[:7]                      # users the model never saw
    C_new = mf.confidence(new_users, 2.0)
    theirs = ref.recalculate_user(np.arange(7), C_new.astype(np.float32).tocsr())
    assert np.allclose(mf.fold_in(C_new, model.item_factors, 0.2), theirs, atol=1e-8)


def test_als_is_seeded_and_scores_are_inner_products():
    X = _interactions(7)
    a = mf.ALS(4, iterations=2, seed=3).fit(X)
    b = mf.ALS(4, iterations=2, seed=3).fit(X)
    assert np.array_equal(a.user_factors, b.user_factors)
    assert np.allclose(a.scores([1, 2]), a.user_factors[[1, 2]] @ a.item_factors.T)


def _block_data(seed=0):
    # two groups of users, each interacting with its own half of the items
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 60, size=1500)
    items = (users % 2) * 20 + rng.integers(0, 20, size=1500)
    return recsys.interaction_matrix(users, items, 60, 40)


def test_bpr_learns_the_order_and_is_seeded():
    X = _block_data()
    model = mf.BPR(8, learning_rate=0.1, epochs=15, batch_size=128, seed=0).fit(X)
    assert model.accuracy_history_[-1] > model.accuracy_history_[0] + 0.1
    S = model.scores()
    own = np.array([S[u, (u % 2) * 20:(u % 2) * 20 + 20].mean() for u in range(60)])
    other = np.array([S[u, (1 - u % 2) * 20:(1 - u % 2) * 20 + 20].mean() for u in range(60)])
    assert np.all(own > other)
    again = mf.BPR(8, learning_rate=0.1, epochs=15, batch_size=128, seed=0).fit(X)
    assert np.array_equal(model.item_factors, again.item_factors)


@pytest.mark.parametrize("call, error, match", [
    (lambda: mf.confidence(np.ones((2, 2))), TypeError, "X must be a scipy sparse"),
    (lambda: mf.confidence(sp.csr_matrix(-np.ones((2, 2)))), ValueError, "positive values only"),
    (lambda: mf.confidence(sp.csr_matrix(np.ones((2, 2))), -1.0), ValueError, "alpha must be >= 0"),
    (lambda: mf.solve_rows(sp.csr_matrix(np.ones((2, 3))), np.ones((4, 2)), 0.1), ValueError,
     "Y must have 3 rows"),
    (lambda: mf.solve_rows(sp.csr_matrix(np.ones((2, 3))), np.ones((3, 2)), -0.1), ValueError,
     "regularization must be >= 0"),
    (lambda: mf.ALS(factors=0), ValueError, "factors must be >= 1"),
    (lambda: mf.ALS(iterations=1.5), TypeError, "iterations must be an integer"),
    (lambda: mf.ALS(progress="yes"), TypeError, "progress must be True or False"),
    (lambda: mf.ALS(3).fit(sp.csr_matrix(np.ones((2, 3))), user_factors=np.ones((2, 4))),
     ValueError, "user_factors must have 3 columns"),
    (lambda: mf.ALS().scores(), RuntimeError, "call fit before scores"),
    (lambda: mf.als_loss(sp.csr_matrix(np.ones((2, 3))), np.ones((2, 2)), np.ones((3, 3)), 0.1),
     ValueError, "item_factors must have 2 columns"),
    (lambda: mf.BPR(learning_rate=0.0), ValueError, "learning_rate must be > 0"),
    (lambda: mf.BPR().fit(sp.csr_matrix((2, 3))), ValueError, "no interaction"),
    (lambda: mf.BPR(batch_size=0), ValueError, "batch_size must be >= 1"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
