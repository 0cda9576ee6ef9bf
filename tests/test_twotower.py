"""Two-tower retrieval: the in-batch loss with the logQ correction, and training that finds
planted groups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlab import twotower

torch.set_num_threads(1)


def _manual_loss(U, V, ids, log_q, tau):
    logits = U @ V.T / tau
    if log_q is not None:
        logits = logits - log_q[None, :]
    for a in range(len(ids)):
        for b in range(len(ids)):
            if a != b and ids[a] == ids[b]:
                logits[a, b] = -np.inf
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(logp))


@pytest.mark.parametrize("use_logq", [True, False])
def test_in_batch_loss_equals_a_direct_softmax(use_logq):
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    ids = np.array([3, 1, 3, 2, 5, 1])                      # repeated items
    log_q = np.log(rng.random(6)) if use_logq else None
    loss = twotower.in_batch_loss(torch.tensor(U), torch.tensor(V), torch.tensor(ids),
                                  None if log_q is None else torch.tensor(log_q), 0.3)
    assert abs(float(loss) - _manual_loss(U, V, ids, log_q, 0.3)) < 1e-10


def _groups(seed=0, n_users=40, n_items=30, n=1200):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, size=n)
    items = (users % 2) * 15 + rng.integers(0, 15, size=n)
    return users, items


def test_training_separates_planted_groups_and_is_seeded():
    users, items = _groups()
    model = twotower.TwoTower(40, 30, dim=8, hidden=16, seed=0)
    twotower.train_two_tower(model, users, items, epochs=4, batch_size=100, lr=0.03, seed=0)
    assert model.loss_history_[-1] < model.loss_history_[0]
    S = model.user_vectors() @ model.item_vectors().T
    own = np.array([S[u, (u % 2) * 15:(u % 2) * 15 + 15].mean() for u in range(40)])
    other = np.array([S[u, (1 - u % 2) * 15:(1 - u % 2) * 15 + 15].mean() for u in range(40)])
    assert np.all(own > other)
    assert np.allclose(np.linalg.norm(model.item_vectors(), axis=1), 1, atol=1e-5)
    again = twotower.TwoTower(40, 30, dim=8, hidden=16, seed=0)
    twotower.train_two_tower(again, users, items, epochs=4, batch_size=100, lr=0.03, seed=0)
    assert np.array_equal(model.item_vectors(), again.item_vectors())


def test_side_features_enter_the_towers():
    users, items = _groups(1)
    feats = np.eye(30)[:, :5]
    model = twotower.TwoTower(40, 30, item_features=feats, user_features=np.ones((40, 2)), dim=4,
                              hidden=8, seed=1)
    seen = []
    twotower.train_two_tower(model, users, items, epochs=2, batch_size=100, seed=1,
                             callback=lambda epoch, m: seen.append((epoch, m is model)))
    assert seen == [(1, True), (2, True)]
    assert model.item_vectors([0, 1]).shape == (2, 4)
    assert model.user_vectors().dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda: twotower.TwoTower(0, 3), ValueError, "n_users must be >= 1"),
    (lambda: twotower.TwoTower(2, 3, temperature=0.0), ValueError, "temperature must be > 0"),
    (lambda: twotower.TwoTower(2, 3, item_features=np.ones((2, 2))), ValueError,
     "item_features must have 3 rows"),
    (lambda: twotower.train_two_tower("model", [0, 1], [0, 1]), TypeError, "model must be a TwoTower"),
    (lambda: twotower.train_two_tower(twotower.TwoTower(2, 3), [0], [0]), ValueError,
     "at least two pairs"),
    (lambda: twotower.train_two_tower(twotower.TwoTower(2, 3), [0, 5], [0, 1]), ValueError,
     r"users must be in \[0, 2\)"),
    (lambda: twotower.train_two_tower(twotower.TwoTower(2, 3), [0, 1], [0]), ValueError,
     "same length"),
    (lambda: twotower.train_two_tower(twotower.TwoTower(2, 3), [0, 1], [0, 1], logq=1), TypeError,
     "logq must be True or False"),
    (lambda: twotower.TwoTower(2, 3).item_vectors([7]), ValueError, r"ids must be in \[0, 3\)"),
    (lambda: twotower.train_two_tower(twotower.TwoTower(2, 3), [0, 1], [0, 1], callback=3),
     TypeError, "callback must be callable"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
