"""Training throughput of embedlab's Word2Vec against gensim's, on the same corpus and settings.

Run: ``.venv/bin/python benchmarks/bench_word2vec.py [--epochs 5] [--mode skipgram|cbow|both]``

Both implementations train on the text8 head shipped with gensim (cut into sentences of 1,000
tokens), with the settings of Chapter 5 (vector_size 50, window 5, min_count 5, negative 5,
sample 1e-3, alpha 0.025) and the given epochs; gensim runs with ``workers=1``. Throughput is corpus tokens times epochs
divided by training time (vocabulary building excluded for both). The machine may be shared,
so the script reports wall-clock and CPU-time throughput, and the ratio ours / gensim of each,
all measured in this one run, plus the quality of both on WordSim353 and the analogy set.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core for both, like workers=1
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from gensim.models import Word2Vec as GensimWord2Vec  # noqa: E402

from embedlab import data  # noqa: E402
from embedlab.word2vec import (Word2Vec, WordVectors, chunk_tokens, evaluate_analogies,  # noqa: E402
                               evaluate_word_pairs)

SETTINGS = dict(vector_size=50, window=5, min_count=5, negative=5, sample=1e-3, alpha=0.025,
                min_alpha=1e-4)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(mode: str, epochs: int, sentences, n_tokens: int) -> dict:
    ours = Word2Vec(mode=mode, epochs=epochs, progress=False, seed=0, **SETTINGS)
    ours.fit(sentences)  # times its training itself, vocabulary counting excluded
    wall_o, cpu_o = ours.train_seconds_, ours.train_cpu_seconds_
    theirs = GensimWord2Vec(sg=int(mode == "skipgram"), epochs=epochs, workers=1, seed=0,
                            **SETTINGS)
    theirs.build_vocab(sentences)
    wall_g, cpu_g = _timed(lambda: theirs.train(sentences, total_examples=theirs.corpus_count,
                                                epochs=epochs))
    words = n_tokens * epochs
    ws, an = data.load_wordsim353(), data.load_analogies()
    row = {"mode": mode}
    for name, wv in (("ours", ours.wv), ("gensim", WordVectors.from_gensim(theirs.wv))):
        pairs, analogies = evaluate_word_pairs(wv, ws), evaluate_analogies(wv, an)
        row[f"{name}_ws353"] = pairs.spearman
        row[f"{name}_analogy"] = analogies.accuracy
    row.update(ours_wps_wall=words / wall_o, gensim_wps_wall=words / wall_g,
               ours_wps_cpu=words / cpu_o, gensim_wps_cpu=words / cpu_g)
    row["ratio_wall"] = row["ours_wps_wall"] / row["gensim_wps_wall"]
    row["ratio_cpu"] = row["ours_wps_cpu"] / row["gensim_wps_cpu"]
    return row


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--mode", choices=("skipgram", "cbow", "both"), default="both")
    args = parser.parse_args(argv)
    tokens = data.load_text8_head()
    sentences = chunk_tokens(tokens, 1000)
    modes = ("skipgram", "cbow") if args.mode == "both" else (args.mode,)
    rows = [run(mode, args.epochs, sentences, len(tokens)) for mode in modes]
    print(f"text8 head: {len(tokens):,} tokens, {args.epochs} epochs, settings {SETTINGS}")
    header = (f"{'mode':9} {'ours w/s':>10} {'gensim w/s':>11} {'ratio':>6} | {'CPU ratio':>9} | "
              f"{'WS353 ours/gensim':>18} | {'analogy ours/gensim':>20}")
    print(header)
    for r in rows:
        print(f"{r['mode']:9} {r['ours_wps_wall']:10,.0f} {r['gensim_wps_wall']:11,.0f} "
              f"{r['ratio_wall']:6.2f} | {r['ratio_cpu']:9.2f} | "
              f"{r['ours_ws353']:8.3f} / {r['gensim_ws353']:.3f} | "
              f"{r['ours_analogy']:9.3f} / {r['gensim_analogy']:.3f}")
    return rows


if __name__ == "__main__":
    main()
