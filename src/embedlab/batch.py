r"""Embedding many texts: an in-process pipeline, the same work on Ray Data, and its cost model.

**The pipeline.** A sentence encoder (here all-MiniLM-L6-v2; Wang et al., 2020; Reimers and
Gurevych, 2019) maps a text to the mean of its last-layer token vectors over the real
(non-padding) tokens, divided by its length:

.. math::

    e(s) = \frac{\bar h}{\lVert \bar h \rVert}, \qquad
    \bar h = \frac{\sum_t m_t h_t}{\sum_t m_t} .

A batch is padded to its longest text, and a transformer's cost per batch grows with
(batch size) x (padded length) (and, for attention, with the square of the length). Texts
are therefore tokenised once, **sorted by length**, and cut into batches of similar
lengths, so that little compute is spent on padding; the vectors are put back in the input
order at the end. Inference runs without gradients (``torch.inference_mode``).

**Dynamic int8 quantisation** (Jacob et al., 2018) stores the weights of every linear layer as
8-bit integers with one scale per tensor, :math:`W \approx s\,\mathrm{round}(W / s)`, and
quantises activations on the fly; matrix products run in integer arithmetic. The model is
about four times smaller and faster on CPUs, at a small cost in accuracy, which must be
measured on the task.

**Ray Data** (Moritz et al., 2018) runs the same encoder over a dataset split into blocks.
:class:`RayEmbedder` is a *callable class*: Ray creates one instance per actor (a long-lived
worker process) and the model is loaded once in its constructor, then every batch of rows
goes through ``__call__``. The same script runs on a laptop (``ray.init()`` starts a local
cluster) or on a cluster (``ray.init(address="ray://head:10001")``); only the address changes.

**Cost model.** With a measured rate of :math:`r` items per second per core, machines of
:math:`c` cores, a share :math:`\eta` of that rate kept in practice (I/O, stragglers), and a
deadline of :math:`T` seconds, embedding :math:`N` items needs

.. math::

    \text{machines} = \Big\lceil \frac{N}{r \, c \, \eta \, T} \Big\rceil .
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence

import numpy as np

from ._checks import check_float, check_int
from .transfer import mean_pool

__all__ = ["SentenceEncoder", "RayEmbedder", "embed_with_ray", "machines_needed", "load_st_model"]


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, got one str (wrap it in a list)")
    if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
        raise TypeError(f"texts must be a sequence of strings, got {type(texts).__name__}")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must hold strings; item {bad[0]} is "
                        f"{type(texts[bad[0]]).__name__}")
    return texts


class SentenceEncoder:
    """Mean-pooled, unit-length sentence vectors from a BERT-family model, in process.

    Parameters
    ----------
    path : model folder (default: :func:`embedlab.data.pretrained_model_path`)
    max_length : tokens kept per text (longer texts are truncated)
    batch_size : texts per forward pass
    quantize : apply dynamic int8 quantisation to the linear layers
    num_threads : torch threads for this encoder (``None`` leaves torch's setting)
    """

    def __init__(self, path=None, *, max_length: int = 128, batch_size: int = 32,
                 quantize: bool = False, num_threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        from .bert import _model_dir

        self.max_length = check_int("max_length", max_length, minimum=2, maximum=512)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        if not isinstance(quantize, bool):
            raise TypeError(f"quantize must be True or False, got {quantize!r}")
        if num_threads is not None:
            torch.set_num_threads(check_int("num_threads", num_threads, minimum=1))
        self.path = _model_dir(path)
        self.quantize = quantize
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        model = AutoModel.from_pretrained(str(self.path)).eval()
        if quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # eager-mode quantisation is deprecated
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.dim = int(model.config.hidden_size)

    def encode(self, texts, *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit vectors, in the order of ``texts``."""
        import torch
        from tqdm.auto import tqdm

        texts = _check_texts(texts)
        batch_size = self.batch_size if batch_size is None else check_int(
            "batch_size", batch_size, minimum=1)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length,
                             add_special_tokens=True)["input_ids"]
        order = np.argsort([len(x) for x in ids], kind="stable")
        pad = self.tokenizer.pad_token_id
        starts = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, disable=not progress, desc="embedding", leave=False):
                rows = order[start:start + batch_size]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    input_ids[r, :len(ids[i])] = torch.tensor(ids[i])
                    mask[r, :len(ids[i])] = 1
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                pooled = torch.nn.functional.normalize(mean_pool(hidden, mask), dim=1)
                out[rows] = pooled.numpy()
        return out

    __call__ = encode


def load_st_model(path=None, *, max_length: int = 128):
    """The same model through ``sentence-transformers`` (the reference), offline, on CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from .bert import _model_dir

    max_length = check_int("max_length", max_length, minimum=2, maximum=512)
    model = SentenceTransformer(str(_model_dir(path)), device="cpu")
    model.max_seq_length = max_length
    return model


class RayEmbedder:
    """Callable class for ``Dataset.map_batches``: one :class:`SentenceEncoder` per Ray actor.

    Each batch is a dict of NumPy columns with a ``"text"`` column; the result adds an
    ``"embedding"`` column (``(rows, dim)`` float32) and drops the text.
    """

    def __init__(self, path=None, max_length: int = 128, batch_size: int = 32,
                 num_threads: int = 1):
        self.encoder = SentenceEncoder(path, max_length=max_length, batch_size=batch_size,
                                       num_threads=num_threads)

    def __call__(self, batch: dict) -> dict:
        if "text" not in batch:
            raise ValueError(f"the batch needs a 'text' column, got {sorted(batch)}")
        out = {key: value for key, value in batch.items() if key != "text"}
        out["embedding"] = self.encoder.encode([str(t) for t in batch["text"]])
        return out


def embed_with_ray(texts, *, batch_size: int = 64, actors: int = 1, cpus_per_actor: float = 1.0,
                   max_length: int = 128, num_threads: int = 1, path=None) -> np.ndarray:
    """Embed ``texts`` with Ray Data on the cluster that ``ray.init`` connected to.

    The pipeline is ``from_items -> map_batches(RayEmbedder, ActorPoolStrategy) -> take_all``;
    rows carry their position so the vectors come back in input order. Call ``ray.init``
    first (locally, or with a cluster address) and ``ray.shutdown`` when done.
    """
    import ray
    import ray.data

    texts = _check_texts(texts)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    actors = check_int("actors", actors, minimum=1)
    cpus_per_actor = check_float("cpus_per_actor", cpus_per_actor, minimum=0.0, strict_min=True)
    if not ray.is_initialized():
        raise RuntimeError("Ray is not running: call ray.init(...) first")
    ds = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
    ds = ds.map_batches(
        RayEmbedder,
        fn_constructor_kwargs={"path": path, "max_length": max_length,
                               "batch_size": min(batch_size, 64), "num_threads": num_threads},
        batch_size=batch_size, batch_format="numpy", num_cpus=cpus_per_actor,
        compute=ray.data.ActorPoolStrategy(size=actors))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    for row in ds.take_all():
        if out.shape[1] == 0:
            out = np.zeros((len(texts), len(row["embedding"])), dtype=np.float32)
        out[row["row"]] = row["embedding"]
    return out


def machines_needed(n_items: int, items_per_second_per_core: float, *, cores_per_machine: int = 32,
                    hours: float = 1.0, efficiency: float = 0.7) -> int:
    """Machines needed to embed ``n_items`` within ``hours`` (see the module's cost model)."""
    n_items = check_int("n_items", n_items, minimum=0)
    rate = check_float("items_per_second_per_core", items_per_second_per_core, minimum=0.0,
                       strict_min=True)
    cores = check_int("cores_per_machine", cores_per_machine, minimum=1)
    hours = check_float("hours", hours, minimum=0.0, strict_min=True)
    efficiency = check_float("efficiency", efficiency, minimum=0.0, maximum=1.0, strict_min=True)
    return math.ceil(n_items / (rate * cores * efficiency * hours * 3600.0))
