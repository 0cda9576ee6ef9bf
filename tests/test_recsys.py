"""Evaluation of recommendations: splits, top-k lists, metrics equal to implicit's, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from embedlab import recsys

threadpool_limits(1)


class _FixedRecommender:
    """Hands implicit's evaluation the lists we computed, so both score the same lists."""

    def __init__(self, recs):
        self.recs = np.asarray(recs)

    def recommend(self, userid, user_items, N=10, **kwargs):
        ids = self.recs[np.asarray(userid), :N].astype(np.int32)
        return ids, np.zeros(ids.shape, dtype=np.float32)


def _random_problem(seed, n_users=60, n_items=40, k=10):
    rng = np.random.default_rng(seed)
    train = sp.random(n_users, n_items, density=0.15, random_state=seed, format="csr")
    train.data[:] = 1.0
    test = sp.random(n_users, n_items, density=0.08, random_state=seed + 100, format="csr")
    test.data[:] = 1.0
    test = (test - test.multiply(train)).tocsr()
    test.eliminate_zeros()
    test = sp.diags((np.arange(n_users) % 7 != 0).astype(float)) @ test   # some users: nothing held out
    scores = rng.integers(0, 4, size=(n_users, n_items)).astype(float)  # many ties
    return train.tocsr(), sp.csr_matrix(test), scores


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_metrics_equal_implicits_on_the_same_lists(seed, k):
    from implicit.evaluation import ranking_metrics_at_k

    train, test, scores = _random_problem(seed)
    recs = recsys.top_k(scores, k, exclude=train)
    recs[3, -1] = -1                                        # a short list
    ours = recsys.ranking_metrics(recs, test, k)
    ref = ranking_metrics_at_k(_FixedRecommender(recs), train, test, K=k, show_progress=False)
    for name in ("precision", "map", "ndcg", "auc"):
        assert abs(ours[name] - ref[name]) < 1e-12, (name, ours[name], ref[name])
    assert ours["n_users"] == int((np.diff(test.indptr) > 0).sum())


def test_metrics_with_many_held_out_items_per_user():
    # more than 512 / k held-out items per user: the other lookup path of the metrics
    from implicit.evaluation import ranking_metrics_at_k

    rng = np.random.default_rng(7)
    test = sp.random(30, 400, density=0.3, random_state=7, format="csr")
    test.data[:] = 1.0
    train = sp.csr_matrix((30, 400))
    recs = recsys.top_k(rng.random((30, 400)), 10)
    ours = recsys.ranking_metrics(recs, test, 10)
    ref = ranking_metrics_at_k(_FixedRecommender(recs), train, test, K=10, show_progress=False)
    for name in ("precision", "map", "ndcg", "auc"):
        assert abs(ours[name] - ref[name]) < 1e-12


def test_metrics_of_a_hand_worked_list():
    # one user, held-out {2, 5}; list [2, 7, 5]: hits at ranks 1 and 3
    test = sp.csr_matrix(([1.0, 1.0], ([0, 0], [2, 5])), shape=(1, 10))
    per = recsys.user_metrics(np.array([[2, 7, 5]]), test, 3)
    assert per["hits"][0] == 2 and per["recall"][0] == 1.0
    dcg, idcg = 1 + 1 / np.log2(4), 1 + 1 / np.log2(3)
    assert abs(per["ndcg"][0] - dcg / idcg) < 1e-12
    assert abs(per["ap"][0] - (1 / 1 + 2 / 3) / 2) < 1e-12
    perfect = recsys.user_metrics(np.array([[5, 2, 7]]), test, 3)
    assert perfect["ndcg"][0] == pytest.approx(1.0) and perfect["ap"][0] == pytest.approx(1.0)
    none = recsys.user_metrics(np.array([[0, 1, 3]]), test, 3)
    assert none["ndcg"][0] == 0 and none["recall"][0] == 0


def test_recall_is_divided_by_min_k_and_held_out():
    test = sp.csr_matrix((np.ones(20), (np.zeros(20, int), np.arange(20))), shape=(1, 30))
    per = recsys.user_metrics(np.arange(5)[None, :], test, 5)
    assert per["recall"][0] == 1.0                      # 5 hits out of min(5, 20)


def _brute_top_k(scores, k, exclude):
    out = np.full((len(scores), k), -1)
    for u, row in enumerate(scores):
        row = row.copy()
        if exclude is not None:
            row[exclude[u].indices] = -np.inf
        order = np.argsort(-row, kind="stable")
        order = order[np.isfinite(row[order])][:k]
        out[u, :len(order)] = order
    return out


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_top_k_breaks_ties_by_lower_index_and_skips_excluded(chunk_size):
    train, _, scores = _random_problem(4)
    ours = recsys.top_k(scores, 8, exclude=train, chunk_size=chunk_size)
    assert np.array_equal(ours, _brute_top_k(scores, 8, train))


def test_top_k_pads_when_too_few_items_are_allowed():
    scores = np.array([[0.3, 0.1, 0.2]])
    exclude = sp.csr_matrix(np.array([[1, 0, 1]]))
    assert recsys.top_k(scores, 3, exclude=exclude).tolist() == [[1, -1, -1]]
    assert recsys.top_k(scores, 5).tolist() == [[0, 2, 1, -1, -1]]


def test_temporal_split_holds_out_each_users_latest_rows():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, size=600)
    times = rng.integers(0, 50, size=600)                  # many equal timestamps
    mask = recsys.temporal_split(users, times, n_test=4, min_train=2)
    frame = pd.DataFrame({"u": users, "t": times, "row": np.arange(600)})
    for u, g in frame.groupby("u"):
        ordered = g.sort_values(["t", "row"]).row.to_numpy()
        n_out = min(4, max(len(g) - 2, 0))
        expected = set(ordered[len(ordered) - n_out:]) if n_out else set()
        assert set(g.row[mask[g.row]]) == expected


def test_random_split_holds_out_as_many_rows_and_is_seeded():
    users = np.repeat(np.arange(20), np.arange(1, 21))
    a = recsys.random_split(users, 3, seed=1)
    b = recsys.random_split(users, 3, seed=1)
    t = recsys.temporal_split(users, np.arange(len(users)), 3)
    assert np.array_equal(a, b) and not np.array_equal(a, recsys.random_split(users, 3, seed=2))
    assert np.array_equal(np.bincount(users[a]), np.bincount(users[t]))


def test_interaction_matrix_counts_a_pair_once():
    X = recsys.interaction_matrix([0, 0, 1], [2, 2, 0], 2, 3)
    assert X.shape == (2, 3) and X.nnz == 2 and X.toarray().tolist() == [[0, 0, 1], [1, 0, 0]]
    W = recsys.interaction_matrix([0, 0], [1, 1], 1, 2, values=[2.0, 5.0])
    assert W[0, 1] == 5.0


def test_coverage_popularity_and_popularity_scores():
    recs = np.array([[0, 1], [1, -1]])
    assert recsys.coverage(recs, 4) == 0.5
    assert recsys.popularity_bias(recs, np.array([10.0, 2.0, 0.0, 0.0])) == pytest.approx(14 / 3)
    train = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]]))
    assert recsys.popularity_scores(train).tolist() == [[2, 0, 1], [2, 0, 1]]


def test_sampled_recall_against_a_direct_count():
    train, test, _ = _random_problem(5)
    scores = np.random.default_rng(0).normal(size=train.shape)
    hits = recsys.sampled_recall(scores, test, train, n_negatives=15, k=3, seed=0)
    assert len(hits) == test.nnz
    perfect = scores + 100 * test.toarray()
    assert recsys.sampled_recall(perfect, test, train, n_negatives=15, k=1).mean() == 1.0
    # random scores: a held-out item beats k of n + 1 items with probability k / (n + 1)
    many = sp.random(400, 300, density=0.02, random_state=1, format="csr")
    many.data[:] = 1
    empty = sp.csr_matrix(many.shape)
    noise = np.random.default_rng(3).random(many.shape)
    rate = recsys.sampled_recall(noise, many, empty, n_negatives=99, k=10, seed=0).mean()
    assert abs(rate - 0.1) < 0.03


def test_bootstrap_intervals():
    values = np.random.default_rng(0).normal(1.0, 1.0, size=400)
    lo, hi = recsys.bootstrap_interval(values, seed=0)
    assert lo < values.mean() < hi and 0.1 < hi - lo < 0.3
    assert recsys.bootstrap_interval(values, seed=0) == (lo, hi)
    d_lo, d_hi = recsys.paired_interval(values + 0.5, values)
    assert d_lo == pytest.approx(0.5) and d_hi == pytest.approx(0.5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: recsys.top_k(np.zeros(3), 2), ValueError, "scores must be 2-D"),
    (lambda: recsys.top_k(np.zeros((2, 3)), 0), ValueError, "k must be >= 1"),
    (lambda: recsys.top_k(np.full((1, 2), np.nan), 1), ValueError, "NaN"),
    (lambda: recsys.top_k(np.zeros((2, 3)), 1, exclude=np.zeros((2, 3))), TypeError,
     "exclude must be a scipy sparse"),
    (lambda: recsys.top_k(np.zeros((2, 3)), 1, exclude=sp.csr_matrix((3, 3))), ValueError,
     "exclude must have shape"),
    (lambda: recsys.user_metrics(np.zeros((2, 3), int), sp.csr_matrix((3, 4))), ValueError,
     "recommended has 2 rows"),
    (lambda: recsys.user_metrics(np.zeros((1, 3)), sp.csr_matrix((1, 4))), TypeError,
     "recommended must hold integers"),
    (lambda: recsys.user_metrics(np.array([[9]]), sp.csr_matrix(np.ones((1, 4)))), ValueError,
     "holds item 9"),
    (lambda: recsys.ranking_metrics(np.zeros((1, 2), int), sp.csr_matrix((1, 4))), ValueError,
     "nothing to score"),
    (lambda: recsys.ranking_metrics(np.zeros((1, 2), int), sp.csr_matrix((1, 4)), k=3),
     ValueError, "k must be <= 2"),
    (lambda: recsys.interaction_matrix([0], [5], 1, 3), ValueError, r"items must hold indices in \[0, 3\)"),
    (lambda: recsys.interaction_matrix([0, 1], [0], 2, 3), ValueError, "same number of rows"),
    (lambda: recsys.temporal_split([0, 1], [1.0], 1), ValueError, "same number of rows"),
    (lambda: recsys.temporal_split([0, 1], [1.0, 2.0], 0), ValueError, "n_test must be >= 1"),
    (lambda: recsys.random_split([0, 1], 1, seed=-1), ValueError, "seed must be >= 0"),
    (lambda: recsys.coverage(np.array([[5]]), 3), ValueError, "holds item 5"),
    (lambda: recsys.popularity_bias(np.array([[-1]]), np.ones(3)), ValueError, "holds no item"),
    (lambda: recsys.sampled_recall(np.zeros((1, 2)), sp.csr_matrix(np.ones((1, 2))),
                                   sp.csr_matrix((1, 2))), ValueError, "no unseen item"),
    (lambda: recsys.bootstrap_interval([]), ValueError, "at least 1 rows"),
    (lambda: recsys.bootstrap_interval([1.0], level=1.0), ValueError, "level must be < 1"),
    (lambda: recsys.paired_interval([1.0, 2.0], [1.0]), ValueError, "same number of rows"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
