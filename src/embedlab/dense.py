r"""Dense vectors from counts: SVD, PCA, truncated SVD and LSA, and the limits of counting.

**Singular value decomposition.** Any real :math:`n \times d` matrix factors as

.. math::

    X = U \Sigma V^\top, \qquad U^\top U = I, \quad V^\top V = I, \quad
    \Sigma = \operatorname{diag}(s_1 \ge s_2 \ge \dots \ge 0).

Keeping the first :math:`k` singular triplets gives :math:`X_k = U_k \Sigma_k V_k^\top`, the
matrix of rank :math:`k` closest to :math:`X` in Frobenius (and spectral) norm, with error
:math:`\lVert X - X_k \rVert_F^2 = \sum_{i > k} s_i^2` (Eckart and Young, 1936). The singular
vectors are unique only up to a sign per pair :math:`(u_i, v_i)`; :func:`svd_flip` fixes one
convention (the largest entry of each :math:`v_i` in absolute value is positive).

**PCA** is the SVD of the centred data :math:`X_c = X - \mathbf{1}\mu^\top`. Its covariance is
:math:`C = X_c^\top X_c / (n - 1) = V \frac{\Sigma^2}{n-1} V^\top`, so the rows of
:math:`V^\top` are the principal axes, the scores are :math:`X_c V = U \Sigma`, and the variance
along axis :math:`i` (the *explained variance*) is :math:`\lambda_i = s_i^2 / (n - 1)`. The
explained variance ratio is :math:`\lambda_i / \sum_j \lambda_j` (Jolliffe, 2002).

**Truncated SVD** skips the centring, so a sparse matrix stays sparse: the scores are
:math:`X V_k`. Its explained variance is the variance of each score column, divided by the
total variance of the columns of :math:`X`. For large sparse inputs, the randomized algorithm
of Halko, Martinsson and Tropp (2011) multiplies :math:`X` by a Gaussian matrix
:math:`\Omega \in \mathbb{R}^{d \times (k + p)}`, sharpens the result with :math:`q` power
iterations :math:`Y \leftarrow X (X^\top Y)` (renormalised each time with an LU factor, as
scikit-learn does, which is cheaper than a QR), takes an orthonormal basis :math:`Q` of
:math:`Y` and computes the exact SVD of the small matrix :math:`Q^\top X`.

**LSA** (latent semantic analysis, Deerwester et al., 1990) is a truncated SVD of a
term-document weight matrix such as TF-IDF: a document becomes the :math:`k` numbers
:math:`x V_k`, and documents are compared by the cosine of those vectors.

**Choosing the rank on held-out pairs.** A benchmark of human ratings of document pairs is
split by documents (:func:`split_documents`): the pairs of two validation documents choose the
rank :math:`k^\star = \arg\max_k \rho_{\text{val}}(k)` for a correlation :math:`\rho`
(Pearson or Spearman), and the pairs of two test documents score :math:`k^\star` and the
baseline once (:func:`select_rank`). Spearman's :math:`\rho` is Pearson's on average ranks,
so tied scores share one rank.

**Error of a low-rank approximation.** For any :math:`A = U \operatorname{diag}(s) V^\top`,
:math:`\lVert X - A \rVert_F^2 = \lVert X \rVert_F^2 - 2 \sum_i s_i u_i^\top X v_i +
\lVert A \rVert_F^2`, which :func:`low_rank_error` evaluates from products with a sparse
:math:`X`; for the truncated SVD it equals :math:`\sum_{i > k} s_i^2`.

**Distance concentration.** For points with independent coordinates, the ratio of the
farthest to the nearest distance from a query tends to 1 as the dimension grows (Beyer et al.,
1999), and the contrast fades more slowly for small :math:`p` in the :math:`L_p` distance
(Aggarwal, Hinneburg and Keim, 2001). :func:`distance_ratios` measures it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ._checks import check_array, check_choice, check_float, check_int, check_seed

__all__ = [
    "svd_flip", "randomized_svd", "PCA", "TruncatedSVD", "cosine_matrix", "lsa_similarities",
    "pair_correlations", "split_documents", "select_rank", "low_rank_error", "distance_ratios",
    "count_matrix_costs",
]


def _check_matrix(name: str, X, *, min_rows: int = 1):
    """A 2-D float matrix, dense (ndarray) or scipy sparse (converted to CSR)."""
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got a sparse matrix with {X.ndim} dimensions")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise TypeError(f"{name} must hold numbers, got a sparse matrix of dtype {X.dtype}")
        X = sp.csr_matrix(X, dtype=np.float64)
        if not np.all(np.isfinite(X.data)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if X.shape[0] < min_rows:
            raise ValueError(f"{name} needs at least {min_rows} rows, got {X.shape[0]}")
        return X
    return check_array(name, X, ndim=2, min_rows=min_rows)


def _column_variance(X) -> np.ndarray:
    """Population variance (ddof=0) of every column, for dense or sparse X."""
    if sp.issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        mean_sq = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        return np.maximum(mean_sq - mean**2, 0.0)
    return X.var(axis=0)


def _thin_svd(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact thin SVD; a very wide or tall matrix is first reduced by a QR factorisation.

    For ``n < d``: ``X.T = Q R`` gives ``X = R.T Q.T``, and the SVD of the small ``n x n``
    matrix ``R.T = U S W.T`` yields ``X = U S (Q W).T``. Same singular values, less work.
    """
    n, d = X.shape
    if d > 2 * n:
        Q, R = np.linalg.qr(X.T)
        U, s, Wt = np.linalg.svd(R.T)
        return U, s, (Q @ Wt.T).T
    if n > 2 * d:
        Q, R = np.linalg.qr(X)
        W, s, Vt = np.linalg.svd(R)
        return Q @ W, s, Vt
    return np.linalg.svd(X, full_matrices=False)


def svd_flip(U, Vt) -> tuple[np.ndarray, np.ndarray]:
    """Fix the sign of each singular pair: the largest ``|Vt[i, j]|`` of row ``i`` becomes positive.

    ``U`` is ``(n, k)`` and ``Vt`` is ``(k, d)``; flipping column ``i`` of ``U`` together with row
    ``i`` of ``Vt`` leaves ``U @ diag(s) @ Vt`` unchanged. Returns new arrays.
    """
    U = check_array("U", U, ndim=2)
    Vt = check_array("Vt", Vt, ndim=2)
    if U.shape[1] != Vt.shape[0]:
        raise ValueError(f"U has {U.shape[1]} columns but Vt has {Vt.shape[0]} rows; "
                         "they must both equal the number of singular values")
    if Vt.shape[0] == 0:
        return U.copy(), Vt.copy()
    biggest = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), biggest])
    signs[signs == 0] = 1.0
    return U * signs, Vt * signs[:, None]


def _lu_normalize(Y: np.ndarray) -> np.ndarray:
    """The unit lower-triangular (row-permuted) factor of ``Y = P L U``: same column span as Y."""
    from scipy.linalg import lu

    return lu(Y, permute_l=True, check_finite=False)[0]


def randomized_svd(X, k: int, *, n_oversamples: int = 10, n_iter: int = 5,
                   seed: int | None = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate top-``k`` SVD of a dense or sparse matrix (Halko et al., 2011).

    Returns ``U`` (n, k), ``s`` (k,) and ``Vt`` (k, d), signs fixed by :func:`svd_flip`.
    ``n_oversamples`` extra random directions and ``n_iter`` power iterations make the result
    more accurate: each power iteration costs one product with ``X.T`` and one with ``X``, and
    each extra direction widens every product by one column.
    """
    X = _check_matrix("X", X)
    k = check_int("k", k, minimum=1, maximum=min(X.shape))
    n_oversamples = check_int("n_oversamples", n_oversamples, minimum=0)
    n_iter = check_int("n_iter", n_iter, minimum=0)
    rng = np.random.default_rng(check_seed("seed", seed))
    width = min(k + n_oversamples, min(X.shape))
    omega = rng.standard_normal((X.shape[1], width))
    Y = np.asarray(X @ omega)
    for _ in range(n_iter):  # each pass raises the singular values to a higher power
        # An LU factor keeps the columns from collapsing onto the top direction at a fraction
        # of the cost of a QR; only the final basis has to be orthonormal.
        Y = _lu_normalize(np.asarray(X.T @ _lu_normalize(Y)))
        Y = np.asarray(X @ Y)
    Q, _ = np.linalg.qr(Y)
    B = np.asarray((X.T @ Q).T)  # Q^T X, small: (width, d)
    Ub, s, Vt = _thin_svd(B)
    U = Q @ Ub
    U, Vt = svd_flip(U[:, :k], Vt[:k])
    return U, s[:k], Vt


class PCA:
    """Principal component analysis as the SVD of centred data (see the module docstring).

    Parameters
    ----------
    n_components : how many axes to keep; ``None`` keeps ``min(n_samples, n_features)``.

    After :meth:`fit`: ``mean_`` (d,), ``components_`` (k, d, orthonormal rows),
    ``singular_values_`` (k,), ``explained_variance_`` (k,), ``explained_variance_ratio_`` (k,)
    and ``n_samples_``. Equal to ``sklearn.decomposition.PCA(svd_solver="full")`` up to the sign
    of each component.
    """

    def __init__(self, n_components: int | None = None):
        if n_components is not None:
            n_components = check_int("n_components", n_components, minimum=1)
        self.n_components = n_components
        self.components_ = None

    def fit(self, X) -> "PCA":
        """Fit on a dense ``(n, d)`` matrix with ``n >= 2``; returns ``self``."""
        if sp.issparse(X):
            raise TypeError("PCA needs a dense array (centring would fill a sparse matrix); "
                            "use TruncatedSVD for sparse input or call X.toarray()")
        X = check_array("X", X, ndim=2, min_rows=2)
        n, d = X.shape
        k = min(n, d) if self.n_components is None else self.n_components
        if k > min(n, d):
            raise ValueError(f"n_components={k} is larger than min(n_samples, n_features) = "
                             f"{min(n, d)}")
        self.mean_ = X.mean(axis=0)
        U, s, Vt = _thin_svd(X - self.mean_)
        U, Vt = svd_flip(U, Vt)
        variance = s**2 / (n - 1)
        total = variance.sum()
        self.n_samples_ = n
        self.components_ = Vt[:k]
        self.singular_values_ = s[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = variance[:k] / total if total > 0 else np.zeros(k)
        return self

    def _check_fitted(self):
        if self.components_ is None:
            raise RuntimeError("call fit before transform or inverse_transform")

    def transform(self, X) -> np.ndarray:
        """Scores ``(X - mean_) @ components_.T``: one row of k coordinates per sample."""
        self._check_fitted()
        X = check_array("X", X.toarray() if sp.issparse(X) else X, ndim=2)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} columns, PCA was fitted on {self.mean_.shape[0]}")
        return (X - self.mean_) @ self.components_.T

    def fit_transform(self, X) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same data."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map scores back to the data space: ``Z @ components_ + mean_``."""
        self._check_fitted()
        Z = check_array("Z", Z, ndim=2)
        if Z.shape[1] != self.components_.shape[0]:
            raise ValueError(f"Z has {Z.shape[1]} columns, PCA keeps {self.components_.shape[0]}")
        return Z @ self.components_ + self.mean_


class TruncatedSVD(TransformerMixin, BaseEstimator):
    """Top-k SVD without centring, for dense or sparse data (LSA on TF-IDF).

    It follows scikit-learn's estimator API, so it can be a step of a ``Pipeline``.

    Parameters
    ----------
    n_components : k, the number of singular triplets to keep.
    algorithm : ``"full"`` (exact: LAPACK SVD of the densified matrix, for small inputs) or
        ``"randomized"`` (:func:`randomized_svd`, which keeps sparse input sparse).
    n_oversamples, n_iter, seed : settings of the randomized algorithm.

    After :meth:`fit`: ``components_`` (k, d), ``singular_values_`` (k,),
    ``explained_variance_`` (variance of each score column) and ``explained_variance_ratio_``
    (divided by the total variance of the columns of X), as in
    ``sklearn.decomposition.TruncatedSVD``.
    """

    def __init__(self, n_components: int = 2, *, algorithm: str = "full", n_oversamples: int = 10,
                 n_iter: int = 5, seed: int | None = 0):
        self.n_components = check_int("n_components", n_components, minimum=1)
        self.algorithm = check_choice("algorithm", algorithm, ("full", "randomized"))
        self.n_oversamples = check_int("n_oversamples", n_oversamples, minimum=0)
        self.n_iter = check_int("n_iter", n_iter, minimum=0)
        self.seed = check_seed("seed", seed)
        self.components_ = None

    def fit(self, X, y=None) -> "TruncatedSVD":
        """Fit on a dense array or scipy sparse matrix ``(n, d)``; returns ``self``.

        ``y`` is ignored (it is there for scikit-learn pipelines).
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit and return the scores ``X @ components_.T`` (equal to ``U_k * s_k``)."""
        X = _check_matrix("X", X, min_rows=1)
        k = self.n_components
        if k > min(X.shape):
            raise ValueError(f"n_components={k} is larger than min(n_samples, n_features) = "
                             f"{min(X.shape)}")
        if self.algorithm == "full":
            U, s, Vt = _thin_svd(X.toarray() if sp.issparse(X) else X)
            U, Vt = svd_flip(U[:, :k], Vt[:k])
            s = s[:k]
        else:
            U, s, Vt = randomized_svd(X, k, n_oversamples=self.n_oversamples,
                                      n_iter=self.n_iter, seed=self.seed)
        self.components_ = Vt
        self.singular_values_ = s
        scores = U * s
        self.explained_variance_ = scores.var(axis=0)
        total = _column_variance(X).sum()
        self.explained_variance_ratio_ = (self.explained_variance_ / total if total > 0
                                          else np.zeros(k))
        return scores

    def transform(self, X) -> np.ndarray:
        """Scores of new rows: ``X @ components_.T`` (k numbers per row)."""
        if self.components_ is None:
            raise RuntimeError("call fit before transform or inverse_transform")
        X = _check_matrix("X", X, min_rows=0)
        if X.shape[1] != self.components_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns, the SVD was fitted on "
                             f"{self.components_.shape[1]}")
        return np.asarray(X @ self.components_.T)

    def inverse_transform(self, Z) -> np.ndarray:
        """The rank-k approximation of rows from their scores: ``Z @ components_``."""
        if self.components_ is None:
            raise RuntimeError("call fit before transform or inverse_transform")
        Z = check_array("Z", Z, ndim=2)
        if Z.shape[1] != self.components_.shape[0]:
            raise ValueError(f"Z has {Z.shape[1]} columns, the SVD keeps "
                             f"{self.components_.shape[0]}")
        return Z @ self.components_


def cosine_matrix(A, B=None) -> np.ndarray:
    """Cosine similarity of every row of ``A`` with every row of ``B`` (default ``A``).

    Chapter 3's :func:`embedlab.text.cosine_similarity`, for dense or sparse rows; a row of
    zeros has cosine 0 with everything.
    """
    from .text import cosine_similarity

    return cosine_similarity(A, B)


def lsa_similarities(X_fit, X_docs, ks: Sequence[int], *, algorithm: str = "full",
                     seed: int | None = 0) -> dict[int, np.ndarray]:
    """LSA document similarities for several ranks, from one SVD.

    Fits a truncated SVD of rank ``max(ks)`` on ``X_fit`` (e.g. the TF-IDF of a background
    corpus), projects ``X_docs`` (same columns) on the first ``k`` axes for each ``k`` in ``ks``
    and returns ``{k: cosine similarity matrix of the projected docs}``. The top-k singular
    vectors of one SVD are the first k of a larger one, so a single fit serves every rank.
    """
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise TypeError(f"ks must be a non-empty sequence of ranks, got {ks!r}")
    ks = [check_int("each rank in ks", k, minimum=1) for k in ks]
    svd = TruncatedSVD(max(ks), algorithm=algorithm, seed=seed).fit(X_fit)
    Z = svd.transform(X_docs)
    return {k: cosine_matrix(Z[:, :k]) for k in ks}


def pair_correlations(similarity, human) -> tuple[float, float]:
    """Pearson and Spearman correlation of two symmetric matrices over their upper triangle.

    The same measure as Chapter 3's :func:`embedlab.text.similarity_correlation`, which it
    calls: each unordered pair of documents counts once, the diagonal is left out.
    """
    from .text import similarity_correlation

    return similarity_correlation(similarity, human)


def split_documents(n_docs: int, *, n_splits: int = 1, validation_share: float = 0.5,
                    seed: int | None = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random splits of ``n_docs`` documents into a validation part and a test part.

    Returns ``n_splits`` pairs ``(validation, test)`` of sorted index arrays that together hold
    every document once. A benchmark of document *pairs* is split by documents: the validation
    pairs are the pairs of two validation documents, the test pairs those of two test
    documents, so no document informs both the choice and the score. Split ``i`` is the
    ``i``-th permutation drawn from ``numpy.random.default_rng(seed)``.
    """
    n_docs = check_int("n_docs", n_docs, minimum=6)
    n_splits = check_int("n_splits", n_splits, minimum=1)
    validation_share = check_float("validation_share", validation_share, minimum=0.0,
                                   maximum=1.0, strict_min=True, strict_max=True)
    n_val = int(round(validation_share * n_docs))
    if n_val < 3 or n_docs - n_val < 3:
        raise ValueError(f"validation_share={validation_share} leaves {n_val} validation and "
                         f"{n_docs - n_val} test documents; each part needs at least 3")
    rng = np.random.default_rng(check_seed("seed", seed))
    splits = []
    for _ in range(n_splits):
        order = rng.permutation(n_docs)
        splits.append((np.sort(order[:n_val]), np.sort(order[n_val:])))
    return splits


def _pair_values(M: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Upper-triangle entries of ``M`` restricted to the rows and columns ``docs``."""
    sub = M[np.ix_(docs, docs)]
    return sub[np.triu_indices(len(docs), 1)]


def _rowwise_correlation(A: np.ndarray, b: np.ndarray, measure: str) -> np.ndarray:
    """Pearson or Spearman correlation of every row of ``A`` with ``b`` (average ranks for ties)."""
    from scipy.stats import rankdata

    if measure == "spearman":
        A, b = rankdata(A, axis=1), rankdata(b)
    A = A - A.mean(axis=1, keepdims=True)
    b = b - b.mean()
    denominator = np.sqrt(np.sum(A**2, axis=1) * np.sum(b**2))
    if np.any(denominator == 0):
        raise ValueError("a similarity or the human scores are constant on the pairs of a split; "
                         "their correlation is undefined")
    return (A @ b) / denominator


def _check_split(i: int, split, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(split, Sequence) or len(split) != 2:
        raise TypeError(f"splits[{i}] must be a (validation, test) pair of index arrays, "
                        f"got {type(split).__name__}")
    parts = []
    for name, part in zip(("validation", "test"), split):
        part = check_array(f"splits[{i}] {name}", part, ndim=1, dtype=int)
        if len(part) < 3:
            raise ValueError(f"splits[{i}] {name} has {len(part)} documents; a correlation over "
                             "their pairs needs at least 3")
        if part.min() < 0 or part.max() >= n or len(np.unique(part)) != len(part):
            raise ValueError(f"splits[{i}] {name} must hold distinct document indices in "
                             f"[0, {n})")
        parts.append(part)
    if np.intersect1d(*parts).size:
        raise ValueError(f"splits[{i}]: a document is in both the validation and the test part")
    return parts[0], parts[1]


def select_rank(similarities, baseline, human, splits, *,
                measure: str = "spearman") -> list[dict]:
    """Choose the LSA rank on validation pairs, then score it and a baseline once on test pairs.

    ``similarities`` maps each candidate rank ``k`` to an ``(n, n)`` similarity matrix (from
    :func:`lsa_similarities`), ``baseline`` is the ``(n, n)`` similarity to beat (plain TF-IDF
    cosine) and ``human`` the ``(n, n)`` human ratings. For each ``(validation, test)`` pair of
    document indices in ``splits`` (from :func:`split_documents`), the chosen rank is the one
    whose similarities correlate best (``measure``: ``"pearson"`` or ``"spearman"``) with the
    human ratings over the pairs of validation documents; ties go to the smaller rank. Returns
    one dict per split: ``k``, ``validation`` (rank -> correlation), ``test`` (the chosen rank's
    correlation over the pairs of test documents) and ``test_baseline`` (the baseline's).
    """
    from collections.abc import Mapping

    measure = check_choice("measure", measure, ("pearson", "spearman"))
    if not isinstance(similarities, Mapping) or len(similarities) == 0:
        raise TypeError("similarities must be a non-empty dict {rank: similarity matrix}, got "
                        f"{type(similarities).__name__}")
    human = check_array("human", human, ndim=2)
    n = human.shape[0]
    if human.shape != (n, n):
        raise ValueError(f"human must be a square matrix, got shape {human.shape}")
    ranks = sorted(check_int("each rank of similarities", k, minimum=1) for k in similarities)
    stack = []
    for k in ranks:
        S = check_array(f"similarities[{k}]", similarities[k], ndim=2)
        if S.shape != human.shape:
            raise ValueError(f"similarities[{k}] has shape {S.shape}, human has {human.shape}")
        stack.append(S)
    stack = np.stack(stack)
    baseline = check_array("baseline", baseline, ndim=2)
    if baseline.shape != human.shape:
        raise ValueError(f"baseline has shape {baseline.shape}, human has {human.shape}")
    if isinstance(splits, (str, bytes)) or not isinstance(splits, Sequence) or len(splits) == 0:
        raise TypeError(f"splits must be a non-empty list of (validation, test) pairs, got "
                        f"{type(splits).__name__}")
    results = []
    for i, split in enumerate(splits):
        validation, test = _check_split(i, split, n)
        val_iu = np.triu_indices(len(validation), 1)
        val_scores = _rowwise_correlation(
            stack[:, validation][:, :, validation][:, val_iu[0], val_iu[1]],
            _pair_values(human, validation), measure)
        best = int(np.argmax(val_scores))  # the first maximum: the smaller rank wins a tie
        human_test = _pair_values(human, test)
        test_scores = _rowwise_correlation(
            np.stack([_pair_values(stack[best], test), _pair_values(baseline, test)]),
            human_test, measure)
        results.append({"k": ranks[best],
                        "validation": dict(zip(ranks, map(float, val_scores))),
                        "test": float(test_scores[0]), "test_baseline": float(test_scores[1])})
    return results


def low_rank_error(X, U, s, Vt) -> float:
    """Frobenius norm of ``X - U diag(s) Vt``, for dense or sparse ``X``.

    For a sparse ``X`` the difference is never formed: with :math:`A = U \\Sigma V^\\top`,
    :math:`\\lVert X - A\\rVert_F^2 = \\lVert X\\rVert_F^2 - 2 \\sum_i s_i u_i^\\top X v_i
    + \\lVert A \\rVert_F^2`, which costs one product of ``X`` with ``V``. That subtraction
    loses about ``1e-16 * ||X||_F^2`` of absolute accuracy on the squared error, so an error
    far below ``1e-7 * ||X||_F`` reads as roughly that. For dense ``X`` the difference is formed.
    """
    X = _check_matrix("X", X)
    U = check_array("U", U, ndim=2)
    s = check_array("s", s, ndim=1)
    Vt = check_array("Vt", Vt, ndim=2)
    if U.shape != (X.shape[0], len(s)) or Vt.shape != (len(s), X.shape[1]):
        raise ValueError(f"U {U.shape}, s ({len(s)},) and Vt {Vt.shape} do not fit X {X.shape}: "
                         "U must be (n, k), s (k,) and Vt (k, d)")
    if not sp.issparse(X):
        return float(np.linalg.norm(X - (U * s) @ Vt))
    cross = float(np.sum(s * np.einsum("ik,ik->k", U, np.asarray(X @ Vt.T))))
    A_sq = float(np.sum(((U * s).T @ (U * s)) * (Vt @ Vt.T)))
    X_sq = float(X.multiply(X).sum())
    return math.sqrt(max(X_sq - 2 * cross + A_sq, 0.0))


def distance_ratios(dims: Sequence[int], *, n_points: int = 1000, n_queries: int = 20,
                    p: float = 2.0, seed: int | None = 0) -> np.ndarray:
    """Mean ratio of the farthest to the nearest distance from a query, per dimension.

    For each ``d`` in ``dims``: draw ``n_points`` points and ``n_queries`` queries uniformly in
    the unit cube :math:`[0, 1]^d`, compute the :math:`L_p` distance of every query to every
    point (``p = inf`` is the largest coordinate difference), and average ``max / min`` over the
    queries. A ratio near 1 means the nearest point is hardly nearer than the farthest.
    """
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or len(dims) == 0:
        raise TypeError(f"dims must be a non-empty sequence of dimensions, got {dims!r}")
    dims = [check_int("each dimension in dims", d, minimum=1) for d in dims]
    n_points = check_int("n_points", n_points, minimum=2)
    n_queries = check_int("n_queries", n_queries, minimum=1)
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a positive real number or math.inf, got {p!r}")
    if not (p > 0):  # also rejects NaN
        raise ValueError(f"p must be > 0 (or math.inf), got {p}")
    rng = np.random.default_rng(check_seed("seed", seed))
    out = []
    for d in dims:
        points = rng.random((n_points, d))
        queries = rng.random((n_queries, d))
        ratios = []
        for query in queries:  # one query at a time keeps memory at n_points * d
            diff = np.abs(points - query)
            dist = diff.max(axis=1) if math.isinf(p) else (diff**p).sum(axis=1) ** (1.0 / p)
            ratios.append(dist.max() / dist.min())
        out.append(float(np.mean(ratios)))
    return np.array(out)


def count_matrix_costs(docs: Sequence[str], sizes: Sequence[int], *,
                       max_dense_bytes: int = 128 * 2**20) -> list[dict]:
    """Measure memory and time of the count matrix of the first ``n`` docs, for each n.

    For each ``n`` in ``sizes`` (increasing), builds the sparse CSR count matrix of ``docs[:n]``
    with scikit-learn's ``CountVectorizer`` (float64 counts), then its dense copy, and times
    one typical use of each: the product ``X @ X.T`` (all document dot products). Returns one
    dict per size: ``n_docs``, ``n_terms``, ``nnz``, ``sparse_bytes`` (data, indices and
    indptr arrays), ``dense_bytes`` (``n_docs * n_terms * 8``), ``sparse_seconds`` and
    ``dense_seconds`` (build; dense = sparse build plus densifying), ``sparse_product_seconds``
    and ``dense_product_seconds``, and ``dense_measured``. A dense matrix larger than
    ``max_dense_bytes`` is not built: its bytes are computed and its times are NaN.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if isinstance(docs, (str, bytes)) or not isinstance(docs, Sequence):
        raise TypeError(f"docs must be a sequence of strings, got {type(docs).__name__}")
    if not all(isinstance(doc, str) for doc in docs):
        raise TypeError("docs must hold strings only")
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) == 0:
        raise TypeError(f"sizes must be a non-empty sequence of integers, got {sizes!r}")
    sizes = [check_int("each size in sizes", n, minimum=1, maximum=len(docs)) for n in sizes]
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes must be strictly increasing, got {sizes}")
    max_dense_bytes = check_int("max_dense_bytes", max_dense_bytes, minimum=0)
    rows = []
    for n in sizes:
        start = time.perf_counter()
        X = CountVectorizer(dtype=np.float64).fit_transform(docs[:n])
        sparse_seconds = time.perf_counter() - start
        dense_bytes = X.shape[0] * X.shape[1] * 8
        measured = dense_bytes <= max_dense_bytes
        start = time.perf_counter()
        X @ X.T
        sparse_product_seconds = time.perf_counter() - start
        dense_seconds = dense_product_seconds = math.nan
        if measured:
            start = time.perf_counter()
            dense = X.toarray()
            dense_seconds = sparse_seconds + time.perf_counter() - start
            dense_bytes = dense.nbytes
            start = time.perf_counter()
            dense @ dense.T
            dense_product_seconds = time.perf_counter() - start
            del dense
        rows.append({
            "n_docs": n, "n_terms": X.shape[1], "nnz": X.nnz,
            "sparse_bytes": X.data.nbytes + X.indices.nbytes + X.indptr.nbytes,
            "dense_bytes": dense_bytes, "sparse_seconds": sparse_seconds,
            "dense_seconds": dense_seconds, "sparse_product_seconds": sparse_product_seconds,
            "dense_product_seconds": dense_product_seconds, "dense_measured": measured,
        })
    return rows
