"""Matrix factorisation by gradient descent: gradients equal autograd, the solution equals the
truncated SVD (full matrix) and scikit-learn's ridge regressions (sparse matrix); bad input is
refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from embedlab.data import make_feed
from embedlab.factorization import (MatrixFactorizationGD, interaction_matrix, mf_gradients,
                                    mf_objective)


def _triples(n_users=12, n_items=9, n=150, seed=0, rank=2):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, size=n)
    items = rng.integers(0, n_items, size=n)
    U, V = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    y = 3.0 + np.einsum("ij,ij->i", U[users], V[items]) + 0.3 * rng.normal(size=n)
    return users, items, y


def _params(n_users, n_items, k, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n_users, k)), rng.normal(size=(n_items, k)),
            rng.normal(size=n_users), rng.normal(size=n_items))


def test_gradients_match_torch_autograd_with_repeats_and_empty_rows():
    torch = pytest.importorskip("torch")
    # user 0 and item 0 appear twice as the same pair; user 5 and item 4 never appear
    users = np.array([0, 0, 1, 2, 3, 4, 1])
    items = np.array([0, 0, 1, 2, 3, 1, 2])
    y = np.array([1.0, 2.0, -1.0, 0.5, 3.0, 0.0, 1.5])
    U, V, b, c = _params(6, 5, 3)
    mu, reg = 0.7, 0.4
    grads = mf_gradients(users, items, y, mu, U, V, b, c, reg)
    tU, tV, tb, tc = (torch.tensor(a, requires_grad=True) for a in (U, V, b, c))
    tu, ti = torch.tensor(users), torch.tensor(items)
    pred = mu + tb[tu] + tc[ti] + (tU[tu] * tV[ti]).sum(1)
    loss = (((pred - torch.tensor(y)) ** 2).sum()
            + reg * ((tU**2).sum() + (tV**2).sum() + (tb**2).sum() + (tc**2).sum())) / len(y)
    loss.backward()
    assert mf_objective(users, items, y, mu, U, V, b, c, reg) == pytest.approx(loss.item())
    for ours, ref in zip(grads, (tU.grad, tV.grad, tb.grad, tc.grad)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-10, atol=1e-12)
    # a row without observations gets only the penalty's gradient
    np.testing.assert_allclose(grads[0][5], 2 * reg * U[5] / len(y))


def test_full_matrix_without_penalty_equals_truncated_svd():
    """Eckart-Young: the best rank-k approximation of a full matrix is its truncated SVD."""
    rng = np.random.default_rng(3)
    n_users, n_items, k = 15, 10, 3
    M = rng.normal(size=(n_users, k)) @ rng.normal(size=(k, n_items)) * 2 + rng.normal(
        size=(n_users, n_items))
    users, items = np.divmod(np.arange(n_users * n_items), n_items)
    y = M[users, items]
    model = MatrixFactorizationGD(rank=k, reg=0.0, biases=False, epochs=20_000, tol=1e-12,
                                  init_scale=0.5).fit(users, items, y)
    assert model.n_epochs_ < 20_000, "gradient descent converged"
    centred = M - y.mean()
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    best = (u[:, :k] * s[:k]) @ vt[:k]
    np.testing.assert_allclose(model.interaction_scores(), best, atol=1e-6)
    # the SVD is the best: its error is the energy of the discarded singular values
    assert model.loss_history_[-1] == pytest.approx(np.sum(s[k:] ** 2) / y.size, rel=1e-6)


@pytest.mark.parametrize("biases", [True, False])
def test_every_row_is_the_ridge_solution_at_convergence(biases):
    users, items, y = _triples(n_users=15, n_items=12, n=260, seed=4)
    reg = 2.0
    m = MatrixFactorizationGD(rank=2, reg=reg, biases=biases, epochs=20_000, tol=1e-11,
                              seed=0).fit(users, items, y)
    assert m.n_epochs_ < 20_000
    for ids, other, own_vec, own_bias, vec, bias in [
            (users, items, m.user_factors_, m.user_bias_, m.item_factors_, m.item_bias_),
            (items, users, m.item_factors_, m.item_bias_, m.user_factors_, m.user_bias_)]:
        for row in range(len(own_vec)):
            mine = ids == row
            target = y[mine] - m.global_mean_ - bias[other[mine]]
            F = vec[other[mine]]
            if biases:
                F = np.column_stack([F, np.ones(mine.sum())])
            coef = Ridge(alpha=reg, fit_intercept=False).fit(F, target).coef_
            ours = np.r_[own_vec[row], own_bias[row]] if biases else own_vec[row]
            np.testing.assert_allclose(ours, coef, atol=1e-7)
    # the gradient of the objective is zero there (for the biases only if they are learned)
    grads = mf_gradients(users, items, y, m.global_mean_, m.user_factors_, m.item_factors_,
                         m.user_bias_, m.item_bias_, reg)
    assert max(np.abs(g).max() for g in (grads if biases else grads[:2])) < 1e-8
    if not biases:
        assert not m.user_bias_.any() and not m.item_bias_.any()


def test_rows_without_observations():
    users, items, y = _triples(n_users=6, n_items=5, n=80, seed=2)
    # user 6 and item 5 have no observation
    shrunk = MatrixFactorizationGD(rank=2, reg=1.0, epochs=300).fit(users, items, y, n_users=7,
                                                                      n_items=6)
    assert np.all(np.isfinite(shrunk.user_factors_))
    assert np.abs(shrunk.user_factors_[6]).max() < 1e-12 and np.abs(shrunk.item_factors_[5]).max() < 1e-12
    # without a penalty nothing moves an unseen row: it keeps its initial vector
    kept = MatrixFactorizationGD(rank=2, reg=0.0, epochs=50).fit(users, items, y, n_users=7,
                                                                  n_items=6)
    first = MatrixFactorizationGD(rank=2, reg=0.0, epochs=1).fit(users, items, y, n_users=7,
                                                                  n_items=6)
    np.testing.assert_array_equal(kept.user_factors_[6], first.user_factors_[6])
    assert kept.user_bias_[6] == 0.0
    assert not np.array_equal(kept.user_factors_[0], first.user_factors_[0])


def test_zero_initialisation_learns_only_the_biases():
    users, items, y = _triples(seed=5)
    m = MatrixFactorizationGD(rank=3, init_scale=0.0, epochs=200).fit(users, items, y)
    assert not m.user_factors_.any() and not m.item_factors_.any()
    assert np.abs(m.user_bias_).max() > 0.1


def test_recovers_the_hidden_topics_of_the_feed():
    feed = make_feed(n=12_000, n_users=50, n_posts=80, seed=3, topic_dim=3)
    m = MatrixFactorizationGD(rank=3, reg=3.0, epochs=300).fit(
        feed.user_ids, feed.post_ids, feed.y - feed.X[:, :3] @ feed.true_coef[:3])
    hidden = feed.user_topics @ feed.post_topics.T
    assert np.corrcoef(m.interaction_scores().ravel(), hidden.ravel())[0, 1] > 0.9
    shuffled = m.interaction_scores()[np.random.default_rng(0).permutation(50)]
    assert abs(np.corrcoef(shuffled.ravel(), hidden.ravel())[0, 1]) < 0.2


def test_loss_falls_and_eval_set_is_recorded():
    users, items, y = _triples(n=300, seed=6)
    m = MatrixFactorizationGD(rank=2, reg=0.5, epochs=60).fit(
        users[:200], items[:200], y[:200], n_users=12, n_items=9,
        eval_set=(users[200:], items[200:], y[200:]))
    assert len(m.loss_history_) == len(m.val_history_) == 60 == m.n_epochs_
    # small random vectors and zero biases: the first loss is about the variance of y
    assert m.loss_history_[0] == pytest.approx(np.var(y[:200]), rel=0.02)
    assert m.loss_history_[-1] < 0.5 * m.loss_history_[0]
    pred = m.predict(users[200:], items[200:])
    # the last recorded value is before the last step; one more epoch moves little
    assert np.mean((pred - y[200:]) ** 2) == pytest.approx(m.val_history_[-1], rel=0.05)


def test_seeded_and_tol_stops_early():
    users, items, y = _triples(seed=7)
    a = MatrixFactorizationGD(rank=2, epochs=30, seed=1).fit(users, items, y)
    b = MatrixFactorizationGD(rank=2, epochs=30, seed=1).fit(users, items, y)
    c = MatrixFactorizationGD(rank=2, epochs=30, seed=2).fit(users, items, y)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)
    early = MatrixFactorizationGD(rank=2, epochs=5000, tol=1e-6).fit(users, items, y)
    assert early.n_epochs_ < 5000


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_too_large_steps_are_halved_and_the_objective_never_increases(scale):
    users, items, y = _triples(seed=8)
    m = MatrixFactorizationGD(rank=2, learning_rate=8.0, epochs=400).fit(users, items, scale * y)
    assert np.all(np.isfinite(m.user_factors_))
    assert m.learning_rate_ < 8.0, "the step was halved"
    assert np.all(np.diff(m.objective_history_) <= 1e-12 * np.abs(m.objective_history_[:-1]))
    assert m.objective_history_[-1] < 0.2 * m.objective_history_[0]
    # the objective recorded is the objective of the parameters
    assert m.objective(users, items, scale * y) <= m.objective_history_[-1]
    # a safe step is never halved
    safe = MatrixFactorizationGD(rank=2, learning_rate=0.2, epochs=100).fit(users, items, y)
    assert safe.learning_rate_ == 0.2


def test_interaction_matrix_matches_a_pivot_table():
    users = np.array([0, 0, 1, 2, 0])
    items = np.array([1, 1, 0, 2, 3])
    y = np.array([1.0, 3.0, 5.0, -1.0, 2.0])
    R = interaction_matrix(users, items, y, n_users=4, n_items=4)
    ref = (pd.DataFrame({"u": users, "i": items, "y": y})
           .pivot_table(index="u", columns="i", values="y", aggfunc="mean")
           .reindex(index=range(4), columns=range(4)).to_numpy())
    np.testing.assert_array_equal(np.isnan(R), np.isnan(ref))
    np.testing.assert_allclose(R[~np.isnan(R)], ref[~np.isnan(ref)])
    assert R[0, 1] == 2.0 and np.isnan(R[3]).all()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rank": 0}, ValueError, "rank must be >= 1"),
    ({"rank": 2.0}, TypeError, "rank must be an integer"),
    ({"reg": -1.0}, ValueError, "reg must be >= 0"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate must be > 0"),
    ({"epochs": 0}, ValueError, "epochs must be >= 1"),
    ({"init_scale": -0.1}, ValueError, "init_scale must be >= 0"),
    ({"tol": -1.0}, ValueError, "tol must be >= 0"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"biases": "yes"}, TypeError, "biases must be True or False"),
    ({"progress": 1}, TypeError, "progress must be True or False"),
])
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        MatrixFactorizationGD(**kwargs)


def test_bad_data():
    m = MatrixFactorizationGD(rank=2, epochs=5)
    with pytest.raises(ValueError, match="same number of rows"):
        m.fit([0, 1], [0, 1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        m.fit([0, -1], [0, 1], [1.0, 2.0])
    with pytest.raises(TypeError, match="must hold integers"):
        m.fit([0.5, 1.0], [0, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="only 2 of them"):
        m.fit([0, 2], [0, 1], [1.0, 2.0], n_users=2)
    with pytest.raises(ValueError, match="NaN"):
        m.fit([0, 1], [0, 1], [1.0, np.nan])
    with pytest.raises(ValueError, match="at least one observed triple"):
        m.fit(np.array([], dtype=int), np.array([], dtype=int), np.array([]), n_users=1, n_items=1)
    with pytest.raises(TypeError, match="eval_set must be a tuple"):
        m.fit([0, 1], [0, 1], [1.0, 2.0], eval_set=[0, 1])
    with pytest.raises(RuntimeError, match="call fit"):
        MatrixFactorizationGD().predict([0], [0])
    fitted = m.fit([0, 1], [0, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="only 2 of them"):
        fitted.predict([5], [0])
    with pytest.raises(ValueError, match="same number of rows"):
        fitted.predict([0, 1], [0])
    U, V, b, c = _params(2, 2, 2)
    with pytest.raises(ValueError, match="same number of columns"):
        mf_gradients([0], [0], [1.0], 0.0, U, V[:, :1], b, c, 0.1)
    with pytest.raises(ValueError, match="too few for the ids"):
        mf_gradients([3], [0], [1.0], 0.0, U, V, b, c, 0.1)
    with pytest.raises(ValueError, match="one bias per row"):
        mf_objective([0], [0], [1.0], 0.0, U, V, b[:1], c, 0.1)
    with pytest.raises(ValueError, match="reg must be >= 0"):
        mf_objective([0], [0], [1.0], 0.0, U, V, b, c, -0.1)
    with pytest.raises(ValueError, match="n_users must be >= 1"):
        interaction_matrix([0], [0], [1.0], 0, 1)
