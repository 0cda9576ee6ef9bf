"""The ``embedlab`` command: generate exercise notebooks and grade them.

    embedlab assign [NAME ...]              regenerate exercises/NAME.ipynb from solutions/
    embedlab grade NOTEBOOK [options]       grade one notebook, print points and feedback
    embedlab grade-batch FOLDER --out DIR   grade a folder: gradebook.csv + results.json each
    embedlab autograder NAME -o FILE.zip    write the otter autograder zip (for Gradescope)
"""

from __future__ import annotations

import argparse
import json
import shutil
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embedlab", description="Exercises of the embeddings course.")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("assign", help="regenerate learner notebooks from their masters")
    a.add_argument("names", nargs="*", help="exercise sets like 01_what_are_embeddings "
                                             "(default: every master in solutions/)")

    def timing(sp):
        sp.add_argument("--cell-timeout", type=_positive, default=120.0,
                        help="seconds a cell may run before it is stopped (default 120)")
        sp.add_argument("--test-timeout", type=_positive, default=60.0,
                        help="seconds the tests of one question may run (default 60)")
        sp.add_argument("--exercise", help="exercise set name, if the notebook's metadata lacks it")
        sp.add_argument("--autograder", type=Path, help="an otter autograder zip to grade with")

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
    return p


def main(argv: list[str] | None = None) -> int:
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
                                            exercise=args.exercise,
                                            cell_timeout=args.cell_timeout,
                                            test_timeout=args.test_timeout)
            print(report.to_text())
            if args.json:
                args.json.write_text(json.dumps(report.to_gradescope(), indent=2))
            return 0
        if args.command == "grade-batch":
            reports = grading.grade_folder(args.folder, args.out, autograder=args.autograder,
                                           exercise=args.exercise,
                                           cell_timeout=args.cell_timeout,
                                           test_timeout=args.test_timeout)
            for r in reports:
                print(f"{Path(r.notebook).name}: {r.score:g} / {r.possible:g}")
            print(f"wrote {args.out / 'gradebook.csv'} and {len(reports)} results.json files")
            return 0
        if args.command == "autograder":
            zpath = grading.autograder_zip(args.name)
            shutil.copyfile(zpath, args.output)
            print(f"wrote {args.output}")
            return 0
    except (FileNotFoundError, NotADirectoryError, ValueError, TypeError, RuntimeError) as exc:
        print(f"embedlab {args.command}: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
