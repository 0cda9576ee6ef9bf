"""The embedding service: micro-batching groups concurrent requests, the app answers with the
encoder's vectors, a real server process starts on 127.0.0.1 and is always stopped."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import numpy as np
import pytest

from embedlab import serving


def _fake_encoder(calls, delay=0.02):
    def encode(texts):
        calls.append(len(texts))
        time.sleep(delay)
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)
    return encode


def test_micro_batcher_groups_concurrent_requests():
    calls = []
    batcher = serving.MicroBatcher(_fake_encoder(calls), max_batch=8, max_wait_ms=50)

    async def run():
        await batcher.start()
        out = await asyncio.gather(*(batcher.submit("a" * i) for i in range(1, 21)))
        await batcher.stop()
        return out

    out = asyncio.run(run())
    assert [list(o) for o in out] == [[i, i] for i in range(1, 21)]   # each gets its own row
    assert sum(calls) == 20 and max(calls) == 8 and len(calls) <= 4
    assert batcher.batch_sizes == calls


def test_batch_size_one_never_groups():
    calls = []
    batcher = serving.MicroBatcher(_fake_encoder(calls, 0.0), max_batch=1, max_wait_ms=50)

    async def run():
        return await asyncio.gather(*(batcher.submit("x") for _ in range(6)))

    asyncio.run(run())
    assert calls == [1] * 6


def test_wait_time_bounds_the_delay_of_a_lone_request():
    calls = []
    batcher = serving.MicroBatcher(_fake_encoder(calls, 0.0), max_batch=64, max_wait_ms=30)

    async def run():
        start = time.perf_counter()
        await batcher.submit("alone")
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    assert calls == [1]
    assert elapsed >= 0.025            # it waited for company (a lower bound, not a timing goal)


def test_errors_reach_every_waiting_request():
    def broken(texts):
        raise RuntimeError("model failed")

    batcher = serving.MicroBatcher(broken, max_batch=4, max_wait_ms=5)

    async def run():
        return await asyncio.gather(*(batcher.submit("x") for _ in range(3)), return_exceptions=True)

    out = asyncio.run(run())
    assert all(isinstance(e, RuntimeError) and "model failed" in str(e) for e in out)


def test_app_endpoints_with_a_fake_encoder():
    from fastapi.testclient import TestClient

    calls = []
    app = serving.create_app(_fake_encoder(calls, 0.0), max_batch=4, max_wait_ms=1,
                             model_version="test-1")
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok", "model_version": "test-1"}
        r = client.post("/embed", json={"texts": ["aa", "b", "banana"]})
        assert r.status_code == 200
        body = r.json()
        assert body["model_version"] == "test-1"
        assert body["embeddings"] == [[2.0, 2.0], [1.0, 0.0], [6.0, 3.0]]
        assert client.post("/embed", json={"texts": []}).status_code == 422
        assert client.post("/embed", json={"text": "x"}).status_code == 422
        assert client.post("/batching", json={"max_batch": 2, "max_wait_ms": 0}).json() == \
            {"max_batch": 2, "max_wait_ms": 0.0}
        assert client.post("/batching", json={"max_batch": 0, "max_wait_ms": 0}).status_code == 422
        stats = client.get("/stats", params={"reset": "true"}).json()
        assert sum(stats["batch_sizes"]) == 3 and stats["max_batch"] == 2
        assert client.get("/stats").json()["batch_sizes"] == []


def test_latency_percentiles_and_result_summary():
    lat = np.arange(1, 101) / 1000
    p = serving.latency_percentiles(lat)
    assert p["p50"] == pytest.approx(np.percentile(lat, 50)) and p["p99"] > p["p95"] > p["p50"]
    res = serving.LoadTestResult(lat, wall_seconds=2.0, concurrency=4, batch_sizes=[2, 4])
    s = res.summary()
    assert s["throughput (req/s)"] == pytest.approx(50.0) and s["mean batch"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        serving.latency_percentiles([])


def test_managed_server_reports_a_crash_and_times_out(tmp_path):
    port = serving.free_port()
    crash = serving.ManagedServer([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
                                  port=port, log_path=tmp_path / "crash.log", timeout=20)
    with pytest.raises(RuntimeError, match="exited with code 3"):
        crash.start()
    assert not crash.running and "boom" in crash.log_tail()
    silent = serving.ManagedServer([sys.executable, "-c", "import time; time.sleep(60)"],
                                   port=port, log_path=tmp_path / "silent.log", timeout=1.5)
    with pytest.raises(TimeoutError, match="did not answer"):
        silent.start()
    assert not silent.running                       # the child was stopped


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """The real service (pretrained encoder) on 127.0.0.1, stopped whatever happens."""
    port = serving.free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = serving.ManagedServer(serving.embedding_server_command(port, max_batch=8, max_wait_ms=5),
                                   port=port, log_path=log, timeout=180)
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.running


def test_real_server_returns_the_encoder_vectors_and_batches_under_load(real_server):
    import httpx

    from embedlab.batch import SentenceEncoder

    texts = ["the launch was delayed by rain", "a quiet film about grief", "stocks fell sharply"]
    r = httpx.post(real_server.url + "/embed", json={"texts": texts}, timeout=60)
    assert r.status_code == 200 and r.json()["model_version"] == "v1"
    served = np.array(r.json()["embeddings"])
    local = SentenceEncoder(max_length=64).encode(texts)
    assert np.allclose(served, local, atol=1e-4)
    result = serving.load_test(real_server.url, texts * 4, concurrency=6, n_requests=24, warmup=1)
    assert len(result.latencies) == 24 and result.errors == 0
    assert sum(result.batch_sizes) == 24 and max(result.batch_sizes) > 1


def test_argument_errors():
    with pytest.raises(TypeError, match="encode_fn must be callable"):
        serving.MicroBatcher("model")
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        serving.MicroBatcher(lambda x: x, max_batch=0)
    with pytest.raises(ValueError, match="max_wait_ms must be >= 0"):
        serving.MicroBatcher(lambda x: x, max_wait_ms=-1.0)
    with pytest.raises(TypeError, match="command must be a list"):
        serving.ManagedServer("chroma run", port=8000, log_path="x.log")
    with pytest.raises(ValueError, match="url must be an http"):
        serving.load_test("localhost:8000", ["a"])
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        serving.load_test("http://127.0.0.1:1", ["a"], concurrency=0)
    with pytest.raises(TypeError, match="model_version must be a non-empty str"):
        serving.create_app(lambda x: x, model_version="")
