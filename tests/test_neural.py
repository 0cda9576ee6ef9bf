"""embedlab.neural: the MLP against torch, the text models and the tiny GPT against torch pieces."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from embedlab import neural
from embedlab.autograd import Tensor, cross_entropy


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Small models run faster on one thread on a busy machine (see conftest.py)."""


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


def _torch_cell_and_ours(kind, d_in, hidden, seed):
    torch.manual_seed(seed)
    cell = (torch.nn.RNNCell if kind == "rnn" else torch.nn.LSTMCell)(d_in, hidden).double()
    return cell, neural.recurrent_weights(cell)


@pytest.mark.parametrize("batch", [1, 3])
def test_rnn_and_lstm_cells_equal_torch_cells(batch):
    rng = np.random.default_rng(batch)
    x, h, c = rng.normal(size=(batch, 5)), rng.normal(size=(batch, 4)), rng.normal(size=(batch, 4))
    cell, w = _torch_cell_and_ours("rnn", 5, 4, 0)
    ours = neural.rnn_cell(x, h, **w)
    with torch.no_grad():
        ref = cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    assert isinstance(ours, Tensor) and ours.shape == (batch, 4)
    assert np.max(np.abs(ours.data - ref)) < 1e-14
    cell, w = _torch_cell_and_ours("lstm", 5, 4, 1)
    h_new, c_new = neural.lstm_cell(x, h, c, **w)
    with torch.no_grad():
        h_ref, c_ref = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    assert np.max(np.abs(h_new.data - h_ref.numpy())) < 1e-14
    assert np.max(np.abs(c_new.data - c_ref.numpy())) < 1e-14
    # saturated gates: huge pre-activations must give exact 0/1 gates, not NaN
    big = {k: v * 1e4 for k, v in w.items()}
    cell_big = torch.nn.LSTMCell(5, 4).double()
    with torch.no_grad():
        for name, key in (("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"),
                          ("bias_hh", "b_hh")):
            getattr(cell_big, name).copy_(torch.from_numpy(big[key]))
        h_ref, c_ref = cell_big(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    h_new, c_new = neural.lstm_cell(x, h, c, **big)
    assert np.all(np.isfinite(h_new.data))
    assert np.max(np.abs(h_new.data - h_ref.numpy())) < 1e-12
    assert np.max(np.abs(c_new.data - c_ref.numpy())) < 1e-12


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_run_recurrent_equals_torch_layer_forward_and_backward(kind):
    """Our unrolled cells on our autograd = torch.nn.RNN/LSTM: states and BPTT gradients."""
    torch.manual_seed(2)
    layer = (torch.nn.RNN if kind == "rnn" else torch.nn.LSTM)(5, 6, batch_first=True).double()
    rng = np.random.default_rng(4)
    x, h0, c0, v = (rng.normal(size=(2, 9, 5)), rng.normal(size=(2, 6)), rng.normal(size=(2, 6)),
                    rng.normal(size=6))
    params = {k: Tensor(a, requires_grad=True) for k, a in neural.recurrent_weights(layer).items()}
    xt = Tensor(x, requires_grad=True)
    hs, cs = neural.run_recurrent(kind, xt, params, h0=h0, c0=c0 if kind == "lstm" else None)
    loss = (hs[-1] * v).sum() + (hs[3] * hs[3]).mean()
    loss.backward()
    x_ref = torch.tensor(x, requires_grad=True)
    init = torch.from_numpy(h0)[None] if kind == "rnn" else \
        (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    out, state = layer(x_ref, init)
    ref = (out[:, -1] * torch.from_numpy(v)).sum() + (out[:, 3] ** 2).mean()
    ref.backward()
    assert len(hs) == 9 and (cs is None) == (kind == "rnn")
    assert np.max(np.abs(np.stack([h.data for h in hs], 1) - out.detach().numpy())) < 1e-13
    if kind == "lstm":
        assert np.max(np.abs(cs[-1].data - state[1][0].detach().numpy())) < 1e-13
    assert loss.item() == pytest.approx(ref.item(), abs=1e-12)
    assert np.max(np.abs(xt.grad - x_ref.grad.numpy())) < 1e-12
    for ours, name in (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"),
                       ("b_hh", "bias_hh_l0")):
        assert np.max(np.abs(params[ours].grad - getattr(layer, name).grad.numpy())) < 1e-12


def test_state_gradient_norms_equal_a_torch_loop_with_retained_gradients():
    cell, w = _torch_cell_and_ours("lstm", 3, 5, 3)
    rng = np.random.default_rng(5)
    x, head, y = rng.normal(size=(4, 12, 3)), rng.normal(size=(5, 2)), np.array([0, 1, 1, 0])
    ours = neural.state_gradient_norms(
        "lstm", w, x, lambda h: cross_entropy(h @ head, y))
    h = c = torch.zeros(4, 5, dtype=torch.float64)
    states = []
    for t in range(12):
        h, c = cell(torch.from_numpy(x[:, t]), (h, c))
        h.retain_grad()
        states.append(h)
    F.cross_entropy(h @ torch.from_numpy(head), torch.from_numpy(y)).backward()
    ref = np.stack([s.grad.norm(dim=1).numpy() for s in states], axis=1)
    assert ours.shape == (4, 12)
    assert np.max(np.abs(ours - ref) / ref) < 1e-10


def test_state_gradient_norms_of_a_scaled_rotation_shrink_geometrically():
    """At zero states tanh' = 1, so each step back multiplies the gradient by W_hh^T = rho Q^T."""
    rho, n, T = 0.8, 6, 15
    q, _ = np.linalg.qr(np.random.default_rng(6).normal(size=(n, n)))
    w = {"W_ih": np.zeros((n, 2)), "W_hh": rho * q, "b_ih": np.zeros(n), "b_hh": np.zeros(n)}
    v = np.random.default_rng(7).normal(size=(n, 1))
    norms = neural.state_gradient_norms("rnn", w, np.zeros((1, T, 2)), lambda h: (h @ v).sum())
    expected = np.linalg.norm(v) * rho ** np.arange(T - 1, -1, -1)
    assert np.allclose(norms[0], expected, rtol=1e-12)


def test_train_with_validation_records_every_epoch_and_restores_the_chosen_one():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=48)
    docs = [[("good" if y else "bad")] + list(rng.choice(["x", "y", "z", "w"], size=4))
            for y in labels]
    vocab = neural.build_vocab(docs)
    ids, lengths = neural.encode(docs, vocab, max_len=5)
    tr, va = slice(0, 32), slice(32, 48)
    model = neural.TextClassifier(len(vocab), 2, kind="lstm", dim=4, hidden=4, seed=3)
    run = neural.train_with_validation(model, ids[tr], lengths[tr], labels[tr], ids[va],
                                       lengths[va], labels[va], epochs=4, learning_rate=0.05,
                                       batch_size=8, seed=3)
    assert [len(run[k]) for k in ("train_loss", "val_loss", "val_accuracy", "states")] == [4] * 4
    twin = neural.TextClassifier(len(vocab), 2, kind="lstm", dim=4, hidden=4, seed=3)
    history = neural.train_classifier(twin, ids[tr], lengths[tr], labels[tr], epochs=4,
                                      learning_rate=0.05, batch_size=8, seed=3)
    assert np.allclose(run["train_loss"], history, atol=1e-6)
    assert run["val_accuracy"][-1] == pytest.approx(
        (neural.predict(model, ids[va], lengths[va]) == labels[va]).mean())
    fresh = neural.TextClassifier(len(vocab), 2, kind="lstm", dim=4, hidden=4, seed=9)
    fresh.load_state_dict(run["states"][1])
    acc = (neural.predict(fresh, ids[va], lengths[va]) == labels[va]).mean()
    assert acc == pytest.approx(run["val_accuracy"][1])
    with torch.no_grad():
        scores = fresh(torch.from_numpy(ids[va]), torch.from_numpy(lengths[va]))
        assert F.cross_entropy(scores, torch.from_numpy(labels[va])).item() == \
            pytest.approx(run["val_loss"][1], abs=1e-6)
    # the stored weights are copies, not views of the trained model
    assert not torch.equal(run["states"][0]["embedding.weight"], model.embedding.weight)


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
    with pytest.raises(TypeError, match="layer must be a torch.nn.RNN, LSTM"):
        neural.recurrent_weights(torch.nn.GRU(2, 3))
    with pytest.raises(ValueError, match="one layer and one direction"):
        neural.recurrent_weights(torch.nn.LSTM(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="only the tanh RNN"):
        neural.recurrent_weights(torch.nn.RNN(2, 3, nonlinearity="relu"))
    with pytest.raises(ValueError, match="must have biases"):
        neural.recurrent_weights(torch.nn.LSTMCell(2, 3, bias=False))
    w = neural.recurrent_weights(torch.nn.LSTMCell(2, 3))
    with pytest.raises(ValueError, match="W_hh must have shape \\(16, 4\\) for a state of width 4"):
        neural.lstm_cell(np.zeros((1, 2)), np.zeros((1, 4)), np.zeros((1, 4)), **w)
    with pytest.raises(ValueError, match="W_ih must have shape \\(12, 5\\)"):
        neural.lstm_cell(np.zeros((1, 5)), np.zeros((1, 3)), np.zeros((1, 3)), **w)
    with pytest.raises(ValueError, match="x has 2 rows and h has 1"):
        neural.lstm_cell(np.zeros((2, 2)), np.zeros((1, 3)), np.zeros((1, 3)), **w)
    with pytest.raises(ValueError, match="c must have the shape of h"):
        neural.lstm_cell(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((2, 3)), **w)
    with pytest.raises(ValueError, match="x must be 2-D"):
        neural.rnn_cell(np.zeros(2), np.zeros((1, 3)), **neural.recurrent_weights(torch.nn.RNNCell(2, 3)))
    with pytest.raises(ValueError, match="kind must be one of"):
        neural.run_recurrent("gru", np.zeros((1, 2, 2)), w)
    with pytest.raises(ValueError, match="weights must be a dict with keys"):
        neural.run_recurrent("lstm", np.zeros((1, 2, 2)), {"W_ih": 1})
    with pytest.raises(ValueError, match="at least one step"):
        neural.run_recurrent("lstm", np.zeros((1, 0, 2)), w)
    with pytest.raises(ValueError, match="c0 is only for kind='lstm'"):
        neural.run_recurrent("rnn", np.zeros((1, 2, 2)), neural.recurrent_weights(torch.nn.RNN(2, 3)),
                             c0=np.zeros((1, 3)))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        neural.state_gradient_norms("lstm", w, np.zeros((1, 2, 2)), "sum")
    with pytest.raises(ValueError, match="scalar Tensor"):
        neural.state_gradient_norms("lstm", w, np.zeros((1, 2, 2)), lambda h: h)
    ids, lens = np.ones((4, 3), dtype=int), np.ones(4, dtype=int)
    with pytest.raises(TypeError, match="keep_states must be True or False"):
        neural.train_with_validation(model, ids, lens, [0, 1, 0, 1], ids, lens, [0, 1, 0, 1],
                                     keep_states="yes")
    with pytest.raises(ValueError, match="same number of rows"):
        neural.train_with_validation(model, ids, lens, [0, 1, 0, 1], ids, lens, [0, 1])
