"""Train/validation/test split and the embedding lookup table."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.lookup import EmbeddingTable
from embedlab.split import train_val_test_split


def test_split_partitions_rows_and_is_seeded():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    parts = train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=5)
    Xtr, Xva, Xte, ytr, yva, yte = parts
    assert (len(ytr), len(yva), len(yte)) == (35, 10, 5)
    assert sorted(np.concatenate([ytr, yva, yte]).tolist()) == list(range(50))
    assert np.array_equal(Xtr[:, 0] // 2, ytr), "rows stay aligned across arrays"
    again = train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = train_val_test_split(X, y, val_size=0.2, test_size=0.1, seed=6)
    assert not np.array_equal(parts[5], other[5])


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((), {}, TypeError, "at least one array"),
    ((np.arange(10), np.arange(9)), {}, ValueError, "same number of rows"),
    ((np.arange(10),), {"val_size": 0.6, "test_size": 0.5}, ValueError, "must be < 1"),
    ((np.arange(10),), {"test_size": 0}, ValueError, "test_size must be > 0"),
    ((np.arange(10),), {"seed": "a"}, TypeError, "seed must be an integer"),
    (("abc",), {}, TypeError, "must be an array"),
    ((np.arange(2),), {}, ValueError, "must be >= 3"),
])
def test_split_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_val_test_split(*args, **kwargs)


def test_lookup_equals_one_hot_product():
    table = EmbeddingTable(["cat", "dog", "fish"], dim=4, seed=1)
    ids = table.ids(["dog", "cat", "dog"])
    assert ids.tolist() == [1, 0, 1]
    assert np.array_equal(table.lookup(ids), table.one_hot(["dog", "cat", "dog"]) @ table.vectors)
    assert np.array_equal(table["fish"], table.vectors[2])
    assert len(table) == 3 and table.dim == 4


def test_lookup_matches_torch_embedding():
    import torch

    vectors = np.random.default_rng(0).normal(size=(6, 3))
    table = EmbeddingTable(range(6), vectors=vectors)
    layer = torch.nn.Embedding.from_pretrained(torch.tensor(vectors))
    ids = [5, 0, 2, 2]
    assert np.allclose(table.lookup(ids), layer(torch.tensor(ids)).numpy())


def test_table_errors():
    with pytest.raises(ValueError, match="unique"):
        EmbeddingTable(["a", "a"], dim=2)
    with pytest.raises(ValueError, match="empty"):
        EmbeddingTable([], dim=2)
    with pytest.raises(TypeError, match="either dim"):
        EmbeddingTable(["a"])
    with pytest.raises(ValueError, match="rows for 2 keys"):
        EmbeddingTable(["a", "b"], vectors=np.ones((3, 2)))
    with pytest.raises(TypeError, match="iterable of items"):
        EmbeddingTable("abc", dim=2)
    table = EmbeddingTable(["a", "b"], dim=2)
    with pytest.raises(KeyError, match="'z' is not in the table"):
        table.ids(["a", "z"])
    with pytest.raises(IndexError, match="out of range"):
        table.lookup([0, 2])
    with pytest.raises(TypeError, match="must hold integers"):
        table.lookup([0.5])
