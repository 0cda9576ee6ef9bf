"""pytest hooks for the chapter notebooks that nbval runs: keep what they showed.

nbval executes each chapter top to bottom in its own kernel, and a chapter fails when one of
its cells fails (its hidden cells assert the chapter's results). When every cell of a chapter
has passed, the outputs nbval collected are written to ``_build/executed/chapters/NN.ipynb``
together with the hash of the source notebook. The book is built from those copies
(``python -m embedlab._site``), so every chapter is executed once, by the run that checks it.

With ``EMBEDLAB_REUSE_EXECUTED=1`` (``make book`` sets it), a chapter whose executed copy is
up to date with its source is not run again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent
# Chapter kernels inherit this process's environment: they must draw inline, not with Agg.
if os.environ.get("MPLBACKEND", "").lower() == "agg":
    del os.environ["MPLBACKEND"]
EXECUTED = ROOT / "_build" / "executed"
WIDGET = "application/vnd.jupyter.widget-view+json"


def source_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def _executed_path(notebook: Path) -> Path:
    return EXECUTED / notebook.resolve().relative_to(ROOT)


def _fresh(notebook: Path) -> bool:
    target = _executed_path(notebook)
    if not target.exists():
        return False
    meta = nbformat.read(target, as_version=4).metadata.get("embedlab_executed", {})
    return meta.get("source_sha256") == source_hash(notebook)


def pytest_collection_modifyitems(session, config, items):
    if os.environ.get("EMBEDLAB_REUSE_EXECUTED") != "1":
        return
    keep, skipped = [], []
    for item in items:
        (skipped if _is_nbval_cell(item) and _fresh(Path(str(item.parent.fspath))) else keep) \
            .append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    # With every chapter up to date there is nothing to run, which pytest calls an error (exit
    # status 5, "no tests ran"); for `make book` it is the expected, successful case.
    if os.environ.get("EMBEDLAB_REUSE_EXECUTED") == "1" and exitstatus == 5:
        session.exitstatus = 0
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("every chapter's executed copy is up to date: nothing to run")


def _clean(outputs):
    """Outputs as the book should show them: no widget views (progress bars)."""
    out = []
    for o in outputs:
        if o.get("output_type") in ("display_data", "execute_result") and WIDGET in o.get("data", {}):
            continue
        out.append(o)
    return out


def pytest_runtest_makereport(item, call):
    if call.when != "call" or not _is_nbval_cell(item):
        return
    parent = item.parent
    state = parent.__dict__.setdefault("_embedlab_state", {"failed": False, "count": 0})
    state["count"] += 1
    if call.excinfo is not None and not call.excinfo.errisinstance(
            __import__("_pytest.outcomes", fromlist=["Skipped"]).Skipped):
        state["failed"] = True
    outputs = getattr(item, "test_outputs", None) or []
    item.cell.outputs = _clean(outputs)
    item.cell.execution_count = state["count"]
    for o in item.cell.outputs:
        if o.get("output_type") == "execute_result":
            o["execution_count"] = state["count"]
    total = sum(1 for c in parent.nb.cells if c.cell_type == "code")
    if state["count"] == total and not state["failed"]:
        source = Path(str(parent.fspath))
        nb = parent.nb
        nb.metadata["embedlab_executed"] = {"source_sha256": source_hash(source)}
        target = _executed_path(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".part-{os.getpid()}")
        nbformat.write(nb, tmp)
        os.replace(tmp, target)
