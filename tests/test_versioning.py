"""Versioning: Procrustes equal to SciPy and exact on rotated copies, neighbour overlap and
cross-version recall against brute force, and the dual-index cutover rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from embedlab import versioning as V


@pytest.fixture(scope="module")
def spaces():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(120, 10))
    R = ortho_group.rvs(10, random_state=1)
    return A, R, rng


def test_procrustes_equals_scipy_and_recovers_a_rotation(spaces):
    A, R, rng = spaces
    B = A @ R + 0.01 * rng.normal(size=A.shape)
    ours = V.procrustes(A, B)
    ref, _ = orthogonal_procrustes(A, B)
    assert np.allclose(ours, ref, atol=1e-10)
    assert np.allclose(ours.T @ ours, np.eye(10), atol=1e-10)
    assert np.allclose(ours, R, atol=0.01)
    assert V.procrustes_residual(A, B, ours) < 0.02
    assert V.procrustes_residual(A, B, np.eye(10)) > 0.5


def test_rotation_keeps_neighbours_but_breaks_cross_version_search(spaces):
    A, R, _ = spaces
    B = A @ R
    assert V.neighbour_overlap(A, B, k=5) == pytest.approx(1.0)
    assert np.allclose(V.paired_cosines(A, A), 1.0)
    assert np.mean(V.paired_cosines(A, B)) < 0.5
    # searching rotated items with unrotated queries misses most neighbours ...
    assert V.cross_version_recall(A, B, B, k=5) < 0.5
    # ... and the Procrustes bridge brings them back
    Rhat = V.procrustes(A, B)
    assert V.cross_version_recall(A @ Rhat, B, B, k=5) == pytest.approx(1.0)


def test_knn_sets_and_overlap_against_brute_force(spaces):
    A, _, rng = spaces
    B = rng.normal(size=A.shape)
    k = 7
    unit = A / np.linalg.norm(A, axis=1, keepdims=True)
    S = unit @ unit.T
    np.fill_diagonal(S, -np.inf)
    brute = np.argsort(-S, axis=1)[:, :k]
    assert np.array_equal(V.knn_sets(A, A, k, exclude_self=True), brute)
    # unrelated spaces: overlap near chance k / (n - 1)
    assert V.neighbour_overlap(A, B, k=k) < 3 * k / (len(A) - 1)


def test_dual_index_cutover_rules():
    embed_old = lambda items: np.array([[len(x), 1.0] for x in items])          # noqa: E731
    embed_new = lambda items: np.array([[1.0, x.count("a") + 0.1] for x in items])  # noqa: E731
    index = V.DualIndex(embed_old, embed_new)
    index.write(["x", "y"], ["aaa", "b"])
    ids, version = index.search("aaaa", k=1)
    assert version == "v1" and ids == ["x"]
    with pytest.raises(RuntimeError, match="phase 'dual'"):
        index.cutover()
    index.start_migration()
    index.write(["z"], ["aaaaa"])                    # dual write: lands in both
    assert set(index.stores["new"]) == {"z"} and set(index.stores["old"]) == {"x", "y", "z"}
    assert index.search("aaaa")[1] == "v1"           # reads stay on the old index
    with pytest.raises(RuntimeError, match="misses 2 items"):
        index.cutover()
    assert index.backfill(["x", "y", "z"], ["aaa", "b", "aaaaa"]) == 2
    index.cutover()
    ids, version = index.search("aaaa", k=2)
    assert version == "v2" and ids[0] == "z" and index.stores["old"] == {}
    with pytest.raises(RuntimeError, match="only during the migration"):
        index.backfill(["q"], ["a"])


def test_argument_errors(spaces):
    A, _, _ = spaces
    with pytest.raises(ValueError, match="same number of rows"):
        V.procrustes(A, A[:5])
    with pytest.raises(ValueError, match="same number of columns"):
        V.procrustes(A, A[:, :3])
    with pytest.raises(ValueError, match="R must be 10x10"):
        V.procrustes_residual(A, A, np.eye(3))
    with pytest.raises(ValueError, match="non-zero"):
        V.paired_cosines(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="k must be <= 119"):
        V.knn_sets(A, A, 120, exclude_self=True)
    with pytest.raises(TypeError, match="callables"):
        V.DualIndex("old", "new")
    index = V.DualIndex(lambda x: np.ones((len(x), 2)), lambda x: np.ones((len(x), 2)))
    with pytest.raises(ValueError, match="same length"):
        index.write(["a"], [])
