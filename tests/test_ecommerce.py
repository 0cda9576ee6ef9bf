"""The synthetic shop: seeded, and each part follows the generative model its docstring states."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab import ecommerce


def test_catalogue_is_seeded_and_follows_its_model():
    a = ecommerce.make_catalogue(120, n_categories=4, dim=5, strength_sd=0.8, seed=7)
    b = ecommerce.make_catalogue(120, n_categories=4, dim=5, strength_sd=0.8, seed=7)
    c = ecommerce.make_catalogue(120, n_categories=4, dim=5, strength_sd=0.8, seed=8)
    assert np.array_equal(a.latent, b.latent) and not np.allclose(a.latent, c.latent)
    assert a.n_products == 120 and a.latent.shape == (120, 5)
    assert set(np.unique(a.category)) <= set(range(4))
    # the norm of each latent vector is its strength; the relatedness kernel is Z Z^T
    assert np.allclose(np.linalg.norm(a.latent, axis=1), a.strength)
    assert np.allclose(a.relatedness, a.latent @ a.latent.T)
    # directions cluster by category: same-category cosines are higher on average
    unit = a.latent / a.strength[:, None]
    cos = unit @ unit.T
    same = a.category[:, None] == a.category[None, :]
    off = ~np.eye(120, dtype=bool)
    assert cos[same & off].mean() > cos[~same].mean() + 0.3


def test_transition_matrix_is_row_stochastic_with_no_self_loops():
    shop = ecommerce.make_catalogue(50, seed=1)
    P = shop.transition_matrix()
    assert np.allclose(P.sum(axis=1), 1.0) and np.all(np.diag(P) == 0) and np.all(P >= 0)
    unit = shop.latent / shop.strength[:, None]
    # within a row, the odds of two targets are exp(beta * difference of cosines)
    assert np.log(P[0, 1] / P[0, 2]) == pytest.approx(shop.beta * (unit[0] @ unit[1] - unit[0] @ unit[2]))


def test_link_probability_and_sampled_pairs():
    shop = ecommerce.make_catalogue(80, seed=2)
    p, q = np.array([0, 1, 2]), np.array([3, 4, 2])
    expected = 1 / (1 + np.exp(-(shop.bias + np.sum(shop.latent[p] * shop.latent[q], axis=1))))
    assert np.allclose(ecommerce.link_probability(shop, p, q), expected)
    p, q, y = ecommerce.sample_pairs(shop, 20_000, seed=0)
    assert np.all(p != q) and set(np.unique(y)) <= {0, 1}
    prob = ecommerce.link_probability(shop, p, q)
    assert abs(y.mean() - prob.mean()) < 4 * np.sqrt(prob.mean() / len(y))
    assert y[prob > 0.5].mean() > y[prob < 0.1].mean() + 0.3
    again = ecommerce.sample_pairs(shop, 20_000, seed=0)
    assert all(np.array_equal(u, v) for u, v in zip((p, q, y), again))


def test_sessions_follow_the_chain():
    shop = ecommerce.make_catalogue(40, n_categories=3, seed=3)
    sessions = ecommerce.make_sessions(shop, 4000, length=6, seed=4)
    assert len(sessions) == 4000 and all(len(s) == 6 for s in sessions)
    assert sessions == ecommerce.make_sessions(shop, 4000, length=6, seed=4)
    S = np.array(sessions)
    assert np.all(S[:, 1:] != S[:, :-1])                 # the chain never stays put
    # empirical transition frequencies match the transition matrix
    P = shop.transition_matrix()
    counts = np.zeros_like(P)
    np.add.at(counts, (S[:, :-1].ravel(), S[:, 1:].ravel()), 1)
    rows = counts.sum(axis=1) > 300
    assert np.abs(counts[rows] / counts[rows].sum(axis=1, keepdims=True) - P[rows]).max() < 0.06
    # first items are drawn in proportion to strength
    first = np.bincount(S[:, 0], minlength=40) / 4000
    assert np.corrcoef(first, shop.strength)[0, 1] > 0.8


def test_behaviour_sequences_hide_the_label_in_timing():
    data = ecommerce.make_behaviour_sequences(400, seed=5)
    assert len(data.times) == len(data.channels) == 400 and set(np.unique(data.y)) == {0, 1}
    late = {label: np.mean(np.concatenate([t[np.isin(c, [2, 3])]
                                           for t, c, yy in zip(data.times, data.channels, data.y)
                                           if yy == label])) for label in (0, 1)}
    assert late[1] > late[0] + 0.1 * data.horizon
    counts = {label: np.mean([len(t) for t, yy in zip(data.times, data.y) if yy == label])
              for label in (0, 1)}
    assert abs(counts[1] - counts[0]) < 0.1 * counts[0]
    assert all(np.all(np.diff(t) >= 0) and t.max() < data.horizon for t in data.times if len(t))


def test_bad_input():
    with pytest.raises(ValueError, match="n_products must be >= 2"):
        ecommerce.make_catalogue(1)
    with pytest.raises(ValueError, match="n_categories must be <= 5"):
        ecommerce.make_catalogue(5, n_categories=6)
    with pytest.raises(TypeError, match="catalogue must be a Catalogue"):
        ecommerce.make_sessions("shop", 3)
    shop = ecommerce.make_catalogue(10, seed=0)
    with pytest.raises(ValueError, match="p holds ids outside 0..9"):
        ecommerce.link_probability(shop, [10], [0])
    with pytest.raises(ValueError, match="same length"):
        ecommerce.link_probability(shop, [1, 2], [0])
    with pytest.raises(ValueError, match="n_pairs must be >= 1"):
        ecommerce.sample_pairs(shop, 0)
    with pytest.raises(ValueError, match="mean_events must be >= 0"):
        ecommerce.make_behaviour_sequences(4, mean_events=(1, -1))
    with pytest.raises(ValueError, match="seed must be >= 0"):
        ecommerce.make_catalogue(10, seed=-1)
