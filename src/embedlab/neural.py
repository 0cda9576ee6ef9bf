r"""Neural networks for Chapters 6 and 7: an MLP on our autograd, torch text models, a tiny GPT.

**Multilayer perceptron.** A stack of affine maps and non-linearities,

.. math::

    h_0 = x, \qquad h_\ell = \phi(h_{\ell-1} W_\ell + b_\ell) \;(\ell < L), \qquad
    z = h_{L-1} W_L + b_L ,

trained on the cross-entropy of :math:`\operatorname{softmax}(z)` by gradient descent, with the
gradients from :mod:`embedlab.autograd`. Weights start uniform in
:math:`\pm\sqrt{6 / (n_\text{in} + n_\text{out})}` (Glorot and Bengio, 2010).

**Text classifiers** (torch). Token ids go through an embedding layer, a lookup table
:math:`E \in \mathbb{R}^{V \times d}` learned with the rest of the network, then

* ``"bag"``: the mean of the token vectors (order ignored);
* ``"rnn"``: an Elman recurrence :math:`s_t = \tanh(W x_t + U s_{t-1} + b)` (Elman, 1990);
* ``"lstm"``: a long short-term memory layer, whose gated cell state
  :math:`c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t` lets gradients flow over many steps
  (Hochreiter and Schmidhuber, 1997);

and a linear layer maps the result (the last state of the real tokens, for the recurrent
layers) to class scores. :func:`train_with_validation` keeps the validation accuracy and the
weights after every epoch, so that the number of epochs is chosen on validation data.

**Recurrent cells from scratch** (on :mod:`embedlab.autograd`, torch's weight layout). An Elman
cell computes :math:`h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})`. An
LSTM cell (Hochreiter and Schmidhuber, 1997, with the forget gate of Gers, Schmidhuber and
Cummins, 2000) splits :math:`z_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}`
into four blocks of width :math:`H`, in torch's order :math:`(i, f, g, o)`, and computes

.. math::

    i_t = \sigma(z^{(i)}_t),\; f_t = \sigma(z^{(f)}_t),\; g_t = \tanh(z^{(g)}_t),\;
    o_t = \sigma(z^{(o)}_t), \qquad
    c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).

Backpropagation through time is ordinary backpropagation on the unrolled graph. The gradient
that reaches an early state is a product of one Jacobian per step,

.. math::

    \frac{\partial L}{\partial h_t} = \Big(\prod_{s=t+1}^{T}
    \frac{\partial h_s}{\partial h_{s-1}}\Big)^{\!\top} \frac{\partial L}{\partial h_T},
    \qquad \frac{\partial h_s}{\partial h_{s-1}} = \operatorname{diag}(1 - h_s^2)\, W_{hh}
    \text{ (Elman)},

which shrinks or grows geometrically with the distance :math:`T - t` (Bengio, Simard and
Frasconi, 1994; Pascanu, Mikolov and Bengio, 2013). In the LSTM the path through the cell state
multiplies by :math:`\operatorname{diag}(f_s)` instead, which the network can hold near 1.
:func:`state_gradient_norms` measures :math:`\lVert \partial L / \partial h_t \rVert` for every
step. A recurrence needs :math:`s_{t-1}` before :math:`s_t`: :math:`n`
sequential steps for a sequence of length :math:`n`. Self-attention computes all positions with
a few matrix products, :math:`O(n^2 d)` work but no chain of :math:`n` dependent steps;
:func:`time_per_sequence` measures both.

**A tiny GPT** (Radford et al., 2018; 2019). A decoder-only transformer: token and learned
position embeddings, pre-norm blocks of *causal* self-attention and a feed-forward network, and
a linear head that scores the next token at every position. Training minimises

.. math::

    L = -\frac{1}{T} \sum_{t=1}^{T} \log p_\theta(x_{t+1} \mid x_1, \dots, x_t),

the causal mask guaranteeing that position :math:`t` sees only :math:`x_{\le t}`; generation
samples one token at a time and appends it to the context.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ._checks import check_array, check_choice, check_float, check_int, check_same_length, check_seed
from .autograd import Tensor, cross_entropy

__all__ = [
    "MLP", "tokenize", "strip_newsgroup_header", "build_vocab", "encode", "TextClassifier",
    "train_classifier", "train_with_validation", "predict", "recurrent_weights", "rnn_cell",
    "lstm_cell", "run_recurrent", "state_gradient_norms", "time_per_sequence",
    "text8_characters", "CharVocab", "CausalSelfAttention", "TinyGPT", "train_tiny_gpt",
    "lm_loss", "bigram_loss", "generate",
]


# ============================================================ MLP on our autograd
class MLP:
    """A multilayer perceptron for classification, trained with :mod:`embedlab.autograd`.

    Parameters
    ----------
    sizes : layer widths ``[n_features, hidden_1, ..., n_classes]`` (at least two numbers).
    activation : ``"tanh"``, ``"relu"`` or ``"sigmoid"`` between layers.
    seed : seed of the initial weights.

    ``params`` lists the weight and bias tensors ``[W1, b1, W2, b2, ...]``, with ``W`` of shape
    ``(n_in, n_out)``.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", seed: int | None = 0):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a list of layer widths, got {type(sizes).__name__}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least 2 widths (inputs and classes), got {list(sizes)}")
        self.sizes = [check_int(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes)]
        self.activation = check_choice("activation", activation, ("tanh", "relu", "sigmoid"))
        rng = np.random.default_rng(check_seed("seed", seed))
        self.params: list[Tensor] = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = math.sqrt(6.0 / (n_in + n_out))
            self.params.append(Tensor(rng.uniform(-bound, bound, (n_in, n_out)), requires_grad=True))
            self.params.append(Tensor(np.zeros(n_out), requires_grad=True))
        self.loss_history_: list[float] = []

    def forward(self, X) -> Tensor:
        """Class scores (logits) ``(n, n_classes)`` as a :class:`~embedlab.autograd.Tensor`."""
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"X has {X.shape[1]} features, the network expects {self.sizes[0]}")
        h = Tensor(X)
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            h = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < n_layers - 1:
                h = getattr(h, self.activation)()
        return h

    def loss(self, X, y) -> Tensor:
        """Mean cross-entropy of labels ``y`` (a scalar Tensor, ready for ``backward``)."""
        return cross_entropy(self.forward(X), y)

    def fit(self, X, y, *, epochs: int = 500, learning_rate: float = 0.5,
            batch_size: int | None = None, seed: int | None = 0, progress: bool = False) -> "MLP":
        """Gradient descent on the cross-entropy; ``batch_size=None`` uses the full batch."""
        X = check_array("X", X, ndim=2, min_rows=1)
        y = check_array("y", y, ndim=1, dtype=int)
        check_same_length(X=X, y=y)
        if y.min() < 0 or y.max() >= self.sizes[-1]:
            raise ValueError(f"y must hold class ids in [0, {self.sizes[-1]}), got "
                             f"{y.min()}..{y.max()}")
        epochs = check_int("epochs", epochs, minimum=1)
        learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, strict_min=True)
        n = len(y)
        batch_size = n if batch_size is None else check_int("batch_size", batch_size, minimum=1)
        rng = np.random.default_rng(check_seed("seed", seed))
        from tqdm.auto import tqdm

        for _ in tqdm(range(epochs), desc="MLP epochs", disable=not progress):
            order = rng.permutation(n) if batch_size < n else np.arange(n)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                for p in self.params:
                    p.zero_grad()
                loss = self.loss(X[idx], y[idx])
                loss.backward()
                for p in self.params:
                    p.data -= learning_rate * p.grad
                total += loss.item() * len(idx)
            self.loss_history_.append(total / n)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Softmax probabilities ``(n, n_classes)``."""
        z = self.forward(X).data
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        return self.forward(X).data.argmax(axis=1)


# ============================================================ text to ids
_TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits, with an optional ``'s``-style suffix).

    Chapter 3's :func:`embedlab.text.tokenize` with a pattern that keeps one-letter words.
    """
    from .text import tokenize as _tokenize

    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _tokenize(text, token_pattern=_TOKEN_PATTERN)


def strip_newsgroup_header(post: str) -> str:
    """Drop the e-mail header of a newsgroup post (everything before the first blank line).

    The header names the newsgroup, which *is* the label: a classifier that reads it learns
    nothing about the text.
    """
    if not isinstance(post, str):
        raise TypeError(f"post must be a string, got {type(post).__name__}")
    head, sep, body = post.partition("\n\n")
    return body if sep else post


def build_vocab(docs: Iterable[Sequence[str]], *, min_count: int = 1,
                max_size: int | None = None) -> dict[str, int]:
    """Token -> id, with ``"<pad>"`` = 0 and ``"<unk>"`` = 1, then tokens by decreasing count."""
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Iterable):
        raise TypeError("docs must be an iterable of token lists")
    min_count = check_int("min_count", min_count, minimum=1)
    if max_size is not None:
        max_size = check_int("max_size", max_size, minimum=2)
    counts: Counter[str] = Counter()
    for i, doc in enumerate(docs):
        if isinstance(doc, str) or not isinstance(doc, Sequence):
            raise TypeError(f"docs[{i}] must be a list of tokens, got {type(doc).__name__}")
        counts.update(doc)
    vocab = {"<pad>": 0, "<unk>": 1}
    for tok, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if c < min_count or (max_size is not None and len(vocab) >= max_size):
            break
        vocab[tok] = len(vocab)
    return vocab


def encode(docs: Sequence[Sequence[str]], vocab: dict[str, int], max_len: int):
    """Padded id matrix ``(n, max_len)`` (0 = padding, 1 = unknown) and true ``lengths``.

    Longer documents are cut at ``max_len``; an empty one becomes a single ``<unk>``.
    """
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Sequence):
        raise TypeError("docs must be a list of token lists")
    if not isinstance(vocab, dict) or vocab.get("<pad>") != 0 or vocab.get("<unk>") != 1:
        raise ValueError("vocab must be a dict from build_vocab (<pad> = 0, <unk> = 1)")
    max_len = check_int("max_len", max_len, minimum=1)
    ids = np.zeros((len(docs), max_len), dtype=np.int64)
    lengths = np.ones(len(docs), dtype=np.int64)
    for i, doc in enumerate(docs):
        if isinstance(doc, str) or not isinstance(doc, Sequence):
            raise TypeError(f"docs[{i}] must be a list of tokens, got {type(doc).__name__}")
        row = [vocab.get(t, 1) for t in doc[:max_len]] or [1]
        ids[i, :len(row)] = row
        lengths[i] = len(row)
    return ids, lengths


class TextClassifier(nn.Module):
    """Embedding layer + (mean | RNN | LSTM) + linear layer, for padded id batches.

    Parameters
    ----------
    vocab_size : number of rows of the embedding table (id 0 is padding).
    n_classes : number of classes.
    kind : ``"bag"``, ``"rnn"`` or ``"lstm"``.
    dim : width of the token embeddings.
    hidden : width of the recurrent state (ignored by ``"bag"``).
    pool : for ``"rnn"``/``"lstm"``, ``"last"`` reads the state after the last real token,
        ``"mean"`` averages the states of all real tokens.
    seed : seed of the initial weights.
    """

    def __init__(self, vocab_size: int, n_classes: int, kind: str = "bag", dim: int = 32,
                 hidden: int = 32, pool: str = "last", seed: int | None = 0):
        super().__init__()
        vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        n_classes = check_int("n_classes", n_classes, minimum=2)
        self.kind = check_choice("kind", kind, ("bag", "rnn", "lstm"))
        dim = check_int("dim", dim, minimum=1)
        hidden = check_int("hidden", hidden, minimum=1)
        self.pool = check_choice("pool", pool, ("last", "mean"))
        seed = check_seed("seed", seed)
        if seed is not None:
            torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        if self.kind == "bag":
            self.encoder, out_dim = None, dim
        elif self.kind == "rnn":
            self.encoder, out_dim = nn.RNN(dim, hidden, batch_first=True), hidden
        else:
            self.encoder, out_dim = nn.LSTM(dim, hidden, batch_first=True), hidden
        self.head = nn.Linear(out_dim, n_classes)

    def features(self, ids, lengths):
        """The fixed-size vector of each document, before the linear head."""
        emb = self.embedding(ids)
        if self.kind == "bag":
            mask = (ids != 0).unsqueeze(-1).to(emb.dtype)
            return (emb * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        packed = nn.utils.rnn.pack_padded_sequence(emb, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        outputs, state = self.encoder(packed)
        if self.pool == "mean":
            padded, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True)
            return padded.sum(1) / lengths.to(padded.dtype).unsqueeze(1)  # padding rows are 0
        h = state[0] if self.kind == "lstm" else state
        return h[-1]  # last layer's state after each sequence's last real token

    def forward(self, ids, lengths):
        return self.head(self.features(ids, lengths))


def _check_model(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_batch(ids, lengths):
    ids = check_array("ids", ids, ndim=2, dtype=int, min_rows=1)
    lengths = check_array("lengths", lengths, ndim=1, dtype=int)
    check_same_length(ids=ids, lengths=lengths)
    if lengths.min() < 1 or lengths.max() > ids.shape[1]:
        raise ValueError(f"lengths must lie in [1, {ids.shape[1]}], got {lengths.min()}..{lengths.max()}")
    return ids, lengths


def _training_setup(model, ids, lengths, labels, epochs, learning_rate, batch_size,
                    weight_decay, seed):
    _check_model(model)
    ids, lengths = _check_batch(ids, lengths)
    labels = check_array("labels", labels, ndim=1, dtype=int)
    check_same_length(ids=ids, labels=labels)
    epochs = check_int("epochs", epochs, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, strict_min=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    data = torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(labels)
    return data, epochs, batch_size, rng, opt


def _train_one_epoch(model, opt, data, batch_size, rng) -> float:
    """One pass over the shuffled data in mini-batches; returns the mean training loss."""
    X, L, Y = data
    model.train()
    order = torch.from_numpy(rng.permutation(len(Y)))
    total = 0.0
    for start in range(0, len(Y), batch_size):
        idx = order[start:start + batch_size]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X[idx], L[idx]), Y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    model.eval()
    return total / len(Y)


def train_classifier(model, ids, lengths, labels, *, epochs: int = 10, learning_rate: float = 0.01,
                     batch_size: int = 16, weight_decay: float = 0.0, seed: int | None = 0,
                     progress: bool = False) -> list[float]:
    """Train a :class:`TextClassifier` with Adam (Kingma and Ba, 2015) on the cross-entropy.

    Returns the mean training loss of each epoch.
    """
    data, epochs, batch_size, rng, opt = _training_setup(
        model, ids, lengths, labels, epochs, learning_rate, batch_size, weight_decay, seed)
    from tqdm.auto import tqdm

    return [_train_one_epoch(model, opt, data, batch_size, rng)
            for _ in tqdm(range(epochs), desc="epochs", disable=not progress)]


def train_with_validation(model, ids, lengths, labels, val_ids, val_lengths, val_labels, *,
                          epochs: int = 10, learning_rate: float = 0.01, batch_size: int = 16,
                          weight_decay: float = 0.0, seed: int | None = 0,
                          keep_states: bool = True, progress: bool = False) -> dict:
    """Train like :func:`train_classifier` and score the validation set after every epoch.

    Returns a dict with ``"train_loss"``, ``"val_loss"`` and ``"val_accuracy"`` (one value per
    epoch) and, with ``keep_states``, ``"states"``: a copy of the model's weights after each
    epoch, so that the epoch chosen on validation data can be restored with
    ``model.load_state_dict(run["states"][epoch - 1])`` without training again.
    """
    data, epochs, batch_size, rng, opt = _training_setup(
        model, ids, lengths, labels, epochs, learning_rate, batch_size, weight_decay, seed)
    val_ids, val_lengths = _check_batch(val_ids, val_lengths)
    val_labels = check_array("val_labels", val_labels, ndim=1, dtype=int)
    check_same_length(val_ids=val_ids, val_labels=val_labels)
    if not isinstance(keep_states, bool):
        raise TypeError(f"keep_states must be True or False, got {keep_states!r}")
    VX, VL, VY = torch.from_numpy(val_ids), torch.from_numpy(val_lengths), torch.from_numpy(val_labels)
    from tqdm.auto import tqdm

    run = {"train_loss": [], "val_loss": [], "val_accuracy": [], "states": []}
    for _ in tqdm(range(epochs), desc="epochs", disable=not progress):
        run["train_loss"].append(_train_one_epoch(model, opt, data, batch_size, rng))
        with torch.no_grad():
            scores = model(VX, VL)
            run["val_loss"].append(float(torch.nn.functional.cross_entropy(scores, VY)))
            run["val_accuracy"].append(float((scores.argmax(1) == VY).double().mean()))
        if keep_states:
            run["states"].append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return run


def predict(model, ids, lengths) -> np.ndarray:
    """Predicted class of each document (model in eval mode, no gradients)."""
    _check_model(model)
    ids, lengths = _check_batch(ids, lengths)
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(ids), torch.from_numpy(lengths)).argmax(1).numpy()


# ============================================================ recurrent cells from scratch
_RECURRENT_TYPES = (nn.RNN, nn.LSTM, nn.RNNCell, nn.LSTMCell)


def recurrent_weights(layer) -> dict[str, np.ndarray]:
    """The weights of a one-layer torch ``RNN``/``LSTM`` (or ``RNNCell``/``LSTMCell``), as float64.

    Returns ``{"W_ih", "W_hh", "b_ih", "b_hh"}`` with torch's shapes: ``(G*H, D)``, ``(G*H, H)``,
    ``(G*H,)`` and ``(G*H,)``, where ``G`` is 1 for an RNN and 4 for an LSTM (gate blocks in the
    order input, forget, cell candidate, output). :func:`rnn_cell`, :func:`lstm_cell` and
    :func:`run_recurrent` take these arrays.
    """
    if not isinstance(layer, _RECURRENT_TYPES):
        raise TypeError(f"layer must be a torch.nn.RNN, LSTM, RNNCell or LSTMCell, got "
                        f"{type(layer).__name__}")
    if isinstance(layer, (nn.RNN, nn.LSTM)):
        if layer.num_layers != 1 or layer.bidirectional:
            raise ValueError("layer must have one layer and one direction")
        if getattr(layer, "proj_size", 0):
            raise ValueError("an LSTM with proj_size is not supported")
        suffix = "_l0"
    else:
        suffix = ""
    if not layer.bias:
        raise ValueError("layer must have biases (bias=True)")
    if isinstance(layer, (nn.RNN, nn.RNNCell)) and layer.nonlinearity != "tanh":
        raise ValueError(f"only the tanh RNN is supported, got nonlinearity={layer.nonlinearity!r}")
    return {name: getattr(layer, f"{torch_name}{suffix}").detach().double().numpy().copy()
            for name, torch_name in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"),
                                     ("b_ih", "bias_ih"), ("b_hh", "bias_hh"))}


def _lift(name: str, value, ndim: int) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape}")
        return value
    return Tensor(check_array(name, value, ndim=ndim))


def _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, gates: int):
    x, h = _lift("x", x, 2), _lift("h", h, 2)
    W_ih, W_hh = _lift("W_ih", W_ih, 2), _lift("W_hh", W_hh, 2)
    b_ih, b_hh = _lift("b_ih", b_ih, 1), _lift("b_hh", b_hh, 1)
    n, hidden = h.shape
    if x.shape[0] != n:
        raise ValueError(f"x has {x.shape[0]} rows and h has {n}: one row per sequence in both")
    if W_hh.shape != (gates * hidden, hidden):
        raise ValueError(f"W_hh must have shape {(gates * hidden, hidden)} for a state of width "
                         f"{hidden}, got {W_hh.shape}")
    if W_ih.shape != (gates * hidden, x.shape[1]):
        raise ValueError(f"W_ih must have shape {(gates * hidden, x.shape[1])}, got {W_ih.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b.shape != (gates * hidden,):
            raise ValueError(f"{name} must have shape {(gates * hidden,)}, got {b.shape}")
    return x, h, W_ih, W_hh, b_ih, b_hh


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh) -> Tensor:
    """One step of an Elman RNN: ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    ``x`` is ``(n, D)`` (one input vector per sequence), ``h`` the ``(n, H)`` previous state;
    NumPy arrays or :class:`~embedlab.autograd.Tensor` s. Returns the new state as a Tensor, so
    that gradients flow back through it.
    """
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, gates=1)
    return (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).tanh()


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh) -> tuple[Tensor, Tensor]:
    """One step of an LSTM: the new hidden state ``h`` and cell state ``c`` (Tensors).

    ``x`` is ``(n, D)``, ``h`` and ``c`` are ``(n, H)``; the weights have torch's layout (see
    :func:`recurrent_weights`), four gate blocks of ``H`` rows in the order input, forget,
    cell candidate, output.
    """
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, gates=4)
    c = _lift("c", c, 2)
    if c.shape != h.shape:
        raise ValueError(f"c must have the shape of h {h.shape}, got {c.shape}")
    H = h.shape[1]
    z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh          # (n, 4H): all gates at once
    i = z[:, 0:H].sigmoid()                             # input gate: how much to write
    f = z[:, H:2 * H].sigmoid()                         # forget gate: how much to keep
    g = z[:, 2 * H:3 * H].tanh()                        # candidate values
    o = z[:, 3 * H:4 * H].sigmoid()                     # output gate: how much to show
    c_new = f * c + i * g                               # additive update of the cell
    return o * c_new.tanh(), c_new


def run_recurrent(kind: str, x, weights: dict, h0=None, c0=None):
    """Run :func:`rnn_cell` or :func:`lstm_cell` over a batch of sequences ``x`` ``(n, T, D)``.

    ``weights`` is a dict as returned by :func:`recurrent_weights` (NumPy arrays or Tensors);
    ``h0``/``c0`` default to zeros. Returns ``(hs, cs)``: the lists of the ``T`` hidden states
    and, for an LSTM, of the ``T`` cell states (``None`` for an RNN), each ``(n, H)`` Tensor.
    """
    kind = check_choice("kind", kind, ("rnn", "lstm"))
    if not isinstance(weights, dict) or set(weights) != {"W_ih", "W_hh", "b_ih", "b_hh"}:
        raise ValueError("weights must be a dict with keys W_ih, W_hh, b_ih, b_hh "
                         "(see recurrent_weights)")
    x = _lift("x", x, 3)
    n, T, _ = x.shape
    if T == 0:
        raise ValueError("x must hold at least one step (shape (n, T, D) with T >= 1)")
    W_hh = weights["W_hh"]
    hidden = W_hh.shape[1]
    h = Tensor(np.zeros((n, hidden))) if h0 is None else _lift("h0", h0, 2)
    c = Tensor(np.zeros((n, hidden))) if c0 is None else _lift("c0", c0, 2)
    if kind == "rnn" and c0 is not None:
        raise ValueError("c0 is only for kind='lstm'")
    hs, cs = [], []
    for t in range(T):
        if kind == "rnn":
            h = rnn_cell(x[:, t, :], h, **weights)
        else:
            h, c = lstm_cell(x[:, t, :], h, c, **weights)
            cs.append(c)
        hs.append(h)
    return hs, (cs if kind == "lstm" else None)


def state_gradient_norms(kind: str, weights: dict, x, loss_fn) -> np.ndarray:
    r"""How much gradient reaches each state: :math:`\lVert \partial L / \partial h_t \rVert`.

    Runs :func:`run_recurrent` on ``x`` ``(n, T, D)`` from zero states, computes the scalar
    ``L = loss_fn(h_T)`` (a Tensor; ``loss_fn`` receives the last state as an ``(n, H)``
    Tensor), backpropagates through time with :mod:`embedlab.autograd`, and returns the
    ``(n, T)`` array of the norms of :math:`\partial L / \partial h_t` for each sequence and
    step. Sequences do not interact, so row ``i`` is the gradient of sequence ``i``'s own loss
    when ``L`` is a sum or mean over sequences.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(weights, dict) or set(weights) != {"W_ih", "W_hh", "b_ih", "b_hh"}:
        raise ValueError("weights must be a dict with keys W_ih, W_hh, b_ih, b_hh "
                         "(see recurrent_weights)")
    params = {k: Tensor(check_array(k, v.data if isinstance(v, Tensor) else v), requires_grad=True)
              for k, v in weights.items()}
    hs, _ = run_recurrent(kind, x, params)
    loss = loss_fn(hs[-1])
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        raise ValueError("loss_fn must return a scalar Tensor computed from the last state")
    loss.backward()
    return np.stack([np.zeros(h.shape[0]) if h.grad is None else np.linalg.norm(h.grad, axis=1)
                     for h in hs], axis=1)


# ============================================================ recurrent vs attention timing
def time_per_sequence(kind: str, lengths: Sequence[int], *, dim: int = 64, batch: int = 8,
                      num_heads: int = 4, repeats: int = 3, seed: int | None = 0) -> np.ndarray:
    """Seconds per sequence of one forward pass, for each sequence length in ``lengths``.

    ``kind`` is ``"rnn"``, ``"lstm"`` (torch's recurrent layers, ``dim`` -> ``dim``) or
    ``"attention"`` (``torch.nn.MultiheadAttention`` self-attention, ``num_heads`` heads).
    Each length runs a random ``(batch, n, dim)`` float32 batch ``repeats`` times after one
    warm-up; the fastest run, divided by ``batch``, is kept (the minimum is the least disturbed
    by other programs on the machine).
    """
    kind = check_choice("kind", kind, ("rnn", "lstm", "attention"))
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise TypeError("lengths must be a non-empty list of sequence lengths")
    lengths = [check_int(f"lengths[{i}]", n, minimum=1) for i, n in enumerate(lengths)]
    dim = check_int("dim", dim, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    num_heads = check_int("num_heads", num_heads, minimum=1)
    if kind == "attention" and dim % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide dim={dim}")
    repeats = check_int("repeats", repeats, minimum=1)
    seed = check_seed("seed", seed)
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    if seed is not None:
        torch.manual_seed(seed)
    if kind == "rnn":
        layer = torch.nn.RNN(dim, dim, batch_first=True)
    elif kind == "lstm":
        layer = torch.nn.LSTM(dim, dim, batch_first=True)
    else:
        layer = torch.nn.MultiheadAttention(dim, num_heads, batch_first=True)
    layer.eval()
    out = []
    with torch.no_grad():
        for n in lengths:
            x = torch.randn(batch, n, dim, generator=gen)
            run = (lambda: layer(x)) if kind != "attention" else (lambda: layer(x, x, x, need_weights=False))
            run()  # warm-up
            best = math.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - t0)
            out.append(best / batch)
    return np.array(out)


# ============================================================ tiny GPT
_ALPHABET = " abcdefghijklmnopqrstuvwxyz"


def text8_characters(n_chars: int | None = None) -> str:
    """The text8 head as one string of lower-case letters and single spaces.

    Characters other than ``a``-``z`` are dropped (the file has a few accented letters,
    apostrophes and hyphens). ``n_chars`` keeps only the beginning.
    """
    from .data import load_text8_head

    if n_chars is not None:
        n_chars = check_int("n_chars", n_chars, minimum=1)
    keep = set(_ALPHABET[1:])
    words = ("".join(c for c in w if c in keep) for w in load_text8_head())
    text = " ".join(w for w in words if w)
    return text if n_chars is None else text[:n_chars]


class CharVocab:
    """Characters <-> integer ids, for a character-level language model."""

    def __init__(self, alphabet: str = _ALPHABET):
        if not isinstance(alphabet, str) or not alphabet:
            raise TypeError("alphabet must be a non-empty string")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("alphabet must not repeat characters")
        self.alphabet = alphabet
        self.index = {c: i for i, c in enumerate(alphabet)}

    def __len__(self) -> int:
        return len(self.alphabet)

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of ``text``; an unknown character raises ``ValueError``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        try:
            return np.array([self.index[c] for c in text], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the alphabet") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        ids = check_array("ids", ids, ndim=1, dtype=int)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)})")
        return "".join(self.alphabet[i] for i in ids)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position ``t`` sees positions ``0..t`` only.

    After a forward pass, ``last_weights`` holds the ``(batch, heads, T, T)`` attention
    weights (detached), for plotting.
    """

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.d_model = check_int("d_model", d_model, minimum=1)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.last_weights = None

    def forward(self, x):
        b, t, d = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // h)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        self.last_weights = weights.detach()
        y = (weights @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)

class _Block(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, num_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

class TinyGPT(nn.Module):
    """A decoder-only transformer language model (pre-norm, learned positions).

    Parameters
    ----------
    vocab_size : number of tokens (27 for :class:`CharVocab`'s default alphabet).
    context : the longest context, in tokens.
    d_model, num_heads, num_layers : width, heads per layer, number of blocks.
    seed : seed of the initial weights.

    ``forward(ids)`` maps a ``(batch, T)`` id tensor to ``(batch, T, vocab_size)`` scores
    of the next token; ``forward(ids, return_hidden=True)`` also returns the list of hidden
    states (the embeddings, then the output of every block). :meth:`attention_maps` gives
    the weights of the last forward pass.
    """

    def __init__(self, vocab_size: int, context: int = 64, d_model: int = 64,
                 num_heads: int = 4, num_layers: int = 2, seed: int | None = 0):
        super().__init__()
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        self.context = check_int("context", context, minimum=1)
        d_model = check_int("d_model", d_model, minimum=1)
        num_heads = check_int("num_heads", num_heads, minimum=1)
        num_layers = check_int("num_layers", num_layers, minimum=1)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        seed = check_seed("seed", seed)
        if seed is not None:
            torch.manual_seed(seed)
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, num_heads) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids, return_hidden: bool = False):
        if ids.dim() != 2:
            raise ValueError(f"ids must be 2-D (batch, T), got shape {tuple(ids.shape)}")
        t = ids.shape[1]
        if t > self.context:
            raise ValueError(f"sequence of {t} tokens is longer than the context {self.context}")
        x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))
        hidden = [x]
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        logits = self.head(self.ln_f(x))
        return (logits, hidden) if return_hidden else logits

    def attention_maps(self):
        """Per layer, the ``(batch, heads, T, T)`` weights of the last forward pass."""
        return [b.attn.last_weights for b in self.blocks]


def _check_ids_1d(name, data, min_len=2):
    data = check_array(name, data, ndim=1, dtype=int)
    if len(data) < min_len:
        raise ValueError(f"{name} needs at least {min_len} tokens, got {len(data)}")
    return data


def _random_windows(data: np.ndarray, context: int, batch_size: int, rng: np.random.Generator):
    starts = rng.integers(0, len(data) - context, size=batch_size)
    x = np.stack([data[s:s + context] for s in starts])
    y = np.stack([data[s + 1:s + context + 1] for s in starts])
    return x, y


def train_tiny_gpt(model, data, *, steps: int = 500, batch_size: int = 32, learning_rate: float = 3e-3,
                   seed: int | None = 0, progress: bool = False) -> list[float]:
    """Train a :class:`TinyGPT` for ``steps`` steps of AdamW on random windows of ``data``.

    ``data`` is a 1-D array of token ids; each step draws ``batch_size`` windows of
    ``model.context + 1`` tokens and minimises the next-token cross-entropy at every position.
    The learning rate decays linearly to zero. Returns the training loss of each step (nats).
    The training budget is ``steps``: choose it for the time you have.
    """
    _check_model(model)
    if not hasattr(model, "context"):
        raise TypeError("model must be a TinyGPT (it needs a context attribute)")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, strict_min=True)
    data = _check_ids_1d("data", data, min_len=model.context + 2)
    if data.min() < 0 or data.max() >= model.vocab_size:
        raise ValueError(f"data must hold ids in [0, {model.vocab_size})")
    rng = np.random.default_rng(check_seed("seed", seed))
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
    from tqdm.auto import tqdm

    model.train()
    history = []
    for _ in tqdm(range(steps), desc="GPT steps", disable=not progress):
        x, y = _random_windows(data, model.context, batch_size, rng)
        logits = model(torch.from_numpy(x))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, model.vocab_size),
                                                 torch.from_numpy(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(loss.item())
    model.eval()
    return history


def lm_loss(model, data, *, n_windows: int = 64, seed: int | None = 0) -> float:
    """Mean next-token cross-entropy (nats) of the model on ``n_windows`` random windows."""
    _check_model(model)
    data = _check_ids_1d("data", data, min_len=getattr(model, "context", 1) + 2)
    n_windows = check_int("n_windows", n_windows, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    x, y = _random_windows(data, model.context, n_windows, rng)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
        return float(torch.nn.functional.cross_entropy(logits.reshape(-1, model.vocab_size),
                                                       torch.from_numpy(y).reshape(-1)))


def bigram_loss(train, test, vocab_size: int, *, alpha: float = 1.0) -> float:
    """Cross-entropy (nats per token) on ``test`` of an add-``alpha`` bigram model fitted on ``train``.

    A baseline for a language model: it predicts each token from the previous one only.
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=1)
    train = _check_ids_1d("train", train)
    test = _check_ids_1d("test", test)
    alpha = check_float("alpha", alpha, minimum=0.0, strict_min=True)
    for name, a in (("train", train), ("test", test)):
        if a.min() < 0 or a.max() >= vocab_size:
            raise ValueError(f"{name} must hold ids in [0, {vocab_size})")
    counts = np.full((vocab_size, vocab_size), alpha)
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[test[:-1], test[1:]].mean())


def generate(model, prompt, n_new: int, *, temperature: float = 1.0, seed: int | None = 0) -> np.ndarray:
    """Extend the 1-D id array ``prompt`` by ``n_new`` sampled tokens (returns all the ids).

    Each new token is drawn from ``softmax(scores / temperature)`` given the last
    ``model.context`` tokens; a ``temperature`` near 0 approaches greedy decoding.
    """
    _check_model(model)
    prompt = _check_ids_1d("prompt", prompt, min_len=1)
    n_new = check_int("n_new", n_new, minimum=0)
    temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
    gen = torch.Generator().manual_seed(0 if seed is None else check_seed("seed", seed))
    ids = torch.from_numpy(prompt.copy())
    model.eval()
    with torch.no_grad():
        for _ in range(n_new):
            logits = model(ids[-model.context:][None])[0, -1] / temperature
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=gen)
            ids = torch.cat([ids, nxt])
    return ids.numpy()
