"""Few-shot tools against scikit-learn, SciPy, NumPy and torch; the e-commerce generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from embedlab import ecommerce, fewshot as F


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 6)) * 3
    y = np.repeat(np.arange(5), 30)
    X = centres[y] + rng.normal(size=(150, 6))
    return X, y


def test_episode_has_the_requested_shape_and_no_overlap(blobs):
    _, y = blobs
    ep = F.sample_episode(y, 3, 4, 5, seed=1)
    assert len(ep.support) == 12 and len(ep.query) == 15
    assert not set(ep.support) & set(ep.query)
    for j, c in enumerate(ep.classes):
        assert np.all(y[ep.support[ep.support_labels == j]] == c)
        assert np.all(y[ep.query[ep.query_labels == j]] == c)
    imbalanced = F.sample_episode(y, 2, [1, 9], 5, seed=1)
    assert np.bincount(imbalanced.support_labels).tolist() == [1, 9]
    again = F.sample_episode(y, 3, 4, 5, seed=1)
    assert np.array_equal(again.support, ep.support)


def test_euclidean_prototypes_equal_nearest_centroid(blobs):
    X, y = blobs
    ours = F.PrototypeClassifier("euclidean").fit(X[::2], y[::2])
    ref = NearestCentroid().fit(X[::2], y[::2])
    assert np.allclose(ours.prototypes_, ref.centroids_)
    assert np.array_equal(ours.predict(X[1::2]), ref.predict(X[1::2]))


def test_cosine_prototypes_equal_cosine_similarity_to_centroids(blobs):
    X, y = blobs
    ours = F.PrototypeClassifier().fit(X[::2], y[::2])
    ref = NearestCentroid().fit(X[::2], y[::2]).centroids_
    assert np.allclose(ours.scores(X[1::2]), cosine_similarity(X[1::2], ref), atol=1e-12)
    assert np.allclose(F.ood_score(X[1::2], ref), cosine_similarity(X[1::2], ref).max(1))


def test_knn_vote_equals_scikit_learn(blobs):
    X, y = blobs
    for k in (1, 3, 5):
        ours = F.KNNVote(k).fit(X[::3], y[::3]).predict(X[1::3])
        ref = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(
            X[::3], y[::3]).predict(X[1::3])
        assert np.mean(ours == ref) > 0.98     # only exact ties may be broken differently


def test_confidence_interval_matches_scipy():
    acc = np.random.default_rng(1).uniform(0.5, 0.9, size=50)
    mean, half = F.mean_confidence_interval(acc, 0.9)
    lo, hi = stats.norm.interval(0.9, loc=acc.mean(), scale=stats.sem(acc))
    assert mean == pytest.approx(acc.mean())
    assert (mean - half, mean + half) == pytest.approx((lo, hi))


def test_relation_features_and_head(blobs):
    X, y = blobs
    Q, P = torch.randn(4, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    feats = F.relation_features(Q, P)
    assert feats.shape == (4, 3, 18)
    assert torch.allclose(feats[2, 1], torch.cat([Q[2], P[1], (Q[2] - P[1]).abs()]))
    head = F.RelationHead(6, n_episodes=150, n_way=3, k_shot=3, seed=0).fit(X[::2], y[::2])
    assert head.loss_history_[-1] < head.loss_history_[0]
    protos = np.stack([X[::2][y[::2] == c].mean(0) for c in range(5)])
    assert np.mean(head.predict(X[1::2], protos) == y[1::2]) > 0.8
    # same weights, same scores: the head is the torch MLP applied to the features
    expected = head.net(F.relation_features(torch.from_numpy(X[:2]), torch.from_numpy(protos)))
    assert np.allclose(head.relation_scores(X[:2], protos), expected.detach().squeeze(-1).numpy())
    again = F.RelationHead(6, n_episodes=150, n_way=3, k_shot=3, seed=0).fit(X[::2], y[::2])
    assert np.allclose(again.relation_scores(X[:3], protos), head.relation_scores(X[:3], protos))


def test_time_heatmap_equals_histogram2d_and_sums_to_the_bag():
    rng = np.random.default_rng(2)
    t = rng.uniform(0, 28, size=200)
    c = rng.integers(0, 4, size=200)
    H = F.time_heatmap(t, c, horizon=28.0, n_buckets=7)
    ref, _, _ = np.histogram2d(t, c, bins=[np.linspace(0, 28, 8), np.arange(5) - 0.5])
    assert np.array_equal(H, ref)
    assert np.array_equal(H.sum(0), F.bag_of_events(c))


def test_behaviour_generator_hides_the_label_in_the_timing():
    data = ecommerce.make_behaviour_sequences(400, seed=3)
    bags = np.array([F.bag_of_events(c) for c in data.channels])
    late = np.array([np.mean(t[c >= 2] > 14) if np.any(c >= 2) else 0.5
                     for t, c in zip(data.times, data.channels)])
    assert late[data.y == 1].mean() > late[data.y == 0].mean() + 0.2
    assert stats.ttest_ind(bags[data.y == 1, 2], bags[data.y == 0, 2]).pvalue > 0.001


def test_catalogue_generator():
    cat = ecommerce.make_catalogue(120, n_categories=4, seed=0)
    again = ecommerce.make_catalogue(120, n_categories=4, seed=0)
    assert np.array_equal(cat.latent, again.latent)
    assert np.allclose(np.linalg.norm(cat.latent, axis=1), cat.strength)
    P = cat.transition_matrix()
    assert np.allclose(P.sum(1), 1) and np.allclose(np.diag(P), 0)
    sessions = np.array(ecommerce.make_sessions(cat, 500, length=6, seed=1))
    same = np.mean(cat.category[sessions[:, 1:]] == cat.category[sessions[:, :-1]])
    assert same > 1 / 4 + 0.1           # sessions stay within related products
    p, q, y = ecommerce.sample_pairs(cat, 20_000, seed=0)
    assert np.all(p != q)
    prob = ecommerce.link_probability(cat, p, q)
    assert abs(y.mean() - prob.mean()) < 0.02


def test_bad_input(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="only 0 classes have"):
        F.sample_episode(y, 2, 40, 5, seed=0)
    with pytest.raises(ValueError, match="k_shot has 3 entries for n_way=2"):
        F.sample_episode(y, 2, [1, 2, 3], 5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        F.sample_episode(y, 2, 1, 1, rng=3)
    with pytest.raises(ValueError, match="metric must be one of"):
        F.PrototypeClassifier("manhattan")
    with pytest.raises(RuntimeError, match="call fit"):
        F.PrototypeClassifier().predict(X)
    with pytest.raises(ValueError, match="X has 3 columns"):
        F.PrototypeClassifier().fit(X, y).predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="k=200 is larger"):
        F.KNNVote(200).fit(X, y)
    with pytest.raises(ValueError, match="row of zeros"):
        F.ood_score(np.zeros((1, 6)), X[:2])
    with pytest.raises(ValueError, match="level must be < 1"):
        F.mean_confidence_interval([0.5, 0.6], 1.0)
    with pytest.raises(TypeError, match="must be torch tensors"):
        F.relation_features(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_way must be >= 2"):
        F.RelationHead(6, n_way=1)
    with pytest.raises(ValueError, match="Q has 5 columns"):
        F.RelationHead(6).relation_scores(np.ones((2, 5)), np.ones((2, 6)))
    with pytest.raises(ValueError, match="times must lie in"):
        F.time_heatmap([30.0], [0], horizon=28.0)
    with pytest.raises(ValueError, match="channels must lie in 0..3"):
        F.bag_of_events([4])
    with pytest.raises(TypeError, match="catalogue must be a Catalogue"):
        ecommerce.sample_pairs("shop", 3)
    with pytest.raises(ValueError, match="p holds ids outside"):
        ecommerce.link_probability(ecommerce.make_catalogue(10), [10], [1])
    with pytest.raises(ValueError, match="n_categories must be <= 5"):
        ecommerce.make_catalogue(5, n_categories=6)
