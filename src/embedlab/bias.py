r"""Word embedding association test (WEAT; Caliskan, Bryson and Narayanan, 2017).

WEAT measures whether two sets of *target* words :math:`X, Y` (say, flowers and insects)
differ in how close they sit to two sets of *attribute* words :math:`A, B` (pleasant and
unpleasant), by analogy with the implicit association test of psychology (Greenwald,
McGhee and Schwartz, 1998). With :math:`\cos` the cosine similarity of two word vectors:

.. math::

    s(w, A, B) &= \operatorname{mean}_{a \in A} \cos(w, a)
                  - \operatorname{mean}_{b \in B} \cos(w, b)
    \qquad \text{(association of one word)} \\
    S(X, Y, A, B) &= \sum_{x \in X} s(x, A, B) - \sum_{y \in Y} s(y, A, B)
    \qquad \text{(test statistic)} \\
    d &= \frac{\operatorname{mean}_{x \in X} s(x, A, B) - \operatorname{mean}_{y \in Y} s(y, A, B)}
             {\operatorname{std}_{w \in X \cup Y} s(w, A, B)}
    \qquad \text{(effect size)}

with the sample standard deviation (``ddof=1``). :math:`d > 0` means that :math:`X` is
closer to :math:`A` (and :math:`Y` to :math:`B`) than the other way round; like Cohen's
:math:`d`, about 0.2 is called small and 0.8 large.

**Permutation test.** Under the null hypothesis the labels "X" and "Y" are exchangeable.
The one-sided p-value is the share of the ways to split :math:`X \cup Y` into two sets of
the sizes of :math:`X` and :math:`Y` whose statistic is at least the observed one (the
observed split included). All splits are enumerated when there are at most ``max_exact`` of
them (12,870 for two lists of 8 words); otherwise ``n_permutations`` random splits are drawn
and :math:`p = (1 + \#\{S_i \ge S\}) / (1 + n)`.

**Sensitivity to the word lists.** The words are not a random sample of anything, and a
test on 8 words per list can swing with one word. :func:`weat_interval` resamples the words of
each of the four lists with replacement and reports a percentile interval of :math:`d`: how
much the answer depends on which words were picked.

The word lists of :data:`WEAT_TESTS` are those of Caliskan et al. (2017), tests 1, 6, 7 and
8, which took them from published implicit association tests (Greenwald et al., 1998, and
later studies).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_float, check_int, check_seed, unit_rows

__all__ = ["WEAT_TESTS", "WeatResult", "association", "weat_effect_size", "weat_test",
           "weat_interval"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# name -> (X label, X words, Y label, Y words, A label, A words, B label, B words)
WEAT_TESTS: dict[str, tuple] = {
    "flowers vs insects / pleasant vs unpleasant": (
        "flowers", _words("aster clover hyacinth marigold poppy azalea crocus iris orchid rose "
                          "bluebell daffodil lilac pansy tulip buttercup daisy lily peony "
                          "violet carnation gladiola magnolia petunia zinnia"),
        "insects", _words("ant caterpillar flea locust spider bedbug centipede fly maggot "
                          "tarantula bee cockroach gnat mosquito termite beetle cricket hornet "
                          "moth wasp blackfly dragonfly horsefly roach weevil"),
        "pleasant", _words("caress freedom health love peace cheer friend heaven loyal pleasure "
                           "diamond gentle honest lucky rainbow diploma gift honor miracle "
                           "sunrise family happy laughter paradise vacation"),
        "unpleasant", _words("abuse crash filth murder sickness accident death grief poison "
                             "stink assault disaster hatred pollute tragedy divorce jail poverty "
                             "ugly cancer kill rotten vomit agony prison"),
    ),
    "male vs female names / career vs family": (
        "male names", _words("John Paul Mike Kevin Steve Greg Jeff Bill"),
        "female names", _words("Amy Joan Lisa Sarah Diana Kate Ann Donna"),
        "career", _words("executive management professional corporation salary office business "
                         "career"),
        "family", _words("home parents children family cousins marriage wedding relatives"),
    ),
    "math vs arts / male vs female terms": (
        "math", _words("math algebra geometry calculus equations computation numbers addition"),
        "arts", _words("poetry art dance literature novel symphony drama sculpture"),
        "male terms", _words("male man boy brother he him his son"),
        "female terms", _words("female woman girl sister she her hers daughter"),
    ),
    "science vs arts / male vs female terms": (
        "science", _words("science technology physics chemistry Einstein NASA experiment "
                          "astronomy"),
        "arts", _words("poetry art Shakespeare dance literature novel symphony drama"),
        "male terms", _words("brother father uncle grandfather son he his him"),
        "female terms", _words("sister mother aunt grandmother daughter she hers her"),
    ),
}


def _unit_rows(name: str, M) -> np.ndarray:
    return unit_rows(name, check_array(name, M, ndim=2, min_rows=1))


def _check_sets(X, Y, A, B):
    X, Y, A, B = (_unit_rows(n, M) for n, M in (("X", X), ("Y", Y), ("A", A), ("B", B)))
    dims = {n: M.shape[1] for n, M in (("X", X), ("Y", Y), ("A", A), ("B", B))}
    if len(set(dims.values())) > 1:
        raise ValueError(f"X, Y, A and B must have the same number of columns, got {dims}")
    if len(X) + len(Y) < 3:
        raise ValueError("X and Y need at least 3 words together for a standard deviation")
    return X, Y, A, B


def association(W, A, B) -> np.ndarray:
    """:math:`s(w, A, B)` for every row ``w`` of ``W`` (rows of ``A`` and ``B`` are words)."""
    W, A, B = (_unit_rows(n, M) for n, M in (("W", W), ("A", A), ("B", B)))
    if not W.shape[1] == A.shape[1] == B.shape[1]:
        raise ValueError(f"W, A and B must have the same number of columns, got "
                         f"{W.shape[1]}, {A.shape[1]} and {B.shape[1]}")
    return (W @ A.T).mean(axis=1) - (W @ B.T).mean(axis=1)


def _effect(s: np.ndarray, n_x: int) -> float:
    spread = s.std(ddof=1)
    if spread == 0:
        raise ValueError("every target word has the same association: the effect size is "
                         "undefined")
    return float((s[:n_x].mean() - s[n_x:].mean()) / spread)


def weat_effect_size(X, Y, A, B) -> float:
    """The effect size :math:`d` of the module docstring (rows of the arrays are words)."""
    X, Y, A, B = _check_sets(X, Y, A, B)
    return _effect(association(np.vstack([X, Y]), A, B), len(X))


@dataclass(frozen=True)
class WeatResult:
    """Result of :func:`weat_test`."""

    effect_size: float
    statistic: float  # S(X, Y, A, B)
    p_value: float  # one-sided: share of splits with a statistic at least the observed one
    n_splits: int  # splits enumerated (exact) or drawn at random
    exact: bool


def weat_test(X, Y, A, B, *, n_permutations: int = 10_000, max_exact: int = 100_000,
              seed: int | None = 0) -> WeatResult:
    """Effect size and one-sided permutation p-value of WEAT (see the module docstring)."""
    X, Y, A, B = _check_sets(X, Y, A, B)
    n_permutations = check_int("n_permutations", n_permutations, minimum=1)
    max_exact = check_int("max_exact", max_exact, minimum=0)
    seed = check_seed("seed", seed)
    s = association(np.vstack([X, Y]), A, B)
    n_x, total = len(X), s.sum()
    observed = 2 * s[:n_x].sum() - total  # sum over X minus sum over Y
    tol = 1e-12 * max(1.0, float(np.abs(s).sum()))
    n_all = math.comb(len(s), n_x)
    if n_all <= max_exact:
        subsets = np.array(list(itertools.combinations(range(len(s)), n_x)), dtype=np.int64)
        stats_ = 2 * s[subsets].sum(axis=1) - total
        p, n, exact = float(np.mean(stats_ >= observed - tol)), n_all, True
    else:
        rng = np.random.default_rng(seed)
        picks = np.argsort(rng.random((n_permutations, len(s))), axis=1)[:, :n_x]
        stats_ = 2 * s[picks].sum(axis=1) - total
        p = float((1 + np.sum(stats_ >= observed - tol)) / (1 + n_permutations))
        n, exact = n_permutations, False
    return WeatResult(_effect(s, n_x), float(observed), p, n, exact)


def weat_interval(X, Y, A, B, *, n_resamples: int = 1000, level: float = 0.95,
                  seed: int | None = 0) -> tuple[float, float]:
    """Percentile interval of the effect size when the words of each list are resampled.

    Each resample draws, with replacement, as many words as each of ``X``, ``Y``, ``A``, ``B``
    holds from that list, and recomputes :math:`d`. Resamples in which every target word has
    the same association are skipped. Returns ``(low, high)``.
    """
    X, Y, A, B = _check_sets(X, Y, A, B)
    n_resamples = check_int("n_resamples", n_resamples, minimum=10)
    level = check_float("level", level, minimum=0.0, maximum=1.0, strict_min=True,
                        strict_max=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    T = np.vstack([X, Y])
    sim_a, sim_b = T @ A.T, T @ B.T  # cosines computed once, resampled by index
    n_x, n_y = len(X), len(Y)
    effects = []
    for _ in range(n_resamples):
        ix = rng.integers(0, n_x, n_x)
        iy = n_x + rng.integers(0, n_y, n_y)
        ia, ib = rng.integers(0, len(A), len(A)), rng.integers(0, len(B), len(B))
        rows = np.concatenate([ix, iy])
        s = sim_a[np.ix_(rows, ia)].mean(axis=1) - sim_b[np.ix_(rows, ib)].mean(axis=1)
        if s.std(ddof=1) > 0:
            effects.append(_effect(s, n_x))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(effects, [tail, 100 - tail])
    return float(low), float(high)
