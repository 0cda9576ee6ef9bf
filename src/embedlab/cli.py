"""The ``embedlab`` command: exercises, grading, JupyterLab and chapter previews.

    embedlab assign [NAME ...]                  regenerate exercises/NAME.ipynb from solutions/
    embedlab grade NOTEBOOK [options]           grade one notebook, print points and feedback
    embedlab grade-batch FOLDER --out DIR       grade a folder: gradebook.csv + results.json each
    embedlab autograder NAME -o FILE.zip        write the otter autograder zip (for Gradescope)
    embedlab lab [--port N] [--dry-run]         start JupyterLab on the repository, print its address
    embedlab preview chapters/NN_slug.ipynb     execute one chapter and build the book around it

``grade``, ``grade-batch`` and ``autograder`` take ``--masters DIR``: a folder of masters to use
instead of the repository's ``solutions/`` (an instructor's private copy, with hidden tests that
learners never see).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1024 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1024 to 65535, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embedlab", description="Exercises of the embeddings course.")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("assign", help="regenerate learner notebooks from their masters")
    a.add_argument("names", nargs="*", help="exercise sets like 01_what_are_embeddings "
                                             "(default: every master in solutions/)")

    def masters(sp):
        sp.add_argument("--masters", type=Path, help="a folder of master notebooks to grade "
                        "against instead of the repository's solutions/ (an instructor's "
                        "private copy)")

    def timing(sp):
        sp.add_argument("--cell-timeout", type=_positive, default=120.0,
                        help="seconds a cell may run before it is stopped (default 120)")
        sp.add_argument("--test-timeout", type=_positive, default=60.0,
                        help="seconds the tests of one question may run (default 60)")
        sp.add_argument("--exercise", help="exercise set name, if the notebook's metadata lacks it")
        sp.add_argument("--autograder", type=Path, help="an otter autograder zip to grade with")
        masters(sp)

    g = sub.add_parser("grade", help="grade one notebook")
    g.add_argument("notebook", type=Path)
    g.add_argument("--json", type=Path, help="also write the Gradescope-style results.json here")
    timing(g)

    b = sub.add_parser("grade-batch", help="grade every notebook in a folder")
    b.add_argument("folder", type=Path)
    b.add_argument("--out", type=Path, required=True, help="folder for gradebook.csv and results")
    timing(b)

    z = sub.add_parser("autograder", help="write the autograder zip of an exercise set")
    z.add_argument("name")
    z.add_argument("-o", "--output", type=Path, required=True)
    masters(z)

    lab = sub.add_parser("lab", help="start JupyterLab on the repository and print its address")
    lab.add_argument("--port", type=_port, default=8888, help="port to listen on (default 8888)")
    lab.add_argument("--dry-run", action="store_true",
                     help="print the command and the address, start nothing")

    pv = sub.add_parser("preview", help="execute one chapter and build the book around it")
    pv.add_argument("chapter", type=Path, help="a chapter notebook, e.g. chapters/05_word2vec.ipynb")
    return p


# --------------------------------------------------------------------------------------------
# JupyterLab

def is_root() -> bool:
    """Whether this process runs as root (containers often do)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(*, port: int = 8888, token: str, root: bool | None = None,
                notebook_dir: Path | None = None) -> list[str]:
    """The command line that starts JupyterLab on 127.0.0.1 with a known token.

    ``--allow-root`` is added only when the user is root (``root`` overrides the check), since
    JupyterLab refuses to start as root without it.
    """
    if not isinstance(token, str) or not token:
        raise ValueError("token must be a non-empty string")
    if root is None:
        root = is_root()
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "lab", "--ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={token}",
           "--ServerApp.port_retries=0"]
    if notebook_dir is not None:
        cmd.append(f"--ServerApp.root_dir={notebook_dir}")
    if root:
        cmd.append("--allow-root")
    return cmd


def _lab(args) -> int:
    from .grading import repo_root

    token = secrets.token_hex(16)
    root_dir = repo_root()
    cmd = lab_command(port=args.port, token=token, notebook_dir=root_dir)
    url = f"http://127.0.0.1:{args.port}/lab?token={token}"
    print(f"JupyterLab on {root_dir}")
    print(f"Open this address in your browser: {url}")
    print("Stop it with Ctrl-C.", flush=True)
    if args.dry_run:
        print("Command: " + " ".join(cmd))
        return 0
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.call(cmd, env=env, cwd=root_dir)


# --------------------------------------------------------------------------------------------
# Preview of one chapter

def _preview(chapter: Path) -> int:
    import yaml

    from .grading import repo_root

    root = repo_root()
    chapter = Path(chapter).resolve()
    if chapter.suffix != ".ipynb" or chapter.parent != (root / "chapters").resolve():
        raise ValueError(f"preview takes a notebook in {root / 'chapters'}, got {chapter}")
    if not chapter.exists():
        raise FileNotFoundError(f"{chapter} does not exist")
    stem = chapter.stem
    out = root / "_build" / "preview" / stem
    out.mkdir(parents=True, exist_ok=True)

    config = yaml.safe_load((root / "_config.yml").read_text())
    others = [f"chapters/{p.name}" for p in sorted((root / "chapters").glob("*.ipynb"))
              if p.stem != stem]
    config["execute"]["execute_notebooks"] = "force"
    config["execute"]["exclude_patterns"] = others + ["exercises/*"]
    config["execute"]["cache"] = str(out / ".jupyter_cache")
    config["bibtex_bibfiles"] = [str(root / f) for f in config["bibtex_bibfiles"]]
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = {c.get("file") for part in toc["parts"] for c in part["chapters"]}
    if f"chapters/{stem}" not in files:
        toc["parts"][-3]["chapters"].append({"file": f"chapters/{stem}"})
    if (root / "exercises" / f"{stem}.ipynb").exists() and f"exercises/{stem}" not in files:
        toc["parts"][-2]["chapters"].append({"file": f"exercises/{stem}"})
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    jb = Path(sys.executable).parent / "jupyter-book"
    print(f"executing {chapter.relative_to(root)} and building the book into {out} ...",
          flush=True)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # figures draw inline
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run([str(jb), "build", str(root), "--path-output", str(out),
                           "--config", str(out / "_config.yml"), "--toc", str(out / "_toc.yml"),
                           "-n", "--keep-going", "--all"],
                          capture_output=True, text=True, env=env)
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    mine = [ln for ln in text.splitlines()
            if ("WARNING" in ln or "ERROR" in ln) and not ln.startswith("WARNING: Location")
            and (f"chapters/{stem}" in ln or f"exercises/{stem}" in ln)]
    (out / "build.log").write_text(text)
    for ln in mine:
        print(ln)
    page = out / "_build" / "html" / "chapters" / f"{stem}.html"
    if proc.returncode != 0 or not page.exists():
        print(f"the build failed; see {out / 'build.log'}")
        return 1
    print(f"{len(mine)} warning(s) on your pages; open {page}")
    return 1 if mine else 0


# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader of our output went away (`embedlab grade nb.ipynb | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    from . import grading

    try:
        if args.command == "assign":
            root = grading.repo_root()
            names = args.names or sorted(p.stem for p in (root / "solutions").glob("[0-9]*.ipynb"))
            for name in names:
                with tempfile.TemporaryDirectory() as tmp:
                    student, _ = grading.build_assignment(name, Path(tmp) / "dist")
                    target = root / "exercises" / f"{name}.ipynb"
                    shutil.copyfile(student, target)
                print(f"wrote {target.relative_to(root)}")
            return 0
        if args.command == "grade":
            report = grading.grade_notebook(args.notebook, autograder=args.autograder,
                                            exercise=args.exercise, masters=args.masters,
                                            cell_timeout=args.cell_timeout,
                                            test_timeout=args.test_timeout)
            print(report.to_text(), flush=True)
            if args.json:
                args.json.write_text(json.dumps(report.to_gradescope(), indent=2))
            return 0
        if args.command == "grade-batch":
            reports = grading.grade_folder(args.folder, args.out, autograder=args.autograder,
                                           exercise=args.exercise, masters=args.masters,
                                           cell_timeout=args.cell_timeout,
                                           test_timeout=args.test_timeout)
            for r in reports:
                print(f"{Path(r.notebook).name}: {r.score:g} / {r.possible:g}")
            print(f"wrote {args.out / 'gradebook.csv'} and {len(reports)} results.json files",
                  flush=True)
            return 0
        if args.command == "autograder":
            zpath = grading.autograder_zip(args.name, masters=args.masters)
            shutil.copyfile(zpath, args.output)
            print(f"wrote {args.output}")
            return 0
        if args.command == "lab":
            return _lab(args)
        if args.command == "preview":
            return _preview(args.chapter)
    except (FileNotFoundError, NotADirectoryError, ValueError, TypeError, RuntimeError) as exc:
        print(f"embedlab {args.command}: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
