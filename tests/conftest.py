"""Shared fixtures: the repository root and the list of exercise sets."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Unit tests draw off screen. (The environment variable is not set: chapter kernels started by
# nbval inherit the environment, and they must draw inline so that the book shows the figures.)
matplotlib.use("Agg")

# Notebooks under tests/data are inputs of the grader's tests, not chapters for nbval.
collect_ignore_glob = ["data/*"]

EXERCISES = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests, the setting restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
