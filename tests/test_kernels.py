"""Embedding kernels, alignment, spectrum and kernel ridge: equal to scikit-learn / SciPy and to
the dense computation; the scalable versions never build an n x n matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.linalg import eigh as scipy_eigh
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge
from sklearn.metrics.pairwise import cosine_similarity, linear_kernel
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf
from sklearn.decomposition import KernelPCA
from sklearn.preprocessing import KernelCenterer, OneHotEncoder

from embedlab import ecommerce, kernels as K


@pytest.fixture
def E():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2]) + 0.7


def _H(n):
    return np.eye(n) - np.ones((n, n)) / n


def test_kernels_match_scikit_learn(E):
    assert np.allclose(K.embedding_kernel(E), linear_kernel(E), atol=1e-12)
    assert np.allclose(K.cosine_kernel(E), cosine_similarity(E), atol=1e-12)
    G = K.embedding_kernel(E)
    assert np.allclose(K.center_kernel(G), KernelCenterer().fit_transform(G), atol=1e-10)
    assert np.allclose(K.rbf_kernel(E, gamma=0.3), sk_rbf(E, gamma=0.3), atol=1e-12)


def test_alignment_against_explicit_centring_matrix(E):
    rng = np.random.default_rng(1)
    y = rng.normal(size=len(E))
    Kc = _H(len(E)) @ (E @ E.T) @ _H(len(E))
    Lc = _H(len(E)) @ np.outer(y, y) @ _H(len(E))
    expected = np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc))
    assert K.kernel_target_alignment(E @ E.T, y) == pytest.approx(expected, abs=1e-12)
    raw = np.sum((E @ E.T) * np.outer(y, y)) / (np.linalg.norm(E @ E.T) * (y @ y))
    assert K.kernel_target_alignment(E @ E.T, y, center=False) == pytest.approx(raw, abs=1e-12)


def test_alignment_of_classes_uses_one_hot_target(E):
    labels = np.arange(len(E)) % 3
    Y = OneHotEncoder().fit_transform(labels[:, None]).toarray()
    assert K.kernel_target_alignment(E @ E.T, labels) == pytest.approx(
        K.alignment(E @ E.T, Y @ Y.T), abs=1e-12)
    # a kernel made from the target itself is perfectly aligned
    assert K.kernel_target_alignment(Y @ Y.T, labels) == pytest.approx(1.0, abs=1e-12)


def test_spectrum_matches_kernel_pca_and_scipy(E):
    G = E @ E.T
    lam, U = K.eigen_spectrum(G)
    ref = KernelPCA(n_components=5, kernel="precomputed").fit(G)
    assert np.allclose(lam[:5], ref.eigenvalues_, rtol=1e-10)
    raw = scipy_eigh(G, eigvals_only=True)[::-1]
    assert np.allclose(K.eigen_spectrum(G, center=False)[0][:5], raw[:5], rtol=1e-10)
    assert np.allclose(U.T @ U, np.eye(len(G)), atol=1e-10)


def test_effective_dimension_is_the_trace_of_the_hat_matrix(E):
    G = K.center_kernel(E @ E.T)
    lam, _ = K.eigen_spectrum(E @ E.T)
    mu = 7.0
    hat = G @ np.linalg.inv(G + mu * np.eye(len(G)))
    assert K.effective_dimension(lam, mu) == pytest.approx(np.trace(hat), rel=1e-10)
    assert K.effective_dimension(lam, 1e-6) == pytest.approx(5.0, abs=1e-4)   # rank 5


def test_spectral_alignment_curve(E):
    y = E @ np.array([0.0, 0.0, 0.0, 0.0, 1.0])    # lies in the span of the smallest direction
    curve = K.spectral_alignment_curve(E @ E.T, y)
    assert curve.shape == (len(E),) and np.all(np.diff(curve) >= -1e-12)
    assert curve[-1] == pytest.approx(1.0, abs=1e-10)
    assert curve[4] == pytest.approx(1.0, abs=1e-10) and curve[2] < 0.5
    lam, U = K.eigen_spectrum(E @ E.T)
    yc = y - y.mean()
    assert curve[0] == pytest.approx((U[:, 0] @ yc) ** 2 / (yc @ yc), abs=1e-12)


def test_kernel_ridge_matches_scikit_learn(E):
    rng = np.random.default_rng(2)
    y = rng.normal(size=len(E))
    G = K.rbf_kernel(E, gamma=0.1)
    ours = K.KernelRidge(lam=0.5).fit(G[:40, :40], y[:40])
    ref = SkKernelRidge(alpha=0.5, kernel="precomputed").fit(G[:40, :40], y[:40])
    assert np.allclose(ours.dual_coef_, ref.dual_coef_, atol=1e-10)
    assert np.allclose(ours.predict(G[40:, :40]), ref.predict(G[40:, :40]), atol=1e-10)


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("target", ["regression", "classes"])
def test_scalable_alignment_equals_dense(E, cosine, target):
    rng = np.random.default_rng(3)
    y = rng.normal(size=len(E)) if target == "regression" else rng.integers(0, 4, size=len(E))
    dense = K.kernel_target_alignment(K.cosine_kernel(E) if cosine else E @ E.T, y)
    for chunk in (7, 1000):
        assert K.linear_alignment(E, y, cosine=cosine, chunk_size=chunk) == pytest.approx(
            dense, abs=1e-8)


def test_scalable_spectrum_and_curve_equal_dense(E):
    y = np.random.default_rng(4).normal(size=len(E)) + E[:, 1]
    lam_dense, _ = K.eigen_spectrum(E @ E.T)
    lam, V = K.linear_spectrum(E, chunk_size=11)
    assert np.allclose(lam, lam_dense[:5], atol=1e-8)
    assert np.allclose(lam_dense[5:], 0.0, atol=1e-8)
    assert np.allclose(K.linear_spectral_alignment_curve(E, y, chunk_size=13),
                       K.spectral_alignment_curve(E @ E.T, y)[:5], atol=1e-8)
    # float32 storage and a memory map-like view are read chunk by chunk, in float64
    E32 = E.astype(np.float32)
    assert K.linear_alignment(E32, y) == pytest.approx(
        K.kernel_target_alignment(E32.astype(float) @ E32.astype(float).T, y), abs=1e-8)


def test_nystrom_features_equal_scikit_learn_on_the_same_landmarks(E):
    landmarks = E[:15]
    phi = K.nystrom_features(E, landmarks, gamma=0.2, chunk_size=9)
    ref = Nystroem(kernel="rbf", gamma=0.2, n_components=15, random_state=0).fit(landmarks)
    phi_ref = ref.transform(E)
    assert np.allclose(phi @ phi.T, phi_ref @ phi_ref.T, atol=1e-8)
    # alignment of the Nystrom kernel, scalable against dense
    y = E[:, 0] ** 2
    assert K.linear_alignment(phi, y) == pytest.approx(
        K.kernel_target_alignment(phi @ phi.T, y), abs=1e-8)
    # with every item as a landmark, the Nystrom kernel is the exact RBF kernel
    full = K.nystrom_features(E, E, gamma=0.2, rcond=0.0)
    assert np.allclose(full @ full.T, sk_rbf(E, gamma=0.2), atol=1e-6)


def test_random_fourier_features_approximate_the_rbf_kernel(E):
    exact = sk_rbf(E, gamma=0.05)
    errors = [np.abs(f @ f.T - exact).mean() for f in
              (K.random_fourier_features(E, D, gamma=0.05, seed=0) for D in (64, 4096))]
    assert errors[1] < errors[0] / 3 and errors[1] < 0.03


def test_scalable_alignment_memory_stays_order_n_d():
    n, d = 200_000, 8
    rng = np.random.default_rng(5)
    E = rng.normal(size=(n, d)).astype(np.float32)
    labels = rng.integers(0, 3, size=n)
    tracemalloc.start()
    K.linear_alignment(E, labels, chunk_size=10_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * E.nbytes            # a few copies of n x (d + c) numbers at most
    assert peak < n * n * 8 / 10_000      # the dense kernel would need n^2 * 8 bytes


def test_alignment_ranks_a_known_signal_above_noise():
    cat = ecommerce.make_catalogue(200, seed=1)
    rng = np.random.default_rng(0)
    clean = K.linear_alignment(cat.latent, cat.category)
    noisy = K.linear_alignment(cat.latent + 3.0 * rng.normal(size=cat.latent.shape), cat.category)
    assert clean > noisy > 0


def test_bad_input():
    with pytest.raises(ValueError, match="E must be 2-D"):
        K.embedding_kernel(np.ones(3))
    with pytest.raises(ValueError, match="row of zeros"):
        K.cosine_kernel(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="square"):
        K.center_kernel(np.ones((3, 4)))
    with pytest.raises(ValueError, match="same shape"):
        K.alignment(np.eye(3), np.eye(4))
    with pytest.raises(TypeError, match="center must be True or False"):
        K.alignment(np.eye(3), np.eye(3), center=1)
    with pytest.raises(ValueError, match="same number of rows"):
        K.kernel_target_alignment(np.eye(3), np.arange(4))
    with pytest.raises(ValueError, match="kind must be one of"):
        K.target_matrix(np.arange(3), kind="labels")
    with pytest.raises(ValueError, match="symmetric"):
        K.eigen_spectrum(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="mu must be > 0"):
        K.effective_dimension([1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="eigenvalues must be >= 0"):
        K.effective_dimension([1.0, -2.0], 1.0)
    with pytest.raises(ValueError, match="y is constant"):
        K.spectral_alignment_curve(np.eye(3) + 1, np.ones(3))
    with pytest.raises(ValueError, match="lam must be > 0"):
        K.KernelRidge(lam=0)
    with pytest.raises(RuntimeError, match="call fit before predict"):
        K.KernelRidge().predict(np.ones((2, 2)))
    with pytest.raises(ValueError, match="K_test has 3 columns"):
        K.KernelRidge().fit(np.eye(2), np.ones(2)).predict(np.ones((1, 3)))
    with pytest.raises(TypeError, match="y is required"):
        K.linear_alignment(np.ones((4, 2)), None)
    with pytest.raises(ValueError, match="y has 3 rows for 4 items"):
        K.linear_alignment(np.random.default_rng(0).normal(size=(4, 2)), np.arange(3))
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        K.gram_stats(np.ones((4, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="NaN"):
        K.gram_stats(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="stats must be a GramStats"):
        K.linear_spectrum(None, stats={"n": 3})
    with pytest.raises(ValueError, match="landmarks has 3 columns"):
        K.nystrom_features(np.ones((4, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="gamma must be > 0"):
        K.rbf_kernel(np.ones((2, 2)), gamma=-1.0)
    with pytest.raises(TypeError, match="n_features must be an integer"):
        K.random_fourier_features(np.ones((2, 2)), 2.5)
