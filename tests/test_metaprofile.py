"""The profile world's generative model, and the multi-modal, multi-task encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlab import fewshot, metaprofile as M


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Small models run faster on one thread on a busy machine (see conftest.py)."""


@pytest.fixture(scope="module")
def world():
    return M.make_profile_world(24, 20, seed=1)


def test_world_is_seeded_and_shaped(world):
    again = M.make_profile_world(24, 20, seed=1)
    assert np.array_equal(world.text, again.text) and np.array_equal(world.y, again.y)
    assert world.n_classes == 24 and np.all(np.bincount(world.y) == 20)
    assert world.text.shape == (480, 32) and world.style_basis.shape == (32, 4)
    assert np.allclose(world.style_basis.T @ world.style_basis, np.eye(4))
    assert all(len(t) == len(c) for t, c in zip(world.times, world.channels))
    assert all(np.all(np.diff(t) >= 0) and (len(t) == 0 or t.max() < world.horizon)
               for t in world.times)
    assert set(np.unique(world.department)) <= set(range(16))
    assert set(np.unique(world.bought_again)) <= {0, 1}
    assert not np.array_equal(world.text, M.make_profile_world(24, 20, seed=2).text)


def test_text_is_topic_plus_style_plus_noise():
    w = M.make_profile_world(8, 400, style_scale=2.0, text_noise=0.5, seed=3)
    residual = w.text - w.topics[w.y]
    style = residual @ w.style_basis                      # coordinates along the style basis
    assert np.allclose(style.std(axis=0), 2.0, rtol=0.1)
    inside = residual - style @ w.style_basis.T           # what is left: the noise
    assert abs(np.sqrt((inside ** 2).sum(1).mean()) - 0.5 * np.sqrt(28 / 32)) < 0.05
    class_means = np.stack([w.text[w.y == k].mean(0) for k in range(8)])
    assert np.abs(class_means - w.topics).max() < 0.35     # the class mean is its topic
    quiet = M.make_profile_world(8, 50, style_scale=0.0, seed=3)   # no style: noise only
    along = (quiet.text - quiet.topics[quiet.y]) @ quiet.style_basis
    assert np.allclose(along.std(axis=0), 1.0 / np.sqrt(32), rtol=0.25)


def test_behaviour_differs_by_class_but_activity_does_not(world):
    counts = np.array([len(c) for c in world.channels])
    mix = np.array([np.bincount(c, minlength=4) / max(len(c), 1) for c in world.channels])
    by_class = np.array([mix[world.y == k].mean(0) for k in range(24)])
    within = np.mean([mix[world.y == k].std(0).mean() for k in range(24)])
    assert by_class.std(0).mean() > 0.3 * within           # the channel mix depends on the class
    assert np.corrcoef(counts, world.y)[0, 1] ** 2 < 0.05  # activity is a per-user nuisance
    assert abs(counts.mean() - 40 * np.exp(0.6 ** 2 / 2)) < 6


def test_heatmap_features_are_log_counts(world):
    H = M.heatmap_features(world, 7)
    assert H.shape == (480, 28)
    i = 5
    ref = np.log1p(fewshot.time_heatmap(world.times[i], world.channels[i], horizon=world.horizon,
                                        n_buckets=7)).ravel()
    assert np.allclose(H[i], ref)


def _labels(world, classes, per_class, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.isin(world.y, classes)
    codes = {c: j for j, c in enumerate(classes)}
    y = np.full(mask.sum(), -1)
    ys = world.y[mask]
    for c in classes:
        y[rng.choice(np.flatnonzero(ys == c), per_class, replace=False)] = codes[c]
    return mask, y


def test_encoder_trains_switches_branches_and_keeps_the_best_epoch(world):
    H, T = M.heatmap_features(world, 4), world.text
    mask, y = _labels(world, np.arange(16), 8)
    calls = []

    def val(model):
        calls.append(1)
        return -abs(len(calls) - 2)                   # best at the second epoch

    model = M.MultiModalProfiler(16, 32, 16, 16, epochs=4, seed=0)
    model.fit(H[mask], T[mask], y, world.department[mask], val=val)
    assert len(model.history_) == 4 and model.best_epoch_ == 2
    assert model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]
    text_only = M.MultiModalProfiler(16, 32, 16, 16, modalities=("text",), epochs=2, seed=0)
    text_only.fit(H[mask], T[mask], y, world.department[mask])
    shuffled = H[mask][np.random.default_rng(0).permutation(mask.sum())]
    assert np.allclose(text_only.embed(H[mask], T[mask]), text_only.embed(shuffled, T[mask]))
    single = M.MultiModalProfiler(16, 32, 16, 16, aux_weight=0.0, epochs=2, seed=0)
    before = single.net["aux_head"].weight.detach().clone()
    single.fit(H[mask], T[mask], y, world.department[mask])
    assert torch.equal(single.net["aux_head"].weight, before)   # no second task, no gradient
    assert single.embed(H[:3], T[:3]).shape == (3, 16)


def test_encoder_embeds_unseen_classes_better_than_raw_text():
    w = M.make_profile_world(32, 20, seed=4)
    H, T = M.heatmap_features(w, 4), w.text
    train, test = np.arange(24), np.arange(24, 32)
    mask, y = _labels(w, train, 20)
    model = M.MultiModalProfiler(16, 32, 24, 16, epochs=30, seed=0)
    model.fit(H[mask], T[mask], y, w.department[mask])
    te = np.isin(w.y, test)

    def proto(S, yS, Q):
        return fewshot.PrototypeClassifier().fit(S, yS).predict_proba(Q, 0.1)

    kw = dict(n_way=5, k_shot=5, n_query=5, n_episodes=40, seed=1)
    raw = fewshot.evaluate_episodes(proto, T[te], w.y[te], **kw).accuracy.mean()
    learned = fewshot.evaluate_episodes(proto, model.embed(H[te], T[te]), w.y[te], **kw)
    assert learned.accuracy.mean() > raw + 0.1


def test_bad_input(world):
    with pytest.raises(ValueError, match="style_dim must be <= 8"):
        M.make_profile_world(4, 2, text_dim=8, style_dim=9)
    with pytest.raises(TypeError, match="timing_range must be a pair"):
        M.make_profile_world(4, 2, timing_range=3.0)
    with pytest.raises(TypeError, match="world must be a ProfileWorld"):
        M.heatmap_features("users")
    with pytest.raises(TypeError, match="modalities must be a non-empty tuple"):
        M.MultiModalProfiler(4, 4, 3, modalities="text")
    with pytest.raises(ValueError, match="modalities must be one of"):
        M.MultiModalProfiler(4, 4, 3, modalities=("audio",))
    model = M.MultiModalProfiler(16, 32, 3, 16, epochs=1)
    H, T = M.heatmap_features(world, 4)[:6], world.text[:6]
    with pytest.raises(ValueError, match="y must lie in -1..2"):
        model.fit(H, T, [0, 1, 2, 3, 0, 0], [0] * 6)
    with pytest.raises(ValueError, match="y has no profile label"):
        model.fit(H, T, [-1] * 6, [0] * 6)
    with pytest.raises(ValueError, match="aux must lie in 0..15"):
        model.fit(H, T, [0] * 6, [16] * 6)
    with pytest.raises(ValueError, match="text has 5 columns"):
        model.embed(H, T[:, :5])
    with pytest.raises(TypeError, match="val must be callable"):
        model.fit(H, T, [0] * 6, [0] * 6, val=0.5)
