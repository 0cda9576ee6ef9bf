"""Build the HTML book from the chapters as the test run executed them.

    python -m embedlab._site [--root DIR]

The chapters are executed once, by nbval (``make book`` and ``make test`` run them), and the
outputs of a chapter whose every cell passed are kept in ``_build/executed/chapters/``. This
module copies the book's sources into ``_build/site/`` (configuration with execution off,
table of contents, ``book/``, the learner notebooks of ``exercises/``, and the executed
chapters) and runs ``jupyter-book build -W -n --keep-going`` into ``_build/html``. A chapter
whose executed copy is missing or older than its source is an error that says what to run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["stale_chapters", "stage", "build"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale_chapters(root: Path) -> list[str]:
    """Chapters of the table of contents whose executed copy is missing or out of date."""
    import nbformat

    out = []
    for src in sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb")):
        done = root / "_build" / "executed" / "chapters" / src.name
        if not done.exists():
            out.append(src.stem)
            continue
        meta = nbformat.read(done, as_version=4).metadata.get("embedlab_executed", {})
        if meta.get("source_sha256") != _sha(src):
            out.append(src.stem)
    return out


def stage(root: Path) -> Path:
    """Copy the book's sources, with executed chapters, into ``root/_build/site``."""
    import yaml

    root = Path(root)
    stale = stale_chapters(root)
    if stale:
        raise RuntimeError(
            "these chapters have not been executed since they last changed: "
            + ", ".join(stale) + ". Run them first: `make book` does, or "
            "`.venv/bin/python -m pytest --nbval-lax chapters/` (every cell must pass)")
    site = root / "_build" / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    (site / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copyfile(root / "_toc.yml", site / "_toc.yml")
    shutil.copytree(root / "book", site / "book")
    shutil.copytree(root / "exercises", site / "exercises",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(root / "_build" / "executed" / "chapters", site / "chapters")
    for extra in (site / "chapters").glob("*.part-*"):
        extra.unlink()
    return site


def build(root: Path) -> subprocess.CompletedProcess:
    """Stage the sources and build the book into ``root/_build/html`` (warnings are errors)."""
    root = Path(root)
    site = stage(root)
    jb = Path(sys.executable).parent / "jupyter-book"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    html = root / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    proc = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", "--all", str(site),
                           "--path-output", str(root)], capture_output=True, text=True, env=env)
    proc.stdout = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    proc.stderr = "\n".join(ln for ln in re.sub(r"\x1b\[[0-9;]*m", "", proc.stderr).splitlines()
                            if not ln.startswith("WARNING: Location"))
    return proc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedlab._site", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course repository")
    args = parser.parse_args(argv)
    try:
        proc = build(args.root)
    except RuntimeError as exc:
        print(f"book: {exc}", file=sys.stderr)
        return 2
    warnings = [ln for ln in (proc.stdout + "\n" + proc.stderr).splitlines()
                if "WARNING" in ln or "ERROR" in ln]
    for ln in warnings:
        print(ln)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-3000:])
        return proc.returncode
    print(f"Open {args.root / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
