"""Batch embedding: our in-process encoder equals sentence-transformers, int8 stays close, the
Ray Data pipeline (a real local cluster, always shut down) returns the same vectors in order,
and the cost model is the stated formula."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from embedlab import batch

TEXTS = ["a short one", "the shuttle crew returned safely to earth after a long mission",
         "stocks", "rain is expected over the weekend in the south of the country",
         "the philosopher argued that the state should be abolished", "ok"]


@pytest.fixture(scope="module")
def encoder():
    return batch.SentenceEncoder(max_length=32, batch_size=2, num_threads=1)


def test_encoder_equals_sentence_transformers(encoder):
    ours = encoder.encode(TEXTS)
    st = batch.load_st_model(max_length=32)
    ref = st.encode(TEXTS, batch_size=4, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(ours, ref, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_encoder_keeps_the_input_order_whatever_the_batching(encoder):
    full = encoder.encode(TEXTS, batch_size=64)
    one_by_one = np.vstack([encoder.encode([t]) for t in TEXTS])
    reversed_ = encoder.encode(TEXTS[::-1], batch_size=3)[::-1]
    assert np.allclose(full, one_by_one, atol=1e-5)
    assert np.allclose(full, reversed_, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_int8_quantisation_changes_the_vectors_a_little(encoder):
    import torch

    q = batch.SentenceEncoder(max_length=32, quantize=True)
    linear_types = {type(m).__name__ for m in q.model.modules() if "Linear" in type(m).__name__}
    assert any(m.__module__.startswith("torch.ao.nn.quantized") for m in q.model.modules()
               if "Linear" in type(m).__name__), linear_types
    a, b = encoder.encode(TEXTS), q.encode(TEXTS)
    cos = np.sum(a * b, axis=1)
    assert np.all(cos > 0.8) and np.all(cos < 1 - 1e-6)
    assert isinstance(torch.get_num_threads(), int)


def test_ray_embedder_callable_on_a_batch(encoder):
    embedder = batch.RayEmbedder(max_length=32, num_threads=1)
    out = embedder({"row": np.arange(3), "text": np.array(TEXTS[:3])})
    assert set(out) == {"row", "embedding"} and out["embedding"].shape == (3, 384)
    assert np.allclose(out["embedding"], encoder.encode(TEXTS[:3]), atol=1e-5)
    with pytest.raises(ValueError, match="'text' column"):
        embedder({"body": np.array(["x"])})


def test_embed_with_ray_needs_a_running_cluster():
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()        # runs before the module's cluster starts
    with pytest.raises(RuntimeError, match="ray.init"):
        batch.embed_with_ray(["a"])


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray cluster for this module, always shut down."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=1, include_dashboard=False, object_store_memory=100 * 1024 ** 2,
             _temp_dir=str(tmp_path_factory.mktemp("ray")), logging_level="ERROR",
             log_to_driver=False)
    try:
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


def test_embed_with_ray_equals_in_process(local_ray, encoder):
    texts = TEXTS * 3
    vectors = batch.embed_with_ray(texts, batch_size=4, actors=1, cpus_per_actor=1,
                                   max_length=32, num_threads=1)
    assert vectors.shape == (len(texts), 384)
    assert np.allclose(vectors, encoder.encode(texts), atol=1e-5)


def test_machines_needed_is_the_cost_formula():
    assert batch.machines_needed(100_000_000, 50.0, cores_per_machine=32, hours=1.0,
                                 efficiency=0.7) == math.ceil(1e8 / (50 * 32 * 0.7 * 3600))
    assert batch.machines_needed(0, 10.0) == 0
    assert batch.machines_needed(1, 10.0) == 1
    assert batch.machines_needed(10_000, 1.0, cores_per_machine=1, hours=1.0, efficiency=1.0) == 3


def test_argument_errors(encoder):
    with pytest.raises(TypeError, match="wrap it in a list"):
        encoder.encode("one text")
    with pytest.raises(TypeError, match="item 1 is int"):
        encoder.encode(["ok", 3])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        encoder.encode(["ok"], batch_size=0)
    with pytest.raises(ValueError, match="max_length must be <= 512"):
        batch.SentenceEncoder(max_length=1000)
    with pytest.raises(TypeError, match="quantize must be True or False"):
        batch.SentenceEncoder(quantize="yes")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        batch.SentenceEncoder("/nonexistent/model")
    with pytest.raises(ValueError, match="efficiency must be <= 1.0"):
        batch.machines_needed(10, 1.0, efficiency=1.5)
    with pytest.raises(ValueError, match="items_per_second_per_core must be > 0"):
        batch.machines_needed(10, 0.0)
