r"""Evaluating recommendations: implicit feedback, splits, top-k lists and ranking metrics.

A recommender is judged on the items a user interacts with *after* the data it was trained
on. With :math:`n` users and :math:`m` items, the interactions form a sparse binary matrix
:math:`X \in \{0, 1\}^{n \times m}` (:func:`interaction_matrix`); a model gives every user a
score for every item, and :func:`top_k` turns the scores into a list of :math:`k` items,
leaving out what the user has already seen and breaking ties by the lower item index.

**Splits.** :func:`temporal_split` holds out the last ``n_test`` interactions of each user by
time; :func:`random_split` holds out as many, drawn at random, which lets the model learn
from a user's future to predict the past.

**Metrics of one user** with held-out set :math:`T` and list :math:`r_1, \dots, r_k`
(:math:`\mathrm{rel}_j = 1` when :math:`r_j \in T`), as in ``implicit``'s
``ranking_metrics_at_k``:

.. math::

    \mathrm{recall@}k = \frac{\sum_j \mathrm{rel}_j}{\min(k, |T|)}, \qquad
    \mathrm{NDCG@}k = \frac{\sum_j \mathrm{rel}_j / \log_2(j + 1)}
                          {\sum_{j=1}^{\min(k, |T|)} 1 / \log_2(j + 1)},

.. math::

    \mathrm{AP@}k = \frac{1}{\min(k, |T|)} \sum_j \mathrm{rel}_j\,
                    \frac{\sum_{l \le j} \mathrm{rel}_l}{j}.

Recall is divided by :math:`\min(k, |T|)` rather than :math:`|T|` so that a perfect list
scores 1 (Liang et al., 2018). ``implicit`` calls the pooled version
:math:`\sum_u \text{hits}_u / \sum_u \min(k, |T_u|)` "precision"; MAP and NDCG are means over
users; its truncated AUC counts, for the :math:`m - |T|` unseen items, how many held-out
items rank above each of them, with the items outside the list placed in the middle.
Users with nothing held out are skipped.

**Catalogue-level measures.** Coverage is the share of the catalogue that appears in at least
one list; popularity bias is the mean training popularity of the recommended items.
**Sampled metrics** (:func:`sampled_recall`) rank each held-out item against a few random
items instead of the whole catalogue; Krichene and Rendle (2020) show that they can order
models differently from the full metrics. **Intervals** over users come from the bootstrap:
resample users with replacement, recompute the mean (:func:`bootstrap_interval`), or the mean
paired difference of two models (:func:`paired_interval`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_float, check_int, check_same_length, check_seed

__all__ = [
    "interaction_matrix", "temporal_split", "random_split", "top_k", "user_metrics",
    "ranking_metrics", "coverage", "popularity_bias", "popularity_scores", "sampled_recall",
    "bootstrap_interval", "paired_interval",
]


def _check_csr(name: str, value, shape=None) -> sp.csr_matrix:
    if not sp.issparse(value):
        raise TypeError(f"{name} must be a scipy sparse matrix, got {type(value).__name__}")
    value = sp.csr_matrix(value)
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {value.shape}")
    return value


def _check_ids(name: str, ids, upper: int) -> np.ndarray:
    ids = check_array(name, ids, ndim=1, dtype=int)
    if ids.size and (ids.min() < 0 or ids.max() >= upper):
        raise ValueError(f"{name} must hold indices in [0, {upper}), got values from "
                         f"{ids.min()} to {ids.max()}")
    return ids


def interaction_matrix(users, items, n_users: int, n_items: int, values=None) -> sp.csr_matrix:
    """Sparse ``(n_users, n_items)`` matrix with a 1 (or ``values``) for each interaction.

    Repeated (user, item) pairs count once: the entry keeps the largest value.
    """
    n_users = check_int("n_users", n_users, minimum=1)
    n_items = check_int("n_items", n_items, minimum=1)
    users = _check_ids("users", users, n_users)
    items = _check_ids("items", items, n_items)
    if values is None:
        values = np.ones(len(users))
    values = check_array("values", values, ndim=1)
    check_same_length(users=users, items=items, values=values)
    order = np.lexsort((-values, items, users))
    users, items, values = users[order], items[order], values[order]
    first = np.ones(len(users), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    return sp.csr_matrix((values[first], (users[first], items[first])), shape=(n_users, n_items))


def _check_split_args(users, timestamps_or_none, n_test, min_train):
    users = check_array("users", users, ndim=1, dtype=int)
    if users.size and users.min() < 0:
        raise ValueError("users must hold non-negative indices")
    n_test = check_int("n_test", n_test, minimum=1)
    min_train = check_int("min_train", min_train, minimum=0)
    return users, n_test, min_train


def temporal_split(users, timestamps, n_test: int = 10, *, min_train: int = 1) -> np.ndarray:
    """Boolean mask of the held-out rows: each user's last ``n_test`` interactions by time.

    Rows with equal timestamps keep their order in the input (the later row counts as later).
    A user keeps at least ``min_train`` interactions for training; users with fewer than
    ``n_test + min_train`` interactions give up only what is left over.
    """
    users, n_test, min_train = _check_split_args(users, None, n_test, min_train)
    timestamps = check_array("timestamps", timestamps, ndim=1)
    check_same_length(users=users, timestamps=timestamps)
    order = np.lexsort((np.arange(len(users)), timestamps, users))
    return _last_of_each(users, order, n_test, min_train)


def random_split(users, n_test: int = 10, *, min_train: int = 1, seed: int | None = 0) -> np.ndarray:
    """Boolean mask of ``n_test`` interactions per user drawn at random (same counts as
    :func:`temporal_split`)."""
    users, n_test, min_train = _check_split_args(users, None, n_test, min_train)
    rng = np.random.default_rng(check_seed("seed", seed))
    order = np.lexsort((rng.random(len(users)), users))
    return _last_of_each(users, order, n_test, min_train)


def _last_of_each(users, order, n_test, min_train):
    sorted_users = users[order]
    counts = np.bincount(sorted_users) if len(users) else np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    # position of each sorted row counted from the end of its user's block
    from_end = ends[sorted_users] - np.arange(len(users))
    take = np.minimum(n_test, np.maximum(counts - min_train, 0))
    mask = np.zeros(len(users), dtype=bool)
    mask[order] = from_end <= take[sorted_users]
    return mask


def top_k(scores, k: int, *, exclude=None, chunk_size: int | None = None) -> np.ndarray:
    """The ``k`` highest-scoring items of each row of ``scores``, best first.

    ``exclude`` (a sparse matrix of the same shape) marks items that may not be recommended,
    usually the training interactions. Ties go to the lower item index. Rows with fewer
    than ``k`` allowed items are padded with -1. Rows are processed ``chunk_size`` at a time
    (by default as many as fit in about 16 million scores).
    """
    scores = check_array("scores", scores, ndim=2, finite=False)
    if np.isnan(scores).any():
        raise ValueError("scores contains NaN")
    n_rows, n_items = scores.shape
    k = check_int("k", k, minimum=1)
    if exclude is not None:
        exclude = _check_csr("exclude", exclude, scores.shape)
    if chunk_size is None:
        chunk_size = max(1, 2**24 // max(n_items, 1))
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    out = np.full((n_rows, k), -1, dtype=np.int64)
    kk = min(k, n_items)
    for start in range(0, n_rows, chunk_size):
        block = scores[start:start + chunk_size].copy()
        if exclude is not None:
            sub = exclude[start:start + chunk_size].tocoo()
            block[sub.row, sub.col] = -np.inf
        # stable sort of the negated scores: equal scores keep increasing item order
        if kk < n_items:
            part = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
            kth = np.take_along_axis(block, part, axis=1).min(axis=1, keepdims=True)
            # every item above the k-th value, and the lowest-index items equal to it
            above = block > kth
            ties = np.cumsum(block == kth, axis=1) <= (kk - above.sum(axis=1, keepdims=True))
            keep = above | ((block == kth) & ties)
            rows, cols = np.nonzero(keep)
            cand = cols.reshape(len(block), kk)
            vals = np.take_along_axis(block, cand, axis=1)
            idx = np.lexsort((cand, -vals), axis=1)
            best = np.take_along_axis(cand, idx, axis=1)
        else:
            best = np.argsort(-block, axis=1, kind="stable")
        best_vals = np.take_along_axis(block, best, axis=1)
        best[np.isneginf(best_vals)] = -1
        out[start:start + chunk_size, :kk] = best
    return out


def _check_recs_test(recommended, test, k):
    recommended = check_array("recommended", recommended, ndim=2, dtype=int)
    test = _check_csr("test", test)
    if recommended.shape[0] != test.shape[0]:
        raise ValueError(f"recommended has {recommended.shape[0]} rows but test has "
                         f"{test.shape[0]} users")
    if k is None:
        k = recommended.shape[1]
    k = check_int("k", k, minimum=1, maximum=recommended.shape[1])
    return recommended[:, :k], test, k


def user_metrics(recommended, test, k: int | None = None) -> dict[str, np.ndarray]:
    """Per-user recall@k, NDCG@k, AP@k and truncated AUC (see the module docstring).

    ``recommended`` is an ``(n_users, >= k)`` array of item indices (-1 for "no item");
    ``test`` a sparse ``(n_users, n_items)`` matrix of held-out interactions. Returns a dict
    of arrays over the users with at least one held-out item: ``user``, ``hits``,
    ``n_relevant``, ``recall``, ``ndcg``, ``ap`` and ``auc``.
    """
    recs, test, k = _check_recs_test(recommended, test, k)
    test = test.copy()
    test.data = np.ones_like(test.data)
    test.eliminate_zeros()
    test.sort_indices()
    n_items = test.shape[1]
    n_rel_all = np.diff(test.indptr)
    users = np.flatnonzero(n_rel_all > 0)
    if len(users) < len(n_rel_all):                  # keep only users with held-out items
        recs = recs[users]
    n_rel = n_rel_all[users]
    if recs.size and recs.max() >= n_items:
        raise ValueError(f"recommended holds item {recs.max()} but test has {n_items} items")
    rel = _relevance(recs, test, users, n_rel)
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    cut = np.minimum(k, n_rel)
    idcg = np.cumsum(gains)[cut - 1]
    hits = rel.sum(axis=1)
    running = np.cumsum(rel, axis=1, dtype=np.int32)      # hits so far at each position
    ap = np.where(rel, running, 0) @ (1.0 / np.arange(1, k + 1)) / cut
    # truncated AUC as implicit computes it: each miss in the list counts the hits above it
    auc_hits = np.where(rel, 0, running).sum(axis=1) + (hits + n_rel) / 2.0 * (n_items - n_rel - (k - hits))
    return {
        "user": users,
        "hits": hits,
        "n_relevant": n_rel,
        "recall": hits / cut,
        "ndcg": rel @ gains / idcg,
        "ap": ap,
        "auc": auc_hits / (n_rel * (n_items - n_rel)),
    }


def _relevance(recs, test, users, n_rel, budget: int = 2**25) -> np.ndarray:
    """Boolean array: is ``recs[r, j]`` among the held-out items of user ``users[r]``?

    Each user's held-out items are padded into a row, and every list entry is compared with
    that row, a few thousand users at a time (sequential memory access, fast when users hold
    out a few items). With many held-out items per user, a binary search among sorted
    (user, item) keys is used instead.
    """
    valid = recs >= 0
    if len(users) == 0:
        return np.zeros(recs.shape, dtype=bool)
    pad = int(n_rel.max())
    starts = test.indptr[users]
    if pad * recs.shape[1] <= 512:
        rel = np.zeros(recs.shape, dtype=bool)
        step = max(1, budget // (pad * recs.shape[1]))
        offs = np.arange(pad)
        for a in range(0, len(users), step):
            b = min(a + step, len(users))
            inside = offs[None, :] < n_rel[a:b, None]
            held = np.where(inside, test.indices[np.minimum(starts[a:b, None] + offs[None, :],
                                                            len(test.indices) - 1)], -2)
            rel[a:b] = (recs[a:b, :, None] == held[:, None, :]).any(axis=2)
        return rel & valid
    n_items = test.shape[1]
    rows = np.repeat(np.arange(test.shape[0], dtype=np.int64), np.diff(test.indptr))
    keys = rows * n_items + test.indices                   # sorted: CSR rows in order
    wanted = users[:, None].astype(np.int64) * n_items + np.where(valid, recs, 0)
    found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return valid & (keys[found] == wanted)


def ranking_metrics(recommended, test, k: int | None = None) -> dict[str, float]:
    """Aggregate metrics over users with held-out items, with the definitions of ``implicit``.

    Returns ``precision`` (hits pooled over users divided by the pooled
    :math:`\\min(k, |T_u|)`, what ``implicit`` calls precision), ``recall`` (mean per-user
    recall@k), ``map``, ``ndcg`` and ``auc`` (means over users), and ``n_users``.
    """
    _, _, k = _check_recs_test(recommended, test, k)
    per_user = user_metrics(recommended, test, k)
    if len(per_user["user"]) == 0:
        raise ValueError("test has no held-out interaction: there is nothing to score")
    cut = np.minimum(k, per_user["n_relevant"])
    return {
        "precision": float(per_user["hits"].sum() / cut.sum()),
        "recall": float(per_user["recall"].mean()),
        "map": float(per_user["ap"].mean()),
        "ndcg": float(per_user["ndcg"].mean()),
        "auc": float(per_user["auc"].mean()),
        "n_users": int(len(per_user["user"])),
    }


def coverage(recommended, n_items: int) -> float:
    """Share of the ``n_items`` items that appear in at least one recommendation list."""
    n_items = check_int("n_items", n_items, minimum=1)
    recs = check_array("recommended", recommended, ndim=2, dtype=int)
    if recs.size and recs.max() >= n_items:
        raise ValueError(f"recommended holds item {recs.max()} but there are {n_items} items")
    return float(np.unique(recs[recs >= 0]).size / n_items)


def popularity_bias(recommended, item_counts) -> float:
    """Mean training popularity (interaction count) of the recommended items."""
    counts = check_array("item_counts", item_counts, ndim=1)
    recs = check_array("recommended", recommended, ndim=2, dtype=int)
    if recs.size and recs.max() >= len(counts):
        raise ValueError(f"recommended holds item {recs.max()} but item_counts has "
                         f"{len(counts)} items")
    valid = recs[recs >= 0]
    if valid.size == 0:
        raise ValueError("recommended holds no item")
    return float(counts[valid].mean())


def popularity_scores(train, n_users: int | None = None) -> np.ndarray:
    """The popularity baseline: every user gets each item's training count as its score."""
    train = _check_csr("train", train)
    n_users = train.shape[0] if n_users is None else check_int("n_users", n_users, minimum=1)
    counts = np.asarray((train > 0).sum(axis=0), dtype=float).ravel()
    return np.broadcast_to(counts, (n_users, len(counts)))


def sampled_recall(scores, test, train, *, n_negatives: int = 100, k: int = 10,
                   seed: int | None = 0) -> np.ndarray:
    """Hit rate at ``k`` with sampled negatives, one value per held-out (user, item) pair.

    Each held-out item is ranked against ``n_negatives`` items drawn uniformly from those
    the user has neither trained on nor held out; it is a hit when fewer than ``k`` of them
    score strictly higher (ties count against it, half each). This is the protocol that
    Krichene and Rendle (2020) show to be inconsistent with the full-catalogue metrics.
    """
    scores = check_array("scores", scores, ndim=2)
    test = _check_csr("test", test, scores.shape)
    train = _check_csr("train", train, scores.shape)
    n_negatives = check_int("n_negatives", n_negatives, minimum=1)
    k = check_int("k", k, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    seen = ((train > 0) + (test > 0)).tocsr()
    n_items = scores.shape[1]
    out = []
    for u in np.flatnonzero(np.diff(test.indptr)):
        allowed = np.setdiff1d(np.arange(n_items), seen.indices[seen.indptr[u]:seen.indptr[u + 1]],
                               assume_unique=True)
        if allowed.size == 0:
            raise ValueError(f"user {u} has no unseen item to sample as a negative")
        pos = test.indices[test.indptr[u]:test.indptr[u + 1]]
        neg = allowed[rng.integers(0, allowed.size, size=(len(pos), n_negatives))]
        s_pos = scores[u, pos][:, None]
        s_neg = scores[u, neg]
        rank = (s_neg > s_pos).sum(axis=1) + 0.5 * (s_neg == s_pos).sum(axis=1)
        out.append(rank < k)
    return np.concatenate(out).astype(float) if out else np.zeros(0)


def bootstrap_interval(values, *, n_boot: int = 2000, level: float = 0.95,
                       seed: int | None = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per user)."""
    values = check_array("values", values, ndim=1, min_rows=1)
    n_boot = check_int("n_boot", n_boot, minimum=10)
    level = check_float("level", level, minimum=0.0, maximum=1.0, strict_min=True, strict_max=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    means = np.empty(n_boot)
    for start in range(0, n_boot, 256):
        idx = rng.integers(0, len(values), size=(min(256, n_boot - start), len(values)))
        means[start:start + len(idx)] = values[idx].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def paired_interval(a, b, *, n_boot: int = 2000, level: float = 0.95,
                    seed: int | None = 0) -> tuple[float, float]:
    """Bootstrap interval of the mean of ``a - b`` over the same users (a paired comparison).

    When the whole interval lies above zero, model ``a`` beats model ``b`` on these users at
    that level.
    """
    a = check_array("a", a, ndim=1, min_rows=1)
    b = check_array("b", b, ndim=1, min_rows=1)
    check_same_length(a=a, b=b)
    return bootstrap_interval(a - b, n_boot=n_boot, level=level, seed=seed)
