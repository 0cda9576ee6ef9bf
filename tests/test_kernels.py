"""Embedding kernels, alignment, spectrum and kernel ridge: equal to scikit-learn / SciPy and to
the dense computation; the scalable versions never build an n x n matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
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


# --------------------------------------------------------------- the range of the alignment

def test_centred_alignment_of_psd_kernels_lies_in_zero_one():
    rng = np.random.default_rng(6)
    values = []
    for _ in range(200):
        n = int(rng.integers(3, 12))
        A = rng.normal(size=(n, int(rng.integers(1, 4)))) + rng.normal(size=(1, 1))
        B = rng.normal(size=(n, int(rng.integers(1, 4))))
        values.append(K.alignment(A @ A.T, B @ B.T))
    values = np.array(values)
    assert values.min() >= 0.0 and values.max() <= 1.0 + 1e-12
    assert values.min() < 0.05          # the bound is reached, not just respected
    # a symmetric but indefinite similarity can point the other way
    A = rng.normal(size=(8, 2))
    assert K.alignment(A @ A.T, -(A @ A.T)) == pytest.approx(-1.0, abs=1e-12)
    # 1 exactly when the centred kernels are proportional; a constant shift changes nothing
    assert K.alignment(A @ A.T, 3.0 * A @ A.T + 5.0) == pytest.approx(1.0, abs=1e-12)


def test_alignment_with_a_constant_target_is_undefined():
    with pytest.raises(ValueError, match="zero after centring"):
        K.kernel_target_alignment(np.eye(4) + 1.0, np.ones(4), kind="regression")


# ----------------------------------------------------------- co-occurrence and shifted PMI

def _naive_counts(sequences, n, window, dynamic):
    C = np.zeros((n, n))
    for seq in sequences:
        for i, a in enumerate(seq):
            for j, b in enumerate(seq):
                d = abs(i - j)
                if 1 <= d <= window:
                    C[a, b] += (window - d + 1) / window if dynamic else 1.0
    return C


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("dynamic", [True, False])
def test_cooccurrence_counts_equal_a_naive_double_loop(window, dynamic):
    rng = np.random.default_rng(window)
    seqs = [rng.integers(0, 7, size=int(rng.integers(0, 9))).tolist() for _ in range(30)]
    seqs += [[], [3], [2, 2, 2]]                          # empty, single item, repeats
    got = K.cooccurrence_counts(seqs, 7, window, dynamic=dynamic)
    assert got.shape == (7, 7)
    assert np.allclose(got.toarray(), _naive_counts(seqs, 7, window, dynamic))
    assert np.allclose(got.toarray(), got.toarray().T)
    # pairs never cross from one sequence into the next
    assert K.cooccurrence_counts([[0], [1]], 2, window).nnz == 0


def test_pmi_pairs_equal_the_formula_and_vanish_under_independence():
    rng = np.random.default_rng(8)
    X = rng.integers(0, 5, size=(6, 6)).astype(float)
    C = X + X.T
    rows, cols, pmi = K.pmi_pairs(C, min_count=2)
    total = C.sum()
    with np.errstate(divide="ignore"):
        expected = np.log(C * total / C.sum(1)[:, None] / C.sum(0)[None, :])
    mask = C >= 2
    assert len(pmi) == mask.sum()
    assert np.allclose(pmi, expected[rows, cols])
    # with the negative-sampling distribution in the denominator instead of column shares
    noise = K.noise_distribution(np.arange(1, 7), 0.75)
    assert noise.sum() == pytest.approx(1.0) and np.all(np.diff(noise) > 0)
    r2, c2, pmi2 = K.pmi_pairs(sp.csr_matrix(C), noise, min_count=2)
    assert np.allclose(pmi2, np.log(C[r2, c2] / total) - np.log(C.sum(1)[r2] / total)
                       - np.log(noise[c2]))
    # an outer product of marginals is independence: every PMI is zero
    m = np.array([1.0, 2.0, 3.0, 4.0])
    assert np.allclose(K.pmi_pairs(np.outer(m, m))[2], 0.0, atol=1e-12)


def test_skip_gram_on_sessions_follows_shifted_pmi():
    from gensim.models import Word2Vec
    shop = ecommerce.make_catalogue(60, n_categories=3, seed=2)
    sessions = ecommerce.make_sessions(shop, 1500, length=8, seed=3)
    tokens = [[str(p) for p in s] for s in sessions]
    k = 5
    model = Word2Vec(tokens, vector_size=12, window=2, min_count=1, sg=1, negative=k, sample=0,
                     epochs=10, workers=1, seed=0)
    index = model.wv.key_to_index
    C = K.cooccurrence_counts([[index[t] for t in s] for s in tokens], len(index), 2)
    counts = np.array([model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key])
    rows, cols, pmi = K.pmi_pairs(C, K.noise_distribution(counts), min_count=3)
    dots = np.einsum("ij,ij->i", model.wv.vectors[rows], model.syn1neg[cols])
    assert np.corrcoef(pmi, dots)[0, 1] > 0.5
    assert abs(np.median(dots - pmi) + np.log(k)) < 0.5


# ------------------------------------------------------------------ rotations and readers

def test_random_rotation_is_orthogonal_and_seeded():
    Q = K.random_rotation(6, seed=3)
    assert np.allclose(Q.T @ Q, np.eye(6), atol=1e-12)
    assert np.array_equal(Q, K.random_rotation(6, seed=3))
    assert not np.allclose(Q, K.random_rotation(6, seed=4))
    # Haar: the average of many draws is close to the zero matrix (no preferred direction)
    mean = np.mean([K.random_rotation(3, seed=s) for s in range(400)], axis=0)
    assert np.abs(mean).max() < 0.15


def test_procrustes_rotation_equals_scipy_and_recovers_a_rotation():
    from scipy.linalg import orthogonal_procrustes
    rng = np.random.default_rng(9)
    A = rng.normal(size=(40, 5))
    Q = K.random_rotation(5, seed=1)
    assert np.allclose(K.procrustes_rotation(A, A @ Q), Q, atol=1e-10)
    B = A @ Q + 0.1 * rng.normal(size=A.shape)
    ours = K.procrustes_rotation(A, B)
    ref, _ = orthogonal_procrustes(A, B)
    assert np.allclose(ours, ref, atol=1e-10)
    reflect = np.diag([1.0, 1.0, 1.0, 1.0, -1.0])          # an improper rotation is allowed
    assert np.allclose(K.procrustes_rotation(A, A @ reflect), reflect, atol=1e-10)
    # rank-deficient: the minimiser is not unique, but the minimum is
    A2 = np.hstack([A[:, :2], A[:, :2]])
    R2 = K.procrustes_rotation(A2, B[:, :4])
    ref2, _ = orthogonal_procrustes(A2, B[:, :4])
    assert np.allclose(R2.T @ R2, np.eye(4), atol=1e-10)
    assert np.linalg.norm(A2 @ R2 - B[:, :4]) == pytest.approx(
        np.linalg.norm(A2 @ ref2 - B[:, :4]), rel=1e-10)


def test_pair_features_and_what_a_rotation_changes(E):
    p, q = np.array([0, 1, 2, 5]), np.array([3, 4, 5, 5])
    dot = K.pair_features(E, p, q, "dot")
    assert dot.shape == (4, 1) and np.allclose(dot[:, 0], np.sum(E[p] * E[q], axis=1))
    cos = K.pair_features(E, p, q, "cosine")
    assert np.allclose(cos[:, 0], cosine_similarity(E)[p, q])
    had = K.pair_features(E, p, q, "hadamard")
    assert had.shape == (4, 5) and np.allclose(had.sum(axis=1), dot[:, 0])
    cat = K.pair_features(E, p, q, "concat")
    assert cat.shape == (4, 10) and np.array_equal(cat[:, 5:], E[q])
    Q = K.random_rotation(5, seed=0)
    for reader in ("dot", "cosine"):
        assert np.allclose(K.pair_features(E @ Q, p, q, reader), K.pair_features(E, p, q, reader))
    assert not np.allclose(K.pair_features(E @ Q, p, q, "hadamard"), had)
    # the concatenation turns by the block-diagonal rotation diag(Q, Q)
    block = np.kron(np.eye(2), Q)
    assert np.allclose(K.pair_features(E @ Q, p, q, "concat"), cat @ block)


def test_bad_input_of_the_new_functions():
    with pytest.raises(TypeError, match="sequences must be a list"):
        K.cooccurrence_counts("abc", 3)
    with pytest.raises(TypeError, match="integer ids"):
        K.cooccurrence_counts([[0.5, 1.0]], 3)
    with pytest.raises(ValueError, match="outside 0..2"):
        K.cooccurrence_counts([[0, 3]], 3)
    with pytest.raises(ValueError, match="window must be >= 1"):
        K.cooccurrence_counts([[0, 1]], 3, 0)
    with pytest.raises(TypeError, match="dynamic must be True or False"):
        K.cooccurrence_counts([[0, 1]], 3, dynamic=1)
    with pytest.raises(ValueError, match="counts must be >= 0"):
        K.noise_distribution([1.0, -1.0])
    with pytest.raises(ValueError, match="all zero"):
        K.noise_distribution([0.0, 0.0])
    with pytest.raises(ValueError, match="square"):
        K.pmi_pairs(np.ones((2, 3)))
    with pytest.raises(ValueError, match="all zeros"):
        K.pmi_pairs(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="noise has 3 entries for 2 items"):
        K.pmi_pairs(np.ones((2, 2)), np.ones(3) / 3)
    with pytest.raises(ValueError, match="probability distribution"):
        K.pmi_pairs(np.ones((2, 2)), np.array([0.7, 0.7]))
    with pytest.raises(ValueError, match="probability 0"):
        K.pmi_pairs(np.ones((2, 2)), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="min_count must be > 0"):
        K.pmi_pairs(np.ones((2, 2)), min_count=0)
    with pytest.raises(ValueError, match="d must be >= 1"):
        K.random_rotation(0)
    with pytest.raises(ValueError, match="same shape"):
        K.procrustes_rotation(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="reader must be one of"):
        K.pair_features(np.ones((3, 2)), [0], [1], "sum")
    with pytest.raises(ValueError, match="p and q must have the same length"):
        K.pair_features(np.ones((3, 2)), [0, 1], [1], "dot")
    with pytest.raises(ValueError, match="q holds ids outside"):
        K.pair_features(np.ones((3, 2)), [0], [3], "dot")
    with pytest.raises(ValueError, match="row of zeros"):
        K.pair_features(np.array([[1.0, 0.0], [0.0, 0.0]]), [0], [1], "cosine")
