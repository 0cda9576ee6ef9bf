"""Benchmark: kernel-target alignment and spectrum, dense (n x n) against scalable (d x d).

For ``n`` items with ``d``-dimensional float32 embeddings (seeded Gaussian rows with a
decaying scale per dimension) and a 10-class target, the script times

* **dense**: ``embedding_kernel`` + ``kernel_target_alignment`` + ``eigen_spectrum`` of the
  centred ``n x n`` kernel (only for the small sizes where it fits in memory);
* **scalable**: ``linear_alignment`` + ``linear_spectrum`` (one chunked pass over the rows
  each), which never form an ``n x n`` matrix,

and reports seconds and the peak of memory allocated during the call (``tracemalloc``, which
sees NumPy's buffers), the ratio dense / scalable where both run, and the largest difference
between the two alignments. The aim of the course: 1,000,000 x 64 in under 30 s and 2 GB.

Run: ``.venv/bin/python benchmarks/bench_kernels.py [--d 64] [--dense 500 1000 2000]
[--scalable 10000 100000 1000000] [--threads 2]``
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np


def measure(fn):
    """Run ``fn`` once; return its result, seconds and the peak of traced memory in bytes."""
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n, d), dtype=np.float32)
    E *= (1.0 / np.sqrt(1.0 + np.arange(d, dtype=np.float32)))
    labels = rng.integers(0, 10, size=n)
    E[:, 0] += labels.astype(np.float32) * 0.3        # make the target partly predictable
    return E, labels


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--dense", type=int, nargs="*", default=[500, 1000, 2000, 4000])
    parser.add_argument("--scalable", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from embedlab import kernels

    if args.threads:
        threadpool_limits(args.threads)

    def dense(E, labels):
        K = kernels.embedding_kernel(E.astype(np.float64))
        a = kernels.kernel_target_alignment(K, labels)
        lam, _ = kernels.eigen_spectrum(K)
        return a, lam

    def scalable(E, labels):
        a = kernels.linear_alignment(E, labels)
        lam, _ = kernels.linear_spectrum(E)
        return a, lam

    results = {}
    print(f"d = {args.d}; memory = peak traced allocation during the call")
    print(f"{'n':>10} {'method':>9} {'seconds':>9} {'peak MB':>9} {'alignment':>10}")
    for n in sorted(set(args.dense) | set(args.scalable)):
        E, labels = make_data(n, args.d)
        row = {}
        if n in args.dense:
            (a_d, lam_d), t_d, m_d = measure(lambda: dense(E, labels))
            row["dense"] = (t_d, m_d, a_d)
            print(f"{n:>10} {'dense':>9} {t_d:9.3f} {m_d / 2**20:9.1f} {a_d:10.6f}")
        (a_s, lam_s), t_s, m_s = measure(lambda: scalable(E, labels))
        row["scalable"] = (t_s, m_s, a_s)
        print(f"{n:>10} {'scalable':>9} {t_s:9.3f} {m_s / 2**20:9.1f} {a_s:10.6f}")
        if "dense" in row:
            diff = abs(a_d - a_s)
            lam_diff = float(np.max(np.abs(lam_d[:args.d] - lam_s)) / lam_s[0])
            print(f"{'':>10} dense / scalable: time x{t_d / t_s:.1f}, memory x{m_d / m_s:.1f}; "
                  f"|alignment difference| = {diff:.1e}, "
                  f"max relative eigenvalue difference = {lam_diff:.1e}")
            row["alignment_diff"] = diff
        results[n] = row
        del E, labels
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the whole process (data included): {rss:.0f} MB")
    results["max_rss_mb"] = rss
    return results


if __name__ == "__main__":
    main()
