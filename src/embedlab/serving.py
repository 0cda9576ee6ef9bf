r"""An embedding service with dynamic micro-batching, a load generator, and managed servers.

**Why batch.** A forward pass over a batch of :math:`B` texts costs much less than :math:`B`
passes over one text: the weights are read once, and matrix-matrix products keep the CPU's
vector units busy. A service receives requests one at a time, though. **Dynamic
micro-batching** (Crankshaw et al., 2017; Olston et al., 2017) puts incoming requests in a
queue; a single worker takes the first waiting request, keeps collecting until it holds
``max_batch`` requests or ``max_wait_ms`` have passed since it took the first one, runs one
forward pass for all of them and answers each request with its own row. Under load the queue
fills while the model runs, so batches form without waiting; at low load a request waits at
most ``max_wait_ms`` for company.

**Latency under load.** With a closed-loop load of :math:`c` clients that each send a request,
wait for the answer and send the next, Little's law (Little, 1961) ties the mean latency
:math:`\bar L` to the throughput :math:`X`: :math:`c = X \bar L`. A server that handles one
request at a time at :math:`s` seconds each saturates at :math:`X = 1/s`, after which every
extra client only adds :math:`s` to everybody's latency. We report the 50th, 95th and 99th
percentiles of the latency (the tail is what users notice) and the throughput.

:class:`MicroBatcher` is the queue and worker; :func:`create_app` wraps it in a FastAPI app
(``POST /embed``, ``GET /health``, and ``POST /batching`` to change ``max_batch`` and
``max_wait_ms`` between experiments); ``python -m embedlab.serving`` runs that app on
uvicorn. :func:`load_test` is the client side. :class:`ManagedServer` starts any server
command on 127.0.0.1 on a free port, waits until it answers, sends its output to a log file
and always stops it (it is a context manager).
"""

# No "from __future__ import annotations" here: FastAPI reads the request models defined
# inside create_app from their evaluated annotations.

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import check_float, check_int

__all__ = [
    "MicroBatcher", "create_app", "free_port", "ManagedServer", "LoadTestResult", "load_test",
    "latency_percentiles", "embedding_server_command",
]


# ----------------------------------------------------------------------------- the batcher

class MicroBatcher:
    """Collect single requests into batches for one ``encode_fn(list_of_items) -> rows`` call.

    ``submit(item)`` (a coroutine) returns that item's row. ``max_batch=1`` is the plain
    one-request-at-a-time server. The forward pass runs in one worker thread, so the event loop
    keeps accepting requests meanwhile. ``batch_sizes`` records the size of every batch run.
    """

    def __init__(self, encode_fn: Callable[[list], Sequence], *, max_batch: int = 32,
                 max_wait_ms: float = 5.0):
        if not callable(encode_fn):
            raise TypeError(f"encode_fn must be callable, got {type(encode_fn).__name__}")
        self.encode_fn = encode_fn
        self.configure(max_batch=max_batch, max_wait_ms=max_wait_ms)
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")

    def configure(self, *, max_batch: int, max_wait_ms: float) -> None:
        """Change the batching limits (takes effect with the next batch)."""
        self.max_batch = check_int("max_batch", max_batch, minimum=1)
        self.max_wait_ms = check_float("max_wait_ms", max_wait_ms, minimum=0.0)

    async def start(self) -> None:
        """Start the worker task on the running event loop."""
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._worker())

    async def stop(self) -> None:
        """Cancel the worker and fail the requests still waiting."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("the batcher stopped"))
        self._executor.shutdown(wait=False)

    async def submit(self, item):
        """Queue one item and wait for its result."""
        if self._task is None:
            await self.start()
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    async def _collect(self) -> list:
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_ms / 1000.0
        while len(batch) < self.max_batch:
            if not self._queue.empty():                 # already waiting: take it at once
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            items = [item for item, _ in batch]
            self.batch_sizes.append(len(items))
            try:
                rows = await loop.run_in_executor(self._executor, self.encode_fn, items)
                if len(rows) != len(items):
                    raise RuntimeError(f"encode_fn returned {len(rows)} rows for {len(items)} items")
            except Exception as exc:  # every waiting request gets the error
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), row in zip(batch, rows):
                if not fut.done():
                    fut.set_result(row)


# ----------------------------------------------------------------------------- the app

def create_app(encode_fn: Callable[[list[str]], np.ndarray], *, max_batch: int = 32,
               max_wait_ms: float = 5.0, model_version: str = "v1", max_texts: int = 64):
    """A FastAPI app that embeds texts through a :class:`MicroBatcher`.

    ``POST /embed`` takes ``{"texts": [...]}`` (at most ``max_texts``) and returns
    ``{"embeddings": [[...], ...], "model_version": ...}``; every text is queued on its own,
    so texts of concurrent requests share forward passes. ``GET /health`` answers when the
    app is up; ``GET /stats`` returns the batch sizes run so far (and ``?reset=true`` clears
    them); ``POST /batching`` takes ``{"max_batch": B, "max_wait_ms": W}``.
    """
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel, Field

    max_texts = check_int("max_texts", max_texts, minimum=1)
    if not isinstance(model_version, str) or not model_version:
        raise TypeError(f"model_version must be a non-empty str, got {model_version!r}")
    batcher = MicroBatcher(lambda texts: np.asarray(encode_fn(list(texts)), dtype=np.float32),
                           max_batch=max_batch, max_wait_ms=max_wait_ms)

    class EmbedRequest(BaseModel):
        texts: list[str] = Field(min_length=1, max_length=max_texts)

    class BatchingRequest(BaseModel):
        max_batch: int = Field(ge=1, le=1024)
        max_wait_ms: float = Field(ge=0.0, le=10_000.0)

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="embedlab embedding service", lifespan=lifespan)
    app.state.batcher = batcher

    @app.get("/health")
    async def health():
        return {"status": "ok", "model_version": model_version}

    @app.post("/embed")
    async def embed(request: EmbedRequest):
        try:
            rows = await asyncio.gather(*(batcher.submit(t) for t in request.texts))
        except Exception as exc:  # pragma: no cover - the model failed
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return {"embeddings": [np.asarray(r).tolist() for r in rows],
                "model_version": model_version}

    @app.get("/stats")
    async def stats(reset: bool = False):
        sizes = list(batcher.batch_sizes)
        if reset:
            batcher.batch_sizes.clear()
        return {"batch_sizes": sizes, "max_batch": batcher.max_batch,
                "max_wait_ms": batcher.max_wait_ms}

    @app.post("/batching")
    async def batching(request: BatchingRequest):
        batcher.configure(max_batch=request.max_batch, max_wait_ms=request.max_wait_ms)
        return {"max_batch": batcher.max_batch, "max_wait_ms": batcher.max_wait_ms}

    return app


# ----------------------------------------------------------------------------- processes

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ManagedServer:
    """Run a server command in a child process, wait until it answers, always stop it.

    ``command`` is a list of arguments; ``health_path`` is fetched on
    ``http://127.0.0.1:{port}`` until it answers 200 or ``timeout`` seconds pass (then the
    process is stopped and ``TimeoutError`` raised, with the end of the log). Standard output
    and error go to ``log_path``. Use it as a context manager, or call :meth:`stop` in a
    ``finally`` block.
    """

    def __init__(self, command: Sequence[str], *, port: int, health_path: str = "/health",
                 log_path, timeout: float = 60.0, env: dict | None = None):
        if isinstance(command, str) or not all(isinstance(c, str) for c in command):
            raise TypeError("command must be a list of strings")
        self.command = list(command)
        self.port = check_int("port", port, minimum=1, maximum=65535)
        self.health_path = health_path
        self.log_path = Path(log_path)
        self.timeout = check_float("timeout", timeout, minimum=0.0, strict_min=True)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "ManagedServer":
        import httpx

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=self.env,
                                        start_new_session=True)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {self.process.returncode} "
                                       f"before answering; log:\n{self.log_tail()}")
                try:
                    if httpx.get(self.url + self.health_path, timeout=2.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server did not answer {self.health_path} within "
                                       f"{self.timeout:.0f} s; log:\n{self.log_tail()}")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def log_tail(self, n_lines: int = 20) -> str:
        """The last lines of the server's log."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n_lines:])

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after ``grace`` seconds)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=grace)
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> "ManagedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def embedding_server_command(port: int, *, max_batch: int = 32, max_wait_ms: float = 5.0,
                             max_length: int = 64, threads: int = 1, quantize: bool = False,
                             model_version: str = "v1") -> list[str]:
    """The command line that runs this module's service on 127.0.0.1:``port``."""
    cmd = [sys.executable, "-m", "embedlab.serving", "--port", str(check_int("port", port, minimum=1)),
           "--max-batch", str(check_int("max_batch", max_batch, minimum=1)),
           "--max-wait-ms", str(check_float("max_wait_ms", max_wait_ms, minimum=0.0)),
           "--max-length", str(check_int("max_length", max_length, minimum=2)),
           "--threads", str(check_int("threads", threads, minimum=1)),
           "--model-version", model_version]
    return cmd + (["--quantize"] if quantize else [])


# ----------------------------------------------------------------------------- load testing

def latency_percentiles(latencies, percentiles=(50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., ...}`` of a latency sample (same unit as the input)."""
    lat = np.asarray(latencies, dtype=float)
    if lat.ndim != 1 or len(lat) == 0:
        raise ValueError(f"latencies must be a non-empty 1-D sample, got shape {lat.shape}")
    return {f"p{p:g}": float(np.percentile(lat, p)) for p in percentiles}


@dataclass
class LoadTestResult:
    """Latencies (seconds) of every request, wall time of the test, and the errors seen."""

    latencies: np.ndarray
    wall_seconds: float
    concurrency: int
    errors: int = 0
    batch_sizes: list[int] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return len(self.latencies) / self.wall_seconds

    def summary(self) -> dict[str, float]:
        """Percentiles in milliseconds, throughput, mean batch size."""
        out = {k + " (ms)": 1000 * v for k, v in latency_percentiles(self.latencies).items()}
        out["throughput (req/s)"] = self.throughput
        out["mean batch"] = float(np.mean(self.batch_sizes)) if self.batch_sizes else float("nan")
        out["errors"] = self.errors
        return out


def _run_coroutine(coro):
    """Run a coroutine to completion in a fresh event loop on its own thread.

    Works whether or not the caller already runs an event loop (a Jupyter kernel does).
    """
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def load_test(url: str, texts: Sequence[str], *, concurrency: int = 8, n_requests: int = 200,
              timeout: float = 30.0, warmup: int = 4) -> LoadTestResult:
    """Closed-loop load: ``concurrency`` clients send ``n_requests`` single-text requests in all.

    Each client posts ``{"texts": [text]}`` to ``url + "/embed"``, waits for the answer and
    sends the next text (cycling through ``texts``). ``warmup`` requests are sent first and not
    counted. The batch sizes the server ran during the test are read from ``/stats``.
    """
    import httpx

    if not isinstance(url, str) or not url.startswith("http"):
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    concurrency = check_int("concurrency", concurrency, minimum=1)
    n_requests = check_int("n_requests", n_requests, minimum=1)
    timeout = check_float("timeout", timeout, minimum=0.0, strict_min=True)
    warmup = check_int("warmup", warmup, minimum=0)

    async def run():
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
            for i in range(warmup):
                (await client.post("/embed", json={"texts": [texts[i % len(texts)]]})).raise_for_status()
            await client.get("/stats", params={"reset": "true"})
            latencies: list[float] = []
            errors = 0
            counter = iter(range(n_requests))

            async def worker():
                nonlocal errors
                for i in counter:
                    start = time.perf_counter()
                    try:
                        r = await client.post("/embed", json={"texts": [texts[i % len(texts)]]})
                        r.raise_for_status()
                        latencies.append(time.perf_counter() - start)
                    except httpx.HTTPError:
                        errors += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - start
            stats = (await client.get("/stats", params={"reset": "true"})).json()
            return LoadTestResult(np.array(latencies), wall, concurrency, errors,
                                  stats["batch_sizes"])

    return _run_coroutine(run())


# ----------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> None:
    """Serve the pretrained encoder: ``python -m embedlab.serving --port N [...]``."""
    parser = argparse.ArgumentParser(description="embedlab embedding service (127.0.0.1 only)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--model-version", default="v1")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import uvicorn

    from .batch import SentenceEncoder

    encoder = SentenceEncoder(max_length=args.max_length, batch_size=max(args.max_batch, 1),
                              quantize=args.quantize, num_threads=args.threads)
    encoder.encode(["warm up the model"])
    app = create_app(lambda texts: encoder.encode(texts, batch_size=len(texts)),
                     max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                     model_version=args.model_version)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":  # pragma: no cover - run as a process
    main()
