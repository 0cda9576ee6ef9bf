"""The root conftest.py keeps the outputs of chapters that passed under nbval, for the book.

Run on a throw-away copy of the repository's layout: one tiny chapter, the real conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT


def _run(project, reuse: bool):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["EMBEDLAB_REUSE_EXECUTED"] = "1" if reuse else "0"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--nbval-lax", "chapters"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "chapters").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter 0"),
                nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)"),
                nbformat.v4.new_code_cell("assert x == 42")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "chapters" / "00_tiny.ipynb")
    return tmp_path


def test_a_passing_chapter_is_kept_then_reused_until_its_source_changes(project):
    first = _run(project, reuse=True)
    assert first.returncode == 0, first.stdout + first.stderr
    kept = project / "_build" / "executed" / "chapters" / "00_tiny.ipynb"
    nb = nbformat.read(kept, as_version=4)
    assert nb.cells[1].outputs[0]["text"] == "42\n"             # what the book will show
    assert nb.metadata["embedlab_executed"]["source_sha256"]

    again = _run(project, reuse=True)                            # `make book` after `make test`
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to run" in again.stdout

    source = project / "chapters" / "00_tiny.ipynb"
    changed = nbformat.read(source, as_version=4)
    changed.cells[1].source = "x = 6 * 7\nprint(x + 1)"
    nbformat.write(changed, source)
    third = _run(project, reuse=True)
    assert third.returncode == 0 and "nothing to run" not in third.stdout
    assert nbformat.read(kept, as_version=4).cells[1].outputs[0]["text"] == "43\n"


def test_a_failing_chapter_is_not_kept(project):
    source = project / "chapters" / "00_tiny.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[2].source = "assert x == 41"
    nbformat.write(nb, source)
    result = _run(project, reuse=False)
    assert result.returncode == 1
    assert not (project / "_build" / "executed" / "chapters" / "00_tiny.ipynb").exists()
