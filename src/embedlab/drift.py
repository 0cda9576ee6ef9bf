r"""Drift detection on embeddings: has the distribution of incoming vectors changed?

Each detector compares a *reference* sample :math:`X = \{x_1, \dots, x_m\}` (vectors from
a period known to be fine) with a *current* sample :math:`Y = \{y_1, \dots, y_n\}` and returns
a p-value for the null hypothesis "both come from the same distribution". An alarm is raised
when :math:`p < \alpha`; on samples with no drift that happens with probability about
:math:`\alpha` (the **false alarm rate**), which is worth checking on real no-drift splits, and
the share of drifted samples that raise it is the detector's **power**. Reducing the
vectors first (for example to the top principal components of the reference) makes all three
detectors cheaper and often more powerful (Rabanser, Guennemann and Lipton, 2019); fit that
reduction on data the test treats symmetrically (both windows pooled, or a separate sample),
never on the reference window alone.

**Maximum mean discrepancy** (Gretton et al., 2012). With the Gaussian kernel
:math:`k(a, b) = \exp(-\gamma \lVert a - b \rVert^2)`, the unbiased estimate of the squared MMD is

.. math::

    \widehat{\mathrm{MMD}}^2 = \frac{1}{m(m-1)} \sum_{i \ne j} k(x_i, x_j)
    + \frac{1}{n(n-1)} \sum_{i \ne j} k(y_i, y_j) - \frac{2}{mn} \sum_{i, j} k(x_i, y_j) ,

zero in expectation when the distributions are equal, and positive otherwise (the kernel
is characteristic). :math:`\gamma` defaults to the median heuristic, one over the median
squared distance of the pooled sample. The p-value comes from a **permutation test**:
shuffle the pooled sample's labels :math:`P` times, recompute the statistic, and report
:math:`p = (1 + \#\{\text{permuted} \ge \text{observed}\}) / (1 + P)`.

**Kolmogorov-Smirnov on principal components.** Project both samples on the top :math:`c`
principal components of the *pooled* sample and run a two-sample KS test on each component
(the largest gap between the two empirical CDFs). The pooled fit matters: components fitted
on the reference alone follow its own sampling noise, so the reference looks more spread
along them than any other sample, and the test fires without drift whenever the sample is
small compared with the dimension. :math:`c` tests give :math:`c` chances of a
false alarm, so the smallest p-value is corrected (Bonferroni: :math:`p = \min(1, c \,
\min_j p_j)`, which keeps the overall false alarm rate at most :math:`\alpha`).

**Domain classifier** (Lopez-Paz and Oquab, 2017). Label reference vectors 0 and current
vectors 1, train a classifier on half of each sample and score the other half. With no drift
it cannot beat chance and its AUC on the held-out half stays near 0.5; the p-value is the
one-sided Mann-Whitney test of the held-out scores (the AUC is the Mann-Whitney statistic
divided by the product of the two group sizes). The held-out half matters: pooling
out-of-fold scores of a cross-validation mixes scores of different models, which are not on
one scale, and the test then fires too often without drift. A classifier also says *which*
items look new: the ones with high scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_choice, check_float, check_int, check_seed
from .ann import _sq_dists
from .kernels import rbf_kernel   # the Gaussian kernel of Chapter 11

__all__ = [
    "DriftResult", "median_gamma", "rbf_kernel", "mmd2_unbiased", "mmd_test", "ks_pca_test",
    "classifier_test", "DETECTORS", "run_detector",
]


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one test: the statistic, its p-value and the detector's name."""

    detector: str
    statistic: float
    p_value: float

    def alarm(self, alpha: float = 0.05) -> bool:
        """True when the test rejects "no drift" at level ``alpha``."""
        return self.p_value < check_float("alpha", alpha, minimum=0.0, maximum=1.0)


def _samples(X, Y, min_rows=2):
    X = check_array("X", X, ndim=2, min_rows=min_rows)
    Y = check_array("Y", Y, ndim=2, min_rows=min_rows)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same number of columns, got {X.shape[1]} "
                         f"and {Y.shape[1]}")
    return X, Y


def median_gamma(Z) -> float:
    """Median heuristic: one over the median squared distance between distinct rows of ``Z``."""
    Z = check_array("Z", Z, ndim=2, min_rows=2)
    D = _sq_dists(Z, Z)
    med = float(np.median(D[np.triu_indices(len(Z), 1)]))
    if med <= 0:
        raise ValueError("all rows of Z are identical: the median distance is 0")
    return 1.0 / med


def _mmd2_from_kernel(K, in_x):
    """Unbiased MMD^2 for every row of the boolean matrix ``in_x`` (rows: labellings)."""
    A = in_x.astype(float)
    B = 1.0 - A
    m = A.sum(1)
    n = B.sum(1)
    diag = np.diag(K)
    kxx = (np.einsum("pi,pi->p", A @ K, A) - A @ diag) / (m * (m - 1))
    kyy = (np.einsum("pi,pi->p", B @ K, B) - B @ diag) / (n * (n - 1))
    kxy = np.einsum("pi,pi->p", A @ K, B) / (m * n)
    return kxx + kyy - 2 * kxy


def mmd2_unbiased(X, Y, *, gamma: float | None = None) -> float:
    """The unbiased estimate of the squared MMD with a Gaussian kernel (see the module)."""
    X, Y = _samples(X, Y)
    Z = np.vstack([X, Y])
    gamma = median_gamma(Z) if gamma is None else gamma
    K = rbf_kernel(Z, gamma=gamma)
    in_x = np.zeros((1, len(Z)), dtype=bool)
    in_x[0, :len(X)] = True
    return float(_mmd2_from_kernel(K, in_x)[0])


def mmd_test(X, Y, *, n_permutations: int = 200, gamma: float | None = None,
             seed: int | None = 0) -> DriftResult:
    """MMD two-sample test with a permutation p-value."""
    X, Y = _samples(X, Y)
    n_permutations = check_int("n_permutations", n_permutations, minimum=1)
    seed = check_seed("seed", seed)
    Z = np.vstack([X, Y])
    gamma = median_gamma(Z) if gamma is None else check_float("gamma", gamma, minimum=0.0,
                                                              strict_min=True)
    K = rbf_kernel(Z, gamma=gamma)
    rng = np.random.default_rng(seed)
    labels = np.zeros((n_permutations + 1, len(Z)), dtype=bool)
    labels[0, :len(X)] = True
    for p in range(1, n_permutations + 1):
        labels[p, rng.permutation(len(Z))[:len(X)]] = True
    stats = _mmd2_from_kernel(K, labels)
    p_value = (1 + np.sum(stats[1:] >= stats[0])) / (1 + n_permutations)
    return DriftResult("MMD", float(stats[0]), float(p_value))


def ks_pca_test(X, Y, *, n_components: int = 10, correction: str = "bonferroni") -> DriftResult:
    """KS tests on the top principal components of the pooled sample, with a correction.

    ``correction="bonferroni"`` multiplies the smallest p-value by the number of components;
    ``"none"`` reports it as is (too many false alarms, shown for comparison). The statistic
    is the largest KS distance over the components.
    """
    from scipy.stats import ks_2samp

    X, Y = _samples(X, Y)
    n_components = check_int("n_components", n_components, minimum=1,
                             maximum=min(X.shape[1], len(X) + len(Y)))
    check_choice("correction", correction, ("bonferroni", "none"))
    Z = np.vstack([X, Y])
    mean = Z.mean(axis=0)
    _, _, Vt = np.linalg.svd(Z - mean, full_matrices=False)
    P = Vt[:n_components].T
    px, py = (X - mean) @ P, (Y - mean) @ P
    results = [ks_2samp(px[:, j], py[:, j]) for j in range(n_components)]
    p_min = min(r.pvalue for r in results)
    p = min(1.0, n_components * p_min) if correction == "bonferroni" else p_min
    return DriftResult("KS on PCA", float(max(r.statistic for r in results)), float(p))


def classifier_test(X, Y, *, test_size: float = 0.5, C: float = 1.0,
                    seed: int | None = 0) -> DriftResult:
    """Domain-classifier test: AUC, on a held-out part, of a logistic regression telling Y from X.

    A stratified share ``test_size`` of the pooled sample is held out; the classifier is fitted
    on the rest, and the p-value is the one-sided Mann-Whitney test of the held-out scores.
    """
    from scipy.stats import mannwhitneyu
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, Y = _samples(X, Y, min_rows=4)
    test_size = check_float("test_size", test_size, minimum=0.0, maximum=1.0, strict_min=True,
                            strict_max=True)
    C = check_float("C", C, minimum=0.0, strict_min=True)
    seed = check_seed("seed", seed)
    Z = np.vstack([X, Y])
    t = np.r_[np.zeros(len(X)), np.ones(len(Y))]
    Z_fit, Z_test, t_fit, t_test = train_test_split(Z, t, test_size=test_size, stratify=t,
                                                    random_state=seed)
    scores = LogisticRegression(C=C, max_iter=1000).fit(Z_fit, t_fit).decision_function(Z_test)
    pos, neg = scores[t_test == 1], scores[t_test == 0]
    u = mannwhitneyu(pos, neg, alternative="greater")
    return DriftResult("domain classifier", float(u.statistic / (len(pos) * len(neg))),
                       float(u.pvalue))


DETECTORS = {"MMD": mmd_test, "KS on PCA": ks_pca_test, "domain classifier": classifier_test}


def run_detector(name: str, X, Y, **kwargs) -> DriftResult:
    """Run the detector called ``name`` (a key of ``DETECTORS``)."""
    check_choice("name", name, tuple(DETECTORS))
    return DETECTORS[name](X, Y, **kwargs)
