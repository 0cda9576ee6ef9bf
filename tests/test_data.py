"""Offline data loaders: shapes, contents and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab import data


def test_lee_documents_and_symmetric_judgments():
    docs, sims = data.load_lee()
    assert len(docs) == 50 and all(isinstance(d, str) and len(d) > 100 for d in docs)
    assert sims.shape == (50, 50)
    assert np.allclose(sims, sims.T) and np.allclose(np.diag(sims), 1)
    off = sims[np.triu_indices(50, 1)]
    assert 0 <= off.min() and off.max() <= 1 and off.std() > 0.05


def test_lee_background_is_latin1_news():
    docs = data.load_lee_background()
    assert len(docs) == 300
    assert any("é" in d or "'" in d for d in docs)


def test_text8_head_is_lower_case_tokens():
    tokens = data.load_text8_head()
    assert 300_000 < len(tokens) < 400_000
    assert tokens[:2] == ["anarch", "greek"], "the shipped head of text8 is stemmed, stop words removed"
    assert all(t == t.lower() for t in tokens[:1000])


def test_polarity_has_balanced_labels():
    texts, labels = data.load_polarity()
    assert len(texts) == len(labels) == 200
    assert set(labels.tolist()) == {0, 1} and labels.sum() == 100


def test_mini_newsgroups_loads_without_unpickling_code():
    texts, labels, names = data.load_mini_newsgroups()
    assert len(texts) == len(labels) == 200
    assert names == ["alt.atheism", "sci.space"]
    assert set(labels.tolist()) == {0, 1}


def test_restricted_unpickler_refuses_other_globals():
    import io
    import pickle

    evil = pickle.dumps(print)  # a global that is not on the allow list
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data._RestrictedUnpickler(io.BytesIO(evil)).load()


def test_word_similarity_sets():
    ws, sl = data.load_wordsim353(), data.load_simlex999()
    assert len(ws) == 353 and len(sl) == 999
    assert ("tiger", "cat", 7.35) in ws
    assert all(0 <= s <= 10 for _, _, s in ws + sl)


def test_analogies_by_section():
    sections = data.load_analogies()
    assert len(sections) == 14
    assert sum(map(len, sections.values())) == 19544
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")


def test_pretrained_model_folder():
    path = data.pretrained_model_path()
    assert (path / "config.json").exists()
    assert any(path.glob("*.safetensors"))


def test_missing_file_gives_a_clear_error():
    with pytest.raises(FileNotFoundError, match="not in gensim's test data"):
        data.gensim_data_file("no-such-corpus.txt")
    with pytest.raises(TypeError, match="non-empty file name"):
        data.gensim_data_file("")


def test_feed_is_seeded_and_follows_its_model():
    a, b = data.make_feed(n=500, seed=3), data.make_feed(n=500, seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, data.make_feed(n=500, seed=4).y)
    resid = a.y - a.X @ a.true_coef - a.true_intercept
    assert abs(resid.std() - a.noise_std) < 0.3
    assert np.all(np.abs(a.X[:, 3]) <= 1 + 1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n": 1}, ValueError, "n must be >= 2"),
    ({"n": 2.5}, TypeError, "n must be an integer"),
    ({"noise_std": -1.0}, ValueError, "noise_std must be >= 0"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"n_users": "10"}, TypeError, "n_users must be an integer"),
    ({"topic_dim": 0}, ValueError, "topic_dim must be >= 1"),
])
def test_feed_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_feed(**kwargs)


def test_feed_exposes_its_hidden_topics():
    feed = data.make_feed(n=600, n_users=30, n_posts=50, seed=2)
    assert feed.user_topics.shape == (30, 8) and feed.post_topics.shape == (50, 8)
    assert np.allclose(np.linalg.norm(feed.user_topics, axis=1), 1)
    assert np.allclose(np.linalg.norm(feed.post_topics, axis=1), 1)
    match = np.einsum("ij,ij->i", feed.user_topics[feed.user_ids], feed.post_topics[feed.post_ids])
    assert np.allclose(match, feed.X[:, 3]), "topic_match is the cosine of the hidden vectors"
    small = data.make_feed(n=600, n_users=30, n_posts=50, seed=2, topic_dim=3)
    assert small.user_topics.shape == (30, 3)
    # fewer dimensions, larger spread of the cosine of random unit vectors (variance 1/dim)
    assert small.X[:, 3].var() > 2 * feed.X[:, 3].var()


def test_feed_follows_its_documented_draws():
    """The draws in the order the docstring lists them; Chapters 9 and 10 rely on the default
    arguments producing the same feed as before the hidden topics were exposed."""
    n, n_users, n_posts, seed = 400, 20, 30, 7
    feed = data.make_feed(n=n, n_users=n_users, n_posts=n_posts, seed=seed)
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n_users, 8))
    phi = rng.normal(size=(n_posts, 8))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    phi /= np.linalg.norm(phi, axis=1, keepdims=True)
    users, posts = rng.integers(0, n_users, size=n), rng.integers(0, n_posts, size=n)
    age, followers = rng.exponential(12.0, size=n), rng.normal(6.0, 1.5, size=n)
    length = rng.uniform(5, 300, size=n)
    topic = np.einsum("ij,ij->i", theta[users], phi[posts])
    X = np.column_stack([age, followers, length, topic])
    y = 4 + X @ [-0.15, 1.2, 0.02, 6.0] + rng.normal(0.0, 2.0, size=n)
    assert np.array_equal(feed.user_ids, users) and np.array_equal(feed.post_ids, posts)
    assert np.allclose(feed.X, X) and np.allclose(feed.y, y)
    assert np.allclose(feed.user_topics, theta) and np.allclose(feed.post_topics, phi)


# --------------------------------------------------------------------------- MovieLens-100K

def test_movielens_has_the_documented_size_and_ranges():
    ml = data.load_movielens()
    r = ml.ratings
    assert len(r) == 100_000 and ml.n_users == 943 and ml.n_items == 1682
    assert list(r.columns) == ["user", "item", "rating", "timestamp"]
    assert r.user.min() == 0 and r.user.max() == 942 and r.item.max() == 1681
    assert set(r.rating.unique()) == {1, 2, 3, 4, 5}
    assert r.groupby("user").size().min() >= 20          # every user rated at least 20 movies
    assert not r.duplicated(["user", "item"]).any()
    assert 8.7e8 < r.timestamp.min() < r.timestamp.max() < 9.0e8   # Sept 1997 to April 1998
    first = ml.movies.loc[0]
    assert first.movie_id == 1 and first.title == "Toy Story" and first.year == 1995
    assert first.genres == ("Animation", "Children's", "Comedy")
    assert ml.users.loc[0].user_id == 1 and ml.users.loc[0].age == 24
    assert len(ml.kg) == 91_631 and list(ml.kg.columns) == ["head", "relation", "tail"]
    assert ml.links.item.between(0, 1681).all() and ml.links.entity.str.startswith("m.").all()


def test_movielens_missing_gives_the_install_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps recbole==1.2.1"):
        data.load_movielens()
