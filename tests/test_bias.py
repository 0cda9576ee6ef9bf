"""Tests of embedlab.bias (WEAT) against a direct, loop-by-loop computation of the formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from embedlab.bias import (WEAT_TESTS, WeatResult, association, weat_effect_size, weat_interval,
                           weat_test)


def _cos(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def _s(w, A, B):
    return np.mean([_cos(w, a) for a in A]) - np.mean([_cos(w, b) for b in B])


def _planted(rng, n=8, d=10, strength=1.0):
    """X leans towards A and Y towards B by `strength`, plus noise."""
    a_dir, b_dir = rng.normal(size=d), rng.normal(size=d)
    X = rng.normal(size=(n, d)) + strength * a_dir
    Y = rng.normal(size=(n, d)) + strength * b_dir
    A = rng.normal(size=(n, d)) + 2 * a_dir
    B = rng.normal(size=(n, d)) + 2 * b_dir
    return X, Y, A, B


def test_association_and_effect_size_follow_the_formulas():
    rng = np.random.default_rng(0)
    X, Y, A, B = (rng.normal(size=(k, 6)) * rng.uniform(0.5, 3, size=(k, 1)) for k in (5, 7, 4, 3))
    expected_s = [_s(w, A, B) for w in np.vstack([X, Y])]
    np.testing.assert_allclose(association(np.vstack([X, Y]), A, B), expected_s, atol=1e-12)
    sx, sy = expected_s[:5], expected_s[5:]
    d = (np.mean(sx) - np.mean(sy)) / np.std(expected_s, ddof=1)
    assert weat_effect_size(X, Y, A, B) == pytest.approx(d, abs=1e-12)
    # swapping the targets (or the attributes) flips the sign
    assert weat_effect_size(Y, X, A, B) == pytest.approx(-d, abs=1e-12)
    assert weat_effect_size(X, Y, B, A) == pytest.approx(-d, abs=1e-12)


def test_exact_p_value_enumerates_every_split():
    rng = np.random.default_rng(1)
    X, Y, A, B = _planted(rng, n=5, strength=0.3)
    s = [_s(w, A, B) for w in np.vstack([X, Y])]
    observed = sum(s[:5]) - sum(s[5:])
    count = total = 0
    for subset in itertools.combinations(range(10), 5):
        rest = [i for i in range(10) if i not in subset]
        total += 1
        count += sum(s[i] for i in subset) - sum(s[i] for i in rest) >= observed - 1e-12
    result = weat_test(X, Y, A, B)
    assert isinstance(result, WeatResult) and result.exact and result.n_splits == total == 252
    assert result.p_value == pytest.approx(count / total)
    assert result.statistic == pytest.approx(observed)
    assert result.effect_size == pytest.approx(weat_effect_size(X, Y, A, B))


def test_sampled_p_value_is_close_to_the_exact_one():
    rng = np.random.default_rng(2)
    X, Y, A, B = _planted(rng, n=8, strength=0.15)
    exact = weat_test(X, Y, A, B)
    sampled = weat_test(X, Y, A, B, max_exact=0, n_permutations=20_000, seed=3)
    assert exact.exact and not sampled.exact and sampled.n_splits == 20_000
    assert 0.02 < exact.p_value < 0.98  # a case where the p-value is not at an extreme
    assert sampled.p_value == pytest.approx(exact.p_value, abs=0.015)
    assert weat_test(X, Y, A, B, max_exact=0, seed=3) == weat_test(X, Y, A, B, max_exact=0, seed=3)


def test_planted_association_is_detected_and_its_absence_is_not():
    rng = np.random.default_rng(4)
    strong = weat_test(*_planted(rng, n=8, strength=1.0))
    assert strong.effect_size > 1.5 and strong.p_value < 0.001
    # no planted association: over many null draws, p-values below 0.05 are rare
    ps = [weat_test(*_planted(rng, n=6, strength=0.0)).p_value for _ in range(60)]
    assert np.mean(np.array(ps) < 0.05) < 0.15
    assert min(ps) >= 1 / 924  # the observed split itself always counts


def test_interval_covers_the_effect_and_shrinks_with_longer_lists():
    rng = np.random.default_rng(5)
    short = _planted(rng, n=6, strength=0.5)
    low, high = weat_interval(*short, n_resamples=400, seed=0)
    assert low < weat_effect_size(*short) < high
    rng = np.random.default_rng(5)
    long = _planted(rng, n=60, strength=0.5)
    low2, high2 = weat_interval(*long, n_resamples=400, seed=0)
    assert high2 - low2 < high - low
    assert weat_interval(*short, n_resamples=50, seed=1) == weat_interval(*short, n_resamples=50,
                                                                          seed=1)


def test_word_lists_of_caliskan_et_al():
    assert len(WEAT_TESTS) == 4
    for name, (xl, X, yl, Y, al, A, bl, B) in WEAT_TESTS.items():
        assert all(isinstance(lab, str) for lab in (xl, yl, al, bl))
        assert len(X) == len(Y) and len(A) == len(B), name
        assert len(set(X) | set(Y)) == len(X) + len(Y), name  # targets do not overlap
    first = WEAT_TESTS["flowers vs insects / pleasant vs unpleasant"]
    assert [len(first[i]) for i in (1, 3, 5, 7)] == [25, 25, 25, 25]


_AB = (np.ones((2, 2)), np.eye(2))


@pytest.mark.parametrize("args, error, match", [
    ((np.ones((3, 2)), np.ones((3, 3))) + _AB, ValueError, "columns"),
    ((np.zeros((3, 2)), np.ones((3, 2))) + _AB, ValueError, "zeros"),
    ((np.ones((1, 2)), np.ones((1, 2))) + _AB, ValueError, "at least 3"),
    (("abc", np.ones((3, 2))) + _AB, TypeError, "X"),
    ((np.ones(3), np.ones((3, 2))) + _AB, ValueError, "X must be 2-D"),
])
def test_bad_inputs_are_rejected(args, error, match):
    with pytest.raises(error, match=match):
        weat_effect_size(*args)


def test_bad_settings_are_rejected():
    rng = np.random.default_rng(6)
    sets = _planted(rng, n=4)
    with pytest.raises(ValueError, match="n_permutations"):
        weat_test(*sets, n_permutations=0)
    with pytest.raises(ValueError, match="seed"):
        weat_test(*sets, seed=-1)
    with pytest.raises(ValueError, match="level"):
        weat_interval(*sets, level=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        weat_interval(*sets, n_resamples=5)
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="same association"):
        weat_effect_size(X, X.copy(), np.eye(3)[:2], np.eye(3)[1:])
    with pytest.raises(ValueError, match="columns"):
        association(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 3)))
