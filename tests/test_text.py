"""Tests of embedlab.text against scikit-learn's vectorizers and cosine similarity."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import pearsonr, spearmanr
from sklearn.feature_extraction import text as skt
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from embedlab import data
from embedlab import text as T

OPTIONS = list(itertools.product([True, False], [None, "english"], [True, False],
                                 [True, False], ["l2", "l1", None]))


@pytest.fixture(scope="module")
def background():
    return data.load_lee_background()


@pytest.mark.parametrize("lowercase,stop_words", list(itertools.product([True, False],
                                                                        [None, "english"])))
def test_counts_equal_sklearn(background, lowercase, stop_words):
    ours = T.CountVectorizer(lowercase=lowercase, stop_words=stop_words)
    ref = skt.CountVectorizer(lowercase=lowercase, stop_words=stop_words)
    A, B = ours.fit_transform(background), ref.fit_transform(background)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert ours.vocabulary_ == ref.vocabulary_
    assert A.shape == B.shape
    assert abs(A - B).max() == 0


@pytest.mark.parametrize("lowercase,stop_words,smooth_idf,sublinear_tf,norm", OPTIONS)
def test_tfidf_equals_sklearn_on_lee_background(background, lowercase, stop_words, smooth_idf,
                                                 sublinear_tf, norm):
    kw = dict(lowercase=lowercase, stop_words=stop_words, smooth_idf=smooth_idf,
              sublinear_tf=sublinear_tf, norm=norm)
    ours, ref = T.TfidfVectorizer(**kw), skt.TfidfVectorizer(**kw)
    A, B = ours.fit_transform(background), ref.fit_transform(background)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert A.shape == B.shape
    assert abs(A - B).max() < 1e-12
    np.testing.assert_allclose(ours.idf_, ref.idf_, rtol=0, atol=1e-12)


def test_transform_new_documents_equals_sklearn(background):
    lee, _ = data.load_lee()
    ours = T.TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(background)
    ref = skt.TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(background)
    assert abs(ours.transform(lee) - ref.transform(lee)).max() < 1e-12
    c_ours = T.CountVectorizer().fit(background)
    c_ref = skt.CountVectorizer().fit(background)
    assert abs(c_ours.transform(lee) - c_ref.transform(lee)).max() == 0


@pytest.mark.filterwarnings("ignore:Your stop_words may be inconsistent")
def test_tokenize_equals_sklearn_analyzer():
    doc = "The Cat sat on THE mat; the cat's 2 mats: été, a I."
    for lowercase, stop in itertools.product([True, False], [None, "english", ["cat", "The"]]):
        ref = skt.CountVectorizer(lowercase=lowercase, stop_words=stop).build_analyzer()(doc)
        assert T.tokenize(doc, lowercase=lowercase, stop_words=stop) == ref


def test_custom_token_pattern():
    doc = "a b cc"
    assert T.tokenize(doc, token_pattern=r"\w+") == ["a", "b", "cc"]
    ref = skt.CountVectorizer(token_pattern=r"\w+").fit_transform([doc, "b b"])
    ours = T.CountVectorizer(token_pattern=r"\w+").fit_transform([doc, "b b"])
    assert abs(ours - ref).max() == 0


def test_idf_and_tfidf_functions_on_dense_counts():
    counts = np.array([[3, 0, 1], [2, 0, 0], [3, 0, 0], [4, 0, 0], [3, 2, 0], [3, 0, 2]])
    for smooth, sub, norm in itertools.product([True], [True, False], ["l2", "l1", None]):
        tr = skt.TfidfTransformer(smooth_idf=smooth, sublinear_tf=sub, norm=norm).fit(counts)
        idf = T.idf_weights(counts, smooth_idf=smooth)
        np.testing.assert_allclose(idf, tr.idf_, rtol=0, atol=1e-12)
        ours = T.tfidf_weight(counts, idf, sublinear_tf=sub, norm=norm).toarray()
        np.testing.assert_allclose(ours, tr.transform(counts).toarray(), rtol=0, atol=1e-12)


def test_cosine_similarity_equals_sklearn(background):
    X = T.TfidfVectorizer(norm=None).fit_transform(background[:40])
    np.testing.assert_allclose(T.cosine_similarity(X), sk_cosine(X), rtol=0, atol=1e-12)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    A[2] = 0.0  # a zero row has similarity 0 with everything, as in scikit-learn
    np.testing.assert_allclose(T.cosine_similarity(A, B), sk_cosine(A, B), atol=1e-12)
    np.testing.assert_allclose(T.cosine_similarity(sp.csr_array(A), B), sk_cosine(A, B),
                               atol=1e-12)


def test_cosine_ignores_length():
    x = np.array([[1.0, 2.0, 0.0], [3.0, 6.0, 0.0], [0.0, 0.0, 5.0]])
    S = T.cosine_similarity(x)
    assert S[0, 1] == pytest.approx(1.0) and S[0, 2] == pytest.approx(0.0)


def test_normalize_rows_equals_sklearn():
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 5))
    A[3] = 0
    for norm in ("l1", "l2"):
        np.testing.assert_allclose(T.normalize_rows(A, norm), normalize(A, norm=norm),
                                   atol=1e-15)
        np.testing.assert_allclose(T.normalize_rows(sp.csr_array(A), norm).toarray(),
                                   normalize(A, norm=norm), atol=1e-15)


def test_nearest_documents_matches_brute_force(background):
    X = T.TfidfVectorizer(stop_words="english").fit_transform(background[:60])
    S = sk_cosine(X)
    for q in (0, 17, 59):
        idx, sims = T.nearest_documents(X, q, k=4)
        order = [j for j in np.argsort(-S[q], kind="stable") if j != q][:4]
        assert list(idx) == order
        np.testing.assert_allclose(sims, S[q, order], atol=1e-12)
        assert q not in idx and np.all(np.diff(sims) <= 0)


def test_similarity_correlation_uses_upper_triangle_pairs():
    rng = np.random.default_rng(2)
    M = rng.random((6, 6))
    H = rng.random((6, 6))
    pairs = [(i, j) for i in range(6) for j in range(6) if i < j]
    x = [M[i, j] for i, j in pairs]
    y = [H[i, j] for i, j in pairs]
    p, s = T.similarity_correlation(M, H)
    assert p == pytest.approx(pearsonr(x, y)[0], abs=1e-12)
    assert s == pytest.approx(spearmanr(x, y)[0], abs=1e-12)


def test_text_bad_arguments():
    with pytest.raises(TypeError, match="doc must be a string"):
        T.tokenize(["a"])
    with pytest.raises(ValueError, match="stop_words must be one of"):
        T.tokenize("a", stop_words="french")
    with pytest.raises(TypeError, match="stop_words must hold strings"):
        T.tokenize("a", stop_words=[1])
    with pytest.raises(TypeError, match="lowercase must be True or False"):
        T.CountVectorizer(lowercase="yes")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        T.CountVectorizer(token_pattern="(")
    with pytest.raises(TypeError, match="token_pattern must be a regular expression string"):
        T.CountVectorizer(token_pattern=3)
    with pytest.raises(TypeError, match="got a single string"):
        T.CountVectorizer().fit("one document")
    with pytest.raises(TypeError, match=r"docs\[1\] must be a string"):
        T.CountVectorizer().fit(["a b", 3])
    with pytest.raises(ValueError, match="docs is empty"):
        T.CountVectorizer().fit([])
    with pytest.raises(ValueError, match="vocabulary is empty"):
        T.CountVectorizer(stop_words="english").fit(["the of a", "and"])
    with pytest.raises(RuntimeError, match="call fit before transform"):
        T.TfidfVectorizer().transform(["a b"])
    with pytest.raises(ValueError, match="norm must be one of"):
        T.TfidfVectorizer(norm="max")
    with pytest.raises(TypeError, match="sublinear_tf must be True or False"):
        T.TfidfVectorizer(sublinear_tf=None)
    with pytest.raises(ValueError, match="counts must be non-negative"):
        T.idf_weights(np.array([[1, -1]]))
    with pytest.raises(ValueError, match="infinite without smoothing"):
        T.idf_weights(np.array([[1, 0]]), smooth_idf=False)
    with pytest.raises(ValueError, match="idf has 1 weights for 2 columns"):
        T.tfidf_weight(np.array([[1, 0]]), [1.0])
    with pytest.raises(ValueError, match="X has 2 columns and Y has 3"):
        T.cosine_similarity(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        T.cosine_similarity(np.ones(3))
    with pytest.raises(ValueError, match="query must be <= 2"):
        T.nearest_documents(np.eye(3), 3)
    with pytest.raises(ValueError, match="k must be <= 2"):
        T.nearest_documents(np.eye(3), 0, k=3)
    with pytest.raises(ValueError, match="must be square and of the same shape"):
        T.similarity_correlation(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="constant over the pairs"):
        T.similarity_correlation(np.eye(4), np.random.default_rng(0).random((4, 4)))
