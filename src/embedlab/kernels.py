r"""The kernel that an embedding induces, and how well a target lines up with it.

An embedding of :math:`n` items in :math:`d` dimensions is a matrix :math:`E` (one row per
item). Every model that reads the vectors through inner products sees only the
**embedding kernel**

.. math::

    K = E E^\top, \qquad K_{ij} = \langle e_i, e_j \rangle ,

and its **cosine** version :math:`K^{\cos}_{ij} = \langle e_i, e_j \rangle / (\lVert e_i \rVert
\lVert e_j \rVert)`, the kernel of the row-normalised matrix.

**Centred kernel-target alignment** (Cristianini et al., 2002; centred form of Cortes, Mohri and
Rostamizadeh, 2012). With the centring matrix :math:`H = I - \tfrac1n \mathbf 1 \mathbf 1^\top`,
:math:`K_c = H K H`, and a target kernel :math:`L = Y Y^\top` (:math:`Y` is the target vector
or the one-hot matrix of class labels),

.. math::

    \rho(K, L) = \frac{\langle K_c, L_c \rangle_F}{\lVert K_c \rVert_F \, \lVert L_c \rVert_F} .

For two symmetric matrices :math:`\rho` is a cosine, so it lies in :math:`[-1, 1]`. For two
**positive semi-definite** kernels (every :math:`E E^\top`, every :math:`Y Y^\top`) it lies in
:math:`[0, 1]`: centring keeps a kernel PSD (:math:`x^\top H K H x = (Hx)^\top K (Hx) \ge 0`),
and the Frobenius product of two PSD matrices is :math:`\operatorname{tr}(K_c L_c) =
\operatorname{tr}(K_c^{1/2} L_c K_c^{1/2}) \ge 0`. It is 1 exactly when :math:`K_c = c L_c`
for some :math:`c > 0`, and it is undefined when a centred kernel is zero (a constant target).

**Spectrum.** :math:`K_c = \sum_i \lambda_i u_i u_i^\top` with :math:`\lambda_1 \ge \lambda_2
\ge \dots \ge 0`. The **effective dimension** at ridge :math:`\mu > 0` is
:math:`d_\mu = \sum_i \lambda_i / (\lambda_i + \mu)`, the degrees of freedom of kernel ridge
regression (Hastie, Tibshirani and Friedman, 2009, section 3.4.1; Zhang, 2005). The
**spectral alignment curve** of a target :math:`y` is the share of its (centred) energy that
the top-:math:`k` eigenvectors carry,

.. math::

    a_k = \sum_{i \le k} \langle u_i, y_c \rangle^2 \, / \, \lVert y_c \rVert^2 .

**Kernel ridge regression** has the closed form :math:`\alpha = (K + \lambda I)^{-1} y`,
:math:`\hat f(x) = k(x)^\top \alpha`.

**Without an n x n matrix.** For the linear kernel everything above follows from the
:math:`d \times d` matrix :math:`G_c = E_c^\top E_c = E^\top E - n \bar e \bar e^\top` and from
:math:`E^\top Y_c`:

.. math::

    \langle K_c, L_c \rangle_F = \lVert E^\top Y_c \rVert_F^2, \quad
    \lVert K_c \rVert_F = \lVert G_c \rVert_F, \quad
    \lVert L_c \rVert_F = \lVert Y_c^\top Y_c \rVert_F ,

the non-zero eigenvalues of :math:`K_c` are those of :math:`G_c`, and with
:math:`G_c v_i = \lambda_i v_i` the eigenvector is :math:`u_i = E_c v_i / \sqrt{\lambda_i}`, so
:math:`\langle u_i, y_c \rangle = v_i^\top E^\top y_c / \sqrt{\lambda_i}`. The rows are read
in chunks, so the extra memory is :math:`O(\text{chunk} \cdot d + d^2)`. A non-linear kernel
is first replaced by explicit features :math:`\Phi` (:math:`n \times m`) with
:math:`K \approx \Phi \Phi^\top`: the Nystrom method :math:`\Phi = K_{nm} K_{mm}^{-1/2}` on
:math:`m` landmark items (Williams and Seeger, 2001), or random Fourier features for the RBF
kernel, :math:`\Phi = \sqrt{2/D} \cos(E W + b)` with :math:`W \sim \mathcal N(0, 2\gamma I)`
and :math:`b \sim U[0, 2\pi]` (Rahimi and Recht, 2007).

**What skip-gram factorises** (Levy and Goldberg, 2014). Count the (item, context) pairs of a
corpus of sequences inside a window into a symmetric matrix :math:`C`
(:func:`cooccurrence_counts`; word2vec and gensim shrink the window of each position to a
size drawn uniformly from :math:`1..w`, so a pair at distance :math:`\delta` is kept with
probability :math:`(w - \delta + 1) / w`, the weight used with ``dynamic=True``). With
:math:`|D| = \sum C`, the row marginal :math:`P(i) = \sum_j C_{ij} / |D|` and the noise
distribution :math:`P_n` from which the :math:`k` negatives are drawn
(:func:`noise_distribution`, counts to the power 3/4 in word2vec), the skip-gram objective with
negative sampling is maximised, when the vectors are free enough, at

.. math::

    w_i \cdot c_j = \log \frac{C_{ij} / |D|}{P(i)\, P_n(j)} - \log k
                  = \operatorname{PMI}(i, j) - \log k

(:func:`pmi_pairs`): item vectors times context vectors factorise a shifted PMI matrix.

**Rotations.** A loss that reads the vectors only through inner products is unchanged when
every vector is multiplied by the same orthogonal matrix :math:`Q` (:math:`Q^\top Q = I`),
since :math:`(Q^\top u)^\top (Q^\top v) = u^\top v`; so is every kernel-based quantity above.
:func:`random_rotation` draws :math:`Q` uniformly (Haar measure: QR of a Gaussian matrix with
the signs of :math:`R`'s diagonal moved into :math:`Q`; Mezzadri, 2007). The rotation that best
maps one table onto another, :math:`\min_{Q^\top Q = I} \lVert A Q - B \rVert_F`, is
:math:`Q = U V^\top` from the SVD :math:`A^\top B = U \Sigma V^\top` (orthogonal Procrustes;
Schonemann, 1966; :func:`procrustes_rotation`).

**Pair readers** (:func:`pair_features`). A downstream model that scores a pair of items
:math:`(p, q)` reads their vectors through features: the inner product :math:`u_p \cdot u_q`,
the cosine, the element-wise (Hadamard) product :math:`u_p \odot u_q` (whose sum is the inner
product) or the concatenation :math:`[u_p, u_q]`. The first two are functions of the kernel
and do not change when the table is rotated. The concatenation turns by the block-diagonal
rotation :math:`\operatorname{diag}(Q, Q)`, which a linear model with an :math:`L_2` penalty
absorbs into its weights; the Hadamard features of rotated vectors are no fixed linear map of
the old ones, so a model that weighs them coordinate by coordinate changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._checks import (check_array, check_choice, check_float, check_int, check_same_length,
                      check_seed, unit_rows)

__all__ = [
    "embedding_kernel", "cosine_kernel", "center_kernel", "target_matrix", "alignment",
    "kernel_target_alignment", "eigen_spectrum", "effective_dimension",
    "spectral_alignment_curve", "KernelRidge", "GramStats", "gram_stats",
    "linear_alignment", "linear_spectrum", "linear_spectral_alignment_curve",
    "rbf_kernel", "nystrom_features", "random_fourier_features",
    "cooccurrence_counts", "noise_distribution", "pmi_pairs",
    "random_rotation", "procrustes_rotation", "pair_features",
]


# ----------------------------------------------------------------------------- dense (n x n)

def _check_embeddings(name, E, min_rows=2):
    return check_array(name, E, ndim=2, min_rows=min_rows)


def embedding_kernel(E) -> np.ndarray:
    """The linear kernel ``E @ E.T`` of an ``(n, d)`` embedding matrix: an ``(n, n)`` array."""
    E = _check_embeddings("E", E, min_rows=1)
    return E @ E.T


def cosine_kernel(E) -> np.ndarray:
    """The cosine kernel: the linear kernel of the row-normalised embeddings."""
    E = _check_embeddings("E", E, min_rows=1)
    U = unit_rows("E", E)
    return U @ U.T


def _check_square(name, K):
    K = check_array(name, K, ndim=2, min_rows=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) kernel matrix, got shape {K.shape}")
    return K


def center_kernel(K) -> np.ndarray:
    """``H K H`` with ``H = I - 11^T / n``: subtract row and column means, add the grand mean."""
    K = _check_square("K", K)
    return K - K.mean(axis=0, keepdims=True) - K.mean(axis=1, keepdims=True) + K.mean()


def target_matrix(y, *, kind: str = "auto") -> np.ndarray:
    """The target as an ``(n, c)`` matrix ``Y`` whose kernel ``Y Y^T`` is the target kernel.

    ``kind="regression"`` keeps a real-valued ``y`` (1-D) or ``Y`` (2-D) as is;
    ``kind="classes"`` one-hot encodes integer labels; ``"auto"`` one-hot encodes a 1-D
    integer array and keeps everything else.
    """
    check_choice("kind", kind, ("auto", "regression", "classes"))
    arr = check_array("y", y, ndim=(1, 2), dtype=None, min_rows=2)
    if kind == "auto":
        kind = "classes" if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer) else "regression"
    if kind == "classes":
        if arr.ndim != 1:
            raise ValueError(f"class labels y must be 1-D, got shape {arr.shape}")
        _, codes = np.unique(arr, return_inverse=True)
        Y = np.zeros((len(arr), codes.max() + 1))
        Y[np.arange(len(arr)), codes] = 1.0
        return Y
    arr = check_array("y", arr, ndim=(1, 2))
    return arr[:, None] if arr.ndim == 1 else arr


def alignment(K, L, *, center: bool = True) -> float:
    """Kernel alignment of two ``(n, n)`` kernels, centred (default) or not."""
    K = _check_square("K", K)
    L = _check_square("L", L)
    if K.shape != L.shape:
        raise ValueError(f"K and L must have the same shape, got {K.shape} and {L.shape}")
    if not isinstance(center, bool):
        raise TypeError(f"center must be True or False, got {center!r}")
    if center:
        K, L = center_kernel(K), center_kernel(L)
    denom = np.linalg.norm(K) * np.linalg.norm(L)
    if denom == 0:
        raise ValueError("a kernel is zero after centring: its alignment is undefined")
    return float(np.sum(K * L) / denom)


def kernel_target_alignment(K, y, *, center: bool = True, kind: str = "auto") -> float:
    """Alignment of the kernel ``K`` with the target kernel ``Y Y^T`` (see :func:`target_matrix`)."""
    K = _check_square("K", K)
    Y = target_matrix(y, kind=kind)
    check_same_length(K=K, y=Y)
    return alignment(K, Y @ Y.T, center=center)


def eigen_spectrum(K, *, center: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of the symmetric kernel ``K``.

    With ``center=True`` (default) the centred kernel ``H K H`` is decomposed. Tiny negative
    eigenvalues from rounding are set to zero.
    """
    K = _check_square("K", K)
    if not np.allclose(K, K.T, atol=1e-8 * max(1.0, np.abs(K).max())):
        raise ValueError("K must be symmetric")
    if not isinstance(center, bool):
        raise TypeError(f"center must be True or False, got {center!r}")
    if center:
        K = center_kernel(K)
    vals, vecs = np.linalg.eigh((K + K.T) / 2)
    order = np.argsort(vals)[::-1]
    return np.clip(vals[order], 0.0, None), vecs[:, order]


def effective_dimension(eigenvalues, mu: float) -> float:
    """``sum(l / (l + mu))`` over the eigenvalues ``l``: how many directions ridge ``mu`` keeps."""
    lam = check_array("eigenvalues", eigenvalues, ndim=1, min_rows=1)
    if np.any(lam < 0):
        raise ValueError("eigenvalues must be >= 0 (a kernel is positive semi-definite)")
    mu = check_float("mu", mu, minimum=0.0, strict_min=True)
    return float(np.sum(lam / (lam + mu)))


def _centred_target(y, n):
    y = check_array("y", y, ndim=1, min_rows=2)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} entries for {n} items")
    yc = y - y.mean()
    norm2 = float(yc @ yc)
    if norm2 == 0:
        raise ValueError("y is constant: after centring it has no energy to share out")
    return yc, norm2


def spectral_alignment_curve(K, y, *, center: bool = True) -> np.ndarray:
    """Cumulative share of the centred target ``y`` in the top-k eigenvectors of ``K``, k = 1..n."""
    lam, U = eigen_spectrum(K, center=center)
    yc, norm2 = _centred_target(y, len(lam))
    if not center:  # share of the raw target
        yc = yc + check_array("y", y, ndim=1).mean()
        norm2 = float(yc @ yc)
    return np.cumsum((U.T @ yc) ** 2) / norm2


@dataclass
class KernelRidge:
    """Kernel ridge regression in closed form on a precomputed kernel.

    ``fit(K, y)`` with the ``(n, n)`` training kernel solves ``(K + lam I) alpha = y``;
    ``predict(K_test)`` with the ``(m, n)`` kernel between test and training items returns
    ``K_test @ alpha``. Same model as ``sklearn.kernel_ridge.KernelRidge(alpha=lam,
    kernel="precomputed")``.
    """

    lam: float = 1.0
    dual_coef_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.lam = check_float("lam", self.lam, minimum=0.0, strict_min=True)

    def fit(self, K, y) -> "KernelRidge":
        K = _check_square("K", K)
        y = check_array("y", y, ndim=(1, 2))
        check_same_length(K=K, y=y)
        A = K + self.lam * np.eye(len(K))
        try:
            self.dual_coef_ = np.linalg.solve(A, y)
        except np.linalg.LinAlgError:  # pragma: no cover - K + lam I is positive definite
            self.dual_coef_ = np.linalg.lstsq(A, y, rcond=None)[0]
        return self

    def predict(self, K_test) -> np.ndarray:
        if self.dual_coef_ is None:
            raise RuntimeError("call fit before predict")
        K_test = check_array("K_test", K_test, ndim=2)
        if K_test.shape[1] != self.dual_coef_.shape[0]:
            raise ValueError(f"K_test has {K_test.shape[1]} columns, the model was fitted on "
                             f"{self.dual_coef_.shape[0]} items")
        return K_test @ self.dual_coef_


# --------------------------------------------------------------- scalable (never n x n)

@dataclass(frozen=True)
class GramStats:
    """Sufficient statistics of ``(E, Y)`` for the linear kernel: all O(d^2 + d c) numbers.

    ``n`` rows; ``mean`` of the rows (d,); ``gram_c = E_c^T E_c`` (d, d);
    ``cross_c = E^T Y_c`` (d, c); ``target_gram_c = Y_c^T Y_c`` (c, c) (the last two are
    ``None`` without a target).
    """

    n: int
    mean: np.ndarray
    gram_c: np.ndarray
    cross_c: np.ndarray | None
    target_gram_c: np.ndarray | None


def gram_stats(E, y=None, *, cosine: bool = False, kind: str = "auto",
               chunk_size: int = 65_536) -> GramStats:
    """Read ``E`` (and the target) once, ``chunk_size`` rows at a time, in float64.

    ``cosine=True`` normalises each row first (the cosine kernel). ``E`` may be float32 or a
    ``numpy.memmap``: only one chunk is converted at a time, so the extra memory is
    ``O(chunk_size * d + d^2)``.
    """
    if not isinstance(E, np.ndarray) or E.ndim != 2:
        E = check_array("E", E, ndim=2)
    if not np.issubdtype(E.dtype, np.number):
        raise TypeError(f"E must hold numbers, got dtype {E.dtype}")
    n, d = E.shape
    if n < 2:
        raise ValueError(f"E needs at least 2 rows, got {n}")
    if not isinstance(cosine, bool):
        raise TypeError(f"cosine must be True or False, got {cosine!r}")
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    Y = None
    if y is not None:
        Y = target_matrix(y, kind=kind)
        if len(Y) != n:
            raise ValueError(f"y has {len(Y)} rows for {n} items in E")
        Y = Y - Y.mean(axis=0)
    total = np.zeros(d)
    gram = np.zeros((d, d))
    cross = None if Y is None else np.zeros((d, Y.shape[1]))
    for start in range(0, n, chunk_size):
        block = np.asarray(E[start:start + chunk_size], dtype=np.float64)
        if not np.all(np.isfinite(block)):
            raise ValueError("E contains NaN or infinite values")
        if cosine:
            block = unit_rows("E", block)
        total += block.sum(axis=0)
        gram += block.T @ block
        if Y is not None:
            cross += block.T @ Y[start:start + chunk_size]
    mean = total / n
    gram_c = gram - n * np.outer(mean, mean)
    gram_c = (gram_c + gram_c.T) / 2
    return GramStats(n=n, mean=mean, gram_c=gram_c, cross_c=cross,
                     target_gram_c=None if Y is None else Y.T @ Y)


def _stats_with_target(E, y, cosine, kind, chunk_size):
    if y is None:
        raise TypeError("y is required: the alignment is with a target")
    return gram_stats(E, y, cosine=cosine, kind=kind, chunk_size=chunk_size)


def linear_alignment(E, y, *, cosine: bool = False, kind: str = "auto",
                     chunk_size: int = 65_536) -> float:
    """Centred kernel-target alignment of ``E E^T`` (or the cosine kernel) in O(n d^2) time.

    Equal to ``kernel_target_alignment(embedding_kernel(E), y)`` without forming the kernel.
    """
    s = _stats_with_target(E, y, cosine, kind, chunk_size)
    num = float(np.sum(s.cross_c ** 2))
    denom = np.linalg.norm(s.gram_c) * np.linalg.norm(s.target_gram_c)
    if denom == 0:
        raise ValueError("the centred kernel or the centred target is zero: alignment undefined")
    return num / float(denom)


def linear_spectrum(E, *, cosine: bool = False, chunk_size: int = 65_536,
                    stats: GramStats | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero part of the centred kernel's spectrum from the d x d Gram matrix.

    Returns the ``d`` largest eigenvalues of ``H E E^T H`` (descending) and the matching
    eigenvectors ``V`` of ``E_c^T E_c`` (columns, d x d); the kernel's own eigenvectors are
    ``E_c V / sqrt(eigenvalues)``.
    """
    if stats is None:
        stats = gram_stats(E, cosine=cosine, chunk_size=chunk_size)
    elif not isinstance(stats, GramStats):
        raise TypeError(f"stats must be a GramStats, got {type(stats).__name__}")
    vals, vecs = np.linalg.eigh(stats.gram_c)
    order = np.argsort(vals)[::-1]
    return np.clip(vals[order], 0.0, None), vecs[:, order]


def linear_spectral_alignment_curve(E, y, *, cosine: bool = False,
                                    chunk_size: int = 65_536) -> np.ndarray:
    """:func:`spectral_alignment_curve` of the centred linear kernel, k = 1..d, in O(n d^2)."""
    y_arr = check_array("y", y, ndim=1, min_rows=2)
    s = _stats_with_target(E, y_arr, cosine, "regression", chunk_size)
    lam, V = linear_spectrum(None, stats=s)
    norm2 = float(s.target_gram_c[0, 0])
    if norm2 == 0:
        raise ValueError("y is constant: after centring it has no energy to share out")
    proj = V.T @ s.cross_c[:, 0]
    tol = lam[0] * max(s.gram_c.shape) * np.finfo(float).eps if lam[0] > 0 else 0.0
    share = np.where(lam > tol, proj ** 2 / np.where(lam > tol, lam, 1.0), 0.0)
    return np.cumsum(share) / norm2


# ----------------------------------------------- non-linear kernels as explicit features

def rbf_kernel(A, B=None, *, gamma: float = 1.0) -> np.ndarray:
    """``exp(-gamma ||a - b||^2)`` between the rows of ``A`` and of ``B`` (default ``A``)."""
    A = check_array("A", A, ndim=2, min_rows=1)
    B = A if B is None else check_array("B", B, ndim=2, min_rows=1)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of columns, got {A.shape[1]} "
                         f"and {B.shape[1]}")
    gamma = check_float("gamma", gamma, minimum=0.0, strict_min=True)
    sq = (A ** 2).sum(1)[:, None] + (B ** 2).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-gamma * np.clip(sq, 0.0, None))


def nystrom_features(E, landmarks, *, gamma: float = 1.0, chunk_size: int = 65_536,
                     rcond: float = 1e-10) -> np.ndarray:
    """Nystrom features ``Phi = K(E, L) K(L, L)^{-1/2}`` of the RBF kernel: ``(n, m)``.

    ``landmarks`` is an ``(m, d)`` array of landmark vectors (for example m rows of ``E``
    drawn at random). ``Phi @ Phi.T`` is the Nystrom approximation ``K_nm K_mm^+ K_mn``;
    eigenvalues of ``K_mm`` below ``rcond`` times the largest are dropped.
    """
    if not isinstance(E, np.ndarray) or E.ndim != 2:
        E = check_array("E", E, ndim=2)
    L = check_array("landmarks", landmarks, ndim=2, min_rows=1)
    if L.shape[1] != E.shape[1]:
        raise ValueError(f"landmarks has {L.shape[1]} columns, E has {E.shape[1]}")
    gamma = check_float("gamma", gamma, minimum=0.0, strict_min=True)
    rcond = check_float("rcond", rcond, minimum=0.0)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    vals, vecs = np.linalg.eigh(rbf_kernel(L, gamma=gamma))
    keep = vals > rcond * vals.max()
    inv_sqrt = vecs[:, keep] / np.sqrt(vals[keep])      # K_mm^{-1/2} up to a rotation
    out = np.empty((E.shape[0], int(keep.sum())))
    for start in range(0, E.shape[0], chunk_size):
        block = np.asarray(E[start:start + chunk_size], dtype=np.float64)
        out[start:start + len(block)] = rbf_kernel(block, L, gamma=gamma) @ inv_sqrt
    return out


def random_fourier_features(E, n_features: int = 256, *, gamma: float = 1.0,
                            seed: int | None = 0) -> np.ndarray:
    """Random Fourier features for the RBF kernel (Rahimi and Recht, 2007): ``(n, n_features)``.

    ``Phi @ Phi.T`` estimates ``exp(-gamma ||a - b||^2)`` with an error of order
    ``1 / sqrt(n_features)``.
    """
    if not isinstance(E, np.ndarray) or E.ndim != 2:
        E = check_array("E", E, ndim=2)
    n_features = check_int("n_features", n_features, minimum=1)
    gamma = check_float("gamma", gamma, minimum=0.0, strict_min=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    W = rng.normal(0.0, np.sqrt(2.0 * gamma), size=(E.shape[1], n_features))
    b = rng.uniform(0.0, 2.0 * np.pi, size=n_features)
    return np.sqrt(2.0 / n_features) * np.cos(np.asarray(E, dtype=np.float64) @ W + b)


# ------------------------------------------------------- what skip-gram factorises

def _check_sequences(sequences, n_items):
    if isinstance(sequences, (str, bytes, np.ndarray)) or not hasattr(sequences, "__iter__"):
        raise TypeError("sequences must be a list of sequences of integer ids, got "
                        f"{type(sequences).__name__}")
    out = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)):
            raise TypeError(f"sequences[{i}] must be a sequence of integer ids, got a string")
        arr = np.asarray(seq)
        if arr.size == 0:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"sequences[{i}] must be a 1-D sequence of integer ids, got "
                            f"dtype {arr.dtype} with shape {arr.shape}")
        if arr.min() < 0 or arr.max() >= n_items:
            raise ValueError(f"sequences[{i}] holds ids outside 0..{n_items - 1}")
        out.append(arr.astype(np.int64))
    return out


def cooccurrence_counts(sequences, n_items: int, window: int = 2, *,
                        dynamic: bool = True) -> sp.csr_matrix:
    """Symmetric ``(n_items, n_items)`` counts of the pairs at most ``window`` positions apart.

    ``sequences`` holds sequences of integer ids (words mapped to their vocabulary index,
    products, ...). A pair at distance ``d`` counts ``(window - d + 1) / window`` with
    ``dynamic=True`` (the expected count under word2vec's randomly shrunk window) and 1
    otherwise; each pair is counted in both directions.
    """
    n_items = check_int("n_items", n_items, minimum=1)
    window = check_int("window", window, minimum=1)
    if not isinstance(dynamic, bool):
        raise TypeError(f"dynamic must be True or False, got {dynamic!r}")
    seqs = _check_sequences(sequences, n_items)
    ids = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    rows, cols, vals = [], [], []
    for dist in range(1, window + 1):
        same = owner[:-dist] == owner[dist:]          # both ends in the same sequence
        a, b = ids[:-dist][same], ids[dist:][same]
        weight = (window - dist + 1) / window if dynamic else 1.0
        rows += [a, b]
        cols += [b, a]
        vals += [np.full(len(a), weight)] * 2
    C = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_items, n_items))
    return C.tocsr()


def noise_distribution(counts, exponent: float = 0.75) -> np.ndarray:
    """The negative-sampling distribution ``counts**exponent / sum(counts**exponent)``."""
    counts = check_array("counts", counts, ndim=1, min_rows=1)
    if np.any(counts < 0):
        raise ValueError("counts must be >= 0")
    exponent = check_float("exponent", exponent, minimum=0.0)
    weights = np.where(counts > 0, counts ** exponent, 0.0)
    if weights.sum() == 0:
        raise ValueError("counts are all zero: there is nothing to sample")
    return weights / weights.sum()


def pmi_pairs(C, noise=None, *, min_count: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PMI of every pair ``(i, j)`` of the co-occurrence matrix ``C`` with count >= ``min_count``.

    ``PMI(i, j) = log(C_ij / |D|) - log(P(i)) - log(noise[j])`` with ``|D| = C.sum()`` and
    ``P(i)`` the row share of ``i``. Without ``noise`` the column shares are used (classic
    PMI). Returns ``(rows, cols, pmi)``; skip-gram with ``k`` negatives drawn from ``noise``
    fits ``w_i . c_j = pmi - log(k)``.
    """
    if not sp.issparse(C):
        C = check_array("C", C, ndim=2)
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be a square (n, n) count matrix, got shape {C.shape}")
    C = sp.coo_matrix(C)
    C.sum_duplicates()
    C.eliminate_zeros()
    if C.nnz and (not np.all(np.isfinite(C.data)) or C.data.min() < 0):
        raise ValueError("C must hold finite counts >= 0")
    min_count = check_float("min_count", min_count, minimum=0.0, strict_min=True)
    total = float(C.sum())
    if total == 0:
        raise ValueError("C is all zeros: there are no pairs")
    row_share = np.asarray(C.sum(axis=1)).ravel() / total
    if noise is None:
        col_share = np.asarray(C.sum(axis=0)).ravel() / total
    else:
        col_share = check_array("noise", noise, ndim=1)
        if len(col_share) != C.shape[0]:
            raise ValueError(f"noise has {len(col_share)} entries for {C.shape[0]} items")
        if np.any(col_share < 0) or not np.isclose(col_share.sum(), 1.0):
            raise ValueError("noise must be a probability distribution (>= 0, summing to 1)")
    keep = C.data >= min_count
    i, j, n_ij = C.row[keep], C.col[keep], C.data[keep]
    if np.any(col_share[j] == 0):
        raise ValueError("noise gives probability 0 to an item that occurs as a context")
    pmi = np.log(n_ij / total) - np.log(row_share[i]) - np.log(col_share[j])
    return i.astype(np.int64), j.astype(np.int64), pmi


# ------------------------------------------------------------ rotations and readers

def random_rotation(d: int, *, seed: int | None = 0) -> np.ndarray:
    """A ``(d, d)`` orthogonal matrix drawn uniformly (Haar measure), reproducible by ``seed``."""
    d = check_int("d", d, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return Q * signs


def procrustes_rotation(A, B) -> np.ndarray:
    """The orthogonal ``Q`` that minimises ``||A @ Q - B||_F`` (``A``, ``B``: ``(n, d)``).

    ``Q = U @ Vt`` from the SVD ``A.T @ B = U S Vt``. When ``A.T @ B`` is rank-deficient the
    minimiser is not unique; this returns one of them.
    """
    A = check_array("A", A, ndim=2, min_rows=1)
    B = check_array("B", B, ndim=2, min_rows=1)
    if len(A) != len(B):
        raise ValueError(f"A and B must have the same shape: the same number of rows (row i of A "
                         f"is paired with row i of B), got {len(A)} and {len(B)}")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same shape: the same number of columns, got "
                         f"{A.shape[1]} and {B.shape[1]}")
    U, _, Vt = np.linalg.svd(A.T @ B)
    return U @ Vt


_READERS = ("dot", "cosine", "hadamard", "concat")


def pair_features(E, p, q, reader: str) -> np.ndarray:
    """Features of the item pairs ``(p[i], q[i])`` as a downstream model reads them from ``E``.

    ``reader``: ``"dot"`` (one column, ``u_p . u_q``), ``"cosine"`` (one column),
    ``"hadamard"`` (``u_p * u_q``, d columns) or ``"concat"`` (``[u_p, u_q]``, 2d columns).
    """
    E = check_array("E", E, ndim=2, min_rows=1)
    check_choice("reader", reader, _READERS)
    p = check_array("p", p, ndim=1, dtype=int)
    q = check_array("q", q, ndim=1, dtype=int)
    if len(p) != len(q):
        raise ValueError(f"p and q must have the same length, got {len(p)} and {len(q)}")
    for name, ids in (("p", p), ("q", q)):
        if ids.size and (ids.min() < 0 or ids.max() >= len(E)):
            raise ValueError(f"{name} holds ids outside 0..{len(E) - 1}")
    a, b = E[p], E[q]
    if reader == "concat":
        return np.hstack([a, b])
    if reader == "hadamard":
        return a * b
    dot = np.einsum("ij,ij->i", a, b)
    if reader == "dot":
        return dot[:, None]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    if np.any(norms == 0):
        raise ValueError("E has a row of zeros: its cosine with anything is undefined")
    return (dot / norms)[:, None]
