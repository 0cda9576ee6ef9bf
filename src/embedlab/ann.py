r"""Nearest-neighbour search: exact search, the inverted file (IVF) and product quantisation (PQ).

A vector store answers one question: given a query :math:`q \in \mathbb R^d`, which :math:`k`
of the :math:`n` stored vectors :math:`x_1, \dots, x_n` are closest? With the squared
Euclidean distance

.. math::

    d(q, x) = \lVert q - x \rVert^2 = \lVert q \rVert^2 - 2\, q^\top x + \lVert x \rVert^2 ,

or the inner product :math:`q^\top x` (largest first). For unit vectors both give the cosine
ranking, since :math:`\lVert q - x \rVert^2 = 2 - 2 \cos(q, x)`.

**Exact search** computes all :math:`n` distances: :math:`O(nd)` per query. The expansion
above turns a block of queries into one matrix product :math:`Q X^\top`, which is what makes
brute force fast on a CPU; it is the ground truth every approximate index is measured
against, with **recall@k**, the share of the true :math:`k` nearest neighbours that the index
returns among its :math:`k` answers.

**k-means** (Lloyd, 1982) places :math:`K` centroids :math:`c_1, \dots, c_K` by alternating
an assignment step :math:`a(x) = \arg\min_j \lVert x - c_j \rVert^2` and an update step
(each centroid becomes the mean of its points), which never increases
:math:`\sum_i \lVert x_i - c_{a(x_i)} \rVert^2`.

**Inverted file (IVF)** (Sivic and Zisserman, 2003; Jegou, Douze and Schmid, 2011). A
coarse k-means with :math:`K` centroids (the *lists*) sends each stored vector to the list
of its nearest centroid. A query visits only the ``nprobe`` lists whose centroids are
nearest to it and computes exact distances to the vectors stored there: about
:math:`n \cdot \text{nprobe} / K` distances instead of :math:`n`. A true neighbour stored in
a list that is not visited is missed: recall grows with ``nprobe``, and so does the time.

**Product quantisation (PQ)** (Jegou, Douze and Schmid, 2011) compresses a vector. Split
:math:`x` into :math:`M` sub-vectors :math:`x = [x^{(1)}, \dots, x^{(M)}]` of
:math:`d/M` dimensions; each sub-space has its own codebook of :math:`2^b` centroids
:math:`c^{(m)}_j`, learned by k-means on the sub-vectors, and :math:`x` is stored as the
:math:`M` indices :math:`j_m(x) = \arg\min_j \lVert x^{(m)} - c^{(m)}_j \rVert^2`: with
:math:`b = 8`, :math:`M` bytes instead of :math:`4d`. Its reconstruction is
:math:`\hat x = [c^{(1)}_{j_1}, \dots, c^{(M)}_{j_M}]`. The **asymmetric distance** (ADC)
keeps the query exact and compares it with the reconstruction:

.. math::

    \tilde d(q, x) = \lVert q - \hat x \rVert^2 = \sum_{m=1}^{M} T_{m, j_m(x)}, \qquad
    T_{m j} = \lVert q^{(m)} - c^{(m)}_j \rVert^2 ,

so one query builds an :math:`M \times 2^b` table once, and each stored vector then costs
:math:`M` table look-ups and additions.

**IVF-PQ** combines both: the PQ encodes the *residual* :math:`r = x - c_{a(x)}` of a vector
with respect to its coarse centroid, and a query probing list :math:`l` builds its table from
:math:`q - c_l`, so :math:`\tilde d(q, x) = \lVert (q - c_l) - \hat r \rVert^2`.

These classes follow the definitions of the faiss library (Johnson, Douze and Jegou, 2019;
Douze et al., 2024) and, given the same centroids and codebooks, return the same neighbours
and distances as ``faiss.IndexIVFFlat``, ``faiss.IndexPQ`` and ``faiss.IndexIVFPQ``
(missing results are padded with id ``-1`` and distance ``inf``, as faiss does).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_choice, check_int, check_seed

__all__ = [
    "exact_search", "recall_at_k", "kmeans", "assign", "IVFIndex", "ProductQuantizer",
    "IVFPQIndex", "synthetic_embeddings", "METRICS",
]

METRICS = ("l2", "ip")


# ----------------------------------------------------------------------------- helpers

def _vectors(name, value, d=None, min_rows=0):
    """A 2-D float array; float32 input stays float32 (large indexes), anything else float64."""
    arr = check_array(name, value, ndim=2, min_rows=min_rows, dtype=None)
    if arr.dtype != np.float32:
        arr = check_array(name, arr, ndim=2, min_rows=min_rows)
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns (the dimension of the index), "
                         f"got {arr.shape[1]}")
    return arr


def _top_k(scores, k, largest):
    """Indices of the k best entries of each row of ``scores``, best first (k <= n_cols)."""
    n_cols = scores.shape[1]
    key = -scores if largest else scores
    if k < n_cols:
        part = np.argpartition(key, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n_cols), (scores.shape[0], n_cols))
    order = np.argsort(np.take_along_axis(key, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _pad(D, I, k, largest):
    """Pad (distances, ids) to k columns the faiss way: id -1, distance +inf (-inf for IP)."""
    if D.shape[1] == k:
        return D, I
    fill = -np.inf if largest else np.inf
    extra = k - D.shape[1]
    D = np.hstack([D, np.full((D.shape[0], extra), fill)])
    I = np.hstack([I, np.full((I.shape[0], extra), -1, dtype=np.int64)])
    return D, I


def _ids_for(ids, n, start):
    """The ids of ``n`` new rows: consecutive numbers from ``start`` when not given."""
    if ids is None:
        return np.arange(start, start + n)
    ids = check_array("ids", ids, ndim=1, dtype=int)
    if len(ids) != n:
        raise ValueError(f"ids must have one entry per row of X: {len(ids)} ids for {n} rows")
    return ids


def _append_to_lists(list_ids, list_rows, lists, ids, rows):
    """Append each row (a vector or a code) and its id to the inverted list it belongs to."""
    for j in np.unique(lists):
        mine = lists == j
        list_ids[j] = np.concatenate([list_ids[j], ids[mine]])
        list_rows[j] = np.vstack([list_rows[j], rows[mine]])


def _sq_dists(Q, X, X_sq=None):
    """Squared distances between the rows of Q and of X, clipped at 0 (float64)."""
    if X_sq is None:
        X_sq = np.einsum("ij,ij->i", X, X)
    D = (np.einsum("ij,ij->i", Q, Q)[:, None] - 2.0 * (Q @ X.T)) + X_sq[None, :]
    return np.maximum(D, 0.0)


# ----------------------------------------------------------------------------- exact search

def exact_search(database, queries, k: int, *, metric: str = "l2",
                 chunk_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force k-nearest neighbours of every query: ``(distances, ids)``, best first.

    ``metric="l2"`` returns squared Euclidean distances in increasing order,
    ``metric="ip"`` inner products in decreasing order. Queries are processed in blocks of at
    most ``chunk_size`` rows (fewer for a large database, so that a block's score matrix stays
    around 50 million numbers), each one matrix product with the database.
    """
    X = _vectors("database", database, min_rows=1)
    Q = _vectors("queries", queries, d=X.shape[1])
    k = check_int("k", k, minimum=1)
    check_choice("metric", metric, METRICS)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    chunk_size = max(1, min(chunk_size, 50_000_000 // len(X)))
    k_eff = min(k, len(X))
    largest = metric == "ip"
    X_sq = None if largest else np.einsum("ij,ij->i", X, X)
    D_out = np.empty((len(Q), k_eff))
    I_out = np.empty((len(Q), k_eff), dtype=np.int64)
    for start in range(0, len(Q), chunk_size):
        block = Q[start:start + chunk_size]
        scores = block @ X.T if largest else _sq_dists(block, X, X_sq)
        idx = _top_k(scores, k_eff, largest)
        I_out[start:start + len(block)] = idx
        D_out[start:start + len(block)] = np.take_along_axis(scores, idx, axis=1)
    return _pad(D_out, I_out, k, largest)


def recall_at_k(found, truth, k: int | None = None) -> float:
    """Mean share of the true ``k`` nearest neighbours (``truth[:, :k]``) found in ``found[:, :k]``.

    Both are ``(n_queries, >= k)`` integer id arrays; ``k`` defaults to ``truth.shape[1]``.
    Padding ids (``-1``) in ``found`` never count.
    """
    found = check_array("found", found, ndim=2, dtype=int)
    truth = check_array("truth", truth, ndim=2, dtype=int)
    if found.shape[0] != truth.shape[0]:
        raise ValueError(f"found and truth must have one row per query, got {found.shape[0]} "
                         f"and {truth.shape[0]} rows")
    k = truth.shape[1] if k is None else check_int("k", k, minimum=1)
    if k > truth.shape[1] or k > found.shape[1]:
        raise ValueError(f"k={k} is larger than the columns of found ({found.shape[1]}) or "
                         f"truth ({truth.shape[1]})")
    if found.shape[0] == 0:
        raise ValueError("found and truth have no rows")
    hits = 0
    for f, t in zip(found[:, :k], truth[:, :k]):
        hits += len(np.intersect1d(f[f >= 0], t))
    return hits / (k * found.shape[0])


# ----------------------------------------------------------------------------- k-means

def assign(X, centroids) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid of every row of ``X`` and its squared distance."""
    X = _vectors("X", X)
    C = _vectors("centroids", centroids, d=X.shape[1], min_rows=1)
    labels = np.empty(len(X), dtype=np.int64)
    dists = np.empty(len(X))
    C_sq = np.einsum("ij,ij->i", C, C)
    for start in range(0, len(X), 4096):
        D = _sq_dists(X[start:start + 4096], C, C_sq)
        labels[start:start + 4096] = D.argmin(axis=1)
        dists[start:start + 4096] = D[np.arange(len(D)), labels[start:start + 4096]]
    return labels, dists


def kmeans(X, n_clusters: int, *, n_iter: int = 20, seed: int | None = 0) -> np.ndarray:
    """Lloyd's k-means: ``(n_clusters, d)`` centroids.

    Starts from ``n_clusters`` distinct rows drawn at random; a cluster that becomes empty is
    moved to the point that is currently worst served (the farthest from its centroid).
    """
    X = _vectors("X", X, min_rows=1)
    n_clusters = check_int("n_clusters", n_clusters, minimum=1)
    n_iter = check_int("n_iter", n_iter, minimum=0)
    seed = check_seed("seed", seed)
    if n_clusters > len(X):
        raise ValueError(f"n_clusters={n_clusters} is larger than the number of rows of X "
                         f"({len(X)})")
    rng = np.random.default_rng(seed)
    C = X[rng.choice(len(X), n_clusters, replace=False)].copy()
    for _ in range(n_iter):
        labels, dists = assign(X, C)
        counts = np.bincount(labels, minlength=n_clusters)
        sums = np.zeros_like(C)
        np.add.at(sums, labels, X)
        nonempty = counts > 0
        C[nonempty] = sums[nonempty] / counts[nonempty, None]
        for j in np.flatnonzero(~nonempty):
            worst = int(np.argmax(dists))
            C[j] = X[worst]
            dists[worst] = 0.0
    return C


# ----------------------------------------------------------------------------- IVF

class IVFIndex:
    """Inverted file with exact distances inside the lists (faiss's ``IndexIVFFlat``).

    ``centroids`` (``(n_lists, d)``) are the coarse quantiser; :meth:`train` learns them with
    :func:`kmeans`. :meth:`add` stores vectors in the list of their nearest centroid (by
    ``metric``), :meth:`search` visits the ``nprobe`` nearest lists of each query.
    """

    def __init__(self, centroids, *, metric: str = "l2"):
        self.centroids = _vectors("centroids", centroids, min_rows=1)
        self.metric = check_choice("metric", metric, METRICS)
        self.d = self.centroids.shape[1]
        self.n_lists = len(self.centroids)
        self.list_ids = [np.empty(0, dtype=np.int64) for _ in range(self.n_lists)]
        self.list_vectors = [np.empty((0, self.d)) for _ in range(self.n_lists)]
        self.ntotal = 0

    @classmethod
    def train(cls, X, n_lists: int, *, metric: str = "l2", n_iter: int = 20,
              seed: int | None = 0) -> "IVFIndex":
        """An empty index whose centroids are k-means centroids of ``X``."""
        return cls(kmeans(X, n_lists, n_iter=n_iter, seed=seed), metric=metric)

    def _coarse(self, X):
        """Coarse scores of every row against every centroid (smaller is better for l2)."""
        if self.metric == "ip":
            return X @ self.centroids.T
        return _sq_dists(X, self.centroids)

    def add(self, X, ids=None) -> "IVFIndex":
        """Store the rows of ``X`` with ``ids`` (default: consecutive numbers)."""
        X = _vectors("X", X, d=self.d)
        ids = _ids_for(ids, len(X), self.ntotal)
        scores = self._coarse(X)
        lists = scores.argmax(axis=1) if self.metric == "ip" else scores.argmin(axis=1)
        _append_to_lists(self.list_ids, self.list_vectors, lists, ids, X)
        self.ntotal += len(X)
        return self

    def search(self, queries, k: int, *, nprobe: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, ids)`` of the k best stored vectors in the ``nprobe`` nearest lists."""
        Q = _vectors("queries", queries, d=self.d)
        k = check_int("k", k, minimum=1)
        nprobe = check_int("nprobe", nprobe, minimum=1)
        nprobe = min(nprobe, self.n_lists)
        largest = self.metric == "ip"
        probes = _top_k(self._coarse(Q), nprobe, largest)
        D = np.full((len(Q), k), -np.inf if largest else np.inf)
        I = np.full((len(Q), k), -1, dtype=np.int64)
        for i, q in enumerate(Q):
            ids = np.concatenate([self.list_ids[j] for j in probes[i]])
            if len(ids) == 0:
                continue
            vecs = np.vstack([self.list_vectors[j] for j in probes[i]])
            scores = (vecs @ q)[None, :] if largest else _sq_dists(q[None, :], vecs)
            best = _top_k(scores, min(k, len(ids)), largest)[0]
            D[i, :len(best)] = scores[0, best]
            I[i, :len(best)] = ids[best]
        return D, I

    def list_sizes(self) -> np.ndarray:
        """Number of vectors stored in each list."""
        return np.array([len(ids) for ids in self.list_ids])


# ----------------------------------------------------------------------------- PQ

class ProductQuantizer:
    """Product quantiser with ``M`` sub-quantisers of ``2**nbits`` centroids each.

    ``codebooks`` has shape ``(M, 2**nbits, d // M)``, the layout of faiss's
    ``ProductQuantizer.centroids``. Codes are ``uint8`` (``nbits <= 8``), one byte per
    sub-quantiser.
    """

    def __init__(self, codebooks):
        cb = check_array("codebooks", codebooks, ndim=3)
        M, ksub, dsub = cb.shape
        if ksub < 1 or ksub > 256 or ksub & (ksub - 1):
            raise ValueError(f"codebooks must hold a power of two between 1 and 256 centroids per "
                             f"sub-quantiser, got {ksub}")
        if M < 1 or dsub < 1:
            raise ValueError(f"codebooks must have shape (M, ksub, dsub) with M, dsub >= 1, got "
                             f"{cb.shape}")
        self.codebooks = cb
        self.M, self.ksub, self.dsub = M, ksub, dsub
        self.d = M * dsub
        self.nbits = int(np.log2(ksub))

    @classmethod
    def train(cls, X, M: int, *, nbits: int = 8, n_iter: int = 20,
              seed: int | None = 0) -> "ProductQuantizer":
        """Learn one k-means codebook per sub-space of ``X`` (``d`` must be a multiple of ``M``)."""
        X = _vectors("X", X, min_rows=1)
        M = check_int("M", M, minimum=1)
        nbits = check_int("nbits", nbits, minimum=1, maximum=8)
        if X.shape[1] % M:
            raise ValueError(f"the dimension of X ({X.shape[1]}) must be a multiple of M ({M})")
        if len(X) < 2 ** nbits:
            raise ValueError(f"training needs at least 2**nbits = {2 ** nbits} rows, got {len(X)}")
        dsub = X.shape[1] // M
        seed = check_seed("seed", seed)
        books = [kmeans(X[:, m * dsub:(m + 1) * dsub], 2 ** nbits, n_iter=n_iter,
                        seed=None if seed is None else seed + m) for m in range(M)]
        return cls(np.stack(books))

    def _split(self, X):
        return X.reshape(len(X), self.M, self.dsub)

    def encode(self, X) -> np.ndarray:
        """``(n, M)`` uint8 codes: the nearest centroid of every sub-vector."""
        X = _vectors("X", X, d=self.d)
        codes = np.empty((len(X), self.M), dtype=np.uint8)
        for m in range(self.M):
            codes[:, m] = assign(X[:, m * self.dsub:(m + 1) * self.dsub], self.codebooks[m])[0]
        return codes

    def decode(self, codes) -> np.ndarray:
        """The reconstructions: concatenated centroids, ``(n, d)``."""
        codes = self._check_codes(codes)
        return self.codebooks[np.arange(self.M), codes].reshape(len(codes), self.d)

    def _check_codes(self, codes):
        codes = check_array("codes", codes, ndim=2, dtype=int)
        if codes.shape[1] != self.M:
            raise ValueError(f"codes must have M={self.M} columns, got {codes.shape[1]}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.ksub):
            raise ValueError(f"codes must lie in [0, {self.ksub - 1}]")
        return codes

    def distance_tables(self, queries) -> np.ndarray:
        """``(n_queries, M, ksub)`` tables ``T[i, m, j] = ||q_i^(m) - c^(m)_j||^2``."""
        Q = _vectors("queries", queries, d=self.d)
        diff = self._split(Q)[:, :, None, :] - self.codebooks[None, :, :, :]
        return np.einsum("qmjs,qmjs->qmj", diff, diff)

    def adc(self, queries, codes) -> np.ndarray:
        """Asymmetric distances ``(n_queries, n)`` between exact queries and coded vectors."""
        codes = self._check_codes(codes)
        T = self.distance_tables(queries)
        out = np.zeros((T.shape[0], len(codes)))
        for m in range(self.M):
            out += T[:, m, codes[:, m]]
        return out

    def search(self, queries, codes, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k nearest coded vectors by asymmetric distance (faiss's ``IndexPQ.search``)."""
        k = check_int("k", k, minimum=1)
        codes = self._check_codes(codes)
        D = self.adc(queries, codes)
        if len(codes) == 0:
            return _pad(np.empty((len(D), 0)), np.empty((len(D), 0), dtype=np.int64), k, False)
        idx = _top_k(D, min(k, len(codes)), largest=False)
        return _pad(np.take_along_axis(D, idx, axis=1), idx, k, False)


# ----------------------------------------------------------------------------- IVF-PQ

class IVFPQIndex:
    """IVF whose lists store PQ codes of residuals (faiss's ``IndexIVFPQ``, L2 only)."""

    def __init__(self, centroids, pq: ProductQuantizer):
        self.centroids = _vectors("centroids", centroids, min_rows=1)
        if not isinstance(pq, ProductQuantizer):
            raise TypeError(f"pq must be a ProductQuantizer, got {type(pq).__name__}")
        if pq.d != self.centroids.shape[1]:
            raise ValueError(f"pq works in {pq.d} dimensions but the centroids have "
                             f"{self.centroids.shape[1]}")
        self.pq = pq
        self.d = pq.d
        self.n_lists = len(self.centroids)
        self.list_ids = [np.empty(0, dtype=np.int64) for _ in range(self.n_lists)]
        self.list_codes = [np.empty((0, pq.M), dtype=np.uint8) for _ in range(self.n_lists)]
        self.ntotal = 0

    @classmethod
    def train(cls, X, n_lists: int, M: int, *, nbits: int = 8, n_iter: int = 20,
              seed: int | None = 0) -> "IVFPQIndex":
        """Coarse k-means on ``X``, then a PQ trained on the residuals of ``X``."""
        X = _vectors("X", X, min_rows=1)
        centroids = kmeans(X, n_lists, n_iter=n_iter, seed=seed)
        labels, _ = assign(X, centroids)
        pq = ProductQuantizer.train(X - centroids[labels], M, nbits=nbits, n_iter=n_iter,
                                    seed=seed)
        return cls(centroids, pq)

    def add(self, X, ids=None) -> "IVFPQIndex":
        """Store the PQ codes of the residuals of the rows of ``X``."""
        X = _vectors("X", X, d=self.d)
        ids = _ids_for(ids, len(X), self.ntotal)
        lists, _ = assign(X, self.centroids)
        codes = self.pq.encode(X - self.centroids[lists])
        _append_to_lists(self.list_ids, self.list_codes, lists, ids, codes)
        self.ntotal += len(X)
        return self

    def search(self, queries, k: int, *, nprobe: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Approximate ``(distances, ids)``: ADC on residual codes in the ``nprobe`` nearest lists."""
        Q = _vectors("queries", queries, d=self.d)
        k = check_int("k", k, minimum=1)
        nprobe = min(check_int("nprobe", nprobe, minimum=1), self.n_lists)
        probes = _top_k(_sq_dists(Q, self.centroids), nprobe, largest=False)
        D = np.full((len(Q), k), np.inf)
        I = np.full((len(Q), k), -1, dtype=np.int64)
        for i, q in enumerate(Q):
            ids = np.concatenate([self.list_ids[j] for j in probes[i]])
            if len(ids) == 0:
                continue
            dists = np.concatenate([
                self.pq.adc((q - self.centroids[j])[None, :], self.list_codes[j])[0]
                for j in probes[i]])
            best = _top_k(dists[None, :], min(k, len(ids)), largest=False)[0]
            D[i, :len(best)] = dists[best]
            I[i, :len(best)] = ids[best]
        return D, I


# ----------------------------------------------------------------------------- data

def synthetic_embeddings(n: int, d: int = 384, *, n_clusters: int = 200, intrinsic_dim: int = 16,
                         spread: float = 0.6, noise: float = 0.05, anchors=None,
                         seed: int | None = 0, dtype=np.float32) -> np.ndarray:
    r"""Unit vectors with the structure of sentence embeddings: clusters on a low-dimensional skeleton.

    Generative model: a shared mean direction :math:`\mu` (real embeddings are anisotropic:
    they share a common component), cluster centres :math:`c_k` (the rows of ``anchors`` if
    given, for example real embeddings, else random unit vectors), and for each cluster a
    matrix :math:`B_k` of ``intrinsic_dim`` random directions of unit expected length. With
    ``anchors``, :math:`\mu = 0` (the anchors already share their common direction) and the
    directions of :math:`B_k` are random combinations of the top ``4 * intrinsic_dim``
    principal directions of the anchors, so the points vary the way the real vectors do. Point :math:`i` of
    cluster :math:`k_i` (drawn uniformly) is

    .. math::

        x_i = \frac{v_i}{\lVert v_i \rVert}, \qquad
        v_i = 0.5\,\mu + c_{k_i} + \tfrac{\text{spread}}{\sqrt{\text{intrinsic\_dim}}}\,
        B_{k_i} z_i + \tfrac{\text{noise}}{\sqrt d}\,\varepsilon_i,

    with :math:`z_i \sim \mathcal N(0, I)` and :math:`\varepsilon_i \sim \mathcal N(0, I_d)`.
    The same ``seed`` always gives the same rows (generated in blocks, float32 by default).
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    n_clusters = check_int("n_clusters", n_clusters, minimum=1)
    intrinsic_dim = check_int("intrinsic_dim", intrinsic_dim, minimum=1, maximum=d)
    for name, value in (("spread", spread), ("noise", noise)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    if anchors is not None:
        centres = _vectors("anchors", anchors, d=d, min_rows=1)
        centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        n_clusters = len(centres)
    else:
        centres = rng.normal(size=(n_clusters, d))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    mu = rng.normal(size=d)
    mu /= np.linalg.norm(mu)
    if anchors is not None and len(centres) > 1:
        # directions of variation drawn from the anchors' own principal subspace
        pcs = np.linalg.svd(centres - centres.mean(0), full_matrices=False)[2]
        span = pcs[:min(len(pcs), 4 * intrinsic_dim)]                     # (s, d), orthonormal
        mu = np.zeros(d)                       # the anchors carry their own common direction
    else:
        span = np.eye(d)
    # B_k = span^T A_k: random directions of unit expected length inside the span
    mix = rng.normal(size=(n_clusters, len(span), intrinsic_dim)) / np.sqrt(len(span))
    out = np.empty((n, d), dtype=dtype)
    block = 65_536
    for start in range(0, n, block):
        m = min(block, n - start)
        k = rng.integers(0, n_clusters, size=m)
        z = rng.normal(size=(m, intrinsic_dim)) * (spread / np.sqrt(intrinsic_dim))
        w = np.empty((m, len(span)))
        order = np.argsort(k, kind="stable")                 # rows grouped by cluster
        bounds = np.searchsorted(k[order], np.arange(n_clusters + 1))
        for j in range(n_clusters):
            rows = order[bounds[j]:bounds[j + 1]]
            if len(rows):
                w[rows] = z[rows] @ mix[j].T
        v = 0.5 * mu + centres[k] + w @ span
        v += rng.normal(size=(m, d)) * (noise / np.sqrt(d))
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out
