r"""Offline and online evaluation of rankers, in a simulated feed whose truth is known.

**The world.** :math:`U` users with taste vectors :math:`\theta_u` and :math:`P` posts with
topic vectors :math:`\phi_p` (unit vectors in a few dimensions) and a quality :math:`q_p`. A
session shows user :math:`u` a slate of :math:`K` posts. The user *examines* rank :math:`r`
with probability :math:`e_r` (position bias; :math:`e_r = 1/r` by default, in the spirit of the
position-based click model of Craswell et al., 2008) and clicks an examined post with
probability

.. math::

    c_{up} = \sigma(\alpha + b_u + \beta\, \theta_u^\top \phi_p + \gamma\, q_p),
    \qquad \sigma(z) = 1 / (1 + e^{-z}) ,

where :math:`b_u` is the user's activity (some users click much more than others, whatever
they are shown),

so the expected clicks of a slate :math:`s` are :math:`\sum_r e_r\, c_{u s_r}`. Because the
simulator knows :math:`c` and :math:`e`, the true online value of any ranker is computed
exactly: the yardstick for every estimate below.

**A/B test.** Users are split at random between rankers A and B; the difference of mean clicks
per session, with its standard error :math:`\sqrt{s_A^2/n_A + s_B^2/n_B}`, estimates the
true difference.

**Team-draft interleaving** (Radlinski, Kurup and Joachims, 2008). One slate mixes both
rankings: the rankers take turns (a coin decides who starts each round) to add their best
post not yet in the slate, and each post remembers which *team* added it. A click counts for
that team; a session is won by the team with more clicks. Every user compares both rankers,
so the comparison needs far fewer sessions than an A/B test (Chapelle et al., 2012).

**Off-policy estimation.** A logging policy :math:`\pi_0` showed post :math:`a_i` to user
:math:`u_i` with probability :math:`\pi_0(a_i \mid u_i)` and observed reward :math:`r_i`. The
value of another policy :math:`\pi` is estimated without showing it to anyone by **inverse
propensity scoring** (Horvitz and Thompson, 1952; for recommendation, Li et al., 2011):

.. math::

    \hat V_{\text{IPS}}(\pi) = \frac1n \sum_i \frac{\pi(a_i \mid u_i)}{\pi_0(a_i \mid u_i)}\, r_i ,
    \qquad
    \hat V_{\text{SNIPS}}(\pi) = \frac{\sum_i w_i r_i}{\sum_i w_i}, \quad
    w_i = \frac{\pi(a_i \mid u_i)}{\pi_0(a_i \mid u_i)} ,

unbiased (IPS) when :math:`\pi_0` gives every action that :math:`\pi` may take a positive
probability; the self-normalised version (SNIPS; Swaminathan and Joachims, 2015) trades a
small bias for less variance. The weights explode where :math:`\pi` favours actions
:math:`\pi_0` rarely took: the **effective sample size** :math:`(\sum w)^2 / \sum w^2` says how
many logged events the estimate is really worth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_float, check_int, check_seed
from .recsys import top_k as recsys_top_k

__all__ = [
    "FeedWorld", "make_world", "top_k", "expected_clicks", "simulate_clicks", "ab_test",
    "team_draft_interleave", "interleaving_test", "softmax_policy", "log_bandit_feedback",
    "policy_value", "ips_estimate", "effective_sample_size", "hit_rate",
]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class FeedWorld:
    """The simulator's hidden truth (see the module docstring)."""

    taste: np.ndarray          # (U, dim) unit vectors
    topic: np.ndarray          # (P, dim) unit vectors
    quality: np.ndarray        # (P,)
    activity: np.ndarray       # (U,)
    alpha: float
    beta: float
    gamma: float
    examination: np.ndarray    # (K,) probability of examining each rank

    @property
    def n_users(self) -> int:
        return len(self.taste)

    @property
    def n_posts(self) -> int:
        return len(self.topic)

    @property
    def slate_size(self) -> int:
        return len(self.examination)

    def click_probability(self, users=None) -> np.ndarray:
        """``(len(users), P)`` probability of a click on an examined post."""
        users = np.arange(self.n_users) if users is None else np.asarray(users)
        logits = (self.alpha + self.activity[users, None] + self.beta * self.taste[users] @ self.topic.T
                  + self.gamma * self.quality)
        return _sigmoid(logits)


def make_world(n_users: int = 1000, n_posts: int = 300, *, dim: int = 8, slate_size: int = 5,
               alpha: float = -2.5, beta: float = 3.0, gamma: float = 0.5,
               activity_std: float = 1.0, position_exponent: float = 1.0,
               seed: int | None = 0) -> FeedWorld:
    """Draw a world: unit taste and topic vectors, standard normal quality, normal activity
    with standard deviation ``activity_std``, and ``e_r = r^-position_exponent``."""
    n_users = check_int("n_users", n_users, minimum=1)
    n_posts = check_int("n_posts", n_posts, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    slate_size = check_int("slate_size", slate_size, minimum=1, maximum=n_posts)
    alpha = check_float("alpha", alpha)
    beta = check_float("beta", beta)
    gamma = check_float("gamma", gamma)
    activity_std = check_float("activity_std", activity_std, minimum=0.0)
    position_exponent = check_float("position_exponent", position_exponent, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    taste = rng.normal(size=(n_users, dim))
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    topic = rng.normal(size=(n_posts, dim))
    topic /= np.linalg.norm(topic, axis=1, keepdims=True)
    quality = rng.normal(size=n_posts)
    activity = activity_std * rng.normal(size=n_users)
    exam = np.arange(1, slate_size + 1, dtype=float) ** (-position_exponent)
    return FeedWorld(taste, topic, quality, activity, alpha, beta, gamma, exam)


def top_k(scores, k: int) -> np.ndarray:
    """The ``k`` highest-scoring columns of every row, best first (ties: lower index first)."""
    S = check_array("scores", scores, ndim=2)
    return recsys_top_k(S, check_int("k", k, minimum=1, maximum=S.shape[1]))


def _slates(world: FeedWorld, slates, users=None) -> np.ndarray:
    if not isinstance(world, FeedWorld):
        raise TypeError(f"world must be a FeedWorld, got {type(world).__name__}")
    S = check_array("slates", slates, ndim=2, dtype=int)
    if S.shape[1] != world.slate_size:
        raise ValueError(f"slates must have {world.slate_size} columns (the slate size), got "
                         f"{S.shape[1]}")
    if S.size and (S.min() < 0 or S.max() >= world.n_posts):
        raise ValueError(f"slates must hold post ids in [0, {world.n_posts - 1}]")
    expected_rows = world.n_users if users is None else len(users)
    if len(S) != expected_rows:
        raise ValueError(f"slates must have one row per user ({expected_rows}), got {len(S)}")
    return S


def expected_clicks(world: FeedWorld, slates) -> np.ndarray:
    """Exact expected clicks of every user's slate (one row per user): the online truth."""
    S = _slates(world, slates)
    C = world.click_probability()
    return (np.take_along_axis(C, S, axis=1) * world.examination).sum(axis=1)


def simulate_clicks(world: FeedWorld, users, slates, rng) -> np.ndarray:
    """Random clicks ``(n, K)`` of sessions where ``users[i]`` sees slate ``slates[i]``."""
    users = check_array("users", users, ndim=1, dtype=int)
    S = _slates(world, slates, users)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    C = world.click_probability(users)
    p = np.take_along_axis(C, S, axis=1) * world.examination
    return (rng.random(p.shape) < p).astype(np.int64)


def ab_test(world: FeedWorld, slates_a, slates_b, n_sessions: int, *,
            seed: int | None = 0) -> dict[str, float]:
    """Split ``n_sessions`` random users between A and B; mean clicks per session of each arm,
    their difference (B - A) and its standard error."""
    n_sessions = check_int("n_sessions", n_sessions, minimum=4)
    rng = np.random.default_rng(check_seed("seed", seed))
    A, B = _slates(world, slates_a), _slates(world, slates_b)
    users = rng.integers(0, world.n_users, size=n_sessions)
    arm_b = rng.random(n_sessions) < 0.5
    clicks = np.where(arm_b, simulate_clicks(world, users, B[users], rng).sum(1),
                      simulate_clicks(world, users, A[users], rng).sum(1))
    ca, cb = clicks[~arm_b], clicks[arm_b]
    se = np.sqrt(ca.var(ddof=1) / len(ca) + cb.var(ddof=1) / len(cb))
    return {"mean A": float(ca.mean()), "mean B": float(cb.mean()),
            "difference": float(cb.mean() - ca.mean()), "se": float(se),
            "sessions A": int(len(ca)), "sessions B": int(len(cb))}


def team_draft_interleave(ranking_a, ranking_b, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Team-draft interleaving of two rankings: the slate and its teams (0 for A, 1 for B).

    In each round a coin decides which ranker picks first; each adds its highest-ranked item
    not yet in the slate. The slate stops at ``k`` items or when both rankings are used up.
    """
    a = check_array("ranking_a", ranking_a, ndim=1, dtype=int)
    b = check_array("ranking_b", ranking_b, ndim=1, dtype=int)
    k = check_int("k", k, minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    slate: list[int] = []
    teams: list[int] = []
    chosen: set[int] = set()
    pos = [0, 0]
    rankings = (a, b)
    counts = [0, 0]

    def next_item(t):
        while pos[t] < len(rankings[t]) and int(rankings[t][pos[t]]) in chosen:
            pos[t] += 1
        return int(rankings[t][pos[t]]) if pos[t] < len(rankings[t]) else None

    while len(slate) < k:
        if counts[0] < counts[1]:
            order = (0,)
        elif counts[1] < counts[0]:
            order = (1,)
        else:
            order = (0, 1) if rng.random() < 0.5 else (1, 0)
        team = None
        for t in order + tuple(x for x in (0, 1) if x not in order):
            item = next_item(t)
            if item is not None:
                team = t
                break
        if team is None:
            break
        slate.append(item)
        teams.append(team)
        chosen.add(item)
        counts[team] += 1
    return np.array(slate, dtype=np.int64), np.array(teams, dtype=np.int64)


def interleaving_test(world: FeedWorld, rankings_a, rankings_b, n_sessions: int, *,
                      seed: int | None = 0) -> np.ndarray:
    """Outcome of ``n_sessions`` interleaved sessions of random users: +1 when B's team got
    more clicks, -1 when A's did, 0 for a tie (including no click)."""
    n_sessions = check_int("n_sessions", n_sessions, minimum=1)
    if not isinstance(world, FeedWorld):
        raise TypeError(f"world must be a FeedWorld, got {type(world).__name__}")
    RA = check_array("rankings_a", rankings_a, ndim=2, dtype=int)
    RB = check_array("rankings_b", rankings_b, ndim=2, dtype=int)
    if len(RA) != world.n_users or len(RB) != world.n_users:
        raise ValueError("rankings_a and rankings_b need one row per user")
    rng = np.random.default_rng(check_seed("seed", seed))
    K = world.slate_size
    users = rng.integers(0, world.n_users, size=n_sessions)
    slates = np.empty((n_sessions, K), dtype=np.int64)
    teams = np.empty((n_sessions, K), dtype=np.int64)
    for i, u in enumerate(users):
        s, t = team_draft_interleave(RA[u], RB[u], K, rng)
        if len(s) < K:
            raise ValueError("each ranking must list at least slate_size posts")
        slates[i], teams[i] = s, t
    clicks = simulate_clicks(world, users, slates, rng)
    b_clicks = (clicks * teams).sum(1)
    a_clicks = (clicks * (1 - teams)).sum(1)
    return np.sign(b_clicks - a_clicks).astype(np.int64)


def softmax_policy(scores, temperature: float = 1.0) -> np.ndarray:
    """Probabilities ``softmax(scores / temperature)`` over the columns of every row."""
    S = check_array("scores", scores, ndim=2)
    t = check_float("temperature", temperature, minimum=0.0, strict_min=True)
    Z = S / t
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


def _policy(world, probs):
    P = check_array("probs", probs, ndim=2)
    if P.shape != (world.n_users, world.n_posts):
        raise ValueError(f"probs must be (n_users, n_posts) = {(world.n_users, world.n_posts)}, "
                         f"got {P.shape}")
    if np.any(P < 0) or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("every row of probs must be a probability distribution")
    return P


def policy_value(world: FeedWorld, probs) -> float:
    """True expected clicks per session of a one-post policy (post shown at rank 1)."""
    if not isinstance(world, FeedWorld):
        raise TypeError(f"world must be a FeedWorld, got {type(world).__name__}")
    P = _policy(world, probs)
    return float(world.examination[0] * np.mean((P * world.click_probability()).sum(axis=1)))


def log_bandit_feedback(world: FeedWorld, logging_probs, n: int, *,
                        seed: int | None = 0) -> dict[str, np.ndarray]:
    """Logs of ``n`` sessions of a one-post logging policy: users, actions, propensities, rewards."""
    if not isinstance(world, FeedWorld):
        raise TypeError(f"world must be a FeedWorld, got {type(world).__name__}")
    P = _policy(world, logging_probs)
    n = check_int("n", n, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    users = rng.integers(0, world.n_users, size=n)
    cdf = np.cumsum(P[users], axis=1)
    actions = np.minimum((cdf < rng.random((n, 1))).sum(axis=1), world.n_posts - 1)
    p_click = world.examination[0] * world.click_probability(users)[np.arange(n), actions]
    rewards = (rng.random(n) < p_click).astype(float)
    return {"users": users, "actions": actions, "propensity": P[users, actions], "reward": rewards}


def ips_estimate(rewards, target_probs, logging_probs, *,
                 self_normalized: bool = False) -> tuple[float, float]:
    """IPS (or SNIPS) estimate of a policy's value and its standard error.

    ``target_probs[i]`` and ``logging_probs[i]`` are the probabilities that the evaluated and
    the logging policy give to the logged action of event ``i``.
    """
    r = check_array("rewards", rewards, ndim=1, min_rows=2)
    pt = check_array("target_probs", target_probs, ndim=1)
    p0 = check_array("logging_probs", logging_probs, ndim=1)
    if len({len(r), len(pt), len(p0)}) != 1:
        raise ValueError(f"rewards, target_probs and logging_probs must have the same length, "
                         f"got {len(r)}, {len(pt)} and {len(p0)}")
    if np.any(p0 <= 0):
        raise ValueError("logging_probs must be positive: IPS needs every logged action to "
                         "have had a chance")
    if np.any(pt < 0) or np.any(pt > 1):
        raise ValueError("target_probs must lie in [0, 1]")
    w = pt / p0
    if not self_normalized:
        values = w * r
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(r)))
    if w.sum() == 0:
        raise ValueError("the target policy gives probability 0 to every logged action")
    est = float((w * r).sum() / w.sum())
    # delta-method standard error of a ratio estimator
    se = float(np.sqrt(np.sum((w * (r - est)) ** 2)) / w.sum())
    return est, se


def effective_sample_size(target_probs, logging_probs) -> float:
    """``(sum w)^2 / sum w^2`` of the importance weights ``w = target / logging``."""
    pt = check_array("target_probs", target_probs, ndim=1)
    p0 = check_array("logging_probs", logging_probs, ndim=1)
    if len(pt) != len(p0):
        raise ValueError("target_probs and logging_probs must have the same length")
    if np.any(p0 <= 0):
        raise ValueError("logging_probs must be positive")
    w = pt / p0
    if not np.any(w):
        return 0.0
    return float(w.sum() ** 2 / (w ** 2).sum())


def hit_rate(slates, users, clicked_posts) -> float:
    """Offline metric on logged clicks: share of clicked (user, post) pairs whose post is in
    that user's slate from the evaluated ranker."""
    S = check_array("slates", slates, ndim=2, dtype=int)
    users = check_array("users", users, ndim=1, dtype=int)
    posts = check_array("clicked_posts", clicked_posts, ndim=1, dtype=int)
    if len(users) != len(posts):
        raise ValueError(f"users and clicked_posts must have the same length, got {len(users)} "
                         f"and {len(posts)}")
    if len(users) == 0:
        raise ValueError("there are no logged clicks to score")
    return float(np.mean((S[users] == posts[:, None]).any(axis=1)))
