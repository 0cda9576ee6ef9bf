"""Benchmark: our NumPy BERT forward pass against ``transformers``' BertModel on CPU.

One batch of 32 real sentences (the first sentences of the Lee background corpus, padded to
the longest, truncated at 128 tokens) through all-MiniLM-L6-v2, in float32, no gradients.
Each side runs a warm-up, then the two sides take turns for several repeats (so that a burst
of load on a shared machine hits both) and the best time of each is kept; the script prints
both times and their ratio (ours / transformers) in one run. The aim is a ratio of at most
1.5. It prints, does not assert: timings on a shared machine are noise, not tests.

Run: ``.venv/bin/python benchmarks/bench_bert.py [--repeats 5] [--batch 32] [--threads N]``

For a one-thread comparison of both sides, also limit NumPy's BLAS:
``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bert.py --threads 1``.
On a busy machine, several BLAS threads per process can make NumPy much slower than one.
"""

from __future__ import annotations

import argparse
import os
import re
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def best_times(fns, repeats: int) -> list[float]:
    """Best wall-clock time of each function, the functions taking turns."""
    for fn in fns:
        fn()  # warm-up (allocations, thread pools)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [min(t) for t in times]


def sentences(n: int) -> list[str]:
    from embedlab.data import load_lee_background

    out = []
    for doc in load_lee_background():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) >= 5)
        if len(out) >= n:
            break
    return out[:n]


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import AutoModel

    from embedlab import bert
    from embedlab.data import pretrained_model_path

    path = pretrained_model_path()
    tokenizer = bert.load_tokenizer(path)
    ours = bert.NumpyBert.from_pretrained(path, dtype="float32")
    theirs = AutoModel.from_pretrained(str(path)).eval()

    enc = tokenizer(sentences(args.batch), padding=True, truncation=True,
                    max_length=args.max_length, return_tensors="np")
    tensors = {k: torch.from_numpy(v) for k, v in enc.items()}

    def run_ours():
        return ours.forward(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])

    def run_theirs():
        with torch.inference_mode():
            return theirs(**tensors, output_hidden_states=True)

    real = enc["attention_mask"].astype(bool)
    diff = max(float(np.abs(a - b.numpy())[real].max())
               for a, b in zip(run_ours(), run_theirs().hidden_states))
    t_ours, t_theirs = best_times([run_ours, run_theirs], args.repeats)
    ratio = t_ours / t_theirs
    shape = tuple(enc["input_ids"].shape)
    print(f"batch {shape[0]} x {shape[1]} tokens, torch threads {torch.get_num_threads()}, "
          f"best of {args.repeats}")
    print(f"max abs difference of hidden states (real tokens): {diff:.2e}")
    print(f"numpy (embedlab.bert): {t_ours * 1e3:8.1f} ms")
    print(f"transformers BertModel: {t_theirs * 1e3:8.1f} ms")
    print(f"ratio ours / transformers: {ratio:.2f}  (aim: at most 1.5)")
    return ratio


if __name__ == "__main__":
    main()
