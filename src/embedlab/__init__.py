"""embedlab: the code of the course "Embeddings, from one-hot to BERT".

Each algorithm lives in one short module with its math in the docstring; the chapter
notebooks import it and the book shows its source with :func:`embedlab.show_source`.
Submodules load on first access, so ``import embedlab`` is cheap and
``embedlab.linear.LinearRegressionGD`` works without a separate import.
"""

from __future__ import annotations

import importlib
from pathlib import Path

__version__ = "0.1.0"

# Every public module of the package (a file not starting with "_"; the command line aside),
# found on disk so that a new chapter's module needs no edit here.
_SUBMODULES = frozenset(
    p.stem for p in Path(__file__).parent.glob("*.py")
    if not p.stem.startswith("_") and p.stem != "cli"
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "show_source":
        return importlib.import_module(f"{__name__}.book").show_source
    raise AttributeError(f"module 'embedlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"show_source"})
