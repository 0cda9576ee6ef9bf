"""Transfer learning: cached states through the original top layer equal the encoder, the probe
picks C on validation, fine-tuning the top layer is seeded, learns, and reloads its epochs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from embedlab import batch, data, transfer  # noqa: E402


@pytest.fixture(scope="module")
def model():
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(1)
    path = str(data.pretrained_model_path())
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def polarity(model):
    encoder, tokenizer = model
    texts, labels = data.load_polarity()
    rows = np.r_[np.flatnonzero(labels == 0)[:20], np.flatnonzero(labels == 1)[:20]]
    texts = [texts[i] for i in rows]
    cached = transfer.cache_states(encoder, tokenizer, texts, 5, max_length=32)
    return texts, labels[rows], cached


def test_cached_states_through_the_top_layer_equal_the_encoder(model, polarity):
    encoder, _ = model
    texts, _, cached = polarity
    assert cached.layer == 5 and len(cached.states) == len(texts)
    ours = transfer.TopLayers(encoder, 1, 2).sentence_vectors(cached)
    ref = batch.SentenceEncoder(max_length=32).encode(texts)
    assert np.allclose(ours, ref, atol=1e-5)
    # states before the last two layers, run through both, give the same vectors
    two = transfer.cache_states(encoder, model[1], texts[:6], 4, max_length=32)
    assert np.allclose(transfer.TopLayers(encoder, 2, 2).sentence_vectors(two), ref[:6], atol=1e-5)


def test_linear_probe_picks_the_best_C_on_validation():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + 0.8 * rng.normal(size=80) > 0).astype(int)
    Cs = (0.001, 0.1, 10.0)
    model, table = transfer.linear_probe(X[:50], y[:50], X[50:], y[50:], Cs=Cs)
    manual = {C: np.mean(LogisticRegression(C=C, max_iter=5000).fit(X[:50], y[:50]).predict(X[50:])
                         == y[50:]) for C in Cs}
    assert table == pytest.approx(manual)
    best = max(Cs, key=lambda C: (manual[C], -C))
    assert model.C == best


def test_fine_tuning_is_seeded_learns_and_reloads_epochs(model, polarity):
    encoder, _ = model
    _, y, cached = polarity
    train, val = np.r_[0:14, 20:34], np.r_[14:20, 34:40]
    top, run = transfer.fine_tune_top(encoder, cached, y, train, val, epochs=3,
                                      learning_rate=3e-4, batch_size=8, seed=1)
    top2, run2 = transfer.fine_tune_top(encoder, cached, y, train, val, epochs=3,
                                        learning_rate=3e-4, batch_size=8, seed=1)
    assert len(run.val_accuracy) == 3 and len(run.states) == 3
    assert run.val_accuracy == run2.val_accuracy and run.losses == pytest.approx(run2.losses)
    losses = np.array(run.losses).reshape(3, -1)
    assert losses[-1].mean() < losses[0].mean()
    # reloading an epoch's weights gives that epoch's validation accuracy back
    top.load_state(run.states[0])
    assert np.mean(top.predict(cached, val) == y[val]) == run.val_accuracy[0]
    # the original encoder is untouched
    assert np.allclose(transfer.TopLayers(encoder, 1, 2).sentence_vectors(cached, [0]),
                       batch.SentenceEncoder(max_length=32).encode([polarity[0][0]]), atol=1e-5)


def test_argument_errors(model, polarity):
    encoder, tokenizer = model
    _, y, cached = polarity
    with pytest.raises(ValueError, match="layer must be <= 6"):
        transfer.cache_states(encoder, tokenizer, ["x"], 7)
    with pytest.raises(ValueError, match="n_top must be <= 6"):
        transfer.TopLayers(encoder, 7, 2)
    with pytest.raises(ValueError, match="one entry per cached text"):
        transfer.fine_tune_top(encoder, cached, y[:5], [0], [1])
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        transfer.fine_tune_top(encoder, cached, y, [0], [1], epochs=0)
    with pytest.raises(ValueError, match="one row per label"):
        transfer.linear_probe(np.zeros((4, 2)), [0, 1, 0], np.zeros((2, 2)), [0, 1])
    last = transfer.CachedStates(cached.states, 6)
    with pytest.raises(ValueError, match="nothing left to fine-tune"):
        transfer.fine_tune_top(encoder, last, y, [0], [1])
