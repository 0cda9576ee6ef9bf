"""Tests of embedlab.dense: PCA and truncated SVD equal scikit-learn's up to signs, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import pearsonr, spearmanr
from sklearn.decomposition import PCA as SkPCA
from sklearn.decomposition import TruncatedSVD as SkTruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from embedlab import data, dense


def align_signs(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Flip each row of ``ours`` to point the same way as the same row of ``ref``."""
    signs = np.sign(np.sum(ours * ref, axis=1))
    signs[signs == 0] = 1.0
    return ours * signs[:, None]


@pytest.fixture(scope="module")
def lee_tfidf():
    return TfidfVectorizer(stop_words="english").fit_transform(data.load_lee_background())


@pytest.fixture(scope="module")
def small_dense():
    rng = np.random.default_rng(1)
    # correlated columns with distinct variances, so the components are well separated
    return rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8)) + rng.normal(size=8)


# ---------------------------------------------------------------- PCA


@pytest.mark.parametrize("shape", [(60, 8), (20, 90), (90, 20), (30, 30)])
def test_pca_equals_sklearn_up_to_sign(shape):
    rng = np.random.default_rng(sum(shape))
    X = rng.normal(size=shape) * np.linspace(3.0, 0.5, shape[1]) + 2.0
    k = min(shape) - 1
    ours = dense.PCA(k).fit(X)
    ref = SkPCA(k, svd_solver="full").fit(X)
    np.testing.assert_allclose(align_signs(ours.components_, ref.components_), ref.components_,
                               atol=1e-8)
    np.testing.assert_allclose(ours.mean_, ref.mean_, atol=1e-12)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-10)
    # scores agree column by column up to the same sign flips
    Zo, Zr = ours.transform(X), ref.transform(X)
    signs = np.sign(np.sum(Zo * Zr, axis=0))
    np.testing.assert_allclose(Zo * signs, Zr, atol=1e-8)


def test_pca_all_components_reconstruct_exactly(small_dense):
    pca = dense.PCA().fit(small_dense)
    assert pca.components_.shape == (8, 8)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(small_dense)), small_dense,
                               atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0, rtol=1e-12)
    # explained variance is the variance (ddof=1) of the scores
    np.testing.assert_allclose(pca.fit_transform(small_dense).var(axis=0, ddof=1),
                               pca.explained_variance_, rtol=1e-10)


def test_pca_components_are_orthonormal_and_sign_convention(small_dense):
    pca = dense.PCA(5).fit(small_dense)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(5), atol=1e-12)
    biggest = pca.components_[np.arange(5), np.argmax(np.abs(pca.components_), axis=1)]
    assert np.all(biggest > 0)


def test_pca_errors(small_dense):
    with pytest.raises(TypeError, match="n_components must be an integer"):
        dense.PCA(2.5)
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        dense.PCA(0)
    with pytest.raises(ValueError, match="larger than min"):
        dense.PCA(9).fit(small_dense)
    with pytest.raises(TypeError, match="PCA needs a dense array"):
        dense.PCA(2).fit(sp.csr_matrix(small_dense))
    with pytest.raises(ValueError, match="X must be 2-D"):
        dense.PCA(1).fit(np.arange(5.0))
    with pytest.raises(ValueError, match="at least 2 rows"):
        dense.PCA(1).fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        dense.PCA(1).fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(RuntimeError, match="call fit"):
        dense.PCA(2).transform(small_dense)
    pca = dense.PCA(2).fit(small_dense)
    with pytest.raises(ValueError, match="X has 3 columns"):
        pca.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Z has 3 columns"):
        pca.inverse_transform(np.ones((2, 3)))


# ---------------------------------------------------------------- truncated SVD


def test_truncated_svd_full_equals_sklearn_on_sparse_tfidf(lee_tfidf):
    k = 15
    ours = dense.TruncatedSVD(k).fit(lee_tfidf)
    ref = SkTruncatedSVD(k, algorithm="arpack", tol=0.0).fit(lee_tfidf)
    np.testing.assert_allclose(align_signs(ours.components_, ref.components_), ref.components_,
                               atol=1e-8)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-8)
    Zo, Zr = ours.transform(lee_tfidf[:40]), ref.transform(lee_tfidf[:40])
    signs = np.sign(np.sum(Zo * Zr, axis=0))
    np.testing.assert_allclose(Zo * signs, Zr, atol=1e-8)


def test_truncated_svd_dense_input_and_fit_transform(small_dense):
    ours = dense.TruncatedSVD(4)
    Z = ours.fit_transform(small_dense)
    ref = SkTruncatedSVD(4, algorithm="arpack", tol=0.0)
    Zr = ref.fit_transform(small_dense)
    signs = np.sign(np.sum(Z * Zr, axis=0))
    np.testing.assert_allclose(Z * signs, Zr, atol=1e-8)
    np.testing.assert_allclose(ours.transform(small_dense), Z, atol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-8)


def test_truncated_svd_eckart_young_error(small_dense):
    """The rank-k error equals the norm of the dropped singular values (computed by numpy)."""
    s_all = np.linalg.svd(small_dense, compute_uv=False)
    svd = dense.TruncatedSVD(3)
    approx = svd.inverse_transform(svd.fit_transform(small_dense))
    assert np.linalg.matrix_rank(approx) == 3
    np.testing.assert_allclose(np.linalg.norm(small_dense - approx),
                               np.sqrt(np.sum(s_all[3:] ** 2)), rtol=1e-10)


def test_randomized_equals_sklearn_on_leading_components(lee_tfidf):
    k = 5
    ours = dense.TruncatedSVD(k, algorithm="randomized", n_iter=30, seed=3).fit(lee_tfidf)
    ref = SkTruncatedSVD(k, algorithm="arpack", tol=0.0).fit(lee_tfidf)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-6)
    np.testing.assert_allclose(align_signs(ours.components_, ref.components_), ref.components_,
                               atol=1e-5)


def test_randomized_svd_exact_on_low_rank_matrix():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(80, 4)) @ rng.normal(size=(4, 50))  # rank 4 exactly
    U, s, Vt = dense.randomized_svd(sp.csr_matrix(A), 4, n_iter=0, seed=0)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False)[:4], rtol=1e-10)
    np.testing.assert_allclose(U @ np.diag(s) @ Vt, A, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(4), atol=1e-12)


def test_svd_flip_keeps_product_and_convention():
    rng = np.random.default_rng(0)
    U, s, Vt = np.linalg.svd(rng.normal(size=(6, 4)), full_matrices=False)
    U2, Vt2 = dense.svd_flip(-U, -Vt)
    np.testing.assert_allclose(U2 @ np.diag(s) @ Vt2, U @ np.diag(s) @ Vt, atol=1e-12)
    assert np.all(Vt2[np.arange(4), np.argmax(np.abs(Vt2), axis=1)] > 0)
    with pytest.raises(ValueError, match="U has 4 columns but Vt has 3 rows"):
        dense.svd_flip(U, Vt[:3])


def test_truncated_svd_errors(small_dense):
    with pytest.raises(ValueError, match="algorithm must be one of"):
        dense.TruncatedSVD(2, algorithm="arpack")
    with pytest.raises(TypeError, match="n_components must be an integer"):
        dense.TruncatedSVD("2")
    with pytest.raises(ValueError, match="n_iter must be >= 0"):
        dense.TruncatedSVD(2, n_iter=-1)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        dense.TruncatedSVD(2, seed=-3)
    with pytest.raises(ValueError, match="larger than min"):
        dense.TruncatedSVD(9).fit(small_dense)
    with pytest.raises(TypeError, match="X must hold numbers"):
        dense.TruncatedSVD(1).fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        dense.TruncatedSVD(1).fit(sp.csr_matrix(np.array([[np.inf, 1.0], [0.0, 2.0]])))
    with pytest.raises(RuntimeError, match="call fit"):
        dense.TruncatedSVD(2).transform(small_dense)
    svd = dense.TruncatedSVD(2).fit(small_dense)
    with pytest.raises(ValueError, match="X has 5 columns"):
        svd.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="Z has 3 columns"):
        svd.inverse_transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="k must be <= 8"):
        dense.randomized_svd(small_dense, 9)


# ---------------------------------------------------------------- LSA and evaluation


def test_cosine_matrix_equals_sklearn(lee_tfidf):
    X = lee_tfidf[:30]
    np.testing.assert_allclose(dense.cosine_matrix(X), cosine_similarity(X), atol=1e-12)
    D = X.toarray()
    D[3] = 0.0  # a zero row: cosine 0, as in scikit-learn
    np.testing.assert_allclose(dense.cosine_matrix(D, D[:5]), cosine_similarity(D, D[:5]),
                               atol=1e-12)
    with pytest.raises(ValueError, match="they must match"):
        dense.cosine_matrix(D, D[:, :5])


def test_lsa_similarities_equal_sklearn_pipeline(lee_tfidf):
    fit, docs = lee_tfidf[50:], lee_tfidf[:50]
    sims = dense.lsa_similarities(fit, docs, [3, 10])
    assert sorted(sims) == [3, 10]
    for k in (3, 10):
        ref = SkTruncatedSVD(k, algorithm="arpack", tol=0.0).fit(fit)
        np.testing.assert_allclose(sims[k], cosine_similarity(ref.transform(docs)), atol=1e-8)
    with pytest.raises(TypeError, match="ks must be a non-empty sequence"):
        dense.lsa_similarities(fit, docs, 5)
    with pytest.raises(ValueError, match="each rank in ks must be >= 1"):
        dense.lsa_similarities(fit, docs, [0, 2])


def test_pair_correlations_equal_scipy():
    rng = np.random.default_rng(5)
    A = rng.random((12, 12))
    B = rng.random((12, 12))
    A, B = A + A.T, B + B.T
    iu = np.triu_indices(12, 1)
    pearson, spearman = dense.pair_correlations(A, B)
    assert pearson == pytest.approx(pearsonr(A[iu], B[iu])[0], abs=1e-12)
    assert spearman == pytest.approx(spearmanr(A[iu], B[iu])[0], abs=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        dense.pair_correlations(A, B[:5, :5])
    with pytest.raises(ValueError, match="at least 3 documents"):
        dense.pair_correlations(A[:2, :2], B[:2, :2])
    with pytest.raises(ValueError, match="constant"):
        dense.pair_correlations(np.ones((4, 4)), B[:4, :4])


# ---------------------------------------------------------------- limits of counting


def test_distance_ratios_match_scipy_cdist_and_concentrate():
    from scipy.spatial.distance import cdist

    dims = [2, 50]
    for p in (1.0, 2.0, math.inf):
        got = dense.distance_ratios(dims, n_points=100, n_queries=5, p=p, seed=4)
        rng = np.random.default_rng(4)  # same draws, in the same order, as the function
        want = []
        for d in dims:
            points, queries = rng.random((100, d)), rng.random((5, d))
            dist = cdist(queries, points, "chebyshev" if math.isinf(p) else "minkowski",
                         **({} if math.isinf(p) else {"p": p}))
            want.append(np.mean(dist.max(axis=1) / dist.min(axis=1)))
        np.testing.assert_allclose(got, want, rtol=1e-10)
    ratios = dense.distance_ratios([2, 20, 200], n_points=200, n_queries=10, seed=0)
    assert ratios[0] > ratios[1] > ratios[2] > 1.0


def test_distance_ratios_errors():
    with pytest.raises(TypeError, match="dims must be a non-empty sequence"):
        dense.distance_ratios(10)
    with pytest.raises(ValueError, match="each dimension in dims must be >= 1"):
        dense.distance_ratios([0])
    with pytest.raises(ValueError, match="n_points must be >= 2"):
        dense.distance_ratios([2], n_points=1)
    with pytest.raises(ValueError, match="p must be > 0"):
        dense.distance_ratios([2], p=0.0)
    with pytest.raises(TypeError, match="p must be a positive real"):
        dense.distance_ratios([2], p="2")


def test_count_matrix_costs_matches_countvectorizer():
    from sklearn.feature_extraction.text import CountVectorizer

    docs = data.load_lee_background()[:40]
    rows = dense.count_matrix_costs(docs, [10, 40], max_dense_bytes=10**9)
    for row in rows:
        X = CountVectorizer().fit_transform(docs[: row["n_docs"]])
        assert row["n_terms"] == X.shape[1] and row["nnz"] == X.nnz
        assert row["dense_bytes"] == X.shape[0] * X.shape[1] * 8
        assert row["dense_measured"] and row["dense_seconds"] >= row["sparse_seconds"] > 0
        assert row["dense_product_seconds"] > 0 and row["sparse_product_seconds"] > 0
        assert row["sparse_bytes"] < row["dense_bytes"]
    skipped = dense.count_matrix_costs(docs, [40], max_dense_bytes=0)[0]
    assert not skipped["dense_measured"] and math.isnan(skipped["dense_seconds"])
    assert math.isnan(skipped["dense_product_seconds"]) and skipped["sparse_product_seconds"] > 0


def test_count_matrix_costs_errors():
    docs = ["a b", "b c", "c d"]
    with pytest.raises(TypeError, match="docs must be a sequence of strings"):
        dense.count_matrix_costs("a b", [1])
    with pytest.raises(TypeError, match="docs must hold strings"):
        dense.count_matrix_costs(["a", 3], [1])
    with pytest.raises(ValueError, match="each size in sizes must be <= 3"):
        dense.count_matrix_costs(docs, [1, 4])
    with pytest.raises(ValueError, match="strictly increasing"):
        dense.count_matrix_costs(docs, [2, 2])
    with pytest.raises(TypeError, match="sizes must be a non-empty sequence"):
        dense.count_matrix_costs(docs, [])


def test_truncated_svd_works_in_a_sklearn_pipeline(lee_tfidf):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    step = dense.TruncatedSVD(6, algorithm="randomized", n_iter=3, seed=2)
    copy = clone(step)
    assert copy.get_params() == step.get_params() and copy.components_ is None
    pipe = make_pipeline(dense.TruncatedSVD(6), Normalizer()).fit(lee_tfidf)
    ref = make_pipeline(SkTruncatedSVD(6, algorithm="arpack", tol=0.0), Normalizer()).fit(lee_tfidf)
    Zo, Zr = pipe.transform(lee_tfidf[:10]), ref.transform(lee_tfidf[:10])
    np.testing.assert_allclose(np.abs(Zo), np.abs(Zr), atol=1e-8)


# ---------------------------------------------------------------- held-out choice of the rank


def test_split_documents_partitions_and_repeats():
    splits = dense.split_documents(50, n_splits=4, seed=3)
    assert len(splits) == 4
    for validation, test in splits:
        assert len(validation) == 25 and len(test) == 25
        assert np.array_equal(np.sort(np.concatenate([validation, test])), np.arange(50))
        assert np.all(np.diff(validation) > 0) and np.all(np.diff(test) > 0)
    again = dense.split_documents(50, n_splits=4, seed=3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))
    assert not np.array_equal(splits[0][0], splits[1][0])
    # split i is the i-th permutation of the generator
    rng = np.random.default_rng(3)
    order = rng.permutation(50)
    order = rng.permutation(50)
    assert np.array_equal(splits[1][0], np.sort(order[:25]))
    validation, test = dense.split_documents(10, validation_share=0.3)[0]
    assert len(validation) == 3 and len(test) == 7


def test_split_documents_errors():
    with pytest.raises(ValueError, match="n_docs must be >= 6"):
        dense.split_documents(5)
    with pytest.raises(TypeError, match="n_docs must be an integer"):
        dense.split_documents(10.0)
    with pytest.raises(ValueError, match="validation_share must be > 0"):
        dense.split_documents(10, validation_share=0.0)
    with pytest.raises(ValueError, match="validation_share must be < 1"):
        dense.split_documents(10, validation_share=1.0)
    with pytest.raises(ValueError, match="each part needs at least 3"):
        dense.split_documents(10, validation_share=0.2)
    with pytest.raises(ValueError, match="n_splits must be >= 1"):
        dense.split_documents(10, n_splits=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        dense.split_documents(10, seed=-1)


def _symmetric(rng, n, ties=False):
    A = rng.random((n, n))
    if ties:
        A = np.round(A * 4) / 4          # few distinct values: many ties
    return np.triu(A, 1) + np.triu(A, 1).T + np.eye(n)


def test_select_rank_equals_a_loop_over_scipy():
    rng = np.random.default_rng(0)
    n = 16
    human = _symmetric(rng, n, ties=True)
    sims = {k: 0.1 * k * human + _symmetric(rng, n) for k in (1, 3, 8)}
    baseline = _symmetric(rng, n, ties=True)
    splits = dense.split_documents(n, n_splits=3, seed=1)
    for measure, corr in (("pearson", pearsonr), ("spearman", spearmanr)):
        results = dense.select_rank(sims, baseline, human, splits, measure=measure)
        for (validation, test), result in zip(splits, results):
            def score(S, docs):
                iu = np.triu_indices(len(docs), 1)
                sub = np.ix_(docs, docs)
                return corr(S[sub][iu], human[sub][iu])[0]
            want_val = {k: score(S, validation) for k, S in sims.items()}
            assert result["validation"] == pytest.approx(want_val, abs=1e-12)
            best = max(want_val, key=want_val.get)
            assert result["k"] == best
            assert result["test"] == pytest.approx(score(sims[best], test), abs=1e-12)
            assert result["test_baseline"] == pytest.approx(score(baseline, test), abs=1e-12)


def test_select_rank_breaks_ties_towards_the_smaller_rank():
    rng = np.random.default_rng(2)
    human = _symmetric(rng, 8)
    same = human + 0.1 * _symmetric(rng, 8)
    splits = dense.split_documents(8, seed=0)
    result = dense.select_rank({50: same, 5: same, 20: same - human}, same, human, splits)[0]
    assert result["k"] == 5


def test_select_rank_errors():
    rng = np.random.default_rng(3)
    human = _symmetric(rng, 8)
    sims = {2: _symmetric(rng, 8)}
    splits = dense.split_documents(8, seed=0)
    with pytest.raises(ValueError, match="measure must be one of"):
        dense.select_rank(sims, human, human, splits, measure="kendall")
    with pytest.raises(TypeError, match="similarities must be a non-empty dict"):
        dense.select_rank({}, human, human, splits)
    with pytest.raises(ValueError, match=r"similarities\[2\] has shape"):
        dense.select_rank({2: np.eye(5)}, human, human, splits)
    with pytest.raises(ValueError, match="baseline has shape"):
        dense.select_rank(sims, np.eye(5), human, splits)
    with pytest.raises(ValueError, match="human must be a square matrix"):
        dense.select_rank(sims, human, human[:5], splits)
    with pytest.raises(TypeError, match="splits must be a non-empty list"):
        dense.select_rank(sims, human, human, [])
    with pytest.raises(ValueError, match="in both the validation and the test part"):
        dense.select_rank(sims, human, human, [([0, 1, 2], [2, 3, 4])])
    with pytest.raises(ValueError, match="has 2 documents"):
        dense.select_rank(sims, human, human, [([0, 1], [2, 3, 4])])
    with pytest.raises(ValueError, match=r"distinct document indices in \[0, 8\)"):
        dense.select_rank(sims, human, human, [([0, 1, 9], [2, 3, 4])])
    with pytest.raises(TypeError, match="must be a .validation, test. pair"):
        dense.select_rank(sims, human, human, [[0, 1, 2]])
    with pytest.raises(ValueError, match="constant"):
        dense.select_rank({2: np.ones((8, 8))}, human, human, splits)


# ---------------------------------------------------------------- error of a low-rank approximation


def test_low_rank_error_sparse_equals_dense_difference():
    rng = np.random.default_rng(4)
    X = sp.random(40, 30, density=0.2, random_state=5, format="csr")
    U, s, Vt = rng.normal(size=(40, 4)), rng.random(4) + 0.5, rng.normal(size=(4, 30))
    want = np.linalg.norm(X.toarray() - (U * s) @ Vt)   # U, Vt not orthonormal: the general case
    assert dense.low_rank_error(X, U, s, Vt) == pytest.approx(want, rel=1e-10)
    assert dense.low_rank_error(X.toarray(), U, s, Vt) == pytest.approx(want, rel=1e-12)


def test_low_rank_error_of_the_svd_is_eckart_young():
    X = sp.random(60, 200, density=0.05, random_state=6, format="csr")
    U, s, Vt = np.linalg.svd(X.toarray(), full_matrices=False)
    for k in (1, 10, 40):
        assert dense.low_rank_error(X, U[:, :k], s[:k], Vt[:k]) == \
            pytest.approx(np.sqrt(np.sum(s[k:] ** 2)), rel=1e-9)


def test_low_rank_error_errors():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="do not fit X"):
        dense.low_rank_error(X, np.ones((4, 2)), np.ones(2), np.ones((2, 4)))
    with pytest.raises(ValueError, match="do not fit X"):
        dense.low_rank_error(X, np.ones((4, 2)), np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="s must be 1-D"):
        dense.low_rank_error(X, np.ones((4, 2)), np.ones((2, 1)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="X must hold numbers"):
        dense.low_rank_error([["a"]], np.ones((1, 1)), np.ones(1), np.ones((1, 1)))
