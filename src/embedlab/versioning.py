r"""Model versions: comparing two embedding spaces, bridging them, and switching indexes safely.

Two encoders, or two versions of one encoder, place the same items in two different spaces
:math:`A, B \in \mathbb R^{n \times d}` (row :math:`i` is item :math:`i`). Nothing ties the
coordinates of one to the other: a retrained model may come out rotated, permuted, stretched,
or simply different. So a query embedded with version 1 must never be searched in an index
built with version 2.

**Neighbour overlap.** For a query item :math:`i`, let :math:`N^A_k(i)` be its :math:`k`
nearest neighbours (cosine, excluding itself) in space :math:`A`. The overlap of two spaces is
:math:`\frac1n \sum_i |N^A_k(i) \cap N^B_k(i)| / k`; for unrelated spaces it is near the
chance level :math:`k / (n - 1)`. The **cross-version recall** asks what a mixed-version
system returns: neighbours of the *version-1 query vector* :math:`a_i` among the
*version-2 item vectors*, compared with the right answer :math:`N^B_k(i)`.

**Orthogonal Procrustes** (Schoenemann, 1966). If :math:`B \approx A R` for a rotation
:math:`R`, the best one on paired items is

.. math::

    R^\star = \arg\min_{R^\top R = I} \lVert A R - B \rVert_F = U V^\top,
    \qquad U \Sigma V^\top = A^\top B ,

fitted on a sample of items embedded by both versions, and applied to old vectors (or to new
queries with :math:`R^{\star\top}`). It can only undo rotations and reflections: when the
new model changed *what* is close to what, no orthogonal map can bring that back, and its
residual on held-out items measures what remains.

**Dual-index cutover.** The safe migration keeps both indexes: new items are written to both
(each with the vectors of its own version), a backfill job re-embeds the old items into the
new index, reads stay on the old index until the backfill is complete and checked, then a
single switch moves reads to the new index, and the old one is dropped after a grace period.
:class:`DualIndex` models that state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from ._checks import check_array, check_int, check_same_length, unit_rows
from .kernels import procrustes_rotation as procrustes   # the bridge is Chapter 11's rotation

__all__ = [
    "procrustes", "procrustes_residual", "knn_sets", "neighbour_overlap",
    "cross_version_recall", "paired_cosines", "DualIndex",
]


def _pair(A, B, same_width=True):
    A = check_array("A", A, ndim=2, min_rows=1)
    B = check_array("B", B, ndim=2, min_rows=1)
    check_same_length(A=A, B=B)
    if same_width and A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of columns, got {A.shape[1]} and "
                         f"{B.shape[1]}")
    return A, B


def procrustes_residual(A, B, R) -> float:
    """Relative residual ``||A R - B||_F / ||B||_F`` (0 when the map is exact)."""
    A, B = _pair(A, B)
    R = check_array("R", R, ndim=2)
    if R.shape != (A.shape[1], A.shape[1]):
        raise ValueError(f"R must be {A.shape[1]}x{A.shape[1]}, got {R.shape}")
    return float(np.linalg.norm(A @ R - B) / np.linalg.norm(B))


def paired_cosines(A, B) -> np.ndarray:
    """Cosine between row i of ``A`` and row i of ``B``, for every i."""
    A, B = _pair(A, B)
    return np.einsum("ij,ij->i", unit_rows("A", A), unit_rows("B", B))


def knn_sets(queries, items, k: int, *, exclude_self: bool = False) -> np.ndarray:
    """Ids of the ``k`` most cosine-similar ``items`` of every query, ``(n_queries, k)``.

    ``exclude_self=True`` (queries are the items themselves, row for row) skips item ``i``
    for query ``i``.
    """
    Q = check_array("queries", queries, ndim=2, min_rows=1)
    X = check_array("items", items, ndim=2, min_rows=1)
    if Q.shape[1] != X.shape[1]:
        raise ValueError(f"queries and items must have the same number of columns, got "
                         f"{Q.shape[1]} and {X.shape[1]}")
    k = check_int("k", k, minimum=1, maximum=len(X) - int(exclude_self))
    S = unit_rows("queries", Q) @ unit_rows("items", X).T
    if exclude_self:
        if len(Q) != len(X):
            raise ValueError("exclude_self needs one query per item")
        np.fill_diagonal(S, -np.inf)
    part = np.argpartition(-S, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(S, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def neighbour_overlap(A, B, k: int = 10) -> float:
    """Mean share of each item's k nearest neighbours that spaces ``A`` and ``B`` agree on."""
    A, B = _pair(A, B, same_width=False)
    na, nb = knn_sets(A, A, k, exclude_self=True), knn_sets(B, B, k, exclude_self=True)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(na, nb)]))


def cross_version_recall(queries_old, items_new, queries_new, k: int = 10) -> float:
    """Recall@k of searching version-2 items with version-1 query vectors.

    The right answer for query ``i`` is its k nearest neighbours with both sides in version 2
    (``queries_new`` against ``items_new``).
    """
    Qo = check_array("queries_old", queries_old, ndim=2, min_rows=1)
    Qn = check_array("queries_new", queries_new, ndim=2, min_rows=1)
    check_same_length(queries_old=Qo, queries_new=Qn)
    got = knn_sets(Qo, items_new, k)
    truth = knn_sets(Qn, items_new, k)
    return float(np.mean([len(np.intersect1d(g, t)) / k for g, t in zip(got, truth)]))


class DualIndex:
    """Two indexes (old and new model version) and the rules of a safe cutover.

    ``embed_old`` and ``embed_new`` map a list of items to vectors. Phases:
    ``"old"`` (reads and writes on the old index), ``"dual"`` (writes go to both, reads stay
    on the old one, :meth:`backfill` re-embeds old items into the new index), ``"new"`` (after
    :meth:`cutover`: reads and writes on the new index only). :meth:`cutover` refuses while the
    new index misses items. Queries are embedded with the version of the index they read, so
    versions never mix.
    """

    PHASES = ("old", "dual", "new")

    def __init__(self, embed_old: Callable, embed_new: Callable, *,
                 version_old: str = "v1", version_new: str = "v2"):
        if not callable(embed_old) or not callable(embed_new):
            raise TypeError("embed_old and embed_new must be callables that embed a list of items")
        self.embed = {"old": embed_old, "new": embed_new}
        self.versions = {"old": version_old, "new": version_new}
        self.stores: dict[str, dict[Hashable, np.ndarray]] = {"old": {}, "new": {}}
        self.phase = "old"

    def start_migration(self) -> None:
        """Enter the dual-write phase."""
        if self.phase != "old":
            raise RuntimeError(f"a migration can start only in phase 'old', not {self.phase!r}")
        self.phase = "dual"

    def write(self, ids, items) -> None:
        """Add or replace items: to the old index, the new one, or both (dual phase)."""
        ids, items = list(ids), list(items)
        if len(ids) != len(items):
            raise ValueError(f"ids and items must have the same length, got {len(ids)} and "
                             f"{len(items)}")
        targets = {"old": ["old"], "dual": ["old", "new"], "new": ["new"]}[self.phase]
        for side in targets:
            vectors = np.asarray(self.embed[side](items), dtype=float)
            for i, v in zip(ids, vectors):
                self.stores[side][i] = v

    def backfill(self, ids, items, *, batch_size: int = 256) -> int:
        """Re-embed old items into the new index (dual phase only); returns how many were added."""
        if self.phase != "dual":
            raise RuntimeError("backfill runs only during the migration (phase 'dual')")
        batch_size = check_int("batch_size", batch_size, minimum=1)
        ids, items = list(ids), list(items)
        todo = [(i, x) for i, x in zip(ids, items) if i not in self.stores["new"]]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            vectors = np.asarray(self.embed["new"]([x for _, x in chunk]), dtype=float)
            for (i, _), v in zip(chunk, vectors):
                self.stores["new"][i] = v
        return len(todo)

    def missing(self) -> list:
        """Ids in the old index that the new one does not have yet."""
        return [i for i in self.stores["old"] if i not in self.stores["new"]]

    def cutover(self) -> None:
        """Move reads to the new index; refused while :meth:`missing` is not empty."""
        if self.phase != "dual":
            raise RuntimeError(f"cutover happens from phase 'dual', not {self.phase!r}")
        missing = self.missing()
        if missing:
            raise RuntimeError(f"the new index still misses {len(missing)} items "
                               f"(for example {missing[0]!r}): finish the backfill first")
        self.phase = "new"
        self.stores["old"] = {}

    @property
    def read_side(self) -> str:
        return "new" if self.phase == "new" else "old"

    def search(self, query, k: int = 5) -> tuple[list, str]:
        """The k nearest ids of ``query`` in the index that serves reads, and its version."""
        k = check_int("k", k, minimum=1)
        side = self.read_side
        store = self.stores[side]
        if not store:
            return [], self.versions[side]
        ids = list(store)
        q = np.asarray(self.embed[side]([query]), dtype=float)
        top = knn_sets(q, np.stack([store[i] for i in ids]), min(k, len(ids)))[0]
        return [ids[j] for j in top], self.versions[side]
