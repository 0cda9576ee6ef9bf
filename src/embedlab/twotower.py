r"""A two-tower retrieval model trained with in-batch negatives and the logQ correction.

Two networks map a user and an item to vectors in the same space, :math:`u = f(\text{user})`
and :math:`v = g(\text{item})`, both of unit length, and the model scores a pair by
:math:`s(u, v) = u^\top v / \tau` with a temperature :math:`\tau`. Because the score is an
inner product, the item vectors can be computed once and put in an approximate
nearest-neighbour index; serving a user is one tower pass and one index lookup
(Covington et al., 2016; Yi et al., 2019).

Each tower here embeds the id and concatenates optional side features (genres, age...),
then applies a two-layer perceptron:
:math:`f(\text{user}) = \mathrm{normalise}(W_2\, \mathrm{ReLU}(W_1 [e_u; a_u]))`.

**In-batch negatives.** A batch holds :math:`B` observed pairs :math:`(u_b, v_b)`. Every other
item of the batch serves as a negative for user :math:`b`, and the loss is the softmax cross
entropy of the right item among the :math:`B` items of the batch:

.. math::

    \ell_b = -\log \frac{\exp(s_{bb} - \log q_b)}{\sum_{c} \exp(s_{bc} - \log q_c)} .

**The logQ correction** (Yi et al., 2019). Items enter a batch in proportion to their
popularity :math:`q_c` (their share of the training pairs), so popular items are negatives
far more often than a full softmax over the catalogue would make them, and the model learns
to push them down. Subtracting :math:`\log q_c` from every logit corrects this sampling bias.
Without it (``logq=False``) the terms are dropped. A pair whose item appears twice in the
batch does not count its copy as a negative.
"""

from __future__ import annotations

import time

import numpy as np

from ._checks import check_array, check_float, check_int, check_seed

__all__ = ["TwoTower", "in_batch_loss", "train_two_tower"]


def _torch():
    import torch

    return torch


class _Tower:
    """Builds one tower as a torch module (defined lazily so that importing this module
    does not import torch)."""

    @staticmethod
    def make(n_ids, features, dim, hidden):
        torch = _torch()
        nn = torch.nn

        class Tower(nn.Module):
            def __init__(self):
                super().__init__()
                self.ids = nn.Embedding(n_ids, dim)
                nn.init.normal_(self.ids.weight, std=0.1)
                width = dim + (0 if features is None else features.shape[1])
                self.register_buffer(
                    "features", torch.zeros(n_ids, 0) if features is None
                    else torch.as_tensor(features, dtype=torch.float32))
                self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))

            def forward(self, idx):
                x = torch.cat([self.ids(idx), self.features[idx]], dim=1)
                return nn.functional.normalize(self.mlp(x), dim=1)

        return Tower()


class TwoTower:
    """User and item towers (see the module docstring).

    Parameters
    ----------
    n_users, n_items : number of ids on each side.
    user_features, item_features : optional ``(n_users, a)`` and ``(n_items, b)`` arrays of
        side features, concatenated to the id embeddings.
    dim : size of the id embeddings and of the output vectors.
    hidden : width of the hidden layer of each tower.
    temperature : :math:`\\tau`.
    seed : seed of the initial weights.
    """

    def __init__(self, n_users: int, n_items: int, *, user_features=None, item_features=None,
                 dim: int = 32, hidden: int = 64, temperature: float = 0.05,
                 seed: int | None = 0):
        torch = _torch()
        self.n_users = check_int("n_users", n_users, minimum=1)
        self.n_items = check_int("n_items", n_items, minimum=1)
        self.dim = check_int("dim", dim, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
        self.seed = check_seed("seed", seed)
        if user_features is not None:
            user_features = check_array("user_features", user_features, ndim=2)
            if len(user_features) != n_users:
                raise ValueError(f"user_features must have {n_users} rows, got {len(user_features)}")
        if item_features is not None:
            item_features = check_array("item_features", item_features, ndim=2)
            if len(item_features) != n_items:
                raise ValueError(f"item_features must have {n_items} rows, got {len(item_features)}")
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(0 if seed is None else seed)
        self.user_tower = _Tower.make(n_users, user_features, dim, hidden)
        self.item_tower = _Tower.make(n_items, item_features, dim, hidden)
        torch.random.set_rng_state(gen_state)
        self.loss_history_: list[float] = []
        self.fit_seconds_ = 0.0

    def parameters(self):
        return list(self.user_tower.parameters()) + list(self.item_tower.parameters())

    def _vectors(self, tower, ids, n):
        torch = _torch()
        ids = np.arange(n) if ids is None else check_array("ids", ids, ndim=1, dtype=int)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"ids must be in [0, {n})")
        with torch.no_grad():
            return tower(torch.as_tensor(ids, dtype=torch.long)).numpy().astype(np.float32)

    def user_vectors(self, users=None) -> np.ndarray:
        """Unit-length user vectors as a float32 array (all users by default)."""
        return self._vectors(self.user_tower, users, self.n_users)

    def item_vectors(self, items=None) -> np.ndarray:
        """Unit-length item vectors as a float32 array (all items by default)."""
        return self._vectors(self.item_tower, items, self.n_items)


def in_batch_loss(user_vecs, item_vecs, item_ids, log_q, temperature: float):
    """Mean in-batch softmax loss of a batch of ``B`` pairs (torch tensors).

    ``user_vecs`` and ``item_vecs`` are ``(B, d)``; ``item_ids`` the ``B`` item ids (a
    repeated item is not a negative for its own copies); ``log_q`` the ``B`` log sampling
    probabilities to subtract, or ``None`` for no correction.
    """
    torch = _torch()
    logits = (user_vecs / temperature) @ item_vecs.T
    if log_q is not None:
        logits = logits - log_q[None, :]
    same = item_ids[:, None] == item_ids[None, :]         # a repeated item is not a negative
    same.fill_diagonal_(False)                            # for its own copies
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(item_ids))
    return torch.nn.functional.cross_entropy(logits, target)


def train_two_tower(model: TwoTower, users, items, *, epochs: int = 8, batch_size: int = 256,
                    lr: float = 0.005, logq: bool = True, seed: int | None = 0,
                    callback=None, progress: bool = False) -> TwoTower:
    """Train ``model`` on the observed pairs ``(users[b], items[b])`` with Adam.

    Each epoch shuffles the pairs and takes batches of ``batch_size``; ``logq`` switches the
    sampling correction on. Records the mean loss per epoch in ``model.loss_history_`` and the
    training time in ``model.fit_seconds_``. ``callback(epoch, model)``, if given, runs after
    every epoch (to score the model on validation users and keep the best epoch); its time
    is not counted. Returns the model.
    """
    torch = _torch()
    from tqdm.auto import tqdm

    if not isinstance(model, TwoTower):
        raise TypeError(f"model must be a TwoTower, got {type(model).__name__}")
    users = check_array("users", users, ndim=1, dtype=int)
    items = check_array("items", items, ndim=1, dtype=int)
    if len(users) != len(items):
        raise ValueError(f"users and items must have the same length, got {len(users)} and {len(items)}")
    if len(users) < 2:
        raise ValueError("need at least two pairs: in-batch negatives come from other pairs")
    if users.min() < 0 or users.max() >= model.n_users:
        raise ValueError(f"users must be in [0, {model.n_users})")
    if items.min() < 0 or items.max() >= model.n_items:
        raise ValueError(f"items must be in [0, {model.n_items})")
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    lr = check_float("lr", lr, minimum=0.0, strict_min=True)
    if not isinstance(logq, bool):
        raise TypeError(f"logq must be True or False, got {logq!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    rng = np.random.default_rng(check_seed("seed", seed))
    freq = np.bincount(items, minlength=model.n_items) / len(items)
    log_q_all = torch.as_tensor(np.log(np.maximum(freq, 1e-12)), dtype=torch.float32)
    u_all = torch.as_tensor(users, dtype=torch.long)
    i_all = torch.as_tensor(items, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.loss_history_ = []
    start, in_callback = time.perf_counter(), 0.0
    for _ in tqdm(range(epochs), disable=not progress, desc="two-tower epochs"):
        order = torch.as_tensor(rng.permutation(len(users)))
        total, count = 0.0, 0
        for s in range(0, len(order) - 1, batch_size):
            idx = order[s:s + batch_size]
            if len(idx) < 2:
                continue
            u, i = u_all[idx], i_all[idx]
            loss = in_batch_loss(model.user_tower(u), model.item_tower(i), i,
                                 log_q_all[i] if logq else None, model.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        model.loss_history_.append(total / count)
        if callback is not None:
            t0 = time.perf_counter()
            callback(len(model.loss_history_), model)
            in_callback += time.perf_counter() - t0
    model.fit_seconds_ = time.perf_counter() - start - in_callback
    return model
