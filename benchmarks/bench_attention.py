"""Speed of embedlab's NumPy attention against torch's, on CPU, as a ratio (ours / torch).

Run: ``.venv/bin/python benchmarks/bench_attention.py``. Both sides compute the same thing in
float64 on one thread (NumPy's BLAS and torch are both limited to one thread, so that neither
wins by using more cores): ``scaled_dot_product_attention`` on random
``(batch, heads, n, d)`` inputs, without and with a causal mask. Each timing is the best of
several runs after a warm-up, the fastest kept (the least disturbed by other programs on
the machine); ours and torch's run alternately so that both see the same background load.
A second table times a whole decoder block (causal self-attention, cross-attention to a padded
source, feed-forward): ``TransformerDecoderBlock`` against ``torch.nn.TransformerDecoderLayer``
with the same weights. A ratio below 1 means ours is faster. Nothing here asserts a time.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from embedlab.attention import (TransformerDecoderBlock, causal_mask,  # noqa: E402
                                padding_mask, scaled_dot_product_attention)

SHAPES = [(8, 4, 64, 16), (4, 8, 128, 32), (2, 8, 256, 64), (1, 12, 512, 64)]


def _best_times(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Fastest of ``repeats`` runs of each function, run alternately so that both see the
    same background load."""
    fn_a(), fn_b()  # warm-up
    best_a = best_b = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn_a()
        t1 = time.perf_counter()
        fn_b()
        t2 = time.perf_counter()
        best_a, best_b = min(best_a, t1 - t0), min(best_b, t2 - t1)
    return best_a, best_b


def main(repeats: int = 20) -> list[dict]:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'shape (b, h, n, d)':22s} {'mask':7s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for shape in SHAPES:
        q, k, v = (rng.normal(size=shape) for _ in range(3))
        qt, kt, vt = (torch.from_numpy(a) for a in (q, k, v))
        for causal in (False, True):
            with torch.no_grad():
                ours, ref = _best_times(
                    lambda: scaled_dot_product_attention(q, k, v, causal=causal),
                    lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal), repeats)
            err = np.abs(scaled_dot_product_attention(q, k, v, causal=causal)
                         - F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal).numpy()).max()
            assert err < 1e-6, err
            rows.append({"shape": shape, "causal": causal, "ours": ours, "torch": ref,
                         "ratio": ours / ref})
            print(f"{str(shape):22s} {'causal' if causal else 'none':7s} {1e3 * ours:9.3f} "
                  f"{1e3 * ref:9.3f} {ours / ref:7.2f}")
    ratios = [r["ratio"] for r in rows]
    print(f"geometric mean ratio ours/torch: {np.exp(np.mean(np.log(ratios))):.2f} "
          f"(worst {max(ratios):.2f}, best {min(ratios):.2f})")
    return rows


DECODER_SHAPES = [(8, 16, 24, 64, 4), (4, 64, 96, 128, 8), (2, 128, 160, 256, 8)]  # b, n, m, d, heads


def main_decoder(repeats: int = 10) -> list[dict]:
    """Our decoder block against torch's decoder layer, same weights, float64, one thread."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    rows = []
    print(f"{'decoder (b, n, m, d, h)':26s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for b, n, m, d, h in DECODER_SHAPES:
        torch.manual_seed(0)
        layer = torch.nn.TransformerDecoderLayer(d, h, dim_feedforward=4 * d, dropout=0.0,
                                                 batch_first=True, dtype=torch.float64).eval()
        ours = TransformerDecoderBlock(d, h, 4 * d).load_torch_state(layer.state_dict())
        x, memory = rng.normal(size=(b, n, d)), rng.normal(size=(b, m, d))
        keep = padding_mask(rng.integers(1, m + 1, size=b), max_len=m)
        xt, mt = torch.from_numpy(x), torch.from_numpy(memory)
        tgt_mask, mem_pad = torch.from_numpy(~causal_mask(n)), torch.from_numpy(~keep)
        with torch.no_grad():
            run_ref = lambda: layer(xt, mt, tgt_mask=tgt_mask, memory_key_padding_mask=mem_pad)  # noqa: E731
            run_ours = lambda: ours(x, memory, memory_key_mask=keep)  # noqa: E731
            err = np.abs(run_ours() - run_ref().numpy()).max()
            assert err < 1e-12, err  # the same numbers, or the timing means nothing
            t_ours, t_ref = _best_times(run_ours, run_ref, repeats)
        rows.append({"shape": (b, n, m, d, h), "ours": t_ours, "torch": t_ref, "ratio": t_ours / t_ref})
        print(f"{str((b, n, m, d, h)):26s} {1e3 * t_ours:9.3f} {1e3 * t_ref:9.3f} {t_ours / t_ref:7.2f}")
    return rows


if __name__ == "__main__":
    main()
    print()
    main_decoder()
