r"""An embedding as a lookup table.

An embedding of a vocabulary of :math:`V` items (user ids, post ids, words) in :math:`d`
dimensions is a matrix :math:`E \in \mathbb{R}^{V \times d}`. Item :math:`i` is represented by
row :math:`E_i`. Looking an item up is indexing, not arithmetic: it costs :math:`O(d)` whatever
:math:`V` is. It equals multiplying the one-hot vector :math:`e_i` by the matrix,
:math:`e_i^\top E = E_i`, which is why an embedding layer is a linear layer on one-hot inputs
that skips the multiplication by zeros.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

from ._checks import check_array, check_int, check_seed, check_float

__all__ = ["EmbeddingTable"]


class EmbeddingTable:
    """Map item keys (any hashable: ids, words) to rows of a ``(V, d)`` matrix.

    Parameters
    ----------
    keys : the items, in row order; they must be unique.
    dim : number of dimensions, when the vectors are drawn at random.
    vectors : a ``(len(keys), d)`` array to use instead of random vectors.
    scale : standard deviation of the random initial vectors.
    seed : seed of the random initial vectors.
    """

    def __init__(self, keys: Iterable[Hashable], dim: int | None = None, *, vectors=None,
                 scale: float = 0.1, seed: int | None = 0):
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise TypeError(f"keys must be an iterable of items, got {type(keys).__name__}")
        keys = list(keys)
        if not keys:
            raise ValueError("keys is empty: an embedding table needs at least one item")
        self.index = {}
        for i, k in enumerate(keys):
            if not isinstance(k, Hashable):
                raise TypeError(f"keys must be hashable, item {i} is a {type(k).__name__}")
            if k in self.index:
                raise ValueError(f"keys must be unique, {k!r} appears twice")
            self.index[k] = i
        self.keys = keys
        if vectors is not None:
            vectors = check_array("vectors", vectors, ndim=2)
            if vectors.shape[0] != len(keys):
                raise ValueError(f"vectors has {vectors.shape[0]} rows for {len(keys)} keys")
            if dim is not None and check_int("dim", dim, minimum=1) != vectors.shape[1]:
                raise ValueError(f"dim={dim} does not match vectors of width {vectors.shape[1]}")
            self.vectors = vectors.copy()
        else:
            if dim is None:
                raise TypeError("give either dim (for random vectors) or vectors")
            dim = check_int("dim", dim, minimum=1)
            scale = check_float("scale", scale, minimum=0.0)
            rng = np.random.default_rng(check_seed("seed", seed))
            self.vectors = rng.normal(0.0, scale, size=(len(keys), dim))

    @property
    def dim(self) -> int:
        """Number of dimensions d."""
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.keys)

    def ids(self, keys: Iterable[Hashable]) -> np.ndarray:
        """Row ids of ``keys``; a ``KeyError`` names the first unknown key."""
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise TypeError(f"keys must be an iterable of items, got {type(keys).__name__}")
        out = []
        for k in keys:
            try:
                out.append(self.index[k])
            except (KeyError, TypeError):
                raise KeyError(f"{k!r} is not in the table: it has no embedding "
                               f"(the table knows {len(self)} items)") from None
        return np.array(out, dtype=np.int64)

    def lookup(self, ids) -> np.ndarray:
        """Rows of the given integer ids: an ``(len(ids), d)`` array (a view-free copy)."""
        ids = check_array("ids", ids, ndim=(0, 1), dtype=int)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            bad = ids[(ids < 0) | (ids >= len(self))][0]
            raise IndexError(f"id {bad} is out of range for a table of {len(self)} rows")
        return self.vectors[ids]

    def __getitem__(self, key: Hashable) -> np.ndarray:
        """The vector of one item key."""
        return self.vectors[self.ids([key])[0]]

    def one_hot(self, keys: Iterable[Hashable]) -> np.ndarray:
        """One-hot rows of ``keys``: multiplying them by ``vectors`` equals :meth:`lookup`."""
        ids = self.ids(keys)
        out = np.zeros((len(ids), len(self)))
        out[np.arange(len(ids)), ids] = 1.0
        return out
