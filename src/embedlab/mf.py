r"""Matrix factorisation for implicit feedback: ALS (Hu, Koren and Volinsky, 2008) and BPR.

Both learn a vector :math:`x_u \in \mathbb{R}^f` per user and :math:`y_i \in \mathbb{R}^f` per
item and score a pair by :math:`x_u^\top y_i`. They differ in what they fit.

**Implicit ALS.** Every cell of the users-by-items matrix is a target: :math:`p_{ui} = 1`
when user :math:`u` interacted with item :math:`i` and 0 otherwise, with a confidence
:math:`c_{ui} = 1 + \alpha r_{ui}` that is larger for observed cells (:math:`r_{ui}` is the
interaction count or weight). The loss is

.. math::

    L = \sum_{u, i} c_{ui} \bigl(p_{ui} - x_u^\top y_i\bigr)^2
        + \lambda \Bigl(\sum_u \lVert x_u \rVert^2 + \sum_i \lVert y_i \rVert^2\Bigr).

With the items fixed, each user's vector solves a ridge regression with weights
:math:`C_u = \operatorname{diag}(c_{u\cdot})`:

.. math::

    x_u = \bigl(Y^\top C_u Y + \lambda I\bigr)^{-1} Y^\top C_u p_u ,
    \qquad Y^\top C_u Y = Y^\top Y + \sum_{i \in I_u} (c_{ui} - 1)\, y_i y_i^\top .

The second form is the trick of Hu et al.: :math:`Y^\top Y` is computed once per half-sweep,
and each user adds only the :math:`|I_u|` items it interacted with, so a half-sweep costs
:math:`O(f^2 \cdot \mathrm{nnz} + f^3 n)` instead of :math:`O(f^2 n m)`. The items are then
solved the same way with the users fixed; one user half-sweep and one item half-sweep make
a sweep. Each half-sweep solves its sub-problem exactly, so :math:`L` never increases.
:func:`solve_rows` does one half-sweep for all rows at once: rows are sorted by their number of
interactions and processed in padded batches, so that the per-row sums become batched
matrix products and the solves one batched call. Users with no interaction get the zero
vector, as in ``implicit``. :func:`fold_in` is the same computation for users the model has
never seen.

**BPR** (Rendle et al., 2009) fits only the *order* of items: for a user :math:`u`, an item
:math:`i` it interacted with and an item :math:`j` it did not, it maximises

.. math::

    \sum_{(u, i, j)} \log \sigma\bigl(\hat x_{ui} - \hat x_{uj}\bigr)
      - \lambda \lVert \Theta \rVert^2 ,
    \qquad \hat x_{ui} = x_u^\top y_i + b_i ,

by stochastic gradient ascent on sampled triples (here in minibatches, with the negative
:math:`j` drawn uniformly among the items the user has not interacted with).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._checks import check_array, check_float, check_int, check_seed

__all__ = ["confidence", "solve_rows", "fold_in", "als_loss", "ALS", "BPR"]


def _check_csr(name: str, X, *, positive: bool = True) -> sp.csr_matrix:
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy sparse matrix, got {type(X).__name__}")
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    if X.nnz and not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if positive and X.nnz and X.data.min() <= 0:
        raise ValueError(f"{name} must store positive values only (the observed cells), got "
                         f"a minimum of {X.data.min()}")
    return X


def confidence(X, alpha: float = 1.0) -> sp.csr_matrix:
    """Confidence matrix :math:`c_{ui} = 1 + \\alpha r_{ui}` on the observed cells of ``X``."""
    X = _check_csr("X", X)
    alpha = check_float("alpha", alpha, minimum=0.0)
    C = X.copy()
    C.data = 1.0 + alpha * C.data
    return C


def _check_factors(name, F, n_rows, f=None):
    F = check_array(name, F, ndim=2)
    if F.shape[0] != n_rows:
        raise ValueError(f"{name} must have {n_rows} rows, got {F.shape[0]}")
    if f is not None and F.shape[1] != f:
        raise ValueError(f"{name} must have {f} columns, got {F.shape[1]}")
    return F


def solve_rows(C, Y, regularization: float, *, batch_elements: int = 2**20) -> np.ndarray:
    """One ALS half-sweep: the exact vector of every row of ``C`` given the column vectors ``Y``.

    ``C`` is the sparse ``(n_rows, n_cols)`` confidence matrix (observed cells store
    :math:`c_{ui} > 0`; unobserved cells have confidence 1 and target 0), ``Y`` the
    ``(n_cols, f)`` fixed vectors. Returns the ``(n_rows, f)`` solutions of
    :math:`(Y^\\top C_u Y + \\lambda I) x_u = Y^\\top C_u p_u`. ``batch_elements`` bounds the
    number of floats in the padded arrays of one batch, and so the memory used.
    """
    C = _check_csr("C", C)
    Y = _check_factors("Y", Y, C.shape[1])
    regularization = check_float("regularization", regularization, minimum=0.0)
    batch_elements = check_int("batch_elements", batch_elements, minimum=1)
    n_rows, f = C.shape[0], Y.shape[1]
    A0 = Y.T @ Y + regularization * np.eye(f)
    X = np.zeros((n_rows, f))
    lengths = np.diff(C.indptr)
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]                  # empty rows stay zero
    start = 0
    while start < len(order):
        # the largest run of rows, in increasing length, whose padded arrays (rows x longest
        # x f for the gathered vectors, rows x f x f for the systems) fit in the budget
        run = lengths[order[start:start + max(1, batch_elements // (f * f))]]
        sizes = np.arange(1, len(run) + 1) * np.maximum(run, f)
        stop = start + max(1, int(np.searchsorted(sizes, batch_elements // f, side="right")))
        rows = order[start:stop]
        L = lengths[rows[-1]]
        offs = np.arange(L)
        valid = offs[None, :] < lengths[rows][:, None]
        pos = C.indptr[rows][:, None] + np.where(valid, offs[None, :], 0)
        cols = np.where(valid, C.indices[pos], 0)
        conf = np.where(valid, C.data[pos], 0.0)
        Yb = Y[cols]                                           # (B, L, f)
        A = A0 + np.matmul(Yb.transpose(0, 2, 1), Yb * (conf - valid)[:, :, None])
        b = np.einsum("bl,blf->bf", conf, Yb)
        X[rows] = np.linalg.solve(A, b[:, :, None])[:, :, 0]
        start = stop
    return X


def fold_in(C_new, item_factors, regularization: float) -> np.ndarray:
    """Vectors of new users from their confidences, with the item vectors held fixed.

    The same least-squares solve as a user half-sweep; the model is not retrained.
    """
    return solve_rows(C_new, item_factors, regularization)


def als_loss(C, user_factors, item_factors, regularization: float) -> float:
    """The ALS loss divided by the total confidence, as ``implicit`` reports it.

    Computed without forming the dense matrix: the sum over all cells of
    :math:`(x_u^\\top y_i)^2` is :math:`\\langle X^\\top X, Y^\\top Y \\rangle`, and the observed
    cells are corrected one by one.
    """
    C = _check_csr("C", C)
    Xf = _check_factors("user_factors", user_factors, C.shape[0])
    Yf = _check_factors("item_factors", item_factors, C.shape[1], Xf.shape[1])
    regularization = check_float("regularization", regularization, minimum=0.0)
    coo = C.tocoo()
    pred = np.einsum("ij,ij->i", Xf[coo.row], Yf[coo.col])
    everything = float(np.sum((Xf.T @ Xf) * (Yf.T @ Yf)))
    observed = np.sum(coo.data * (1 - pred) ** 2 - pred**2)
    penalty = regularization * (np.sum(Xf**2) + np.sum(Yf**2))
    total_conf = coo.data.sum() + C.shape[0] * C.shape[1] - C.nnz
    return float((everything + observed + penalty) / total_conf)


class ALS:
    """Implicit-feedback ALS (see the module docstring).

    Parameters
    ----------
    factors : dimension f of the vectors.
    regularization : :math:`\\lambda`.
    alpha : confidence slope; :meth:`fit` turns the interactions into
        :math:`c_{ui} = 1 + \\alpha r_{ui}`.
    iterations : sweeps (one user and one item half-sweep each).
    seed : seed of the initial vectors, uniform in [0, 0.01) as in ``implicit``.
    track_loss : compute :func:`als_loss` after every sweep into ``loss_history_``.
    progress : show a progress bar.

    After :meth:`fit`: ``user_factors``, ``item_factors``, ``loss_history_``,
    ``fit_seconds_``.
    """

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0,
                 iterations: int = 15, *, seed: int | None = 0, track_loss: bool = False,
                 progress: bool = False):
        self.factors = check_int("factors", factors, minimum=1)
        self.regularization = check_float("regularization", regularization, minimum=0.0)
        self.alpha = check_float("alpha", alpha, minimum=0.0)
        self.iterations = check_int("iterations", iterations, minimum=0)
        self.seed = check_seed("seed", seed)
        for name, value in (("track_loss", track_loss), ("progress", progress)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self.track_loss, self.progress = track_loss, progress
        self.user_factors = self.item_factors = None
        self.loss_history_: list[float] = []
        self.fit_seconds_ = 0.0

    def fit(self, X, *, user_factors=None, item_factors=None) -> "ALS":
        """Fit on the sparse users-by-items interactions ``X`` (counts or weights > 0).

        ``user_factors`` and ``item_factors`` replace the random start (to compare with
        another implementation from the same point). Returns ``self``.
        """
        from tqdm.auto import tqdm

        C = confidence(X, self.alpha)
        n_users, n_items = C.shape
        rng = np.random.default_rng(self.seed)
        U = rng.random((n_users, self.factors)) * 0.01
        V = rng.random((n_items, self.factors)) * 0.01
        if user_factors is not None:
            U = _check_factors("user_factors", user_factors, n_users, self.factors).copy()
        if item_factors is not None:
            V = _check_factors("item_factors", item_factors, n_items, self.factors).copy()
        Ct = C.T.tocsr()
        self.loss_history_ = []
        start = time.perf_counter()
        for _ in tqdm(range(self.iterations), disable=not self.progress, desc="ALS sweeps"):
            U = solve_rows(C, V, self.regularization)
            V = solve_rows(Ct, U, self.regularization)
            if self.track_loss:
                self.loss_history_.append(als_loss(C, U, V, self.regularization))
        self.fit_seconds_ = time.perf_counter() - start
        self.user_factors, self.item_factors = U, V
        return self

    def scores(self, users=None) -> np.ndarray:
        """Dense scores :math:`x_u^\\top y_i` of the given users (all users by default)."""
        if self.user_factors is None:
            raise RuntimeError("call fit before scores")
        U = self.user_factors if users is None else self.user_factors[_user_ids(users, len(self.user_factors))]
        return U @ self.item_factors.T


def _scatter(rows, values, n_rows):
    """Sum the rows of ``values`` into an ``(n_rows, f)`` array at ``rows`` (repeats add up)."""
    M = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(n_rows, len(rows)))
    return M @ values


def _user_ids(users, n):
    users = check_array("users", users, ndim=1, dtype=int)
    if users.size and (users.min() < 0 or users.max() >= n):
        raise ValueError(f"users must hold indices in [0, {n})")
    return users


class BPR:
    """Bayesian personalised ranking with minibatch SGD (see the module docstring).

    Parameters
    ----------
    factors : dimension f.
    learning_rate, regularization : SGD step and L2 penalty :math:`\\lambda`.
    epochs : passes; each samples as many triples as there are interactions.
    batch_size : triples per update.
    seed : seed of the initial vectors and of the sampling.
    progress : show a progress bar.

    After :meth:`fit`: ``user_factors``, ``item_factors``, ``item_bias``,
    ``accuracy_history_`` (share of sampled triples already ordered correctly, per epoch),
    ``fit_seconds_``.
    """

    def __init__(self, factors: int = 64, learning_rate: float = 0.05,
                 regularization: float = 0.01, epochs: int = 30, batch_size: int = 1024, *,
                 seed: int | None = 0, progress: bool = False):
        self.factors = check_int("factors", factors, minimum=1)
        self.learning_rate = check_float("learning_rate", learning_rate, minimum=0.0,
                                         strict_min=True)
        self.regularization = check_float("regularization", regularization, minimum=0.0)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.seed = check_seed("seed", seed)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = progress
        self.user_factors = self.item_factors = self.item_bias = None
        self.accuracy_history_: list[float] = []
        self.fit_seconds_ = 0.0

    def fit(self, X) -> "BPR":
        """Fit on the sparse users-by-items interactions ``X``; returns ``self``."""
        from tqdm.auto import tqdm

        X = _check_csr("X", X)
        n_users, n_items = X.shape
        if X.nnz == 0:
            raise ValueError("X has no interaction to learn from")
        rng = np.random.default_rng(self.seed)
        f, lr, reg = self.factors, self.learning_rate, self.regularization
        P = (rng.random((n_users, f)) - 0.5) / f
        Q = (rng.random((n_items, f)) - 0.5) / f
        b = np.zeros(n_items)
        coo = X.tocoo()
        pos_u, pos_i = coo.row.astype(np.int64), coo.col.astype(np.int64)
        seen = X.toarray() > 0 if n_users * n_items <= 50_000_000 else None
        keys = np.sort(pos_u * n_items + pos_i)

        def is_seen(u, j):                                      # dense lookup when it fits
            if seen is not None:
                return seen[u, j]
            key = u * n_items + j
            return keys[np.minimum(np.searchsorted(keys, key), len(keys) - 1)] == key

        self.accuracy_history_ = []
        start = time.perf_counter()
        for _ in tqdm(range(self.epochs), disable=not self.progress, desc="BPR epochs"):
            order = rng.permutation(len(pos_u))
            correct = 0
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                u, i = pos_u[idx], pos_i[idx]
                j = rng.integers(0, n_items, size=len(idx))
                for _retry in range(10):                        # resample seen negatives
                    hit = is_seen(u, j)
                    if not hit.any():
                        break
                    j[hit] = rng.integers(0, n_items, size=int(hit.sum()))
                pu, qi, qj = P[u], Q[i], Q[j]
                x = np.einsum("bf,bf->b", pu, qi - qj) + b[i] - b[j]
                correct += int((x > 0).sum())
                g = expit(-x)                                    # d log sigma(x) / dx
                # gradient steps; rows that repeat in the batch add up (a sparse product)
                P += _scatter(u, lr * (g[:, None] * (qi - qj) - reg * pu), n_users)
                items = np.concatenate([i, j])
                Q += _scatter(items, lr * np.concatenate([g[:, None] * pu - reg * qi,
                                                          -g[:, None] * pu - reg * qj]), n_items)
                b += np.bincount(items, lr * np.concatenate([g - reg * b[i], -g - reg * b[j]]),
                                 minlength=n_items)
            self.accuracy_history_.append(correct / len(order))
        self.fit_seconds_ = time.perf_counter() - start
        self.user_factors, self.item_factors, self.item_bias = P, Q, b
        return self

    def scores(self, users=None) -> np.ndarray:
        """Dense scores :math:`x_u^\\top y_i + b_i` of the given users (all by default)."""
        if self.user_factors is None:
            raise RuntimeError("call fit before scores")
        U = self.user_factors if users is None else self.user_factors[_user_ids(users, len(self.user_factors))]
        return U @ self.item_factors.T + self.item_bias
