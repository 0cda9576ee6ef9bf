"""Few-shot tools against scikit-learn, SciPy, NumPy and torch; the e-commerce generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cdist
from scipy.special import softmax
from sklearn.calibration import calibration_curve
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from embedlab import ecommerce, fewshot as F


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Small models run faster on one thread on a busy machine (see conftest.py)."""


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 6)) * 3
    y = np.repeat(np.arange(5), 30)
    X = centres[y] + rng.normal(size=(150, 6))
    return X, y


@pytest.fixture(scope="module")
def many_classes():
    """24 classes in 8 dimensions; 2 of them carry a large nuisance shared by all classes."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(24, 8))
    centres[:, :2] = 0.0
    y = np.repeat(np.arange(24), 20)
    X = centres[y] + 0.4 * rng.normal(size=(480, 8))
    X[:, :2] += 4.0 * rng.normal(size=(480, 2))
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


def test_split_classes_is_disjoint_complete_and_seeded():
    y = np.repeat(np.arange(10, 30), 3)
    tr, va, te = F.split_classes(y, 12, 4, seed=3)
    assert (len(tr), len(va), len(te)) == (12, 4, 4)
    assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    assert set(tr) | set(va) | set(te) == set(range(10, 30))
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), F.split_classes(y, 12, 4, seed=3)))
    assert not np.array_equal(tr, F.split_classes(y, 12, 4, seed=4)[0])


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


def test_squared_euclidean_probabilities_are_a_softmax_of_distances(blobs):
    X, y = blobs
    labels = 7 * y + 3                                   # labels that are not 0..C-1
    clf = F.PrototypeClassifier("sqeuclidean").fit(X[::2], labels[::2])
    centroids = NearestCentroid().fit(X[::2], labels[::2]).centroids_
    for temperature in (0.5, 1.0, 4.0):
        ref = softmax(-cdist(X[1::2], centroids, "sqeuclidean") / temperature, axis=1)
        assert np.allclose(clf.predict_proba(X[1::2], temperature), ref, atol=1e-12)
    assert np.array_equal(clf.predict(X[1::2]), NearestCentroid().fit(X[::2], labels[::2])
                          .predict(X[1::2]))
    far = clf.predict_proba(X[1::2] * 1e3)            # huge distances: no overflow
    assert np.all(np.isfinite(far)) and np.allclose(far.sum(1), 1.0)


def test_matching_probabilities_equal_torch_attention(blobs):
    X, y = blobs
    S, yS, Q = X[:40], 10 - y[:40], X[100:130]             # labels in decreasing order
    for temperature in (0.05, 0.3, 1.0):
        classes, P = F.matching_probabilities(S, yS, Q, temperature=temperature)
        assert np.array_equal(classes, np.unique(yS))
        q = torch.nn.functional.normalize(torch.from_numpy(Q), dim=1)
        s = torch.nn.functional.normalize(torch.from_numpy(S), dim=1)
        onehot = torch.from_numpy((yS[:, None] == classes[None, :]).astype(float))
        ref = torch.softmax(q @ s.T / temperature, dim=1) @ onehot
        assert np.allclose(P, ref.numpy(), atol=1e-12)


def test_matching_limits_nearest_neighbour_and_class_shares(blobs):
    X, y = blobs
    ep = F.sample_episode(y, 3, [1, 2, 6], 8, seed=2)
    S, yS, Q = X[ep.support], ep.support_labels, X[ep.query]
    _, cold = F.matching_probabilities(S, yS, Q, temperature=1e-4)
    assert np.array_equal(cold.argmax(1), F.KNNVote(1).fit(S, yS).predict(Q))
    _, hot = F.matching_probabilities(S, yS, Q, temperature=1e4)
    assert np.allclose(hot, np.array([1, 2, 6]) / 9, atol=1e-3)   # attention spreads evenly
    one_shot = F.sample_episode(y, 4, 1, 5, seed=3)
    _, P1 = F.matching_probabilities(X[one_shot.support], one_shot.support_labels,
                                     X[one_shot.query], temperature=0.2)
    P2 = F.PrototypeClassifier().fit(X[one_shot.support], one_shot.support_labels) \
        .predict_proba(X[one_shot.query], 0.2)
    assert np.allclose(P1, P2, atol=1e-12)                 # one shot: matching = prototypes
    _, tie = F.matching_probabilities([[1.0, 0.0], [0.0, 1.0]], [4, 9], [[1.0, 1.0]])
    assert np.allclose(tie, 0.5)


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


def test_evaluate_episodes_draws_the_same_episodes_and_scores_them(blobs):
    X, y = blobs

    def proto(S, yS, Q):
        return F.PrototypeClassifier().fit(S, yS).predict_proba(Q, 0.1)

    res = F.evaluate_episodes(proto, X, y, n_way=3, k_shot=2, n_query=4, n_episodes=20, seed=7)
    rng = np.random.default_rng(7)
    manual = []
    for _ in range(20):
        ep = F.sample_episode(y, 3, 2, 4, rng=rng)
        pred = F.PrototypeClassifier().fit(X[ep.support], ep.support_labels).predict(X[ep.query])
        manual.append(np.mean(pred == ep.query_labels))
    assert np.allclose(res.accuracy, manual)
    assert res.probabilities.shape == (20 * 12, 3) and res.labels.shape == (240,)
    assert np.isclose(res.correct.mean(), np.mean(manual))
    hot = res.with_temperature(3.0)
    assert np.array_equal(hot.accuracy, res.accuracy)
    assert np.allclose(hot.probabilities, softmax(np.log(res.probabilities) / 3.0, axis=1))
    assert hot.confidence.mean() < res.confidence.mean()      # a higher temperature softens
    with pytest.raises(ValueError, match="temperature must be > 0"):
        res.with_temperature(-1.0)
    with pytest.raises(ValueError, match="returned shape"):
        F.evaluate_episodes(lambda S, yS, Q: np.ones((len(Q), 2)), X, y, n_way=3, k_shot=1,
                            n_query=1, n_episodes=1)


def test_relation_features_and_head(blobs):
    X, y = blobs
    Q, P = torch.randn(4, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    feats = F.relation_features(Q, P)
    assert feats.shape == (4, 3, 18)
    assert torch.allclose(feats[2, 1], torch.cat([Q[2], P[1], (Q[2] - P[1]).abs()]))
    head = F.RelationHead(6, n_episodes=120, n_way=3, k_shot=3, seed=0).fit(X[::2], y[::2])
    assert np.mean(head.loss_history_[-20:]) < np.mean(head.loss_history_[:20])
    protos = np.stack([X[::2][y[::2] == c].mean(0) for c in range(5)])
    assert np.mean(head.predict(X[1::2], protos) == y[1::2]) > 0.8
    # same weights, same scores: the head is the torch MLP applied to the features
    expected = head.net(F.relation_features(torch.from_numpy(X[:2]), torch.from_numpy(protos)))
    assert np.allclose(head.relation_scores(X[:2], protos), expected.detach().squeeze(-1).numpy())
    assert np.allclose(head.predict_proba(X[::2], y[::2], X[:3]),
                       softmax(head.relation_scores(X[:3], protos), axis=1))
    short = [F.RelationHead(6, n_episodes=10, n_way=3, k_shot=3, seed=0).fit(X[::2], y[::2])
             for _ in range(2)]                           # same seed, same weights
    assert np.allclose(short[0].relation_scores(X[:3], protos),
                       short[1].relation_scores(X[:3], protos))


def test_validation_classes_choose_the_training_length(many_classes):
    X, y = many_classes
    train, val = y < 14, (y >= 14) & (y < 19)
    head = F.RelationHead(8, n_way=4, k_shot=3, n_episodes=120, eval_every=40, n_val_episodes=10,
                          seed=1).fit(X[train], y[train], X[val], y[val])
    episodes = [e for e, _ in head.val_history_]
    assert episodes == [0, 40, 80, 120]
    best_acc = max(a for _, a in head.val_history_)
    assert dict(head.val_history_)[head.best_episode_] == best_acc
    vrng = np.random.default_rng(10_000 + 1)
    eps = [F.sample_episode(y[val], 4, 3, 5, rng=vrng) for _ in range(10)]
    again = np.mean([np.mean(head.predict_proba(X[val][e.support], e.support_labels,
                                                X[val][e.query]).argmax(1) == e.query_labels)
                     for e in eps])
    assert again == pytest.approx(best_acc)                 # the kept weights are the best ones


def _manual_fce(net, S, Q, E, steps):
    """Full context embeddings written out with torch.nn.LSTMCell and the gate weights."""
    lstm = net["support_lstm"]
    g = net["base"](S)
    directions = []
    for suffix, order in (("", range(len(S))), ("_reverse", reversed(range(len(S))))):
        cell = torch.nn.LSTMCell(E, E).double()
        cell.weight_ih.data = getattr(lstm, "weight_ih_l0" + suffix).data
        cell.weight_hh.data = getattr(lstm, "weight_hh_l0" + suffix).data
        cell.bias_ih.data = getattr(lstm, "bias_ih_l0" + suffix).data
        cell.bias_hh.data = getattr(lstm, "bias_hh_l0" + suffix).data
        h = c = torch.zeros(1, E, dtype=torch.float64)
        out = [None] * len(S)
        for i in order:
            h, c = cell(g[i:i + 1], (h, c))
            out[i] = h[0]
        directions.append(torch.stack(out))
    G = g + directions[0] + directions[1]
    W, b = net["query_gates"].weight, net["query_gates"].bias
    f = net["base"](Q)
    h = c = torch.zeros_like(f)
    for _ in range(steps):
        a = torch.exp(h @ G.T)
        r = (a / a.sum(dim=1, keepdim=True)) @ G            # r_{k-1}, read with h_{k-1}
        z = f @ W[:, :E].T + h @ W[:, E:2 * E].T + r @ W[:, 2 * E:].T + b
        i, fg, gg, o = z[:, :E], z[:, E:2 * E], z[:, 2 * E:3 * E], z[:, 3 * E:]
        c = torch.sigmoid(fg) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c) + f
    return G, h


def test_matching_network_follows_its_equations(blobs):
    X, y = blobs
    idx = np.r_[0:4, 30:34, 60:64]                       # four examples of classes 0, 1, 2
    S, yS, Q = torch.from_numpy(X[idx]), torch.from_numpy(y[idx]), torch.from_numpy(X[100:107])
    net = F.MatchingNetwork(6, embed_dim=5, hidden=7, processing_steps=3, temperature=0.2, seed=4)
    with torch.no_grad():
        G, Fq = _manual_fce(net.net, S, Q, 5, 3)
        assert torch.allclose(net._embed_support(S), G, atol=1e-12)
        assert torch.allclose(net._embed_query(Q, G), Fq, atol=1e-12)
        cos = torch.nn.functional.normalize(Fq, dim=1) @ torch.nn.functional.normalize(G, dim=1).T
        ref = torch.softmax(cos / 0.2, dim=1) @ torch.nn.functional.one_hot(yS, 3).double()
    assert np.allclose(net.predict_proba(X[idx], y[idx], X[100:107]), ref.numpy(), atol=1e-12)
    plain = F.MatchingNetwork(6, fce=False, temperature=0.5, seed=4)
    with torch.no_grad():
        e_s, e_q = plain.net["base"](S), plain.net["base"](Q)
    _, expected = F.matching_probabilities(e_s.numpy(), y[idx], e_q.numpy(), temperature=0.5)
    assert np.allclose(plain.predict_proba(X[idx], y[idx], X[100:107]), expected, atol=1e-12)
    assert 0.05 < expected.max(1).min() and expected.min() < 0.95   # not a trivial case
    assert np.allclose(plain.embed(X[idx][:3]), e_s[:3].numpy())


def test_matching_network_learns_a_comparison_that_transfers(many_classes):
    X, y = many_classes
    train, test = y < 16, y >= 16

    def cosine(S, yS, Q):
        return F.matching_probabilities(S, yS, Q, temperature=0.1)[1]

    frozen = F.evaluate_episodes(cosine, X[test], y[test], n_way=4, k_shot=3, n_query=5,
                                 n_episodes=40, seed=2)
    net = F.MatchingNetwork(8, fce=False, n_way=4, k_shot=3, n_episodes=200, lr=3e-3,
                            seed=0).fit(X[train], y[train])
    learned = F.evaluate_episodes(net.predict_proba, X[test], y[test], n_way=4, k_shot=3,
                                  n_query=5, n_episodes=40, seed=2)
    assert np.mean(net.loss_history_[-20:]) < np.mean(net.loss_history_[:20])
    # the nuisance dimensions are shared by all classes: learning to ignore them transfers
    assert learned.accuracy.mean() > frozen.accuracy.mean() + 0.15


def test_reliability_bins_equal_scikit_learn_calibration_curve():
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.2, 1.0, size=500)
    conf[:5] = [0.5, 0.3, 1.0, 0.7, 0.2]                  # values on bin edges
    correct = rng.random(500) < conf ** 2
    bins = F.reliability_bins(conf, correct, n_bins=10)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    full = bins["count"] > 0
    assert np.allclose(bins["accuracy"][full], prob_true)
    assert np.allclose(bins["confidence"][full], prob_pred)
    assert bins["count"].sum() == 500 and np.isnan(bins["accuracy"][0])   # (0, 0.1] is empty
    ece = np.sum(bins["count"][full] * np.abs(prob_true - prob_pred)) / 500
    assert F.expected_calibration_error(conf, correct, 10) == pytest.approx(ece)


def test_expected_calibration_error_by_hand():
    # bin (0.5, 0.6]: confidences 0.55 and 0.6, one right -> |0.5 - 0.575|; bin (0.9, 1]: 1.0, right
    conf, correct = [0.55, 0.6, 1.0, 0.0], [1, 0, 1, 0]
    assert F.expected_calibration_error(conf, correct, 10) == pytest.approx((2 * 0.075) / 4)
    assert F.expected_calibration_error([0.8] * 5, [1, 1, 1, 1, 0], 1) == pytest.approx(0.0)
    assert F.expected_calibration_error([0.9, 0.7], [True, True], 1) == pytest.approx(0.2)


def test_fit_temperature_minimises_the_likelihood_and_recovers_a_known_temperature():
    rng = np.random.default_rng(4)
    logits = 3.0 * rng.normal(size=(3000, 5))
    probs = softmax(logits / 2.5, axis=1)
    labels = (probs.cumsum(1) < rng.random((3000, 1))).sum(1)
    fitted = F.fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(1.0), np.log(6.0), 601))
    nll = [np.mean(-np.log(softmax(logits / t, axis=1)[np.arange(3000), labels])) for t in grid]
    assert fitted == pytest.approx(grid[int(np.argmin(nll))], rel=4e-3)
    assert abs(fitted - 2.5) < 0.2


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
    with pytest.raises(ValueError, match="leaves no test class"):
        F.split_classes(y, 3, 2)
    with pytest.raises(ValueError, match="metric must be one of"):
        F.PrototypeClassifier("manhattan")
    with pytest.raises(RuntimeError, match="call fit"):
        F.PrototypeClassifier().predict(X)
    with pytest.raises(ValueError, match="X has 3 columns"):
        F.PrototypeClassifier().fit(X, y).predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        F.PrototypeClassifier().fit(X, y).predict_proba(X, 0.0)
    with pytest.raises(ValueError, match="Q has 2 columns, the support set S has 6"):
        F.matching_probabilities(X, y, np.ones((1, 2)))
    with pytest.raises(ValueError, match="S has a row of zeros"):
        F.matching_probabilities(np.zeros((2, 6)), [0, 1], X[:1])
    with pytest.raises(ValueError, match="same number of rows"):
        F.matching_probabilities(X, y[:3], X[:1])
    with pytest.raises(ValueError, match="k=200 is larger"):
        F.KNNVote(200).fit(X, y)
    with pytest.raises(ValueError, match="row of zeros"):
        F.ood_score(np.zeros((1, 6)), X[:2])
    with pytest.raises(ValueError, match="level must be < 1"):
        F.mean_confidence_interval([0.5, 0.6], 1.0)
    with pytest.raises(TypeError, match="predict_proba must be callable"):
        F.evaluate_episodes("prototypes", X, y, n_way=2, k_shot=1, n_query=1, n_episodes=1)
    with pytest.raises(TypeError, match="must be torch tensors"):
        F.relation_features(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_way must be >= 2"):
        F.RelationHead(6, n_way=1)
    with pytest.raises(ValueError, match="Q has 5 columns"):
        F.RelationHead(6).relation_scores(np.ones((2, 5)), np.ones((2, 6)))
    with pytest.raises(ValueError, match="pass both X_val and y_val"):
        F.RelationHead(6).fit(X, y, X_val=X)
    with pytest.raises(TypeError, match="fce must be True or False"):
        F.MatchingNetwork(6, fce="yes")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        F.MatchingNetwork(6, temperature=0)
    with pytest.raises(ValueError, match="S has 4 columns, the model expects dim=6"):
        F.MatchingNetwork(6).predict_proba(np.ones((2, 4)), [0, 1], np.ones((1, 6)))
    with pytest.raises(ValueError, match="confidence must lie in"):
        F.expected_calibration_error([1.2], [1])
    with pytest.raises(ValueError, match="correct must hold 0/1"):
        F.reliability_bins([0.5], [2])
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        F.expected_calibration_error([0.5], [1], 0)
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        F.fit_temperature(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="bounds must be increasing"):
        F.fit_temperature(np.zeros((2, 2)), [0, 1], bounds=(2.0, 1.0))
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
