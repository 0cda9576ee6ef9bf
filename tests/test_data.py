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
])
def test_feed_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_feed(**kwargs)
