r"""A seeded synthetic e-commerce world whose true relatedness is known.

No package ships product catalogues or user sessions, so Chapters 11 and 12 generate them
from the documented model below; every draw comes from one ``numpy.random.Generator`` seeded
by the caller, so the same seed gives the same world.

**Catalogue** (:func:`make_catalogue`). :math:`C` categories have centres
:math:`c_k \sim \mathcal N(0, I_r)`, scaled to length ``separation``. Product :math:`p` gets a
category :math:`k_p` (uniform), a direction :math:`\hat z_p = (c_{k_p} + \sigma
\varepsilon_p) / \lVert \cdot \rVert` with :math:`\varepsilon_p \sim \mathcal N(0, I_r)`, and
a strength :math:`s_p \sim \text{LogNormal}(0, \tau)`. Its true latent vector is
:math:`z_p = s_p \hat z_p`: the direction says *what* the product is, the norm how strongly it
takes part in co-purchases (a popular, generic product has a long vector).

**True relatedness.** Two products are co-purchased with probability

.. math::

    P(\text{link}_{pq} = 1) = \sigma(b + \langle z_p, z_q \rangle), \qquad
    \sigma(t) = 1 / (1 + e^{-t}),

an inner-product model: the "oracle" score of a pair is :math:`\langle z_p, z_q \rangle`
(:func:`link_probability`, :func:`sample_pairs`).

**Sessions** (:func:`make_sessions`). A session is a Markov chain over products. The first
product is drawn with probability proportional to :math:`s_p`; the next one after :math:`p`
with probability proportional to :math:`\exp(\beta \langle \hat z_p, \hat z_q \rangle)` over
:math:`q \ne p`, so sessions stay mostly within related products.

**Behaviour sequences** (:func:`make_behaviour_sequences`), for Chapter 12. Each user has
events over a horizon of ``horizon`` days in four channels (0 view, 1 search, 2 cart,
3 purchase). The number of events of each channel is Poisson with the same mean for every
user. Times of views and searches are uniform on the horizon for everybody; times of cart and
purchase events are uniform for label-0 users and drawn as ``horizon * Beta(a, 1)`` (late,
close to "now") for label-1 users. The label ("about to buy again") therefore lives only in
*when* the events happen, not in how many there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_float, check_int, check_seed

__all__ = ["Catalogue", "make_catalogue", "link_probability", "sample_pairs", "make_sessions",
           "BehaviourData", "make_behaviour_sequences", "CHANNELS"]

CHANNELS = ("view", "search", "cart", "purchase")


@dataclass(frozen=True)
class Catalogue:
    """A synthetic catalogue (see the module docstring for the generative model).

    Attributes
    ----------
    category : (n,) int, the latent category of each product
    latent : (n, r) float, the true vectors ``z_p`` (direction times strength)
    strength : (n,) float, the norms ``s_p``
    bias : the intercept ``b`` of the link model
    beta : the concentration of the session chain
    """

    category: np.ndarray
    latent: np.ndarray
    strength: np.ndarray
    bias: float
    beta: float

    @property
    def n_products(self) -> int:
        return len(self.category)

    @property
    def relatedness(self) -> np.ndarray:
        """The true relatedness kernel ``Z Z^T`` (n x n)."""
        return self.latent @ self.latent.T

    def transition_matrix(self) -> np.ndarray:
        """Row-stochastic ``P[p, q]`` of the session chain (zero diagonal)."""
        unit = self.latent / self.strength[:, None]
        logits = self.beta * unit @ unit.T
        np.fill_diagonal(logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        return P / P.sum(axis=1, keepdims=True)


def make_catalogue(n_products: int = 300, *, n_categories: int = 6, dim: int = 8,
                   separation: float = 2.0, spread: float = 0.6, strength_sd: float = 0.5,
                   bias: float = -2.0, beta: float = 4.0, seed: int | None = 0) -> Catalogue:
    """Generate a catalogue of ``n_products`` with ``n_categories`` latent categories."""
    n_products = check_int("n_products", n_products, minimum=2)
    n_categories = check_int("n_categories", n_categories, minimum=1, maximum=n_products)
    dim = check_int("dim", dim, minimum=1)
    separation = check_float("separation", separation, minimum=0.0)
    spread = check_float("spread", spread, minimum=0.0)
    strength_sd = check_float("strength_sd", strength_sd, minimum=0.0)
    bias = check_float("bias", bias)
    beta = check_float("beta", beta, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    centres = rng.normal(size=(n_categories, dim))
    centres *= separation / np.linalg.norm(centres, axis=1, keepdims=True)
    category = rng.integers(0, n_categories, size=n_products)
    direction = centres[category] + spread * rng.normal(size=(n_products, dim))
    norms = np.linalg.norm(direction, axis=1, keepdims=True)
    direction = direction / np.where(norms == 0, 1.0, norms)
    strength = rng.lognormal(0.0, strength_sd, size=n_products)
    return Catalogue(category=category, latent=direction * strength[:, None], strength=strength,
                     bias=bias, beta=beta)


def _check_catalogue(catalogue):
    if not isinstance(catalogue, Catalogue):
        raise TypeError(f"catalogue must be a Catalogue (from make_catalogue), got "
                        f"{type(catalogue).__name__}")
    return catalogue


def _check_ids(name, ids, n):
    ids = check_array(name, ids, ndim=1, dtype=int)
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"{name} holds ids outside 0..{n - 1}")
    return ids


def link_probability(catalogue: Catalogue, p, q) -> np.ndarray:
    """True probability that products ``p[i]`` and ``q[i]`` are co-purchased."""
    catalogue = _check_catalogue(catalogue)
    p = _check_ids("p", p, catalogue.n_products)
    q = _check_ids("q", q, catalogue.n_products)
    if len(p) != len(q):
        raise ValueError(f"p and q must have the same length, got {len(p)} and {len(q)}")
    score = np.einsum("ij,ij->i", catalogue.latent[p], catalogue.latent[q])
    return 1.0 / (1.0 + np.exp(-(catalogue.bias + score)))


def sample_pairs(catalogue: Catalogue, n_pairs: int, *, seed: int | None = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` random product pairs (p != q) and their link labels (0/1)."""
    catalogue = _check_catalogue(catalogue)
    n_pairs = check_int("n_pairs", n_pairs, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    n = catalogue.n_products
    p = rng.integers(0, n, size=n_pairs)
    q = (p + rng.integers(1, n, size=n_pairs)) % n          # never equal to p
    y = (rng.random(n_pairs) < link_probability(catalogue, p, q)).astype(np.int64)
    return p, q, y


def make_sessions(catalogue: Catalogue, n_sessions: int = 2000, *, length: int = 10,
                  seed: int | None = 0) -> list[list[int]]:
    """Sessions of ``length`` product ids each, drawn from the session chain."""
    catalogue = _check_catalogue(catalogue)
    n_sessions = check_int("n_sessions", n_sessions, minimum=1)
    length = check_int("length", length, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    P = catalogue.transition_matrix()
    cum = np.cumsum(P, axis=1)
    cum[:, -1] = 1.0
    start = catalogue.strength / catalogue.strength.sum()
    current = rng.choice(catalogue.n_products, size=n_sessions, p=start)
    out = np.empty((n_sessions, length), dtype=np.int64)
    out[:, 0] = current
    for t in range(1, length):  # all sessions step together: inverse-CDF sampling per row
        u = rng.random(n_sessions)
        current = np.minimum((cum[current] <= u[:, None]).sum(axis=1), catalogue.n_products - 1)
        out[:, t] = current
    return out.tolist()


@dataclass(frozen=True)
class BehaviourData:
    """Per-user event streams: ``times[i]`` (days in [0, horizon)) and ``channels[i]``
    (ints into :data:`CHANNELS`), and the user labels ``y`` (1 = about to buy again)."""

    times: list[np.ndarray]
    channels: list[np.ndarray]
    y: np.ndarray
    horizon: float


def make_behaviour_sequences(n_users: int = 600, *, mean_events=(40, 10, 4, 2),
                             horizon: float = 28.0, lateness: float = 3.0,
                             seed: int | None = 0) -> BehaviourData:
    """Generate long behaviour sequences whose label depends only on event timing.

    ``mean_events`` gives the Poisson mean count of each channel; ``lateness`` is the ``a``
    of the ``Beta(a, 1)`` timing of label-1 cart and purchase events (1 means no signal).
    """
    n_users = check_int("n_users", n_users, minimum=2)
    rates = check_array("mean_events", mean_events, ndim=1, min_rows=1)
    if np.any(rates < 0):
        raise ValueError("mean_events must be >= 0")
    horizon = check_float("horizon", horizon, minimum=0.0, strict_min=True)
    lateness = check_float("lateness", lateness, minimum=0.0, strict_min=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    y = rng.permutation(np.arange(n_users) % 2)
    late_channels = {2, 3}
    times, channels = [], []
    for label in y:
        t_parts, c_parts = [], []
        for c, rate in enumerate(rates):
            k = rng.poisson(rate)
            if label == 1 and c in late_channels:
                t = horizon * rng.beta(lateness, 1.0, size=k)
            else:
                t = rng.uniform(0.0, horizon, size=k)
            t_parts.append(np.minimum(t, np.nextafter(horizon, 0)))
            c_parts.append(np.full(k, c, dtype=np.int64))
        t = np.concatenate(t_parts)
        c = np.concatenate(c_parts)
        order = np.argsort(t, kind="stable")
        times.append(t[order])
        channels.append(c[order])
    return BehaviourData(times=times, channels=channels, y=y.astype(np.int64), horizon=horizon)
