"""Benchmark: our ALS sweep and ranking metrics against implicit's, as ratios in one run.

Two measurements, both on one thread (implicit asks for one BLAS thread; ``num_threads=1``):

* **ALS sweep**: one full sweep (all users, then all items) of ``embedlab.mf.solve_rows``
  against implicit's exact solver (``implicit.cpu._als.least_squares``, the solver of
  ``AlternatingLeastSquares(use_cg=False)``), both in float64 from the same factors, on
  MovieLens-100K (943 x 1,682, 100,000 ratings) and on a synthetic catalogue of 1,000,000
  users x 100,000 items (``--per-user`` interactions each, items drawn with Zipf-like
  popularity). The largest difference between the two results is printed with the times.
* **Ranking metrics**: ``embedlab.recsys.ranking_metrics`` against implicit's
  ``ranking_metrics_at_k`` on the same top-10 lists (handed to implicit through a model whose
  ``recommend`` returns them), for MovieLens-100K and for 1,000,000 synthetic users.

Each time is the best of ``--repeats`` runs. The script prints ratios (ours / implicit) and
asserts nothing about time: on a shared machine the numbers move; the ratio is what to read.
The course's aim: our sweep within 3x of implicit's exact solver.

Run: ``.venv/bin/python benchmarks/bench_recsys.py [--factors 64] [--big-factors 32]
[--users 1000000] [--items 100000] [--per-user 10] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp


def best_time(fn, repeats):
    """Smallest wall-clock time of ``repeats`` calls, and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def synthetic_catalogue(n_users, n_items, per_user, seed=0):
    """Users with ``per_user`` distinct items on average, items drawn with Zipf-like popularity."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(1, n_items + 1) ** 0.8)
    weights /= weights.sum()
    counts = rng.poisson(per_user, size=n_users).clip(1, None)
    users = np.repeat(np.arange(n_users), counts)
    items = rng.choice(n_items, size=len(users), p=weights)
    X = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
    X.data[:] = 1.0                                       # repeated pairs count once
    return X


class FixedLists:
    """Gives implicit's evaluation the lists we computed."""

    def __init__(self, recs):
        self.recs = recs

    def recommend(self, userid, user_items, N=10, **kwargs):
        ids = self.recs[np.asarray(userid), :N].astype(np.int32)
        return ids, np.zeros(ids.shape, dtype=np.float32)


def als_sweep(name, X, factors, repeats, regularization=10.0, alpha=2.0):
    from implicit.cpu import _als

    from embedlab import mf

    C = mf.confidence(X, alpha)
    Ct = C.T.tocsr()
    C32, Ct32 = C.astype(np.float32), Ct.astype(np.float32)
    rng = np.random.default_rng(0)
    U0 = rng.random((X.shape[0], factors)) * 0.01
    V0 = rng.random((X.shape[1], factors)) * 0.01

    def ours():
        U = mf.solve_rows(C, V0, regularization)
        return U, mf.solve_rows(Ct, U, regularization)

    def theirs():
        U, V = U0.copy(), V0.copy()
        _als.least_squares(C32, U, V, regularization, num_threads=1)
        _als.least_squares(Ct32, V, U, regularization, num_threads=1)
        return U, V

    t_ours, (U_a, V_a) = best_time(ours, repeats)
    t_ref, (U_b, V_b) = best_time(theirs, repeats)
    gap = max(np.abs(U_a - U_b).max(), np.abs(V_a - V_b).max())
    print(f"{name:<34} {X.shape[0]:>9,} x {X.shape[1]:<8,} nnz {X.nnz:>11,}  f = {factors:<3} "
          f"ours {t_ours:8.2f} s  implicit {t_ref:8.2f} s  ratio {t_ours / t_ref:5.2f}  "
          f"max |diff| {gap:.1e}")
    return t_ours / t_ref


def metrics(name, recs, train, test, repeats):
    from implicit.evaluation import ranking_metrics_at_k

    from embedlab import recsys

    t_ours, ours = best_time(lambda: recsys.ranking_metrics(recs, test, recs.shape[1]), repeats)
    t_ref, ref = best_time(lambda: ranking_metrics_at_k(FixedLists(recs), train, test,
                                                         K=recs.shape[1], show_progress=False),
                           repeats)
    gap = max(abs(ours[k] - ref[k]) for k in ref)
    print(f"{name:<34} {recs.shape[0]:>9,} users  ours {t_ours:7.3f} s  implicit {t_ref:7.3f} s  "
          f"ratio {t_ours / t_ref:5.2f}  max |diff| {gap:.1e}")
    return t_ours / t_ref


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, default=64, help="factors on MovieLens-100K")
    parser.add_argument("--big-factors", type=int, default=32, help="factors on the synthetic catalogue")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--per-user", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    import implicit.cpu._als  # noqa: F401  (loads implicit's BLAS before the limit is set)
    from embedlab import data, recsys

    threadpool_limits(1)
    ratios = {}
    start = time.perf_counter()
    ml = data.load_movielens()
    r = ml.ratings
    X = recsys.interaction_matrix(r.user, r.item, ml.n_users, ml.n_items)
    print("== one ALS sweep (users then items), one thread, float64, best of", args.repeats)
    ratios["als_movielens"] = als_sweep("MovieLens-100K", X, args.factors, args.repeats)
    big = synthetic_catalogue(args.users, args.items, args.per_user)
    ratios["als_synthetic"] = als_sweep("synthetic catalogue", big, args.big_factors,
                                        max(1, args.repeats - 2))

    print("== ranking metrics at 10 on the same lists")
    held = recsys.temporal_split(r.user, r.timestamp, 10)
    train = recsys.interaction_matrix(r.user[~held], r.item[~held], ml.n_users, ml.n_items)
    test = recsys.interaction_matrix(r.user[held], r.item[held], ml.n_users, ml.n_items)
    recs = recsys.top_k(recsys.popularity_scores(train), 10, exclude=train)
    ratios["metrics_movielens"] = metrics("MovieLens-100K, popularity lists", recs, train, test,
                                          args.repeats)
    rng = np.random.default_rng(1)
    n_big = args.users
    big_test = sp.csr_matrix((np.ones(2 * n_big), (np.repeat(np.arange(n_big), 2),
                                                   rng.integers(0, args.items, 2 * n_big))),
                             shape=(n_big, args.items))
    big_test.data[:] = 1.0
    big_recs = rng.integers(0, args.items, size=(n_big, 10))
    big_recs[:, 0] = big_test.indices[big_test.indptr[:-1]]       # some hits
    ratios["metrics_synthetic"] = metrics("synthetic, random lists", big_recs,
                                          sp.csr_matrix(big_test.shape), big_test, args.repeats)
    print("ratios (ours / implicit):", {k: round(v, 2) for k, v in ratios.items()})
    print(f"benchmark wall time {time.perf_counter() - start:.0f} s")
    return ratios


if __name__ == "__main__":
    main()
