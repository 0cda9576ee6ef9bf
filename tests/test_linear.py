"""Gradient descent equals scikit-learn's least squares; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

from embedlab.data import make_feed
from embedlab.linear import LinearRegressionGD, mse


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_match_scikit_learn(seed):
    feed = make_feed(n=800, seed=seed)
    ours = LinearRegressionGD().fit(feed.X, feed.y)
    ref = LinearRegression().fit(feed.X, feed.y)
    assert np.max(np.abs(ours.coef_ - ref.coef_)) < 1e-6
    assert abs(ours.intercept_ - ref.intercept_) < 1e-6
    assert np.allclose(ours.predict(feed.X), ref.predict(feed.X), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimates_are_within_four_standard_errors_of_the_generator(seed):
    """The chapter's check, on several feeds: tight enough that a wrong parameter fails it."""
    feed = make_feed(n=5000, seed=seed)
    model = LinearRegressionGD().fit(feed.X, feed.y)
    A = np.column_stack([feed.X, np.ones(len(feed.y))])
    resid = feed.y - model.predict(feed.X)
    se = np.sqrt(resid @ resid / (len(feed.y) - A.shape[1]) * np.diag(np.linalg.inv(A.T @ A)))
    estimates = np.r_[model.coef_, model.intercept_]
    truth = np.r_[feed.true_coef, feed.true_intercept]
    assert np.all(np.abs(estimates - truth) < 4 * se)
    for j in range(len(truth)):
        wrong = truth.copy()
        wrong[j] *= 0.75
        assert not np.all(np.abs(estimates - wrong) < 4 * se), f"parameter {j} off by a quarter passes"


def test_random_design_with_many_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)) * rng.uniform(0.1, 10, size=12)
    y = X @ rng.normal(size=12) + 3 + rng.normal(size=300)
    ours = LinearRegressionGD(max_epochs=50_000).fit(X, y)
    ref = LinearRegression().fit(X, y)
    assert np.max(np.abs(ours.coef_ - ref.coef_)) < 1e-6


def test_loss_history_decreases_and_is_the_mse():
    feed = make_feed(n=300, seed=0)
    model = LinearRegressionGD(max_epochs=50, tol=0).fit(feed.X, feed.y)
    hist = np.array(model.loss_history_)
    assert len(hist) == 50 and np.all(np.diff(hist) <= 1e-12)
    assert hist[0] == pytest.approx(np.mean(feed.y**2))


def test_too_large_step_diverges_with_a_clear_error():
    feed = make_feed(n=200, seed=0)
    with pytest.raises(FloatingPointError, match="too large"):
        LinearRegressionGD(learning_rate=50.0, max_epochs=2000).fit(feed.X, feed.y)


def test_mse_matches_scikit_learn():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=40), rng.normal(size=40)
    assert mse(a, b) == pytest.approx(mean_squared_error(a, b))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"learning_rate": 0.0}, ValueError, "learning_rate must be > 0"),
    ({"max_epochs": 0}, ValueError, "max_epochs must be >= 1"),
    ({"tol": -1.0}, ValueError, "tol must be >= 0"),
    ({"standardize": "yes"}, TypeError, "standardize must be True or False"),
])
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        LinearRegressionGD(**kwargs)


def test_bad_data():
    model = LinearRegressionGD()
    with pytest.raises(ValueError, match="X must be 2-D"):
        model.fit(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="same number of rows"):
        model.fit(np.ones((5, 2)), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 0.0]]), np.ones(3))
    with pytest.raises(ValueError, match="constant column"):
        model.fit(np.column_stack([np.arange(5.0), np.ones(5)]), np.arange(5.0))
    with pytest.raises(TypeError, match="must hold numbers"):
        model.fit([["a", "b"], ["c", "d"]], [1, 2])
    with pytest.raises(RuntimeError, match="call fit before predict"):
        LinearRegressionGD().predict(np.ones((2, 2)))
    fitted = LinearRegressionGD().fit(np.arange(10.0).reshape(5, 2) ** [1, 2], np.arange(5.0))
    with pytest.raises(ValueError, match="3 columns"):
        fitted.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="same number of rows"):
        mse([1.0, 2.0], [1.0])
