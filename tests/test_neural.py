"""embedlab.neural: the MLP against torch, the text models and the tiny GPT against torch pieces."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from embedlab import neural
from embedlab.autograd import Tensor


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small models run faster on one thread on a busy machine; restore the setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _torch_copy(mlp):
    layers = []
    for i in range(0, len(mlp.params), 2):
        w, b = mlp.params[i].data, mlp.params[i + 1].data
        lin = torch.nn.Linear(*w.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
    return layers


def test_mlp_training_steps_equal_torch_sgd():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    mlp = neural.MLP([3, 8, 6, 3], activation="tanh", seed=1)
    layers = _torch_copy(mlp)
    opt = torch.optim.SGD([p for lin in layers for p in lin.parameters()], lr=0.3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(5):
        opt.zero_grad()
        h = torch.tanh(layers[0](Xt))
        h = torch.tanh(layers[1](h))
        F.cross_entropy(layers[2](h), yt).backward()
        opt.step()
    mlp.fit(X, y, epochs=5, learning_rate=0.3)
    for i, lin in enumerate(layers):
        assert np.max(np.abs(mlp.params[2 * i].data - lin.weight.detach().numpy().T)) < 1e-10
        assert np.max(np.abs(mlp.params[2 * i + 1].data - lin.bias.detach().numpy())) < 1e-10
    assert len(mlp.loss_history_) == 5


def test_mlp_learns_a_nonlinear_boundary_better_than_a_linear_model():
    from sklearn.datasets import make_moons
    from sklearn.linear_model import LogisticRegression

    X, y = make_moons(300, noise=0.15, random_state=0)
    Xtr, ytr, Xte, yte = X[:200], y[:200], X[200:], y[200:]
    mlp = neural.MLP([2, 16, 2], activation="tanh", seed=0).fit(Xtr, ytr, epochs=400,
                                                                  learning_rate=0.5)
    linear = LogisticRegression().fit(Xtr, ytr).score(Xte, yte)
    ours = (mlp.predict(Xte) == yte).mean()
    assert ours > linear + 0.05
    assert np.allclose(mlp.predict_proba(Xte).sum(axis=1), 1.0)


def test_tokenize_vocab_encode():
    assert neural.tokenize("It's 3 DOGS, isn't it?") == ["it's", "3", "dogs", "isn't", "it"]
    post = "From: a@b\nNewsgroups: sci.space\n\nThe body.\n\nMore."
    assert neural.strip_newsgroup_header(post) == "The body.\n\nMore."
    docs = [["b", "a", "b"], ["c", "b"], []]
    vocab = neural.build_vocab(docs)
    assert vocab == {"<pad>": 0, "<unk>": 1, "b": 2, "a": 3, "c": 4}
    assert neural.build_vocab(docs, min_count=2) == {"<pad>": 0, "<unk>": 1, "b": 2}
    assert len(neural.build_vocab(docs, max_size=3)) == 3
    ids, lengths = neural.encode(docs + [["z", "a", "b", "c"]], vocab, max_len=3)
    assert ids.tolist() == [[2, 3, 2], [4, 2, 0], [1, 0, 0], [1, 3, 2]]
    assert lengths.tolist() == [3, 2, 1, 3]


def test_bag_classifier_features_equal_embedding_bag_mean():
    model = neural.TextClassifier(30, 2, kind="bag", dim=5, seed=0)
    ids = np.array([[3, 4, 5, 0], [7, 0, 0, 0], [1, 2, 9, 9]])
    lengths = np.array([3, 1, 4])
    bag = torch.nn.EmbeddingBag(30, 5, mode="mean", padding_idx=0)
    with torch.no_grad():
        bag.weight.copy_(model.embedding.weight)
        ours = model.features(torch.from_numpy(ids), torch.from_numpy(lengths))
        ref = bag(torch.from_numpy(ids))
    assert torch.max(torch.abs(ours - ref)) < 1e-6


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_recurrent_features_ignore_padding(kind, pool):
    """Padded batch = each sequence run alone through the same torch layer."""
    model = neural.TextClassifier(20, 3, kind=kind, dim=4, hidden=6, pool=pool, seed=0)
    ids = np.array([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
    lengths = np.array([4, 2, 1])
    with torch.no_grad():
        ours = model.features(torch.from_numpy(ids), torch.from_numpy(lengths))
        for i, n in enumerate(lengths):
            out, state = model.encoder(model.embedding(torch.from_numpy(ids[i:i + 1, :n])))
            ref = out[0].mean(0) if pool == "mean" else out[0, -1]
            assert torch.max(torch.abs(ours[i] - ref)) < 1e-6


def test_train_classifier_and_predict_on_a_keyword_task():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=60)
    docs = [[("good" if y else "bad")] + list(rng.choice(["x", "y", "z"], size=5)) for y in labels]
    vocab = neural.build_vocab(docs)
    ids, lengths = neural.encode(docs, vocab, max_len=6)
    model = neural.TextClassifier(len(vocab), 2, kind="bag", dim=8, seed=0)
    history = neural.train_classifier(model, ids, lengths, labels, epochs=15, learning_rate=0.05)
    assert history[-1] < history[0]
    pred = neural.predict(model, ids, lengths)
    assert pred.shape == (60,) and (pred == labels).mean() == 1.0


def test_time_per_sequence_shapes():
    for kind in ("rnn", "lstm", "attention"):
        t = neural.time_per_sequence(kind, [4, 8], dim=8, batch=2, num_heads=2, repeats=1)
        assert t.shape == (2,) and np.all(t > 0)


def test_causal_self_attention_equals_torch_sdpa():
    torch.manual_seed(0)
    layer = neural.CausalSelfAttention(12, 3)
    x = torch.randn(2, 7, 12)
    with torch.no_grad():
        ours = layer(x)
        q, k, v = layer.qkv(x).split(12, dim=2)
        q, k, v = (z.view(2, 7, 3, 4).transpose(1, 2) for z in (q, k, v))
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        ref = layer.proj(ref.transpose(1, 2).reshape(2, 7, 12))
    assert torch.max(torch.abs(ours - ref)) < 1e-5
    w = layer.last_weights
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7))
    assert torch.all(torch.triu(w, diagonal=1) == 0)


def test_tiny_gpt_is_causal_and_trains():
    vocab = neural.CharVocab("ab ")
    data = vocab.encode("ab " * 200)
    model = neural.TinyGPT(len(vocab), context=8, d_model=16, num_heads=2, num_layers=1, seed=0)
    ids = torch.from_numpy(data[:8][None])
    changed = ids.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 3  # change the future only
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.allclose(a[0, :5], b[0, :5]) and not torch.allclose(a[0, 5:], b[0, 5:])
    logits, hidden = model(ids, return_hidden=True)
    assert logits.shape == (1, 8, 3) and len(hidden) == 2
    maps = model.attention_maps()
    assert len(maps) == 1 and maps[0].shape == (1, 2, 8, 8)
    before = neural.lm_loss(model, data, n_windows=16)
    history = neural.train_tiny_gpt(model, data, steps=60, batch_size=8, learning_rate=1e-2)
    after = neural.lm_loss(model, data, n_windows=16)
    assert len(history) == 60 and after < 0.5 * before
    # The pattern is deterministic: generation continues it.
    out = neural.generate(model, vocab.encode("ab "), 9, temperature=0.1)
    assert vocab.decode(out) == "ab " * 4
    again = neural.generate(model, vocab.encode("ab "), 9, temperature=0.1)
    assert np.array_equal(out, again)


def test_lm_loss_equals_torch_cross_entropy_on_the_same_windows():
    vocab = neural.CharVocab()
    data = vocab.encode("the quick brown fox jumps over the lazy dog " * 3)
    model = neural.TinyGPT(len(vocab), context=10, d_model=8, num_heads=2, num_layers=1, seed=0)
    rng = np.random.default_rng(5)
    starts = rng.integers(0, len(data) - 10, size=4)
    x = torch.from_numpy(np.stack([data[s:s + 10] for s in starts]))
    y = torch.from_numpy(np.stack([data[s + 1:s + 11] for s in starts]))
    with torch.no_grad():
        ref = F.cross_entropy(model(x).reshape(-1, 27), y.reshape(-1)).item()
    assert neural.lm_loss(model, data, n_windows=4, seed=5) == pytest.approx(ref, abs=1e-6)


def test_bigram_loss_equals_counting():
    train = np.array([0, 1, 2, 1, 0, 1, 1, 2])
    test = np.array([1, 2, 0, 1])
    pairs = Counter(zip(train[:-1], train[1:]))
    firsts = Counter(train[:-1])
    expected = -np.mean([np.log((pairs[(a, b)] + 0.5) / (firsts[a] + 0.5 * 3))
                         for a, b in zip(test[:-1], test[1:])])
    assert neural.bigram_loss(train, test, 3, alpha=0.5) == pytest.approx(expected, abs=1e-12)


def test_char_vocab_and_text8_characters():
    vocab = neural.CharVocab()
    assert len(vocab) == 27
    assert vocab.decode(vocab.encode("hello world")) == "hello world"
    text = neural.text8_characters(5000)
    assert len(text) == 5000 and set(text) <= set(" abcdefghijklmnopqrstuvwxyz")
    assert "  " not in text


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="sizes needs at least 2"):
        neural.MLP([3])
    with pytest.raises(TypeError, match="sizes must be a list"):
        neural.MLP(3)
    with pytest.raises(ValueError, match="activation must be one of"):
        neural.MLP([2, 2], activation="softsign")
    mlp = neural.MLP([2, 3, 2])
    with pytest.raises(ValueError, match="X has 3 features"):
        mlp.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y must hold class ids in \[0, 2\)"):
        mlp.fit(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        mlp.fit(np.zeros((2, 2)), [0, 1], learning_rate=0.0)
    with pytest.raises(TypeError, match="text must be a string"):
        neural.tokenize(None)
    with pytest.raises(TypeError, match=r"docs\[0\] must be a list of tokens"):
        neural.build_vocab(["abc"])
    with pytest.raises(ValueError, match="vocab must be a dict from build_vocab"):
        neural.encode([["a"]], {"a": 0}, max_len=2)
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        neural.encode([["a"]], neural.build_vocab([["a"]]), max_len=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        neural.TextClassifier(10, 2, kind="gru")
    with pytest.raises(ValueError, match="pool must be one of"):
        neural.TextClassifier(10, 2, kind="rnn", pool="max")
    model = neural.TextClassifier(10, 2)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        neural.predict(model, np.zeros((2, 3), dtype=int), [1, 4])
    with pytest.raises(ValueError, match="same number of rows"):
        neural.train_classifier(model, np.ones((2, 3), dtype=int), [1, 1], [0, 1, 1])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        neural.predict("model", np.ones((1, 2), dtype=int), [1])
    with pytest.raises(ValueError, match="kind must be one of"):
        neural.time_per_sequence("gru", [4])
    with pytest.raises(TypeError, match="lengths must be a non-empty list"):
        neural.time_per_sequence("rnn", [])
    with pytest.raises(ValueError, match="must divide dim"):
        neural.time_per_sequence("attention", [4], dim=10, num_heads=4)
    with pytest.raises(ValueError, match="not in the alphabet"):
        neural.CharVocab().encode("ABC")
    with pytest.raises(ValueError, match="must not repeat"):
        neural.CharVocab("aa")
    with pytest.raises(ValueError, match="num_heads=3 must divide d_model=8"):
        neural.TinyGPT(5, d_model=8, num_heads=3)
    gpt = neural.TinyGPT(5, context=4, d_model=8, num_heads=2, num_layers=1)
    with pytest.raises(ValueError, match="longer than the context"):
        gpt(torch.zeros(1, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="data needs at least 6 tokens"):
        neural.train_tiny_gpt(gpt, np.array([0, 1, 2]), steps=1)
    with pytest.raises(ValueError, match=r"data must hold ids in \[0, 5\)"):
        neural.train_tiny_gpt(gpt, np.arange(10), steps=1)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        neural.train_tiny_gpt(gpt, np.zeros(10, dtype=int), steps=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        neural.generate(gpt, np.array([1]), 3, temperature=0.0)
    with pytest.raises(ValueError, match=r"train must hold ids in \[0, 2\)"):
        neural.bigram_loss([0, 1, 2], [0, 1], 2)
    with pytest.raises(TypeError, match="data is already a Tensor"):
        Tensor(Tensor([1.0]))
