r"""Transfer learning from a pretrained encoder: a linear probe, and fine-tuning the top layers.

A pretrained encoder :math:`f_\theta` maps a text to token vectors; mean pooling gives a
sentence vector :math:`e(s)`. Two ways to reuse it for a labelled task :math:`(s_i, y_i)`:

**Linear probe.** Keep :math:`\theta` frozen, embed every text once, and fit a logistic
regression on the vectors:

.. math::

    p(y = 1 \mid s) = \sigma(w^\top e(s) + b), \qquad
    \min_{w, b} \; \sum_i \ell(y_i, p(y \mid s_i)) + \frac{1}{2C} \lVert w \rVert^2 .

Cheap (one forward pass per text, then a convex problem) and safe with few labels; it can
only use what the frozen vectors already expose linearly.

**Fine-tuning** (Howard and Ruder, 2018; Devlin et al., 2019) trains :math:`\theta` too, with
a classification head on the pooled vector, by gradient descent on the cross-entropy. Here
only the top :math:`L'` of the :math:`L` layers are trained: the hidden states after layer
:math:`L - L'` do not change during training, so they are computed once and cached, and
each step runs (forward and backward) through the top layers only. The number of epochs is a
choice made on validation data, and the result varies with the random seed (head
initialisation, order of the mini-batches), so it is reported over several seeds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_array, check_float, check_int, check_seed

__all__ = ["CachedStates", "cache_states", "mean_pool", "linear_probe", "TopLayers",
           "FineTuneRun", "fine_tune_top"]


@dataclass
class CachedStates:
    """Hidden states of every text after ``layer`` layers, one ``(length, d)`` tensor each."""

    states: list
    layer: int


def mean_pool(hidden, mask):
    """Mean of the token vectors over the real tokens (``mask`` is 1 for a real token)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


def cache_states(model, tokenizer, texts, layer: int, *, max_length: int = 64,
                 batch_size: int = 32) -> CachedStates:
    """Run ``model`` once over ``texts`` and keep the hidden states after ``layer`` layers.

    Batches are formed from texts of similar length (little padding); each text keeps only
    its real tokens.
    """
    import torch

    n_layers = model.config.num_hidden_layers
    layer = check_int("layer", layer, minimum=0, maximum=n_layers)
    texts = list(texts)
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    states: list = [None] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in rows], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            H = out.hidden_states[layer]
            for r, i in enumerate(rows):
                states[i] = H[r, :int(enc["attention_mask"][r].sum())].clone()
    return CachedStates(states, layer)


def _pad(states, rows):
    import torch

    width = max(states[i].shape[0] for i in rows)
    d = states[rows[0]].shape[1]
    H = torch.zeros((len(rows), width, d))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):
        H[r, :states[i].shape[0]] = states[i]
        mask[r, :states[i].shape[0]] = 1
    return H, mask


def linear_probe(X_train, y_train, X_val, y_val, Cs=(0.1, 1.0, 10.0, 100.0)):
    """Fit a logistic regression for every ``C``; keep the one with the best validation accuracy.

    Returns ``(model, table)`` where ``table`` maps each ``C`` to its validation accuracy.
    Ties go to the smaller ``C`` (the stronger regularisation).
    """
    from sklearn.linear_model import LogisticRegression

    X_train = check_array("X_train", X_train, ndim=2, min_rows=2)
    X_val = check_array("X_val", X_val, ndim=2, min_rows=1)
    y_train = check_array("y_train", y_train, ndim=1, dtype=int)
    y_val = check_array("y_val", y_val, ndim=1, dtype=int)
    if len(X_train) != len(y_train) or len(X_val) != len(y_val):
        raise ValueError("each X must have one row per label")
    table, best, best_acc = {}, None, -1.0
    for C in sorted(check_float("C", C, minimum=0.0, strict_min=True) for C in Cs):
        clf = LogisticRegression(C=C, max_iter=5000).fit(X_train, y_train)
        acc = float(np.mean(clf.predict(X_val) == y_val))
        table[C] = acc
        if acc > best_acc:
            best, best_acc = clf, acc
    return best, table


class TopLayers:
    """The top ``n_top`` encoder layers of ``model`` (copied), mean pooling and a linear head."""

    def __init__(self, model, n_top: int, n_classes: int, *, seed: int | None = 0):
        import torch

        n_layers = model.config.num_hidden_layers
        self.n_top = check_int("n_top", n_top, minimum=1, maximum=n_layers)
        n_classes = check_int("n_classes", n_classes, minimum=2)
        seed = check_seed("seed", seed)
        if seed is not None:
            torch.manual_seed(seed)
        self.config = model.config
        self.layers = copy.deepcopy(model.encoder.layer[n_layers - self.n_top:])
        self.head = torch.nn.Linear(model.config.hidden_size, n_classes)

    def parameters(self):
        return list(self.layers.parameters()) + list(self.head.parameters())

    def train(self, mode: bool = True):
        self.layers.train(mode)
        self.head.train(mode)
        return self

    def embed(self, H, mask):
        """Run the top layers on cached states and mean-pool: the fine-tuned sentence vectors."""
        from transformers.masking_utils import create_bidirectional_mask

        attn = create_bidirectional_mask(config=self.config, inputs_embeds=H, attention_mask=mask)
        for layer in self.layers:
            out = layer(H, attention_mask=attn)
            H = out[0] if isinstance(out, tuple) else out
        return mean_pool(H, mask)

    def logits(self, H, mask):
        return self.head(self.embed(H, mask))

    def predict(self, cached: CachedStates, rows, batch_size: int = 64) -> np.ndarray:
        """Predicted classes of the texts ``rows`` of ``cached``."""
        import torch

        rows = np.asarray(rows)
        preds = []
        with torch.inference_mode():
            self.train(False)
            for start in range(0, len(rows), batch_size):
                H, mask = _pad(cached.states, rows[start:start + batch_size])
                preds.append(self.logits(H, mask).argmax(1).numpy())
        return np.concatenate(preds) if preds else np.empty(0, dtype=np.int64)

    def sentence_vectors(self, cached: CachedStates, rows=None, batch_size: int = 64) -> np.ndarray:
        """Unit-length pooled vectors of the fine-tuned layers for ``rows`` (default: all)."""
        import torch

        rows = np.arange(len(cached.states)) if rows is None else np.asarray(rows)
        out = []
        with torch.inference_mode():
            self.train(False)
            for start in range(0, len(rows), batch_size):
                H, mask = _pad(cached.states, rows[start:start + batch_size])
                out.append(torch.nn.functional.normalize(self.embed(H, mask), dim=1).numpy())
        return np.concatenate(out).astype(np.float32)

    def state(self) -> dict:
        return {"layers": copy.deepcopy(self.layers.state_dict()),
                "head": copy.deepcopy(self.head.state_dict())}

    def load_state(self, state: dict) -> "TopLayers":
        self.layers.load_state_dict(state["layers"])
        self.head.load_state_dict(state["head"])
        return self


@dataclass
class FineTuneRun:
    """Validation accuracy after every epoch, the weights after every epoch, the training loss."""

    val_accuracy: list = field(default_factory=list)
    states: list = field(default_factory=list)
    losses: list = field(default_factory=list)


def fine_tune_top(model, cached: CachedStates, labels, train_rows, val_rows, *, epochs: int = 4,
                  learning_rate: float = 1e-4, head_learning_rate: float = 1e-3,
                  batch_size: int = 16, seed: int | None = 0, progress: bool = False):
    """Fine-tune the layers above ``cached.layer`` and a linear head with AdamW.

    Returns ``(top, run)``: the :class:`TopLayers` after the last epoch and a
    :class:`FineTuneRun` with the validation accuracy and weights after every epoch (so the
    number of epochs can be chosen on validation afterwards with ``top.load_state``).
    """
    import torch
    from tqdm.auto import tqdm

    labels = check_array("labels", labels, ndim=1, dtype=int)
    train_rows = check_array("train_rows", train_rows, ndim=1, dtype=int, min_rows=1)
    val_rows = check_array("val_rows", val_rows, ndim=1, dtype=int, min_rows=1)
    if len(labels) != len(cached.states):
        raise ValueError(f"labels must have one entry per cached text ({len(cached.states)}), "
                         f"got {len(labels)}")
    epochs = check_int("epochs", epochs, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0.0, strict_min=True)
    head_learning_rate = check_float("head_learning_rate", head_learning_rate, minimum=0.0,
                                     strict_min=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_seed("seed", seed)
    n_top = model.config.num_hidden_layers - cached.layer
    if n_top < 1:
        raise ValueError("the states were cached after the last layer: nothing left to fine-tune")
    top = TopLayers(model, n_top, int(labels.max()) + 1, seed=seed)
    opt = torch.optim.AdamW([
        {"params": list(top.layers.parameters()), "lr": learning_rate},
        {"params": list(top.head.parameters()), "lr": head_learning_rate}])
    gen = np.random.default_rng(seed)
    y = torch.as_tensor(labels)
    run = FineTuneRun()
    for _ in tqdm(range(epochs), disable=not progress, desc="epochs", leave=False):
        top.train(True)
        order = train_rows[gen.permutation(len(train_rows))]
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            H, mask = _pad(cached.states, rows)
            loss = torch.nn.functional.cross_entropy(top.logits(H, mask), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.losses.append(float(loss.detach()))
        run.val_accuracy.append(float(np.mean(top.predict(cached, val_rows) == labels[val_rows])))
        run.states.append(top.state())
    return top, run
