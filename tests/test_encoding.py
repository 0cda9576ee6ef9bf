"""Tests of embedlab.encoding against scikit-learn's encoders and FeatureHasher."""

import numpy as np
import pytest
from sklearn.feature_extraction import FeatureHasher
from sklearn import preprocessing as skp
from sklearn.utils import murmurhash3_32 as sk_murmur

from embedlab import encoding as enc


@pytest.fixture(scope="module")
def feed():
    return enc.make_feed_clicks(600, seed=3)


def _split(X):
    return X[:400], X[400:]


@pytest.mark.parametrize("drop", [None, "first"])
def test_one_hot_equals_sklearn(feed, drop):
    ours = enc.OneHotEncoder(drop=drop).fit(feed.X)
    ref = skp.OneHotEncoder(drop=drop, sparse_output=False).fit(feed.X)
    np.testing.assert_array_equal(ours.transform(feed.X), ref.transform(feed.X))
    assert ours.get_feature_names_out(list(feed.feature_names)) == \
        list(ref.get_feature_names_out(list(feed.feature_names)))
    for a, b in zip(ours.categories_, ref.categories_):
        np.testing.assert_array_equal(a, b)


def test_indicator_is_drop_first(feed):
    ref = skp.OneHotEncoder(drop="first", sparse_output=False).fit_transform(feed.X)
    np.testing.assert_array_equal(enc.IndicatorEncoder().fit_transform(feed.X), ref)


def test_one_hot_sparse_output(feed):
    ours = enc.OneHotEncoder(sparse_output=True).fit_transform(feed.X)
    ref = skp.OneHotEncoder(sparse_output=True).fit_transform(feed.X)
    assert abs(ours - ref).max() == 0


def test_one_hot_given_categories_order(feed):
    cats = [list(feed.categories[name]) for name in feed.feature_names]
    ours = enc.OneHotEncoder(categories=cats).fit_transform(feed.X)
    ref = skp.OneHotEncoder(categories=cats, sparse_output=False).fit_transform(feed.X)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("drop", [None, "first"])
def test_unknown_ignored_gives_zero_block(drop):
    train = np.array([["a", "x"], ["b", "y"], ["c", "x"]])
    test = np.array([["d", "y"], ["b", "z"]])
    ours = enc.OneHotEncoder(drop=drop, handle_unknown="ignore").fit(train).transform(test)
    with pytest.warns(UserWarning) if drop else _nullcontext():
        ref = skp.OneHotEncoder(drop=drop, handle_unknown="ignore",
                                sparse_output=False).fit(train).transform(test)
    np.testing.assert_array_equal(ours, ref)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_unknown_error():
    e = enc.OneHotEncoder().fit([["a"], ["b"]])
    with pytest.raises(ValueError, match="unknown at fit time: 'c'"):
        e.transform([["c"]])
    o = enc.OrdinalEncoder().fit([["a"], ["b"]])
    with pytest.raises(ValueError, match="unknown at fit time"):
        o.transform([["c"]])


def test_ordinal_equals_sklearn(feed):
    train, test = _split(feed.X)
    np.testing.assert_array_equal(enc.OrdinalEncoder().fit_transform(feed.X),
                                  skp.OrdinalEncoder().fit_transform(feed.X))
    cats = [list(feed.categories[name]) for name in feed.feature_names]
    np.testing.assert_array_equal(enc.OrdinalEncoder(categories=cats).fit(train).transform(test),
                                  skp.OrdinalEncoder(categories=cats).fit(train).transform(test))


@pytest.mark.parametrize("value", [-1, np.nan])
def test_ordinal_unknown_value(value):
    train, test = [["lo"], ["mid"], ["hi"]], [["hi"], ["huge"]]
    ours = enc.OrdinalEncoder(handle_unknown="use_encoded_value",
                              unknown_value=value).fit(train).transform(test)
    ref = skp.OrdinalEncoder(handle_unknown="use_encoded_value",
                             unknown_value=value).fit(train).transform(test)
    np.testing.assert_array_equal(ours, ref)


def test_encoders_bad_arguments():
    with pytest.raises(ValueError, match="drop must be one of"):
        enc.OneHotEncoder(drop="last")
    with pytest.raises(ValueError, match="handle_unknown must be one of"):
        enc.OneHotEncoder(handle_unknown="skip")
    with pytest.raises(TypeError, match="sparse_output must be True or False"):
        enc.OneHotEncoder(sparse_output=1)
    with pytest.raises(TypeError, match="unknown_value must be a number"):
        enc.OrdinalEncoder(handle_unknown="use_encoded_value")
    with pytest.raises(ValueError, match="unknown_value is only used"):
        enc.OrdinalEncoder(unknown_value=-1)
    with pytest.raises(TypeError, match="X must be a 2-D array-like"):
        enc.OneHotEncoder().fit("abc")
    with pytest.raises(ValueError, match="X must be 2-D"):
        enc.OneHotEncoder().fit(["a", "b"])
    with pytest.raises(ValueError, match="at least one row"):
        enc.OneHotEncoder().fit(np.empty((0, 2)))
    with pytest.raises(ValueError, match="categories has 1 lists but X has 2 columns"):
        enc.OneHotEncoder(categories=[["a"]]).fit([["a", "b"]])
    with pytest.raises(ValueError, match="repeated values"):
        enc.OrdinalEncoder(categories=[["a", "a"]]).fit([["a"]])
    with pytest.raises(ValueError, match="values not in categories"):
        enc.OrdinalEncoder(categories=[["a"]]).fit([["b"]])
    with pytest.raises(ValueError, match="single category"):
        enc.IndicatorEncoder().fit([["a"], ["a"]])
    with pytest.raises(RuntimeError, match="call fit before transform"):
        enc.OneHotEncoder().transform([["a"]])
    with pytest.raises(ValueError, match="X has 2 columns, the encoder was fitted on 1"):
        enc.OneHotEncoder().fit([["a"]]).transform([["a", "b"]])
    with pytest.raises(ValueError, match="contains NaN"):
        enc.OneHotEncoder().fit([[1.0], [np.nan]])


def test_murmurhash_equals_sklearn():
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghij XYZ0123456789=_-") + ["é", "ü", "中", "🙂"]
    for length in range(0, 14):
        for _ in range(20):
            s = "".join(rng.choice(alphabet, size=length))
            assert enc.murmurhash3_32(s) == sk_murmur(s, positive=False)
    for seed in (1, 42, 2**32 - 1):
        assert enc.murmurhash3_32(b"embedding", seed) == sk_murmur(b"embedding", seed=seed)


@pytest.mark.parametrize("alternate_sign", [True, False])
@pytest.mark.parametrize("n_features", [1, 7, 2**10])
def test_hash_features_equals_feature_hasher(feed, alternate_sign, n_features):
    samples = [[f"{n}={v}" for n, v in zip(feed.feature_names, row)] + ["bias", "bias"]
               for row in feed.X[:200]]
    ours = enc.hash_features(samples, n_features, alternate_sign=alternate_sign)
    ref = FeatureHasher(n_features, input_type="string",
                        alternate_sign=alternate_sign).transform(samples)
    assert ours.shape == ref.shape
    assert abs(ours - ref).max() == 0


def test_hashing_bad_arguments():
    with pytest.raises(TypeError, match="key must be str or bytes"):
        enc.murmurhash3_32(12)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        enc.murmurhash3_32("a", -1)
    with pytest.raises(ValueError, match="n_features must be >= 1"):
        enc.hash_features([["a"]], 0)
    with pytest.raises(TypeError, match="samples must be a list of token lists"):
        enc.hash_features("abc", 8)
    with pytest.raises(TypeError, match=r"samples\[0\] must be a list of strings"):
        enc.hash_features(["abc"], 8)
    with pytest.raises(TypeError, match="tokens must be strings"):
        enc.hash_features([[1, 2]], 8)
    with pytest.raises(TypeError, match="alternate_sign must be True or False"):
        enc.hash_features([["a"]], 8, alternate_sign="yes")


def test_make_feed_clicks_seeded_and_recoverable():
    a = enc.make_feed_clicks(3000, seed=1)
    b = enc.make_feed_clicks(3000, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.X.shape == (3000, 3) and set(np.unique(a.y)) == {0, 1}
    # the empirical click rate of each topic follows the order of the true effects
    rates = {t: a.y[a.X[:, 0] == t].mean() for t in a.categories["topic"]}
    by_effect = sorted(rates, key=lambda t: a.effects["topic"][t])
    assert rates[by_effect[0]] < rates[by_effect[-1]]
    with pytest.raises(ValueError, match="n must be >= 1"):
        enc.make_feed_clicks(0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        enc.make_feed_clicks(10, seed=1.5)


def test_make_category_clicks_follows_its_model():
    effects = {"zeta": 0.0, "alpha": 1.5, "mid": -1.0}
    a = enc.make_category_clicks(30000, effects, intercept=-0.5, name="source", seed=4)
    b = enc.make_category_clicks(30000, effects, intercept=-0.5, name="source", seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.X.shape == (30000, 1) and a.feature_names == ("source",)
    assert a.categories["source"] == ("zeta", "alpha", "mid")       # the order given, not sorted
    for cat, effect in effects.items():
        rows = a.X[:, 0] == cat
        p = 1 / (1 + np.exp(-(-0.5 + effect)))
        se = np.sqrt(p * (1 - p) / rows.sum())
        assert abs(a.y[rows].mean() - p) < 4 * se, cat
        assert abs(rows.mean() - 1 / 3) < 0.02                      # uniform by default
    skewed = enc.make_category_clicks(20000, {"a": 0.0, "b": 0.0}, probabilities=[0.9, 0.1], seed=0)
    assert abs((skewed.X[:, 0] == "a").mean() - 0.9) < 0.01
    other = enc.make_category_clicks(30000, effects, intercept=-0.5, name="source", seed=5)
    assert not np.array_equal(a.y, other.y)


def test_make_category_clicks_bad_arguments():
    with pytest.raises(TypeError, match="effects must be a dict"):
        enc.make_category_clicks(10, [("a", 1.0)])
    with pytest.raises(ValueError, match="effects is empty"):
        enc.make_category_clicks(10, {})
    with pytest.raises(TypeError, match="keys of effects"):
        enc.make_category_clicks(10, {1: 0.5})
    with pytest.raises(TypeError, match=r"effects\['a'\] must be a real number"):
        enc.make_category_clicks(10, {"a": "big"})
    with pytest.raises(ValueError, match="probabilities has 1 entries for 2 categories"):
        enc.make_category_clicks(10, {"a": 0.0, "b": 1.0}, probabilities=[1.0])
    with pytest.raises(ValueError, match="non-negative and sum to 1"):
        enc.make_category_clicks(10, {"a": 0.0, "b": 1.0}, probabilities=[0.7, 0.7])
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        enc.make_category_clicks(10, {"a": 0.0}, name="")
    with pytest.raises(TypeError, match="name must be a string, got int"):
        enc.make_category_clicks(10, {"a": 0.0}, name=3)
    with pytest.raises(ValueError, match="n must be >= 1"):
        enc.make_category_clicks(0, {"a": 0.0})
    with pytest.raises(ValueError, match="intercept must be finite"):
        enc.make_category_clicks(10, {"a": 0.0}, intercept=float("inf"))


def test_vocabulary_growth_counts_distinct_prefix_tokens():
    rng = np.random.default_rng(2)
    # Zipf-like tokens: many repeats and a long tail, as in real text
    tokens = [f"w{k}" for k in rng.zipf(1.5, size=3000)]
    sizes = [3000, 0, 1, 17, 500, 2999, 500]                         # unsorted, repeated, edges
    got = enc.vocabulary_growth(tokens, sizes)
    assert got.dtype == np.int64
    assert got.tolist() == [len(set(tokens[:s])) for s in sizes]
    assert enc.vocabulary_growth(["a", "a", "a"], [0, 3]).tolist() == [0, 1]
    assert enc.vocabulary_growth([], []).tolist() == []
    assert enc.vocabulary_growth(("x", "y"), np.array([2])).tolist() == [2]


def test_vocabulary_growth_bad_arguments():
    with pytest.raises(TypeError, match="tokens must be a list of strings"):
        enc.vocabulary_growth("abc", [1])
    with pytest.raises(TypeError, match="tokens must be a list of strings"):
        enc.vocabulary_growth(iter(["a"]), [1])
    with pytest.raises(TypeError, match=r"tokens must be strings, tokens\[1\] is 3"):
        enc.vocabulary_growth(["a", 3], [2])
    with pytest.raises(TypeError, match=r"tokens must be strings, tokens\[0\] is \['a'\]"):
        enc.vocabulary_growth([["a"]], [1])
    with pytest.raises(ValueError, match="sizes must lie between 0 and len"):
        enc.vocabulary_growth(["a", "b"], [3])
    with pytest.raises(ValueError, match="sizes must lie between 0 and len"):
        enc.vocabulary_growth(["a", "b"], [-1])
    with pytest.raises(ValueError, match="sizes must be 1-D"):
        enc.vocabulary_growth(["a", "b"], [[1]])
    with pytest.raises(TypeError, match="sizes must hold integers"):
        enc.vocabulary_growth(["a", "b"], [1.5])
