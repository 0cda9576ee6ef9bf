"""Drift detectors: MMD equal to its definition, KS and classifier equal to SciPy/scikit-learn,
false alarm rates near alpha without drift, power with drift."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf

from embedlab import drift


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    Y = rng.normal(size=(50, 6))
    Y_shift = Y + np.array([1.2, 0, 0, 0, 0, 0])
    return X, Y, Y_shift


def test_rbf_kernel_and_median_gamma(samples):
    X, Y, _ = samples
    assert np.allclose(drift.rbf_kernel(X, Y, gamma=0.3), sk_rbf(X, Y, gamma=0.3))
    Z = np.vstack([X, Y])
    d2 = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    assert drift.median_gamma(Z) == pytest.approx(1 / np.median(d2[np.triu_indices(len(Z), 1)]))


def test_mmd2_unbiased_matches_the_double_sums(samples):
    X, Y, _ = samples
    g = 0.2
    Kxx, Kyy, Kxy = sk_rbf(X, X, gamma=g), sk_rbf(Y, Y, gamma=g), sk_rbf(X, Y, gamma=g)
    m, n = len(X), len(Y)
    expected = ((Kxx.sum() - np.trace(Kxx)) / (m * (m - 1)) + (Kyy.sum() - np.trace(Kyy)) / (n * (n - 1))
                - 2 * Kxy.mean())
    assert drift.mmd2_unbiased(X, Y, gamma=g) == pytest.approx(expected, abs=1e-12)


def test_mmd_permutation_p_value_by_hand(samples):
    X, _, Y_shift = samples
    res = drift.mmd_test(X, Y_shift, n_permutations=50, gamma=0.1, seed=3)
    # recompute the permutations the same way
    rng = np.random.default_rng(3)
    Z = np.vstack([X, Y_shift])
    perm_stats = []
    for _ in range(50):
        idx = rng.permutation(len(Z))
        perm_stats.append(drift.mmd2_unbiased(Z[idx[:len(X)]], Z[idx[len(X):]], gamma=0.1))
    assert res.statistic == pytest.approx(drift.mmd2_unbiased(X, Y_shift, gamma=0.1))
    assert res.p_value == pytest.approx((1 + np.sum(np.array(perm_stats) >= res.statistic)) / 51)
    assert res.alarm(0.05) and res.detector == "MMD"


def test_ks_pca_equals_scipy_on_the_components(samples):
    X, Y, _ = samples
    res = drift.ks_pca_test(X, Y, n_components=3)
    Z = np.vstack([X, Y])
    mean = Z.mean(0)
    Vt = np.linalg.svd(Z - mean, full_matrices=False)[2]
    ps = [ks_2samp((X - mean) @ Vt[j], (Y - mean) @ Vt[j]).pvalue for j in range(3)]
    assert res.p_value == pytest.approx(min(1.0, 3 * min(ps)))
    raw = drift.ks_pca_test(X, Y, n_components=3, correction="none")
    assert raw.p_value == pytest.approx(min(ps))


def test_classifier_statistic_is_the_held_out_auc():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 4))
    Y_shift = rng.normal(size=(70, 4)) + np.array([1.5, 0, 0, 0])
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from scipy.stats import mannwhitneyu

    res = drift.classifier_test(X, Y_shift, test_size=0.4, seed=1)
    Z = np.vstack([X, Y_shift])
    t = np.r_[np.zeros(len(X)), np.ones(len(Y_shift))]
    Zf, Zt, tf, tt = train_test_split(Z, t, test_size=0.4, stratify=t, random_state=1)
    scores = LogisticRegression(max_iter=1000).fit(Zf, tf).decision_function(Zt)
    assert res.statistic == pytest.approx(roc_auc_score(tt, scores))
    assert res.p_value == pytest.approx(
        mannwhitneyu(scores[tt == 1], scores[tt == 0], alternative="greater").pvalue)
    assert res.statistic > 0.6 and res.alarm()


@pytest.mark.parametrize("name", list(drift.DETECTORS))
def test_false_alarms_near_alpha_and_power_with_drift(name):
    rng = np.random.default_rng(7)
    kwargs = {"MMD": {"n_permutations": 100}, "KS on PCA": {"n_components": 3},
              "domain classifier": {}}[name]
    null_alarms = 0
    drift_alarms = 0
    for rep in range(30):
        X = rng.normal(size=(40, 5))
        Y = rng.normal(size=(40, 5))
        null_alarms += drift.run_detector(name, X, Y, **kwargs).alarm(0.05)
        drift_alarms += drift.run_detector(name, X, Y + 1.3 * np.eye(5)[0], **kwargs).alarm(0.05)
    assert null_alarms <= 5            # 1.5 expected at alpha = 0.05
    assert drift_alarms >= 22


def test_argument_errors(samples):
    X, Y, _ = samples
    with pytest.raises(ValueError, match="same number of columns"):
        drift.mmd_test(X, Y[:, :3])
    with pytest.raises(ValueError, match="n_permutations must be >= 1"):
        drift.mmd_test(X, Y, n_permutations=0)
    with pytest.raises(ValueError, match="n_components must be <= 6"):
        drift.ks_pca_test(X, Y, n_components=7)
    with pytest.raises(ValueError, match="n_components must be <= 4"):
        drift.ks_pca_test(X[:2, :4] * 0 + np.eye(4)[:2], Y[:2, :4], n_components=5)
    with pytest.raises(ValueError, match="correction must be one of"):
        drift.ks_pca_test(X, Y, n_components=2, correction="holm")
    with pytest.raises(ValueError, match="test_size must be < 1"):
        drift.classifier_test(X, Y, test_size=1.0)
    with pytest.raises(ValueError, match="name must be one of"):
        drift.run_detector("t-test", X, Y)
    with pytest.raises(ValueError, match="identical"):
        drift.median_gamma(np.ones((4, 2)))
    with pytest.raises(ValueError, match="X needs at least 2 rows"):
        drift.mmd_test(X[:1], Y)


def test_ks_on_pooled_components_keeps_its_false_alarm_rate_when_d_exceeds_n():
    """Components fitted on the reference window alone would fire without drift here."""
    rng = np.random.default_rng(3)
    alarms = 0
    for _ in range(40):                       # 30 points in 200 dimensions, no drift
        X = rng.normal(size=(30, 200))
        Y = rng.normal(size=(30, 200))
        alarms += drift.ks_pca_test(X, Y, n_components=5).alarm(0.05)
    assert alarms <= 6                        # (reference-only components: about half fire)


def test_classifier_test_keeps_its_false_alarm_rate():
    """Held-out scores from one model: about alpha false alarms on samples with no drift."""
    rng = np.random.default_rng(11)
    alarms = sum(drift.classifier_test(rng.normal(size=(60, 10)), rng.normal(size=(60, 10)),
                                       seed=s).alarm(0.05) for s in range(60))
    assert alarms <= 8                  # 3 expected
