"""Online evaluation: exact values against Monte Carlo, team-draft interleaving's rules,
IPS unbiased against the simulator's truth, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab import online as O


@pytest.fixture(scope="module")
def world():
    return O.make_world(200, 40, dim=4, slate_size=4, seed=0)


def test_click_probability_is_the_logistic_model(world):
    C = world.click_probability()
    u, p = 7, 11
    z = (world.alpha + world.activity[u] + world.beta * world.taste[u] @ world.topic[p]
         + world.gamma * world.quality[p])
    assert C[u, p] == pytest.approx(1 / (1 + np.exp(-z)))
    assert np.allclose(world.click_probability([3, 7])[1], C[7])
    assert np.allclose(world.examination, 1 / np.arange(1, 5))


def test_expected_clicks_match_simulation(world):
    rng = np.random.default_rng(1)
    slates = O.top_k(rng.normal(size=(world.n_users, world.n_posts)), world.slate_size)
    exact = O.expected_clicks(world, slates)
    users = np.repeat(np.arange(world.n_users), 400)
    sim = O.simulate_clicks(world, users, slates[users], rng).sum(1).reshape(world.n_users, 400)
    assert abs(sim.mean() - exact.mean()) < 4 * sim.std() / np.sqrt(sim.size)
    assert np.corrcoef(sim.mean(1), exact)[0, 1] > 0.8


def test_top_k_orders_by_score():
    S = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, 2.0, 1.0, 0.0]])
    assert O.top_k(S, 3).tolist() == [[1, 3, 2], [0, 1, 2]]


def test_ab_test_estimates_the_true_difference(world):
    rng = np.random.default_rng(2)
    A = O.top_k(rng.normal(size=(world.n_users, world.n_posts)), 4)
    B = O.top_k(world.click_probability(), 4)               # the best possible slates
    truth = O.expected_clicks(world, B).mean() - O.expected_clicks(world, A).mean()
    res = O.ab_test(world, A, B, 20_000, seed=3)
    assert truth > 0 and abs(res["difference"] - truth) < 4 * res["se"]
    assert res["sessions A"] + res["sessions B"] == 20_000


def test_team_draft_interleaving_rules():
    a = np.array([1, 2, 3, 4, 5])
    b = np.array([3, 1, 6, 7, 8])
    rng = np.random.default_rng(0)
    for _ in range(50):
        slate, teams = O.team_draft_interleave(a, b, 4, rng)
        assert len(slate) == 4 and len(set(slate)) == 4
        assert abs(int(teams.sum()) - 2) == 0                  # two picks each
        # every pick is its team's best item not already in the slate
        for i, (item, team) in enumerate(zip(slate, teams)):
            ranking = a if team == 0 else b
            best = next(x for x in ranking if x not in slate[:i])
            assert item == best
    # identical rankings: the slate is that ranking
    slate, _ = O.team_draft_interleave(a, a, 5, rng)
    assert slate.tolist() == a.tolist()
    # a short ranking: the other team keeps picking
    slate, teams = O.team_draft_interleave(np.array([9]), b, 3, np.random.default_rng(1))
    assert len(slate) == 3 and 9 in slate.tolist()


def test_interleaving_prefers_the_truly_better_ranker(world):
    rng = np.random.default_rng(4)
    worse = O.top_k(rng.normal(size=(world.n_users, world.n_posts)), 20)
    better = O.top_k(world.click_probability(), 20)
    outcome = O.interleaving_test(world, worse, better, 3000, seed=5)
    assert set(np.unique(outcome)) <= {-1, 0, 1}
    assert outcome.mean() > 4 * outcome.std() / np.sqrt(len(outcome))


def test_ips_is_unbiased_and_snips_close(world):
    rng = np.random.default_rng(6)
    P0 = O.softmax_policy(rng.normal(size=(world.n_users, world.n_posts)), 1.0)
    target = O.softmax_policy(3 * world.click_probability(), 0.5)
    truth = O.policy_value(world, target)
    logs = O.log_bandit_feedback(world, P0, 40_000, seed=7)
    pt = target[logs["users"], logs["actions"]]
    est, se = O.ips_estimate(logs["reward"], pt, logs["propensity"])
    assert abs(est - truth) < 4 * se
    est_sn, se_sn = O.ips_estimate(logs["reward"], pt, logs["propensity"], self_normalized=True)
    assert abs(est_sn - truth) < 4 * se_sn
    # the logging policy's own value is the plain mean reward
    assert abs(logs["reward"].mean() - O.policy_value(world, P0)) < 4 * logs["reward"].std() / 200
    assert 0 < O.effective_sample_size(pt, logs["propensity"]) <= 40_000
    assert O.effective_sample_size(np.ones(5), np.ones(5)) == pytest.approx(5)


def test_softmax_policy_and_hit_rate():
    P = O.softmax_policy(np.array([[0.0, np.log(3.0)]]), 1.0)
    assert np.allclose(P, [[0.25, 0.75]])
    slates = np.array([[0, 1], [2, 3]])
    assert O.hit_rate(slates, np.array([0, 1, 1]), np.array([1, 0, 3])) == pytest.approx(2 / 3)


def test_argument_errors(world):
    with pytest.raises(ValueError, match="slates must have 4 columns"):
        O.expected_clicks(world, np.zeros((world.n_users, 3), dtype=int))
    with pytest.raises(ValueError, match="post ids in"):
        O.expected_clicks(world, np.full((world.n_users, 4), 99))
    with pytest.raises(TypeError, match="world must be a FeedWorld"):
        O.expected_clicks("world", np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="logging_probs must be positive"):
        O.ips_estimate(np.ones(3), np.ones(3), np.array([0.5, 0.0, 0.5]))
    with pytest.raises(ValueError, match="same length"):
        O.ips_estimate(np.ones(3), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="probability distribution"):
        O.policy_value(world, np.ones((world.n_users, world.n_posts)))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        O.softmax_policy(np.ones((2, 2)), 0.0)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        O.team_draft_interleave([1, 2], [2, 1], 2, rng=3)
    with pytest.raises(ValueError, match="slate_size must be <= 40"):
        O.make_world(5, 40, slate_size=41)
    with pytest.raises(ValueError, match="no logged clicks"):
        O.hit_rate(np.zeros((2, 2), dtype=int), np.array([], dtype=int), np.array([], dtype=int))
