r"""Item-to-item recommenders: cosine item-kNN, EASE, and co-occurrence PMI of sessions.

All three score an item :math:`j` for user :math:`u` as a weighted sum over the items the
user already has, :math:`s_{uj} = \sum_i X_{ui} B_{ij}`, that is :math:`S = X B` for the
interaction matrix :math:`X` (users by items). They differ in how the item-item matrix
:math:`B` is made.

**Item-kNN with cosine similarity** (Sarwar et al., 2001): with :math:`x_i` the column of
item :math:`i` (its users),

.. math::

    \cos(i, j) = \frac{x_i^\top x_j}{\lVert x_i \rVert\, \lVert x_j \rVert},

and row :math:`i` of :math:`B` keeps only the ``k`` largest values (the item itself, with
similarity 1, included), as ``implicit``'s ``CosineRecommender`` does.

**EASE** (Steck, 2019) learns :math:`B` by ridge regression of every item on all the others,
with the constraint :math:`\operatorname{diag}(B) = 0` so that no item predicts itself:

.. math::

    \min_B \lVert X - X B \rVert_F^2 + \lambda \lVert B \rVert_F^2
    \quad \text{s.t.} \quad \operatorname{diag}(B) = 0 .

With :math:`P = (X^\top X + \lambda I)^{-1}`, the Lagrangian gives the closed form
:math:`B_{ij} = -P_{ij} / P_{jj}` for :math:`i \ne j` and :math:`B_{jj} = 0`: one inversion
of an items-by-items matrix, no iterations.

**Co-occurrence and shifted PMI.** In sessions (each user's items in time order), items that
appear within ``window`` positions of each other co-occur. With counts :math:`\#(i, j)`,
their row sums :math:`\#(i)` and total :math:`D`,
:math:`\mathrm{PMI}(i, j) = \log \frac{\#(i, j)\, D}{\#(i)\, \#(j)}`, and the shifted positive
PMI with shift :math:`k` is :math:`\max(\mathrm{PMI}(i, j) - \log k, 0)` (Levy and Goldberg,
2014). Skip-gram with :math:`k` negative samples (item2vec, Barkan and Koenigstein, 2016)
implicitly factorises the shifted PMI when its vectors are unconstrained; :func:`sppmi`
builds the matrix so that its truncated SVD can be compared with item2vec.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ._checks import check_float, check_int

__all__ = ["cosine_knn", "ease", "item_scores", "cooccurrence", "sppmi"]


def _check_matrix(name: str, X) -> sp.csr_matrix:
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy sparse matrix (users by items), got "
                        f"{type(X).__name__}")
    X = sp.csr_matrix(X, dtype=np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one user and one item, got shape {X.shape}")
    if X.nnz and not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def cosine_knn(X, k: int = 20) -> sp.csr_matrix:
    """Item-item cosine similarities, keeping the ``k`` most similar items in each row.

    ``X`` is the sparse users-by-items matrix (binary or weighted). Returns a sparse
    ``(n_items, n_items)`` matrix ``B``; row ``i`` holds item ``i``'s ``k`` nearest items,
    itself included. Items nobody interacted with have an empty row.
    """
    X = _check_matrix("X", X)
    k = check_int("k", k, minimum=1)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    Xn = (X @ sp.diags(inv)).tocsc()
    sims = (Xn.T @ Xn).toarray()
    n_items = sims.shape[0]
    kk = min(k, n_items)
    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(sims, top, axis=1)
    rows = np.repeat(np.arange(n_items), kk)
    keep = vals.ravel() > 0
    return sp.csr_matrix((vals.ravel()[keep], (rows[keep], top.ravel()[keep])),
                         shape=(n_items, n_items))


def ease(X, lam: float = 500.0) -> np.ndarray:
    """EASE item-item weights in closed form (Steck, 2019): a dense matrix with zero diagonal.

    ``lam`` is the L2 penalty :math:`\\lambda` (it must be positive, so that
    :math:`X^\\top X + \\lambda I` is invertible).
    """
    X = _check_matrix("X", X)
    lam = check_float("lam", lam, minimum=0.0, strict_min=True)
    G = (X.T @ X).toarray()
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    B[np.diag_indices_from(B)] = 0.0
    return B


def item_scores(X, B) -> np.ndarray:
    """Dense ``(n_users, n_items)`` scores :math:`X B` of an item-item model."""
    X = _check_matrix("X", X)
    if not (sp.issparse(B) or isinstance(B, np.ndarray)):
        raise TypeError(f"B must be a NumPy array or a sparse matrix, got {type(B).__name__}")
    if B.shape != (X.shape[1], X.shape[1]):
        raise ValueError(f"B must have shape ({X.shape[1]}, {X.shape[1]}) to match X's "
                         f"{X.shape[1]} items, got {B.shape}")
    out = X @ B
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def cooccurrence(sessions: Sequence[Sequence[int]], n_items: int, window: int = 5) -> sp.csr_matrix:
    """Symmetric counts of items that appear at most ``window`` positions apart in a session.

    Each session is a sequence of item indices in time order. Every ordered pair at distance
    1..``window`` adds one to both ``(a, b)`` and ``(b, a)``.
    """
    n_items = check_int("n_items", n_items, minimum=1)
    window = check_int("window", window, minimum=1)
    if isinstance(sessions, (str, bytes)) or not isinstance(sessions, Sequence):
        raise TypeError(f"sessions must be a list of item-index sequences, got "
                        f"{type(sessions).__name__}")
    rows, cols = [], []
    for n, s in enumerate(sessions):
        ids = np.asarray(s)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.ndim != 1):
            raise TypeError(f"sessions[{n}] must be a 1-D sequence of integer item indices")
        if ids.size and (ids.min() < 0 or ids.max() >= n_items):
            raise ValueError(f"sessions[{n}] holds item indices outside [0, {n_items})")
        for d in range(1, min(window, len(ids) - 1) + 1):
            rows += [ids[:-d], ids[d:]]
            cols += [ids[d:], ids[:-d]]
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))


def sppmi(C, shift: float = 1.0) -> sp.csr_matrix:
    """Shifted positive PMI of a co-occurrence count matrix: :math:`\\max(\\mathrm{PMI} - \\log k, 0)`.

    ``shift`` is :math:`k` (the number of negative samples the matrix stands in for).
    """
    if not sp.issparse(C):
        raise TypeError(f"C must be a scipy sparse matrix of counts, got {type(C).__name__}")
    shift = check_float("shift", shift, minimum=0.0, strict_min=True)
    C = sp.csr_matrix(C, dtype=np.float64).tocoo()   # sums repeated entries
    if C.nnz and C.data.min() < 0:
        raise ValueError("C must hold non-negative counts")
    total = C.sum()
    if total == 0:
        raise ValueError("C is all zeros: there is nothing to compute PMI from")
    row = np.asarray(C.sum(axis=1)).ravel()
    col = np.asarray(C.sum(axis=0)).ravel()
    pmi = np.log(C.data * total / (row[C.row] * col[C.col])) - np.log(shift)
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (C.row[keep], C.col[keep])), shape=C.shape)
