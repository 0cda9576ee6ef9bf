"""Benchmark: embedlab's randomized truncated SVD against scikit-learn's on a sparse TF-IDF matrix.

The text8 head is cut into documents of 100 words (about 3,300 of them, a vocabulary of about
30,000 words) and weighted with scikit-learn's ``TfidfVectorizer``. Both sides compute the top
``k`` singular triplets of the same sparse matrix with the randomized algorithm of Halko et al.
(2011), with the same number of power iterations and oversamples. Each side runs a warm-up,
then the best of several repeats is kept; the script prints both times, their ratio
(ours / scikit-learn) and the largest relative difference of the singular values, in one run.

Second, as in Chapter 4, the randomized SVD against the exact one: on the first
``--full-docs`` documents (small enough to densify), the exact SVD of the dense matrix
(``embedlab.dense.TruncatedSVD(algorithm="full")``) and our randomized SVD of the sparse matrix,
with the time ratio (randomized / exact) and the excess Frobenius error of the randomized
rank-k approximation over the Eckart-Young optimum. Ratios are printed, never asserted.

Run: ``.venv/bin/python benchmarks/bench_dense.py [--k 100] [--repeats 3] [--threads 1]
[--full-docs 600]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--n-iter", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the library's own choice)")
    parser.add_argument("--full-docs", type=int, default=600,
                        help="documents in the slice where the exact SVD is timed (0: skip)")
    args = parser.parse_args(argv)

    from sklearn.decomposition import TruncatedSVD as SkTruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    from embedlab import data, dense

    if args.threads:
        threadpool_limits(args.threads)
    words = data.load_text8_head()
    docs = [" ".join(words[i:i + 100]) for i in range(0, len(words), 100)]
    X = TfidfVectorizer().fit_transform(docs)

    ours = dense.TruncatedSVD(args.k, algorithm="randomized", n_iter=args.n_iter,
                              n_oversamples=10, seed=0)
    theirs = SkTruncatedSVD(args.k, algorithm="randomized", n_iter=args.n_iter,
                            n_oversamples=10, random_state=0)
    t_ours = best_time(lambda: ours.fit(X), args.repeats)
    t_theirs = best_time(lambda: theirs.fit(X), args.repeats)
    exact = SkTruncatedSVD(args.k, algorithm="arpack", tol=0.0).fit(X).singular_values_
    err_ours = float(np.max(np.abs(ours.singular_values_ - exact) / exact))
    err_theirs = float(np.max(np.abs(theirs.singular_values_ - exact) / exact))
    ratio = t_ours / t_theirs
    print(f"TF-IDF matrix {X.shape[0]} x {X.shape[1]}, {X.nnz} non-zeros; k = {args.k}, "
          f"n_iter = {args.n_iter}, best of {args.repeats}")
    print(f"embedlab.dense.TruncatedSVD (randomized): {t_ours * 1e3:8.1f} ms, "
          f"max relative error of singular values {err_ours:.1e}")
    print(f"sklearn TruncatedSVD (randomized):        {t_theirs * 1e3:8.1f} ms, "
          f"max relative error of singular values {err_theirs:.1e}")
    print(f"ratio ours / scikit-learn: {ratio:.2f}")

    if args.full_docs:
        Xs = TfidfVectorizer().fit_transform(docs[:args.full_docs])
        k = min(args.k, min(Xs.shape) - 1)
        full = dense.TruncatedSVD(k, algorithm="full")
        t_full = best_time(lambda: full.fit(Xs), args.repeats)
        t_rand = best_time(lambda: dense.randomized_svd(Xs, k, n_iter=args.n_iter, seed=0),
                           args.repeats)
        U, s, Vt = dense.randomized_svd(Xs, k, n_iter=args.n_iter, seed=0)
        optimum = np.sqrt(Xs.multiply(Xs).sum() - np.sum(full.singular_values_ ** 2))
        excess = dense.low_rank_error(Xs, U, s, Vt) / optimum - 1
        print(f"\nslice {Xs.shape[0]} x {Xs.shape[1]}, k = {k}: exact SVD (dense) "
              f"{t_full * 1e3:8.1f} ms, randomized (sparse, n_iter = {args.n_iter}) "
              f"{t_rand * 1e3:8.1f} ms")
        print(f"ratio randomized / exact: {t_rand / t_full:.3f}; excess error of the randomized "
              f"rank-{k} approximation: {excess:.2%}")
    return ratio


if __name__ == "__main__":
    main()
