"""Benchmark: embedlab's TfidfVectorizer against scikit-learn's on 10,000+ documents.

The shipped corpora (Lee background and Lee documents, polarity sentences, mini newsgroups) are
repeated until there are at least ``--docs`` documents. For unigrams, and for unigrams and
bigrams (``ngram_range=(1, 2)``, with English stop words removed), both vectorizers fit and
transform the same list in this one process, alternately, ``--repeats`` times; the script prints
the median time of each, their ratio (ours / scikit-learn), and checks that the matrices agree.
It prints ratios and asserts nothing about time: the machine may be shared.

    .venv/bin/python benchmarks/bench_tfidf.py [--docs 12000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf

from embedlab import data
from embedlab.text import TfidfVectorizer

SETTINGS = {
    "unigrams": {},
    "unigrams and bigrams, stop words removed": {"ngram_range": (1, 2), "stop_words": "english"},
}


def corpus(n_docs: int) -> list[str]:
    lee, _ = data.load_lee()
    polarity, _ = data.load_polarity()
    news, _, _ = data.load_mini_newsgroups()
    base = data.load_lee_background() + lee + polarity + news
    reps = -(-n_docs // len(base))
    return (base * reps)[:n_docs]


def compare(docs: list[str], repeats: int, **options) -> float:
    """Time both vectorizers with the same options; print and return the ratio of medians."""
    times = {"embedlab": [], "scikit-learn": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = TfidfVectorizer(**options).fit_transform(docs)
        times["embedlab"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = SkTfidf(**options).fit_transform(docs)
        times["scikit-learn"].append(time.perf_counter() - t0)
    diff = abs(ours - ref).max()
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:>13}: median {med[k]:.3f} s over {len(v)} runs "
              f"({', '.join(f'{t:.3f}' for t in v)})")
    ratio = med["embedlab"] / med["scikit-learn"]
    print(f"  matrix {ours.shape}, {ours.nnz:,} non-zeros, max abs difference {diff:.2e}")
    print(f"  time ratio embedlab / scikit-learn: {ratio:.2f}x (target <= 1.5x)")
    return ratio


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=12_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.docs < 1 or args.repeats < 1:
        parser.error("--docs and --repeats must be positive")
    docs = corpus(args.docs)
    n_words = sum(len(d.split()) for d in docs)
    print(f"{len(docs)} documents, {n_words:,} whitespace-separated words")
    ratios = {}
    for name, options in SETTINGS.items():
        print(name)
        ratios[name] = compare(docs, args.repeats, **options)
    return ratios


if __name__ == "__main__":
    main()
