"""The book builds without a warning (notebooks are executed by nbval, not here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

import embedlab


def test_show_source_shows_package_code():
    md = embedlab.show_source(embedlab.linear.mse)
    assert "def mse(" in md.data and md.data.startswith("`embedlab.linear.mse`")
    short = embedlab.show_source(embedlab.linear.LinearRegressionGD.fit, docstring=False)
    assert "Fit on features" not in short.data and "def fit(" in short.data


def test_show_source_rejects_other_code():
    import json

    import pytest

    with pytest.raises(ValueError, match="only shows embedlab code"):
        embedlab.show_source(json.dumps)
    with pytest.raises(TypeError, match="takes a function"):
        embedlab.show_source(3)


def test_book_builds_without_warnings(root, tmp_path):
    """Sphinx with -W -n: broken references, citations, glossary terms or toc entries fail."""
    src = tmp_path / "book"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".venv", "_build", ".git",
                                                             "__pycache__", "*.egg-info"))
    config = yaml.safe_load((src / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # nbval executes the chapters
    (src / "_config.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = src / "_build" / "html"
    for page in ["index.html", "book/how_to_use.html", "book/glossary.html",
                 "book/bibliography.html", "chapters/01_what_are_embeddings.html"]:
        assert (html / page).exists(), f"{page} was not built"
