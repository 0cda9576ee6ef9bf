r"""Few-shot classification on top of pretrained embeddings.

**Episodes.** An :math:`N`-way :math:`K`-shot episode draws :math:`N` classes, :math:`K`
labelled *support* examples of each and a few *query* examples to classify (Vinyals et al.,
2016). Accuracy is averaged over many episodes and reported with a normal-approximation
confidence interval :math:`\bar a \pm z_{1-\alpha/2}\, s / \sqrt{m}` over :math:`m` episodes.
Meta-learning splits the *classes*, not the examples: a model is trained on episodes of the
meta-training classes, its training length is chosen on episodes of the validation classes,
and it is scored on classes it never saw (:func:`split_classes`).

**Prototypes** (Snell, Swersky and Zemel, 2017). Class :math:`c` is summarised by the mean of
its support embeddings, :math:`p_c = \frac{1}{K_c} \sum_{i: y_i = c} x_i`, and a query goes to
the most similar prototype, by cosine similarity, (minus) the Euclidean distance, or (minus)
the squared Euclidean distance of the paper. Probabilities are a softmax of the scores divided
by a temperature :math:`T`: :math:`P(c \mid q) \propto \exp(s(q, p_c) / T)`.

**Matching networks** (Vinyals et al., 2016). A query attends to every support example,

.. math::

    a(q, x_i) = \frac{\exp(\cos(f(q), g(x_i)) / T)}{\sum_j \exp(\cos(f(q), g(x_j)) / T)},
    \qquad P(c \mid q, S) = \sum_{i: y_i = c} a(q, x_i),

which is scaled dot-product attention (Chapter 7) with unit-length queries and keys and the
one-hot labels as values (:func:`matching_probabilities`). The paper uses :math:`T = 1`; we
keep :math:`T` as a parameter. Its *full context embeddings* make each embedding depend on
the whole support set: :math:`g(x_i, S) = g'(x_i) + \vec h_i + \overleftarrow h_i`, the sum of a
base embedding and the two states of a bidirectional LSTM run over the support set, and the
query embedding :math:`f(q, S)` is refined by :math:`K` steps of an LSTM that reads the
support set with attention,

.. math::

    \hat h_k, c_k = \operatorname{LSTM}(f'(q), [h_{k-1}, r_{k-1}], c_{k-1}), \quad
    h_k = \hat h_k + f'(q), \quad
    r_k = \sum_i \operatorname{softmax}_i(h_k^\top g(x_i, S))\, g(x_i, S),

from :math:`h_0 = c_0 = 0`, with :math:`f(q, S) = h_K` (:class:`MatchingNetwork`). Training minimises
:math:`-\log P(y \mid q, S)` over episodes.

**Relation head** (after relation networks; Sung et al., 2018). Instead of a fixed similarity,
a small network scores a (query, prototype) pair; ours reads the features
:math:`[q, p, |q - p|]` (concatenation and element-wise absolute difference) and is trained on
episodes with a softmax over the classes of the episode. Sung et al. concatenate learned
embeddings and regress a sigmoid score to 1 or 0 with a squared error.

**k-NN voting.** A query takes the majority label of its :math:`k` most similar support
examples. With imbalanced support sets the large class wins more votes, a bias that prototypes
do not have because every class contributes one vector.

**Out-of-distribution score.** The best prototype similarity :math:`\max_c \cos(q, p_c)`: a
query unlike every class scores low.

**Calibration** (Naeini, Cooper and Hauskrecht, 2015; Guo et al., 2017). Predictions are
grouped into :math:`B` equal-width bins of confidence :math:`\hat p = \max_c P(c \mid q)`,
:math:`I_b = ((b - 1)/B, b/B]`; a reliability diagram plots each bin's accuracy against its
mean confidence, and the *expected calibration error* is

.. math::

    \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{n}\, \bigl| \operatorname{acc}(I_b) -
    \operatorname{conf}(I_b) \bigr|.

*Temperature scaling* divides the scores by the :math:`T` that minimises the negative
log-likelihood on validation data (:func:`fit_temperature`).

**Time heatmap** (after the user meta-profile encoding of Gong et al., 2020). A long event
sequence of a user becomes a :math:`T \times C` matrix: row :math:`t` counts the events of
each of the :math:`C` behaviour channels in time bucket :math:`t`. A *bag of events*, the
:math:`C` totals, is its column sum: it forgets when things happened.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ._checks import (check_array, check_choice, check_float, check_int, check_same_length,
                      check_seed, unit_rows)

__all__ = [
    "Episode", "sample_episode", "split_classes", "mean_confidence_interval",
    "class_prototypes", "PrototypeClassifier", "matching_probabilities", "KNNVote",
    "ood_score", "EpisodeResults", "evaluate_episodes", "relation_features", "RelationHead",
    "MatchingNetwork", "reliability_bins", "expected_calibration_error", "fit_temperature",
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


def _check_rng(rng, seed):
    if rng is None:
        return np.random.default_rng(check_seed("seed", seed))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


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
    rng = _check_rng(rng, seed)
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


def split_classes(labels, n_train: int, n_val: int, *, seed: int | None = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the distinct classes of ``labels`` at random into three disjoint sorted sets:
    ``n_train`` meta-training classes, ``n_val`` validation classes and the rest (test)."""
    labels = check_array("labels", labels, ndim=1, dtype=int, min_rows=1)
    classes = np.unique(labels)
    n_train = check_int("n_train", n_train, minimum=1)
    n_val = check_int("n_val", n_val, minimum=0)
    if n_train + n_val >= len(classes):
        raise ValueError(f"n_train + n_val = {n_train + n_val} leaves no test class among the "
                         f"{len(classes)} classes")
    order = np.random.default_rng(check_seed("seed", seed)).permutation(classes)
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_val]),
            np.sort(order[n_train + n_val:]))


def mean_confidence_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the normal-approximation interval at ``level``."""
    values = check_array("values", values, ndim=1, min_rows=2)
    level = check_float("level", level, minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    return float(values.mean()), float(z * values.std(ddof=1) / np.sqrt(len(values)))


# ---------------------------------------------------------------------------- classifiers

def _softmax_rows(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


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
    """Nearest class mean, by ``metric="cosine"`` (default), ``"euclidean"`` or
    ``"sqeuclidean"`` (squared Euclidean distance, as in prototypical networks)."""

    metric: str = "cosine"
    classes_: np.ndarray | None = field(default=None, init=False, repr=False)
    prototypes_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        check_choice("metric", self.metric, ("cosine", "euclidean", "sqeuclidean"))

    def fit(self, X, y) -> "PrototypeClassifier":
        self.classes_, self.prototypes_ = class_prototypes(X, y)
        return self

    def scores(self, X) -> np.ndarray:
        """``(m, C)`` similarities: the cosine, or minus the (squared) Euclidean distance."""
        if self.prototypes_ is None:
            raise RuntimeError("call fit before scores or predict")
        X = check_array("X", X, ndim=2, min_rows=1)
        if X.shape[1] != self.prototypes_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns, the prototypes have "
                             f"{self.prototypes_.shape[1]}")
        if self.metric == "cosine":
            return unit_rows("X", X) @ unit_rows("prototypes", self.prototypes_).T
        sq = ((X[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(-1)
        return -sq if self.metric == "sqeuclidean" else -np.sqrt(sq)

    def predict_proba(self, X, temperature: float = 1.0) -> np.ndarray:
        """``(m, C)`` softmax of the scores divided by ``temperature`` (columns: ``classes_``)."""
        temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
        return _softmax_rows(self.scores(X) / temperature)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.scores(X), axis=1)]


def matching_probabilities(S, y_S, Q, *, temperature: float = 1.0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities of matching-network attention over the support set.

    Each query attends to every support example with weights
    ``softmax(cos(q, x_i) / temperature)`` and sums the weights of each class. Returns the
    sorted classes of ``y_S`` and the ``(m, C)`` probabilities. The attention is Chapter 7's
    scaled dot-product attention with unit-length queries and keys and one-hot values.
    """
    from .attention import scaled_dot_product_attention

    S = check_array("S", S, ndim=2, min_rows=1)
    y_S = check_array("y_S", y_S, ndim=1, dtype=int)
    check_same_length(S=S, y_S=y_S)
    Q = check_array("Q", Q, ndim=2, min_rows=1)
    if Q.shape[1] != S.shape[1]:
        raise ValueError(f"Q has {Q.shape[1]} columns, the support set S has {S.shape[1]}")
    temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
    classes, codes = np.unique(y_S, return_inverse=True)
    onehot = np.eye(len(classes))[codes]
    probs = scaled_dot_product_attention(unit_rows("Q", Q), unit_rows("S", S), onehot,
                                         scale=1.0 / temperature)
    return classes, probs


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
        self.X_, self.y_ = unit_rows("X", X), y
        return self

    def predict(self, X) -> np.ndarray:
        if self.X_ is None:
            raise RuntimeError("call fit before predict")
        X = check_array("X", X, ndim=2, min_rows=1)
        if X.shape[1] != self.X_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns, the support set has {self.X_.shape[1]}")
        sims = unit_rows("X", X) @ self.X_.T
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
    return (unit_rows("X", X) @ unit_rows("prototypes", P).T).max(axis=1)


# ----------------------------------------------------------------------- evaluation loop

@dataclass(frozen=True)
class EpisodeResults:
    """What a few-shot method did on a run of episodes.

    ``accuracy`` holds one accuracy per episode; ``probabilities`` (one row per query, pooled
    over the episodes, columns in episode-label order) and ``labels`` (the true episode label
    of each query) keep everything else: confidence, correctness, calibration.
    """

    accuracy: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def confidence(self) -> np.ndarray:
        """The largest probability of each query."""
        return self.probabilities.max(axis=1)

    @property
    def correct(self) -> np.ndarray:
        """Whether each query's most probable class is its true class."""
        return self.probabilities.argmax(axis=1) == self.labels

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Mean accuracy and the half-width of its confidence interval over episodes."""
        return mean_confidence_interval(self.accuracy, level)

    def log_probabilities(self) -> np.ndarray:
        """``log`` of the probabilities (floored at 1e-12): scores for :func:`fit_temperature`."""
        return np.log(np.maximum(self.probabilities, 1e-12))

    def with_temperature(self, temperature: float) -> "EpisodeResults":
        """The same predictions with probabilities ``softmax(log p / temperature)``; the
        accuracies do not change (the most probable class stays the same)."""
        temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
        return EpisodeResults(accuracy=self.accuracy, labels=self.labels,
                              probabilities=_softmax_rows(self.log_probabilities() / temperature))


def evaluate_episodes(predict_proba, X, labels, *, n_way: int, k_shot, n_query: int,
                      n_episodes: int, seed: int | None = 0,
                      progress: bool = False) -> EpisodeResults:
    """Score a few-shot method on ``n_episodes`` episodes drawn from ``labels``.

    ``predict_proba(S, y_S, Q)`` receives the support rows of ``X``, their episode labels
    ``0..n_way-1`` and the query rows, and returns ``(n_queries, n_way)`` probabilities (column
    ``j`` for episode label ``j``). The same ``seed`` draws the same episodes, so methods can be
    compared episode by episode.
    """
    if not callable(predict_proba):
        raise TypeError(f"predict_proba must be callable, got {type(predict_proba).__name__}")
    X = check_array("X", X, ndim=2, min_rows=1)
    labels = check_array("labels", labels, ndim=1, dtype=int)
    check_same_length(X=X, labels=labels)
    n_way = check_int("n_way", n_way, minimum=2)
    n_episodes = check_int("n_episodes", n_episodes, minimum=1)
    from tqdm.auto import tqdm

    rng = np.random.default_rng(check_seed("seed", seed))
    acc, probs, truth = [], [], []
    for _ in tqdm(range(n_episodes), disable=not progress, desc="episodes"):
        ep = sample_episode(labels, n_way, k_shot, n_query, rng=rng)
        P = np.asarray(predict_proba(X[ep.support], ep.support_labels, X[ep.query]), dtype=float)
        if P.shape != (len(ep.query), n_way):
            raise ValueError(f"predict_proba returned shape {P.shape}, expected "
                             f"{(len(ep.query), n_way)}")
        acc.append(np.mean(P.argmax(axis=1) == ep.query_labels))
        probs.append(P)
        truth.append(ep.query_labels)
    return EpisodeResults(accuracy=np.array(acc), probabilities=np.concatenate(probs),
                          labels=np.concatenate(truth))


# ------------------------------------------------------------------- episodic training

def _episode_tensors(X, ep):
    import torch

    return (X[torch.from_numpy(ep.support)], torch.from_numpy(ep.support_labels),
            X[torch.from_numpy(ep.query)], torch.from_numpy(ep.query_labels))


class _EpisodicModel:
    """Shared training loop: Adam on episodes of the training classes; with validation data,
    the weights with the best accuracy on fixed validation episodes are kept."""

    def _init_training(self, *, lr, n_episodes, n_way, k_shot, n_query, weight_decay,
                       eval_every, n_val_episodes, seed, progress):
        self.lr = check_float("lr", lr, minimum=0.0, strict_min=True)
        self.n_episodes = check_int("n_episodes", n_episodes, minimum=1)
        self.n_way = check_int("n_way", n_way, minimum=2)
        self.k_shot = check_int("k_shot", k_shot, minimum=1)
        self.n_query = check_int("n_query", n_query, minimum=1)
        self.weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
        self.eval_every = check_int("eval_every", eval_every, minimum=1)
        self.n_val_episodes = check_int("n_val_episodes", n_val_episodes, minimum=1)
        self.seed = check_seed("seed", seed)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = progress
        self.loss_history_: list[float] = []
        self.val_history_: list[tuple[int, float]] = []
        self.best_episode_: int | None = None

    def _build(self, build):
        """Create the torch modules with weights drawn from the model's own seed."""
        import torch

        gen = torch.Generator().manual_seed(0 if self.seed is None else self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            return build()

    def _check_X(self, X, name="X"):
        X = check_array(name, X, ndim=2, min_rows=1)
        if X.shape[1] != self.dim:
            raise ValueError(f"{name} has {X.shape[1]} columns, the model expects dim={self.dim}")
        return X

    def _episode_logits(self, S, y_S, Q):  # pragma: no cover - abstract
        raise NotImplementedError

    def _val_accuracy(self, Xv, episodes):
        import torch

        self.net.eval()
        with torch.no_grad():
            accs = [float((self._episode_logits(*_episode_tensors(Xv, ep)[:3]).argmax(1)
                           == torch.from_numpy(ep.query_labels)).double().mean())
                    for ep in episodes]
        self.net.train()
        return float(np.mean(accs))

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on episodes drawn from embeddings ``X`` with integer labels ``y``.

        With ``X_val``, ``y_val`` (examples of other classes), the accuracy on fixed
        validation episodes is measured every ``eval_every`` episodes (``val_history_``) and
        the weights of the best check are kept (``best_episode_``): the training length is
        chosen on validation classes.
        """
        import torch
        from tqdm.auto import tqdm

        X = self._check_X(X)
        y = check_array("y", y, ndim=1, dtype=int)
        check_same_length(X=X, y=y)
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        episodes_val = None
        if X_val is not None:
            X_val = self._check_X(X_val, "X_val")
            y_val = check_array("y_val", y_val, ndim=1, dtype=int)
            check_same_length(X_val=X_val, y_val=y_val)
            vrng = np.random.default_rng(10_000 + (self.seed or 0))
            episodes_val = [sample_episode(y_val, self.n_way, self.k_shot, self.n_query, rng=vrng)
                            for _ in range(self.n_val_episodes)]
            Xv = torch.from_numpy(X_val)
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        Xt = torch.from_numpy(X)
        self.loss_history_, self.val_history_ = [], []
        best = (-1.0, None)
        if episodes_val is not None:
            acc = self._val_accuracy(Xv, episodes_val)
            self.val_history_.append((0, acc))
            best = (acc, (0, copy.deepcopy(self.net.state_dict())))
        self.net.train()
        for e in tqdm(range(1, self.n_episodes + 1), disable=not self.progress, desc="episodes"):
            S, yS, Q, yQ = _episode_tensors(Xt, sample_episode(y, self.n_way, self.k_shot,
                                                               self.n_query, rng=rng))
            loss = self._episode_loss(self._episode_logits(S, yS, Q), yQ)
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.loss_history_.append(float(loss.detach()))
            if episodes_val is not None and (e % self.eval_every == 0 or e == self.n_episodes):
                acc = self._val_accuracy(Xv, episodes_val)
                self.val_history_.append((e, acc))
                if acc > best[0]:
                    best = (acc, (e, copy.deepcopy(self.net.state_dict())))
        self.net.eval()
        if episodes_val is not None:
            self.best_episode_ = best[1][0]
            self.net.load_state_dict(best[1][1])
        else:
            self.best_episode_ = self.n_episodes
        return self

    def _episode_loss(self, logits, yQ):
        import torch

        return torch.nn.functional.cross_entropy(logits, yQ)


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


class RelationHead(_EpisodicModel):
    """A small MLP that scores (query, prototype) pairs from ``[q, p, |q - p|]``.

    Parameters
    ----------
    dim : embedding width d; hidden : width of the hidden layer; lr : Adam step size;
    n_episodes : training episodes; n_way, k_shot, n_query : the episodes it trains on;
    weight_decay : L2 penalty; eval_every, n_val_episodes : how often and on how many fixed
    episodes the validation classes are scored (when :meth:`fit` gets them);
    seed : seeds the weights and the episodes.
    """

    def __init__(self, dim: int, *, hidden: int = 64, lr: float = 1e-3, n_episodes: int = 300,
                 n_way: int = 2, k_shot: int = 5, n_query: int = 5, weight_decay: float = 1e-4,
                 eval_every: int = 50, n_val_episodes: int = 50, seed: int | None = 0,
                 progress: bool = False):
        import torch

        self.dim = check_int("dim", dim, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self._init_training(lr=lr, n_episodes=n_episodes, n_way=n_way, k_shot=k_shot,
                            n_query=n_query, weight_decay=weight_decay, eval_every=eval_every,
                            n_val_episodes=n_val_episodes, seed=seed, progress=progress)
        self.net = self._build(lambda: torch.nn.Sequential(
            torch.nn.Linear(3 * self.dim, self.hidden), torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, 1)).double())

    def _episode_logits(self, S, y_S, Q):
        import torch

        protos = torch.stack([S[y_S == j].mean(0) for j in range(int(y_S.max()) + 1)])
        return self.net(relation_features(Q, protos)).squeeze(-1)

    def relation_scores(self, Q, P) -> np.ndarray:
        """``(m, C)`` relation scores (logits) between queries and prototypes."""
        import torch

        Q = self._check_X(Q, "Q")
        P = self._check_X(P, "P")
        with torch.no_grad():
            feats = relation_features(torch.from_numpy(Q), torch.from_numpy(P))
            return self.net(feats).squeeze(-1).numpy()

    def predict(self, Q, P) -> np.ndarray:
        """Index of the best-scoring prototype for each query."""
        return np.argmax(self.relation_scores(Q, P), axis=1)

    def predict_proba(self, S, y_S, Q) -> np.ndarray:
        """Softmax of the relation scores against the prototypes of the support set
        (columns in the order of the sorted labels of ``y_S``)."""
        _, P = class_prototypes(self._check_X(S, "S"), y_S)
        return _softmax_rows(self.relation_scores(Q, P))


# ------------------------------------------------------------------------ matching network

class MatchingNetwork(_EpisodicModel):
    """A matching network (Vinyals et al., 2016) on top of fixed input vectors.

    The base embedding ``f' = g'`` is an MLP ``dim -> hidden -> embed_dim``. With ``fce=True``
    the support embeddings are read by a bidirectional LSTM and each query embedding by an
    attention LSTM of ``processing_steps`` steps (full context embeddings, see the module
    docstring); with ``fce=False`` both are the base embedding. Class probabilities are the
    summed attention ``softmax(cos / temperature)`` over the support set.

    Training parameters as in :class:`RelationHead`.
    """

    def __init__(self, dim: int, *, embed_dim: int = 32, hidden: int = 64, fce: bool = True,
                 processing_steps: int = 3, temperature: float = 0.1, lr: float = 1e-3,
                 n_episodes: int = 500, n_way: int = 5, k_shot: int = 5, n_query: int = 5,
                 weight_decay: float = 1e-4, eval_every: int = 50, n_val_episodes: int = 50,
                 seed: int | None = 0, progress: bool = False):
        import torch
        from torch import nn

        self.dim = check_int("dim", dim, minimum=1)
        self.embed_dim = check_int("embed_dim", embed_dim, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        if not isinstance(fce, bool):
            raise TypeError(f"fce must be True or False, got {fce!r}")
        self.fce = fce
        self.processing_steps = check_int("processing_steps", processing_steps, minimum=1)
        self.temperature = check_float("temperature", temperature, minimum=0.0, strict_min=True)
        self._init_training(lr=lr, n_episodes=n_episodes, n_way=n_way, k_shot=k_shot,
                            n_query=n_query, weight_decay=weight_decay, eval_every=eval_every,
                            n_val_episodes=n_val_episodes, seed=seed, progress=progress)
        E = self.embed_dim

        def build():
            net = nn.ModuleDict({"base": nn.Sequential(nn.Linear(self.dim, self.hidden), nn.ReLU(),
                                                       nn.Linear(self.hidden, E))})
            if self.fce:
                net["support_lstm"] = nn.LSTM(E, E, batch_first=True, bidirectional=True)
                # the attention LSTM's gates read [f'(q), h_{k-1}, r_{k-1}]
                net["query_gates"] = nn.Linear(3 * E, 4 * E)
            return net.double()

        self.net = self._build(build)

    def _embed_support(self, S):
        g = self.net["base"](S)
        if not self.fce:
            return g
        states, _ = self.net["support_lstm"](g.unsqueeze(0))
        forward, backward = states[0].split(self.embed_dim, dim=-1)
        return g + forward + backward

    def _embed_query(self, Q, G):
        import torch

        f = self.net["base"](Q)
        if not self.fce:
            return f
        h = torch.zeros_like(f)
        c = torch.zeros_like(f)
        for _ in range(self.processing_steps):
            r = torch.softmax(h @ G.T, dim=-1) @ G          # read the support set with h_{k-1}
            i, fg, g, o = self.net["query_gates"](torch.cat([f, h, r], dim=-1)).chunk(4, dim=-1)
            c = torch.sigmoid(fg) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c) + f
        return h

    def _attention(self, S, y_S, Q):
        import torch

        G = self._embed_support(S)
        F = self._embed_query(Q, G)
        cos = torch.nn.functional.normalize(F, dim=-1) @ torch.nn.functional.normalize(G, dim=-1).T
        attention = torch.softmax(cos / self.temperature, dim=-1)
        onehot = torch.nn.functional.one_hot(y_S, int(y_S.max()) + 1).to(attention.dtype)
        return attention @ onehot

    def _episode_logits(self, S, y_S, Q):
        import torch

        return torch.log(self._attention(S, y_S, Q).clamp_min(1e-12))

    def _episode_loss(self, logits, yQ):
        import torch

        return torch.nn.functional.nll_loss(logits, yQ)

    def predict_proba(self, S, y_S, Q) -> np.ndarray:
        """``(m, C)`` class probabilities of the queries ``Q`` given the support set ``S``
        with labels ``y_S`` (columns in the order of the sorted labels)."""
        import torch

        S = self._check_X(S, "S")
        Q = self._check_X(Q, "Q")
        y_S = check_array("y_S", y_S, ndim=1, dtype=int)
        check_same_length(S=S, y_S=y_S)
        _, codes = np.unique(y_S, return_inverse=True)
        self.net.eval()
        with torch.no_grad():
            return self._attention(torch.from_numpy(S), torch.from_numpy(codes),
                                   torch.from_numpy(Q)).numpy()

    def embed(self, X) -> np.ndarray:
        """The base embedding ``f'(x)`` of each row (without the support-set context)."""
        import torch

        X = self._check_X(X)
        self.net.eval()
        with torch.no_grad():
            return self.net["base"](torch.from_numpy(X)).numpy()


# ---------------------------------------------------------------------------- calibration

def _check_confidence(confidence, correct, n_bins):
    confidence = check_array("confidence", confidence, ndim=1, min_rows=1)
    correct = check_array("correct", correct, ndim=1)
    check_same_length(confidence=confidence, correct=correct)
    if confidence.min() < 0 or confidence.max() > 1:
        raise ValueError("confidence must lie in [0, 1]")
    if not np.all((correct == 0) | (correct == 1)):
        raise ValueError("correct must hold 0/1 or True/False values")
    return confidence, correct, check_int("n_bins", n_bins, minimum=1)


def reliability_bins(confidence, correct, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Equal-width confidence bins ``((b-1)/B, b/B]`` (the first also holds 0).

    Returns arrays of length ``n_bins``: ``"lower"``, ``"upper"`` (bin edges), ``"count"``,
    ``"confidence"`` (mean confidence) and ``"accuracy"`` (share correct); the last two are
    NaN for empty bins.
    """
    confidence, correct, n_bins = _check_confidence(confidence, correct, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=confidence, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return {"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": conf,
            "accuracy": acc}


def expected_calibration_error(confidence, correct, n_bins: int = 10) -> float:
    """``sum_b n_b / n * |accuracy_b - confidence_b|`` over equal-width confidence bins."""
    bins = reliability_bins(confidence, correct, n_bins)
    full = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][full] - bins["confidence"][full])
    return float(np.sum(bins["count"][full] * gaps) / bins["count"].sum())


def fit_temperature(scores, labels, *, bounds: tuple[float, float] = (1e-3, 1e3)) -> float:
    """The temperature ``T`` that minimises the mean negative log-likelihood of
    ``softmax(scores / T)`` for the true ``labels`` (temperature scaling, Guo et al., 2017)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    scores = check_array("scores", scores, ndim=2, min_rows=1)
    labels = check_array("labels", labels, ndim=1, dtype=int)
    check_same_length(scores=scores, labels=labels)
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise ValueError(f"labels must lie in 0..{scores.shape[1] - 1}")
    lo, hi = (check_float("bounds[0]", bounds[0], minimum=0.0, strict_min=True),
              check_float("bounds[1]", bounds[1], minimum=0.0, strict_min=True))
    if lo >= hi:
        raise ValueError(f"bounds must be increasing, got {bounds}")
    true = scores[np.arange(len(labels)), labels]

    def nll(log_t):
        t = np.exp(log_t)
        return float(np.mean(logsumexp(scores / t, axis=1) - true / t))

    res = minimize_scalar(nll, bounds=(np.log(lo), np.log(hi)), method="bounded",
                          options={"xatol": 1e-6})
    return float(np.exp(res.x))


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
