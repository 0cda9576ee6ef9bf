r"""User profiles with two modalities and many classes, and a multi-modal, multi-task encoder.

Chapter 12 needs what no package ships: users whose *profile* (a segment such as "weekend
gift buyer") is known, with many profile classes, so that the classes a few-shot method is
scored on were never seen in meta-training; and two views of each user, a long behaviour
history and the text they wrote. :func:`make_profile_world` generates them from the seeded
model below, so the ground truth is known.

**Profile classes.** Class :math:`k` has a channel mix :math:`\pi_k \sim
\operatorname{Dirichlet}(\kappa\, \bar\pi)` over the four behaviour channels (view, search,
cart, purchase; :math:`\bar\pi` favours views), a timing for each channel, a Beta distribution
:math:`\operatorname{Beta}(a_{kc}, b_{kc})` over the horizon with
:math:`\log a_{kc}, \log b_{kc} \sim U(\log\frac12, \log 4)` (early, late, middle or spread
out), a *topic* :math:`t_k \sim \mathcal N(0, I_d / d)` of its reviews, and a loyalty
:math:`\ell_k \sim U(0, 1)`.

**Users.** A user of class :math:`k` has an activity level :math:`m_u \sim
\operatorname{LogNormal}(\log \bar m, \sigma_m)`, a nuisance: heavy and light users exist in
every class. Their history has :math:`n_u \sim \operatorname{Poisson}(m_u)` events; each takes
a channel from :math:`\pi_k` and a time :math:`\text{horizon} \cdot \operatorname{Beta}(a_{kc},
b_{kc})`. Their review embedding (a stand-in for a sentence encoder's vector of what they
wrote) is

.. math::

    z_u = t_k + B s_u + \varepsilon_u, \qquad s_u \sim \mathcal N(0, \sigma_s^2 I_r), \quad
    \varepsilon_u \sim \mathcal N(0, \sigma_\varepsilon^2 I_d / d),

where the :math:`d \times r` orthonormal :math:`B` spans *style* directions (length, tone,
language) shared by every class: variation that says nothing about the profile.

Two cheap labels exist for every user. The *department* they buy most from: the
``n_departments`` departments have unit directions :math:`v_j` (Gaussian, normalised), and a
user of class :math:`k` draws department :math:`j` with probability
:math:`\operatorname{softmax}_j(\phi\, \hat t_k^\top v_j)`, where :math:`\hat t_k` is the unit
topic and :math:`\phi` is ``department_focus``; it depends on the class only through its
topic, which only the reviews show. And "bought again within a month",
:math:`r_u \sim \operatorname{Bernoulli}(\ell_k)`, informative about the class only through
the loyalty :math:`\ell_k`.

**Encoder** (:class:`MultiModalProfiler`, after the multi-modal, multi-task architecture of
Gong et al., 2020). One branch reads the log-counts of the user's time heatmap, another the
review embedding; their outputs are concatenated and mapped to a profile vector
:math:`e_u`. Two heads read :math:`e_u`: a softmax over the training profile classes, and a
softmax over the ``n_aux`` values of a second label that every user has (the department in
Chapter 12; "bought again" has two values). Training minimises

.. math::

    L = \mathrm{CE}(\text{profile}) + \lambda\, \mathrm{CE}(\text{second label}),

where only the users with a profile label count in the first term and every user in the
second. Either branch can be switched off (an ablation), and :math:`\lambda = 0` trains the
profile task alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_choice, check_float, check_int, check_same_length, check_seed

__all__ = ["ProfileWorld", "make_profile_world", "heatmap_features", "MultiModalProfiler"]

_BASE_MIX = np.array([0.55, 0.25, 0.12, 0.08])


@dataclass(frozen=True)
class ProfileWorld:
    """Users of :func:`make_profile_world`.

    Attributes
    ----------
    times, channels : per-user event times (days in ``[0, horizon)``) and channels (0-3)
    text : ``(n, d)`` review embeddings
    y : ``(n,)`` profile class of each user
    bought_again : ``(n,)`` 0/1 label "bought again within a month"
    department : ``(n,)`` department each user buys most from, in ``0..n_departments-1``
    horizon : length of the history in days
    style_basis : ``(d, r)`` orthonormal style directions
    topics : ``(n_classes, d)`` class topics
    """

    times: list
    channels: list
    text: np.ndarray
    y: np.ndarray
    bought_again: np.ndarray
    department: np.ndarray
    horizon: float
    style_basis: np.ndarray
    topics: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.topics.shape[0])


def make_profile_world(n_classes: int = 64, users_per_class: int = 30, *, text_dim: int = 32,
                       style_dim: int = 4, style_scale: float = 1.0, text_noise: float = 1.0,
                       mean_events: float = 40.0, activity_sd: float = 0.6,
                       concentration: float = 60.0, timing_range=(0.8, 2.0),
                       n_departments: int = 16, department_focus: float = 8.0,
                       horizon: float = 28.0, seed: int | None = 0) -> ProfileWorld:
    """Generate ``users_per_class`` users of each of ``n_classes`` profile classes."""
    n_classes = check_int("n_classes", n_classes, minimum=2)
    users_per_class = check_int("users_per_class", users_per_class, minimum=1)
    text_dim = check_int("text_dim", text_dim, minimum=1)
    style_dim = check_int("style_dim", style_dim, minimum=0, maximum=text_dim)
    style_scale = check_float("style_scale", style_scale, minimum=0.0)
    text_noise = check_float("text_noise", text_noise, minimum=0.0)
    mean_events = check_float("mean_events", mean_events, minimum=0.0, strict_min=True)
    activity_sd = check_float("activity_sd", activity_sd, minimum=0.0)
    concentration = check_float("concentration", concentration, minimum=0.0, strict_min=True)
    if not isinstance(timing_range, (tuple, list)) or len(timing_range) != 2:
        raise TypeError(f"timing_range must be a pair (low, high), got {timing_range!r}")
    t_lo = check_float("timing_range[0]", timing_range[0], minimum=0.0, strict_min=True)
    t_hi = check_float("timing_range[1]", timing_range[1], minimum=t_lo)
    n_departments = check_int("n_departments", n_departments, minimum=1)
    department_focus = check_float("department_focus", department_focus, minimum=0.0)
    horizon = check_float("horizon", horizon, minimum=0.0, strict_min=True)
    rng = np.random.default_rng(check_seed("seed", seed))

    mix = rng.dirichlet(concentration * _BASE_MIX, size=n_classes)          # (K, 4)
    shape = np.exp(rng.uniform(np.log(t_lo), np.log(t_hi), size=(n_classes, 4, 2)))
    topics = rng.normal(size=(n_classes, text_dim)) / np.sqrt(text_dim)
    loyalty = rng.uniform(size=n_classes)
    departments = rng.normal(size=(n_departments, text_dim))
    departments /= np.linalg.norm(departments, axis=1, keepdims=True)
    logits = department_focus * (topics / np.linalg.norm(topics, axis=1, keepdims=True)) @ departments.T
    dept_prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    dept_prob /= dept_prob.sum(axis=1, keepdims=True)
    basis = np.linalg.qr(rng.normal(size=(text_dim, max(style_dim, 1))))[0][:, :style_dim]

    y = np.repeat(np.arange(n_classes), users_per_class)
    n = len(y)
    activity = mean_events * rng.lognormal(0.0, activity_sd, size=n)
    counts = rng.poisson(activity)
    times, channels = [], []
    last = np.nextafter(horizon, 0)
    for k, m in zip(y, counts):
        c = rng.choice(4, size=m, p=mix[k])
        t = horizon * rng.beta(shape[k, c, 0], shape[k, c, 1])
        order = np.argsort(t, kind="stable")
        times.append(np.minimum(t[order], last))
        channels.append(c[order].astype(np.int64))
    style = rng.normal(scale=style_scale, size=(n, style_dim))
    noise = rng.normal(scale=text_noise / np.sqrt(text_dim), size=(n, text_dim))
    text = topics[y] + style @ basis.T + noise
    bought_again = (rng.random(n) < loyalty[y]).astype(np.int64)
    cum = np.cumsum(dept_prob[y], axis=1)
    department = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), n_departments - 1)
    return ProfileWorld(times=times, channels=channels, text=text, y=y,
                        bought_again=bought_again, department=department.astype(np.int64), horizon=horizon, style_basis=basis,
                        topics=topics)


def heatmap_features(world: ProfileWorld, n_buckets: int = 4) -> np.ndarray:
    """``log(1 + counts)`` of each user's time heatmap, flattened: ``(n, n_buckets * 4)``."""
    from .fewshot import time_heatmap

    if not isinstance(world, ProfileWorld):
        raise TypeError(f"world must be a ProfileWorld, got {type(world).__name__}")
    n_buckets = check_int("n_buckets", n_buckets, minimum=1)
    maps = np.stack([time_heatmap(t, c, horizon=world.horizon, n_buckets=n_buckets)
                     for t, c in zip(world.times, world.channels)])
    return np.log1p(maps).reshape(len(maps), -1)


class MultiModalProfiler:
    """Two branches (behaviour heatmap, review embedding), a fused profile vector, two heads.

    Parameters
    ----------
    behaviour_dim, text_dim : input widths; n_classes : training profile classes;
    modalities : ``("behaviour", "text")`` or one of them (the other branch is left out);
    aux_weight : the weight :math:`\\lambda` of the second task (0 trains the profile task
    alone); hidden : width of each branch; embed_dim : width of the profile vector;
    epochs, batch_size, lr, weight_decay : Adam training; seed : weights and batches.
    """

    def __init__(self, behaviour_dim: int, text_dim: int, n_classes: int, n_aux: int = 2, *,
                 modalities=("behaviour", "text"), aux_weight: float = 1.0, hidden: int = 32,
                 embed_dim: int = 16, epochs: int = 40, batch_size: int = 64, lr: float = 3e-3,
                 weight_decay: float = 1e-4, seed: int | None = 0, progress: bool = False):
        import torch
        from torch import nn

        self.behaviour_dim = check_int("behaviour_dim", behaviour_dim, minimum=1)
        self.text_dim = check_int("text_dim", text_dim, minimum=1)
        self.n_classes = check_int("n_classes", n_classes, minimum=2)
        self.n_aux = check_int("n_aux", n_aux, minimum=2)
        if isinstance(modalities, str) or not isinstance(modalities, (tuple, list)) or \
                not modalities:
            raise TypeError(f"modalities must be a non-empty tuple of 'behaviour' and/or "
                            f"'text', got {modalities!r}")
        for m in modalities:
            check_choice("modalities", m, ("behaviour", "text"))
        if len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities repeats a name: {modalities!r}")
        self.modalities = tuple(modalities)
        self.aux_weight = check_float("aux_weight", aux_weight, minimum=0.0)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.embed_dim = check_int("embed_dim", embed_dim, minimum=1)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.lr = check_float("lr", lr, minimum=0.0, strict_min=True)
        self.weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
        self.seed = check_seed("seed", seed)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = progress
        widths = {"behaviour": self.behaviour_dim, "text": self.text_dim}
        gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            branches = nn.ModuleDict({m: nn.Sequential(nn.Linear(widths[m], self.hidden),
                                                       nn.ReLU()) for m in self.modalities})
            self.net = nn.ModuleDict({
                "branches": branches,
                "fuse": nn.Linear(self.hidden * len(self.modalities), self.embed_dim),
                "profile_head": nn.Linear(self.embed_dim, self.n_classes),
                "aux_head": nn.Linear(self.embed_dim, self.n_aux),
            }).double()
        self.history_: list[dict] = []
        self.best_epoch_: int | None = None

    def _check_inputs(self, behaviour, text):
        behaviour = check_array("behaviour", behaviour, ndim=2, min_rows=1)
        text = check_array("text", text, ndim=2, min_rows=1)
        check_same_length(behaviour=behaviour, text=text)
        if behaviour.shape[1] != self.behaviour_dim:
            raise ValueError(f"behaviour has {behaviour.shape[1]} columns, the model expects "
                             f"{self.behaviour_dim}")
        if text.shape[1] != self.text_dim:
            raise ValueError(f"text has {text.shape[1]} columns, the model expects {self.text_dim}")
        return behaviour, text

    def _embed(self, B, T):
        import torch

        parts = [self.net["branches"][m](B if m == "behaviour" else T) for m in self.modalities]
        return self.net["fuse"](torch.cat(parts, dim=-1))

    def fit(self, behaviour, text, y, aux, *, val=None):
        """Train on users with inputs ``behaviour``, ``text``, profile labels ``y`` (-1 for a
        user without one; others in ``0..n_classes-1``) and second-task labels ``aux`` (in
        ``0..n_aux-1``, one for every user).

        ``val``, if given, is a function of the model returning a validation score (higher is
        better, for example few-shot accuracy on validation classes); it is called after
        every epoch (``history_``) and the weights of the best epoch are kept
        (``best_epoch_``).
        """
        import torch
        from tqdm.auto import tqdm

        behaviour, text = self._check_inputs(behaviour, text)
        y = check_array("y", y, ndim=1, dtype=int)
        aux = check_array("aux", aux, ndim=1, dtype=int)
        check_same_length(behaviour=behaviour, y=y, aux=aux)
        if y.min() < -1 or y.max() >= self.n_classes:
            raise ValueError(f"y must lie in -1..{self.n_classes - 1} (-1: no profile label)")
        if aux.min() < 0 or aux.max() >= self.n_aux:
            raise ValueError(f"aux must lie in 0..{self.n_aux - 1}")
        if val is not None and not callable(val):
            raise TypeError(f"val must be callable, got {type(val).__name__}")
        B, T = torch.from_numpy(behaviour), torch.from_numpy(text)
        Y, R = torch.from_numpy(y), torch.from_numpy(aux)
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if not np.any(y >= 0):
            raise ValueError("y has no profile label (every entry is -1)")
        # Every epoch passes over all users, with or without the second task, so that
        # both variants take the same optimisation steps and see the same profile labels.
        rows = np.arange(len(y))
        self.history_ = []
        best = (-np.inf, None)
        for epoch in tqdm(range(1, self.epochs + 1), disable=not self.progress, desc="epochs"):
            self.net.train()
            total = 0.0
            order = rows[rng.permutation(len(rows))]
            for start in range(0, len(order), self.batch_size):
                idx = torch.from_numpy(order[start:start + self.batch_size])
                e = self._embed(B[idx], T[idx])
                has = Y[idx] >= 0
                loss = torch.zeros((), dtype=torch.float64)
                if bool(has.any()):
                    loss = loss + torch.nn.functional.cross_entropy(
                        self.net["profile_head"](e[has]), Y[idx][has])
                if self.aux_weight > 0:
                    loss = loss + self.aux_weight * torch.nn.functional.cross_entropy(
                        self.net["aux_head"](e), R[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.net.eval()
            record = {"epoch": epoch, "train_loss": total / len(order)}
            if val is not None:
                record["val"] = float(val(self))
                if record["val"] > best[0]:
                    best = (record["val"], (epoch, copy.deepcopy(self.net.state_dict())))
            self.history_.append(record)
        if val is not None:
            self.best_epoch_ = best[1][0]
            self.net.load_state_dict(best[1][1])
        else:
            self.best_epoch_ = self.epochs
        self.net.eval()
        return self

    def embed(self, behaviour, text) -> np.ndarray:
        """The ``(n, embed_dim)`` profile vectors of users."""
        import torch

        behaviour, text = self._check_inputs(behaviour, text)
        self.net.eval()
        with torch.no_grad():
            return self._embed(torch.from_numpy(behaviour), torch.from_numpy(text)).numpy()
