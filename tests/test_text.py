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


# --------------------------------------------------------------------------- n-grams

NGRAM_RANGES = [(1, 2), (2, 2), (1, 3), (2, 3)]


@pytest.mark.filterwarnings("ignore:Your stop_words may be inconsistent")
def test_ngrams_equal_sklearn_analyzer():
    doc = "The Prime Minister said the prime minister would act; the minister."
    for ngram_range, stop in itertools.product(NGRAM_RANGES, [None, "english"]):
        ref = skt.CountVectorizer(ngram_range=ngram_range, stop_words=stop).build_analyzer()(doc)
        assert T.tokenize(doc, stop_words=stop, ngram_range=ngram_range) == ref
    # fewer tokens than n: no n-gram of that length, as in scikit-learn
    assert T.ngrams(["a"], (1, 3)) == ["a"]
    assert T.ngrams(["a", "b"], (3, 3)) == []
    assert T.ngrams(["x", "y", "z"], (2, 2)) == ["x y", "y z"]


@pytest.mark.parametrize("ngram_range", NGRAM_RANGES)
def test_ngram_tfidf_equals_sklearn(background, ngram_range):
    kw = dict(stop_words="english", ngram_range=ngram_range, sublinear_tf=True)
    docs = background[:120]
    ours, ref = T.TfidfVectorizer(**kw), skt.TfidfVectorizer(**kw)
    A, B = ours.fit_transform(docs), ref.fit_transform(docs)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert abs(A - B).max() < 1e-12
    lee, _ = data.load_lee()
    assert abs(ours.transform(lee) - ref.transform(lee)).max() < 1e-12


# --------------------------------------------------------------------------- co-occurrence

def _brute_cooccurrence(token_lists, window, vocab):
    """Independent count: every ordered position pair at distance 1..window in one list."""
    index = {w: i for i, w in enumerate(vocab)}
    C = np.zeros((len(vocab), len(vocab)), dtype=np.int64)
    for tokens in token_lists:
        for i, a in enumerate(tokens):
            for j, b in enumerate(tokens):
                if i != j and abs(i - j) <= window and a in index and b in index:
                    C[index[a], index[b]] += 1
    return C


def test_cooccurrence_hand_worked():
    # "a b c a": pairs within 2 are (a,b) (a,c) (b,c) (b,a) (c,a); "b b": (b,b).
    C, vocab = T.cooccurrence([["a", "b", "c", "a"], ["b", "b"]], window=2)
    assert vocab == ["b", "a", "c"]  # b seen 3 times, a twice, c once
    expected = np.array([[2, 2, 1],
                         [2, 0, 2],
                         [1, 2, 0]])
    assert isinstance(C, sp.csr_matrix)
    np.testing.assert_array_equal(C.toarray(), expected)
    # window 1: only neighbours; the two a's are three apart and never pair up
    C1, _ = T.cooccurrence([["a", "b", "c", "a"], ["b", "b"]], window=1, vocabulary=vocab)
    np.testing.assert_array_equal(C1.toarray(), [[2, 1, 1], [1, 0, 1], [1, 1, 0]])


@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_cooccurrence_equals_brute_force(window):
    rng = np.random.default_rng(window)
    words = [f"w{i}" for i in range(9)]
    lists = [list(rng.choice(words, size=rng.integers(0, 12), p=np.linspace(2, 0.2, 9) /
                             np.linspace(2, 0.2, 9).sum())) for _ in range(25)]
    lists.append([])  # an empty list adds nothing
    C, vocab = T.cooccurrence(lists, window=window)
    counts = {w: sum(t.count(w) for t in lists) for w in words}
    seen = [w for w in words if counts[w] > 0]
    assert vocab == sorted(seen, key=lambda w: (-counts[w], w))
    np.testing.assert_array_equal(C.toarray(), _brute_cooccurrence(lists, window, vocab))
    assert (C != C.T).nnz == 0
    # min_count keeps the frequent words only; the kept counts do not change
    C3, vocab3 = T.cooccurrence(lists, window=window, min_count=3)
    assert vocab3 == [w for w in vocab if counts[w] >= 3]
    keep = [vocab.index(w) for w in vocab3]
    np.testing.assert_array_equal(C3.toarray(), C.toarray()[np.ix_(keep, keep)])
    # a given vocabulary: exactly its words, in its order, unseen words give zero rows
    given = ["w4", "unseen", "w0", "w2"]
    Cg, vg = T.cooccurrence(lists, window=window, vocabulary=given)
    assert vg == given
    np.testing.assert_array_equal(Cg.toarray(), _brute_cooccurrence(lists, window, given))
    assert Cg[1].nnz == 0


def test_cooccurrence_does_not_cross_lists_and_counts_neighbours():
    C, vocab = T.cooccurrence([["x"], ["y"]], window=5)
    assert C.nnz == 0 and vocab == ["x", "y"]
    tokens = ["a", "b"] * 10
    C, vocab = T.cooccurrence([tokens], window=3)
    # every position has min(i, 3) + min(n-1-i, 3) neighbours; row sums add them up by word
    n = len(tokens)
    neighbours = {"a": 0, "b": 0}
    for i, t in enumerate(tokens):
        neighbours[t] += min(i, 3) + min(n - 1 - i, 3)
    assert [int(s) for s in C.sum(axis=1).A1] == [neighbours[w] for w in vocab]


# --------------------------------------------------------------------------- PPMI

def _dense_ppmi(C, alpha):
    C = np.asarray(C, dtype=float)
    total = C.sum()
    pw = C.sum(axis=1, keepdims=True) / total
    cs = C.sum(axis=0, keepdims=True) ** alpha
    pc = cs / cs.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log((C / total) / (pw * pc))
    return np.where(C > 0, np.maximum(pmi, 0.0), 0.0)


def test_ppmi_hand_worked():
    # Two words that only ever occur with themselves: P(w,c) = 1/2, P(w) = P(c) = 1/2,
    # so PMI = ln(0.5 / 0.25) = ln 2 on the diagonal, and 0 where the count is 0.
    P = T.ppmi(np.array([[2, 0], [0, 2]]), alpha=1.0)
    np.testing.assert_allclose(P.toarray(), [[np.log(2), 0], [0, np.log(2)]])
    # Independent rows and columns (an outer product) have PMI 0 everywhere with alpha = 1.
    P = T.ppmi(np.outer([1, 2, 3], [4, 5]), alpha=1.0)
    assert isinstance(P, sp.csr_matrix) and np.abs(P.toarray()).max() < 1e-12
    # Smoothing gives a rare context more probability, so its PMI drops.
    C = np.array([[10, 1], [10, 0]])
    assert T.ppmi(C, alpha=0.75)[0, 1] < T.ppmi(C, alpha=1.0)[0, 1]


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5])
def test_ppmi_equals_dense_numpy(alpha):
    rng = np.random.default_rng(int(alpha * 100))
    C = rng.poisson(0.7, size=(12, 9)) * rng.integers(1, 5, size=(12, 9))
    C[3] = 0  # an empty row
    ours = T.ppmi(sp.csr_matrix(C), alpha=alpha)
    np.testing.assert_allclose(ours.toarray(), _dense_ppmi(C, alpha), rtol=0, atol=1e-12)
    assert ours.data.min() > 0  # zeros are not stored
    np.testing.assert_allclose(T.ppmi(C, alpha=alpha).toarray(), ours.toarray())


def test_ppmi_of_cooccurrence_on_text8_head():
    tokens = data.load_text8_head()[:20_000]
    C, vocab = T.cooccurrence([tokens], window=2, min_count=10)
    P = T.ppmi(C)
    np.testing.assert_allclose(P.toarray(), _dense_ppmi(C.toarray(), 0.75), atol=1e-10)
    assert set(zip(*P.nonzero())) <= set(zip(*C.nonzero()))


def test_word_pair_cosines():
    X = np.array([[1.0, 0.0, 1.0], [2.0, 0.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    vocab = ["a", "b", "c", "z"]
    pairs = [("a", "b", 9.0), ("A", "c", 1.0), ("a", "missing", 2.0), ("z", "a", 0.0)]
    for M in (X, sp.csr_matrix(X)):
        got = T.word_pair_cosines(M, vocab, pairs)
        np.testing.assert_allclose(got[[0, 1, 3]], [1.0, 0.0, 0.0], atol=1e-12)
        assert np.isnan(got[2])
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(6, 4))
    names = list("abcdef")
    pairs = [(names[i], names[j]) for i in range(6) for j in range(6)]
    np.testing.assert_allclose(T.word_pair_cosines(Y, names, pairs), sk_cosine(Y).ravel(),
                               atol=1e-12)


# --------------------------------------------------------------------------- bootstrap

def test_pair_bootstrap_matches_scipy_on_each_resample():
    rng = np.random.default_rng(7)
    gold = rng.normal(size=40)
    models = np.vstack([gold + rng.normal(size=40), rng.normal(size=40)])
    got = T.pair_bootstrap(models, gold, method="spearman", n_boot=30, seed=3)
    draws = np.random.default_rng(3).integers(0, 40, size=(30, 40))
    for b in range(30):
        take = draws[b]
        for m in range(2):
            assert got[m, b] == pytest.approx(spearmanr(models[m, take], gold[take])[0],
                                              abs=1e-12)
    got_p = T.pair_bootstrap(models[0], gold, method="pearson", n_boot=5, seed=3)
    take = np.random.default_rng(3).integers(0, 40, size=(5, 40))[0]
    assert got_p.shape == (1, 5)
    assert got_p[0, 0] == pytest.approx(pearsonr(models[0, take], gold[take])[0], abs=1e-12)
    # a model equal to the gold scores correlates perfectly on every resample
    assert np.allclose(T.pair_bootstrap(gold, gold, n_boot=20), 1.0)


def test_document_bootstrap_matches_scipy_and_is_centred():
    lee, human = data.load_lee()
    S = T.cosine_similarity(T.TfidfVectorizer(stop_words="english").fit_transform(lee))
    got = T.document_bootstrap([S, human], human, n_boot=20, seed=1)
    draws = np.random.default_rng(1)
    iu, ju = np.triu_indices(50, k=1)
    for b in range(20):
        d = draws.integers(0, 50, size=50)
        r, c = d[iu], d[ju]
        keep = r != c
        assert got[0, b] == pytest.approx(pearsonr(S[r[keep], c[keep]],
                                                   human[r[keep], c[keep]])[0], abs=1e-12)
    assert np.allclose(got[1], 1.0)
    full = T.similarity_correlation(S, human)[0]
    many = T.document_bootstrap(S, human, n_boot=300, seed=0)[0]
    lo, hi = np.percentile(many, [2.5, 97.5])
    assert lo < full < hi and hi - lo > 0.02


def test_cooccurrence_ppmi_bootstrap_bad_arguments():
    with pytest.raises(TypeError, match="wrap a single token list in a list"):
        T.cooccurrence(["a", "b"])
    with pytest.raises(TypeError, match="token_lists must be a list of token lists"):
        T.cooccurrence("a b")
    with pytest.raises(TypeError, match=r"token_lists\[0\] must hold strings"):
        T.cooccurrence([["a", 1]])
    with pytest.raises(ValueError, match="window must be >= 1"):
        T.cooccurrence([["a", "b"]], window=0)
    with pytest.raises(TypeError, match="window must be an integer"):
        T.cooccurrence([["a", "b"]], window=2.5)
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        T.cooccurrence([["a", "b"]], min_count=0)
    with pytest.raises(ValueError, match="vocabulary is empty"):
        T.cooccurrence([["a", "b"]], min_count=2)
    with pytest.raises(ValueError, match="vocabulary is empty"):
        T.cooccurrence([["a", "b"]], vocabulary=[])
    with pytest.raises(ValueError, match="'a' appears twice"):
        T.cooccurrence([["a", "b"]], vocabulary=["a", "b", "a"])
    with pytest.raises(TypeError, match="vocabulary must hold strings"):
        T.cooccurrence([["a", "b"]], vocabulary=["a", 2])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        T.ppmi(np.ones((2, 2)), alpha=0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        T.ppmi(np.ones((2, 2)), alpha="0.75")
    with pytest.raises(ValueError, match="non-negative counts"):
        T.ppmi(np.array([[1, -1], [0, 2]]))
    with pytest.raises(ValueError, match="all zeros"):
        T.ppmi(sp.csr_matrix((3, 3)))
    with pytest.raises(ValueError, match="C must be 2-D"):
        T.ppmi(np.ones(3))
    with pytest.raises(TypeError, match="ngram_range must be a pair"):
        T.CountVectorizer(ngram_range=2)
    with pytest.raises(ValueError, match="min_n <= max_n"):
        T.TfidfVectorizer(ngram_range=(3, 1))
    with pytest.raises(ValueError, match=r"ngram_range\[0\] must be >= 1"):
        T.tokenize("a b", ngram_range=(0, 1))
    with pytest.raises(TypeError, match="tokens must be a list of strings"):
        T.ngrams("a b")
    with pytest.raises(ValueError, match="vocab has 2 words for 3 rows"):
        T.word_pair_cosines(np.eye(3), ["a", "b"], [("a", "b")])
    with pytest.raises(TypeError, match=r"pairs\[0\] must start with two words"):
        T.word_pair_cosines(np.eye(2), ["a", "b"], [("a",)])
    with pytest.raises(ValueError, match="model_scores has 3 pairs and gold has 4"):
        T.pair_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="method must be one of"):
        T.pair_bootstrap(np.arange(5.0), np.arange(5.0), method="kendall")
    with pytest.raises(ValueError, match="n_boot must be >= 1"):
        T.document_bootstrap(np.eye(4), np.eye(4), n_boot=0)
    with pytest.raises(ValueError, match=r"model_sims\[0\] has shape \(3, 3\)"):
        T.document_bootstrap(np.eye(3), np.eye(4))
