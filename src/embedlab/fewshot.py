r"""Few-shot classification on top of pretrained embeddings.

**Episodes.** An :math:`N`-way :math:`K`-shot episode draws :math:`N` classes, :math:`K`
labelled *support* examples of each and a few *query* examples to classify (Vinyals et al.,
2016). Accuracy is averaged over many episodes and reported with a normal-approximation
confidence interval :math:`\bar a \pm z_{1-\alpha/2}\, s / \sqrt{m}` over :math:`m` episodes.

**Prototypes** (matching-network style; Snell, Swersky and Zemel, 2017). Class :math:`c` is
summarised by the mean of its support embeddings, :math:`p_c = \frac1K \sum_{i: y_i = c}
x_i`, and a query goes to the most similar prototype, by cosine similarity or by (negative)
Euclidean distance.

**Relation head** (relation networks; Sung et al., 2018). Instead of a fixed similarity, a
small network scores a (query, prototype) pair from the features
:math:`[q, p, |q - p|]` (concatenation and element-wise absolute difference), and is trained
on episodes drawn from labelled data with a softmax over the classes of the episode.

**k-NN voting.** A query takes the majority label of its :math:`k` most similar support
examples. With imbalanced support sets the large class wins more votes, a bias that prototypes
do not have because every class contributes one vector.

**Out-of-distribution score.** The best prototype similarity :math:`\max_c \cos(q, p_c)`: a
query unlike every class scores low.

**Time heatmap** (after the user meta-profile encoding of Gong et al., 2020). A long event
sequence of a user becomes a :math:`T \times C` matrix: row :math:`t` counts the events of
each of the :math:`C` behaviour channels in time bucket :math:`t`. A *bag of events*, the
:math:`C` totals, is its column sum: it forgets when things happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import check_array, check_choice, check_float, check_int, check_seed, check_same_length

__all__ = [
    "Episode", "sample_episode", "class_prototypes", "PrototypeClassifier", "KNNVote",
    "ood_score", "mean_confidence_interval", "relation_features", "RelationHead",
    "time_heatmap", "bag_of_events",
]


# ------------------------------------------------------------------------------ episodes

@dataclass(frozen=True)
class Episode:
    """Indices into the data set and episode labels ``0..N-1`` (``classes[j]`` is label j)."""

    support: np.ndarray
    support_labels: np.ndarray
    query: np.ndarray
    query_labels: np.ndarray
    classes: np.ndarray


def sample_episode(labels, n_way: int, k_shot, n_query: int, *, rng=None,
                   seed: int | None = None) -> Episode:
    """Draw one ``n_way``-way episode from integer ``labels``.

    ``k_shot`` is an int (the same for every class) or a sequence of ``n_way`` ints (for
    imbalanced support sets). ``n_query`` queries per class are drawn from the remaining
    examples of the class. Pass a ``numpy.random.Generator`` as ``rng`` to draw many
    episodes from one stream, or a ``seed``.
    """
    labels = check_array("labels", labels, ndim=1, dtype=int, min_rows=2)
    n_way = check_int("n_way", n_way, minimum=1)
    if isinstance(k_shot, (list, tuple, np.ndarray)):
        shots = [check_int("k_shot", k, minimum=1) for k in k_shot]
        if len(shots) != n_way:
            raise ValueError(f"k_shot has {len(shots)} entries for n_way={n_way}")
    else:
        shots = [check_int("k_shot", k_shot, minimum=1)] * n_way
    n_query = check_int("n_query", n_query, minimum=1)
    if rng is None:
        rng = np.random.default_rng(check_seed("seed", seed))
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    values, counts = np.unique(labels, return_counts=True)
    eligible = values[counts >= max(shots) + n_query]
    if len(eligible) < n_way:
        raise ValueError(f"only {len(eligible)} classes have {max(shots) + n_query} examples, "
                         f"an episode needs n_way={n_way}")
    classes = rng.choice(eligible, size=n_way, replace=False)
    sup, sup_y, qry, qry_y = [], [], [], []
    for j, (c, k) in enumerate(zip(classes, shots)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        sup.append(idx[:k])
        qry.append(idx[k:k + n_query])
        sup_y.append(np.full(k, j))
        qry_y.append(np.full(n_query, j))
    return Episode(support=np.concatenate(sup), support_labels=np.concatenate(sup_y),
                   query=np.concatenate(qry), query_labels=np.concatenate(qry_y),
                   classes=np.asarray(classes))


def mean_confidence_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the normal-approximation interval at ``level``."""
    values = check_array("values", values, ndim=1, min_rows=2)
    level = check_float("level", level, minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    return float(values.mean()), float(z * values.std(ddof=1) / np.sqrt(len(values)))


# ---------------------------------------------------------------------------- classifiers

def _normalise(X, name):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name} has a row of zeros: its cosine similarity is undefined")
    return X / norms


def class_prototypes(X, y) -> tuple[np.ndarray, np.ndarray]:
    """The classes (sorted) and the mean embedding of each: ``(classes, (C, d) prototypes)``."""
    X = check_array("X", X, ndim=2, min_rows=1)
    y = check_array("y", y, ndim=1, dtype=int)
    check_same_length(X=X, y=y)
    classes, codes = np.unique(y, return_inverse=True)
    sums = np.zeros((len(classes), X.shape[1]))
    np.add.at(sums, codes, X)
    return classes, sums / np.bincount(codes)[:, None]


@dataclass
class PrototypeClassifier:
    """Nearest class mean, by ``metric="cosine"`` (default) or ``"euclidean"``."""

    metric: str = "cosine"
    classes_: np.ndarray | None = field(default=None, init=False, repr=False)
    prototypes_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_choice("metric", self.metric, ("cosine", "euclidean"))

    def fit(self, X, y) -> "PrototypeClassifier":
        self.classes_, self.prototypes_ = class_prototypes(X, y)
        return self

    def scores(self, X) -> np.ndarray:
        """``(m, C)`` similarities (cosine, or minus the Euclidean distance) to each prototype."""
        if self.prototypes_ is None:
            raise RuntimeError("call fit before scores or predict")
        X = check_array("X", X, ndim=2, min_rows=1)
        if X.shape[1] != self.prototypes_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns, the prototypes have "
                             f"{self.prototypes_.shape[1]}")
        if self.metric == "cosine":
            return _normalise(X, "X") @ _normalise(self.prototypes_, "prototypes").T
        sq = ((X[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(-1)
        return -np.sqrt(sq)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.scores(X), axis=1)]


@dataclass
class KNNVote:
    """Majority vote of the ``k`` most cosine-similar support examples (ties: smallest label)."""

    k: int = 3
    X_: np.ndarray | None = field(default=None, init=False, repr=False)
    y_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.k = check_int("k", self.k, minimum=1)

    def fit(self, X, y) -> "KNNVote":
        X = check_array("X", X, ndim=2, min_rows=1)
        y = check_array("y", y, ndim=1, dtype=int)
        check_same_length(X=X, y=y)
        if self.k > len(X):
            raise ValueError(f"k={self.k} is larger than the {len(X)} support examples")
        self.X_, self.y_ = _normalise(X, "X"), y
        return self

    def predict(self, X) -> np.ndarray:
        if self.X_ is None:
            raise RuntimeError("call fit before predict")
        X = check_array("X", X, ndim=2, min_rows=1)
        if X.shape[1] != self.X_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns, the support set has {self.X_.shape[1]}")
        sims = _normalise(X, "X") @ self.X_.T
        nearest = np.argsort(-sims, axis=1, kind="stable")[:, :self.k]
        classes, codes = np.unique(self.y_, return_inverse=True)
        votes = np.zeros((len(X), len(classes)))
        np.add.at(votes, (np.repeat(np.arange(len(X)), self.k), codes[nearest].ravel()), 1.0)
        return classes[np.argmax(votes, axis=1)]


def ood_score(X, prototypes) -> np.ndarray:
    """Best cosine similarity of each row of ``X`` to the ``(C, d)`` prototypes (high = known)."""
    X = check_array("X", X, ndim=2, min_rows=1)
    P = check_array("prototypes", prototypes, ndim=2, min_rows=1)
    if X.shape[1] != P.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns, prototypes have {P.shape[1]}")
    return (_normalise(X, "X") @ _normalise(P, "prototypes").T).max(axis=1)


# -------------------------------------------------------------------------- relation head

def relation_features(Q, P):
    """All (query, prototype) pair features ``[q, p, |q - p|]``: a ``(m, C, 3d)`` torch tensor."""
    import torch

    if not isinstance(Q, torch.Tensor) or not isinstance(P, torch.Tensor):
        raise TypeError("Q and P must be torch tensors")
    if Q.ndim != 2 or P.ndim != 2 or Q.shape[1] != P.shape[1]:
        raise ValueError(f"Q (m, d) and P (C, d) must be 2-D with the same d, got "
                         f"{tuple(Q.shape)} and {tuple(P.shape)}")
    q = Q[:, None, :].expand(-1, P.shape[0], -1)
    p = P[None, :, :].expand(Q.shape[0], -1, -1)
    return torch.cat([q, p, (q - p).abs()], dim=-1)


class RelationHead:
    """A small MLP that scores (query, prototype) pairs from ``[q, p, |q - p|]``.

    Parameters
    ----------
    dim : embedding width d; hidden : width of the hidden layer; lr : Adam step size;
    n_episodes : training episodes; n_way, k_shot, n_query : the episodes it trains on;
    weight_decay : L2 penalty; seed : seeds the weights and the episodes.
    """

    def __init__(self, dim: int, *, hidden: int = 64, lr: float = 1e-3, n_episodes: int = 300,
                 n_way: int = 2, k_shot: int = 5, n_query: int = 5, weight_decay: float = 1e-4,
                 seed: int | None = 0, progress: bool = False):
        import torch

        self.dim = check_int("dim", dim, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.lr = check_float("lr", lr, minimum=0.0, strict_min=True)
        self.n_episodes = check_int("n_episodes", n_episodes, minimum=1)
        self.n_way = check_int("n_way", n_way, minimum=2)
        self.k_shot = check_int("k_shot", k_shot, minimum=1)
        self.n_query = check_int("n_query", n_query, minimum=1)
        self.weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
        self.seed = check_seed("seed", seed)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = progress
        gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            self.net = torch.nn.Sequential(
                torch.nn.Linear(3 * self.dim, self.hidden), torch.nn.ReLU(),
                torch.nn.Linear(self.hidden, 1)).double()
        self.loss_history_: list[float] = []

    def _check_X(self, X, name="X"):
        X = check_array(name, X, ndim=2, min_rows=1)
        if X.shape[1] != self.dim:
            raise ValueError(f"{name} has {X.shape[1]} columns, the head expects dim={self.dim}")
        return X

    def relation_scores(self, Q, P) -> np.ndarray:
        """``(m, C)`` relation scores (logits) between queries and prototypes."""
        import torch

        Q = self._check_X(Q, "Q")
        P = self._check_X(P, "P")
        with torch.no_grad():
            feats = relation_features(torch.from_numpy(Q), torch.from_numpy(P))
            return self.net(feats).squeeze(-1).numpy()

    def fit(self, X, y) -> "RelationHead":
        """Train on episodes drawn from embeddings ``X`` with integer labels ``y``."""
        import torch
        from tqdm.auto import tqdm

        X = self._check_X(X)
        y = check_array("y", y, ndim=1, dtype=int)
        check_same_length(X=X, y=y)
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        Xt = torch.from_numpy(X)
        self.loss_history_ = []
        for _ in tqdm(range(self.n_episodes), disable=not self.progress, desc="episodes"):
            ep = sample_episode(y, self.n_way, self.k_shot, self.n_query, rng=rng)
            sup = Xt[ep.support]
            protos = torch.stack([sup[torch.from_numpy(ep.support_labels == j)].mean(0)
                                  for j in range(self.n_way)])
            logits = self.net(relation_features(Xt[ep.query], protos)).squeeze(-1)
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(ep.query_labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.loss_history_.append(float(loss.detach()))
        return self

    def predict(self, Q, P) -> np.ndarray:
        """Index of the best-scoring prototype for each query."""
        return np.argmax(self.relation_scores(Q, P), axis=1)


# ------------------------------------------------------------------- behaviour sequences

def time_heatmap(times, channels, *, horizon: float, n_buckets: int = 4,
                 n_channels: int = 4) -> np.ndarray:
    """Counts of events per (time bucket, channel): an ``(n_buckets, n_channels)`` matrix.

    Bucket ``t`` covers ``[t, t + 1) * horizon / n_buckets``; events at or after ``horizon``
    or before 0 are refused.
    """
    times = check_array("times", times, ndim=1)
    channels = check_array("channels", channels, ndim=1, dtype=int)
    check_same_length(times=times, channels=channels)
    horizon = check_float("horizon", horizon, minimum=0.0, strict_min=True)
    n_buckets = check_int("n_buckets", n_buckets, minimum=1)
    n_channels = check_int("n_channels", n_channels, minimum=1)
    if times.size and (times.min() < 0 or times.max() >= horizon):
        raise ValueError(f"times must lie in [0, horizon={horizon})")
    if channels.size and (channels.min() < 0 or channels.max() >= n_channels):
        raise ValueError(f"channels must lie in 0..{n_channels - 1}")
    bucket = np.minimum((times / horizon * n_buckets).astype(np.int64), n_buckets - 1)
    out = np.zeros((n_buckets, n_channels))
    np.add.at(out, (bucket, channels), 1.0)
    return out


def bag_of_events(channels, *, n_channels: int = 4) -> np.ndarray:
    """Total events per channel (the column sums of :func:`time_heatmap`)."""
    channels = check_array("channels", channels, ndim=1, dtype=int)
    n_channels = check_int("n_channels", n_channels, minimum=1)
    if channels.size and (channels.min() < 0 or channels.max() >= n_channels):
        raise ValueError(f"channels must lie in 0..{n_channels - 1}")
    return np.bincount(channels, minlength=n_channels).astype(float)
