"""The grader survives bad notebooks, never edits the learner's file, and grades folders."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from embedlab import grading

NAME = "01_what_are_embeddings"


@pytest.fixture(scope="module")
def zip_path():
    return grading.autograder_zip(NAME)


@pytest.fixture(scope="module")
def solution_nb(root):
    return nbformat.read(root / "solutions" / f"{NAME}.ipynb", as_version=4)


def _write(nb, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


def _with_answer(nb, marker: str, new_source: str):
    """A copy of ``nb`` whose first code cell containing ``marker`` is replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source:
            cell.source = new_source
            return nb
    raise AssertionError(f"no code cell contains {marker!r}")


def _scores(report):
    return {q.name: q.score for q in report.questions}


def test_tests_come_from_the_zip(zip_path):
    specs = grading.load_tests(zip_path)
    assert list(specs) == ["q1", "q2", "q3", "q4", "q5"]
    hidden = [c for s in specs.values() for c in s["suites"][0]["cases"] if c.get("hidden")]
    assert len(hidden) >= len(specs), "every question has a hidden test"


def test_one_failing_answer_costs_only_its_question(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "def my_mse", "def my_mse(y_true, y_pred):\n    return 0.0\n")
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    q1, *others = report.questions
    assert 0 < q1.score < q1.possible, "the type test passes, the value tests fail"
    assert all(q.passed for q in others)
    fb = "\n".join(report.questions[0].feedback)
    assert "public test 2 failed" in fb and "hidden test 3 failed" in fb


def test_hidden_tests_do_not_leak_their_code(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "rows = ", "rows = table.vectors[[7, 3, 3]]\nsame = True\n")
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    q5 = next(q for q in report.questions if q.name == "q5")
    text = "\n".join(q5.feedback) + json.dumps(report.to_gradescope())
    assert q5.score == 1 and "hidden test 2 failed" in text
    assert "table.vectors[[3, 7, 3]]" not in text, "a hidden test's expected value leaked"


def test_syntax_error_and_exception_are_reported_by_question(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "def mse_gradient", "def mse_gradient(X, y, w, b)\n    return 1\n")
    nb = _with_answer(nb, "X_tr, X_va", "raise RuntimeError('learner bug')\n")
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    by = {q.name: q for q in report.questions}
    assert by["q2"].score == 0 and "SyntaxError" in "\n".join(by["q2"].feedback)
    assert by["q4"].score == 0 and "RuntimeError: learner bug" in "\n".join(by["q4"].feedback)
    assert by["q1"].passed and by["q3"].passed and by["q5"].passed


def test_infinite_loop_is_stopped_and_named(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "X_tr, X_va", "while True:\n    pass\n")
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path,
                                    cell_timeout=15)
    by = {q.name: q for q in report.questions}
    assert by["q4"].score == 0
    assert "ran longer than 15 s" in "\n".join(by["q4"].feedback)
    assert by["q5"].passed and by["q1"].passed, "questions after and before the loop are graded"


def test_loop_that_ignores_interrupts_restarts_the_kernel(tmp_path, solution_nb, zip_path):
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except KeyboardInterrupt:\n        pass\n")
    nb = _with_answer(solution_nb, "X_tr, X_va", stubborn)
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path,
                                    cell_timeout=15)
    by = {q.name: q for q in report.questions}
    assert by["q4"].score == 0 and by["q5"].passed and by["q3"].passed


def test_kernel_death_is_survived(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "rows = ", "import os\nos._exit(1)\n")
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    by = {q.name: q for q in report.questions}
    assert by["q5"].score == 0 and "kernel die" in "\n".join(by["q5"].feedback)
    assert by["q1"].passed and by["q4"].passed, "earlier answers survive the restart"


@pytest.mark.parametrize("content", ["", "{\"cells\": [", "not a notebook at all", "[1, 2]"])
def test_malformed_file_scores_zero_with_a_message(tmp_path, zip_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    report = grading.grade_notebook(path, autograder=zip_path)
    assert report.score == 0 and report.possible > 0
    assert "could not be read as a Jupyter notebook" in report.messages[0]


def test_learner_file_is_never_modified(tmp_path, root, zip_path):
    src = root / "exercises" / f"{NAME}.ipynb"
    copy = tmp_path / "renamed copy.ipynb"
    copy.write_bytes(src.read_bytes())
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    report = grading.grade_notebook(copy)  # exercise found from the notebook's metadata
    assert report.score == 0
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renamed copy.ipynb"]


def test_cli_grade_prints_a_table_and_exits_zero(tmp_path, root):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "embedlab.cli", "grade", str(root / "solutions" / f"{NAME}.ipynb"),
         "--json", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "total     12 / 12" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 12 and len(results["tests"]) == 5


def test_cli_reports_missing_file_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "embedlab.cli", "grade", str(tmp_path / "no.ipynb")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_batch_writes_gradebook_and_results(tmp_path, root, solution_nb, zip_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes((root / "solutions" / f"{NAME}.ipynb").read_bytes())
    (subs / "bob.ipynb").write_bytes((root / "exercises" / f"{NAME}.ipynb").read_bytes())
    # carol's answer looks for other submissions beside her own, then loops forever
    evil = ("import glob\nfound = [p for p in glob.glob('../*/*.ipynb') + glob.glob('*.ipynb')\n"
            "         if 'alice' in open(p).read() or 'bob' in p]\nwhile True:\n    pass\n")
    _write(_with_answer(solution_nb, "X_tr, X_va", evil), subs / "carol.ipynb")
    (subs / "dave.ipynb").write_text("{ truncated")
    out = tmp_path / "out"
    reports = grading.grade_folder(subs, out, autograder=zip_path, cell_timeout=15, progress=False)
    assert len(reports) == 4
    assert sorted(p.name for p in subs.iterdir()) == ["alice.ipynb", "bob.ipynb", "carol.ipynb",
                                                      "dave.ipynb"]
    with open(out / "gradebook.csv") as fh:
        rows = {r["submission"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"alice.ipynb", "bob.ipynb", "carol.ipynb", "dave.ipynb"}
    assert rows["alice.ipynb"]["total"] == "12" and rows["bob.ipynb"]["total"] == "0"
    assert rows["carol.ipynb"]["q4"] == "0" and rows["carol.ipynb"]["q5"] == "2"
    assert rows["dave.ipynb"]["total"] == "0"
    for name in ("alice", "bob", "carol", "dave"):
        data = json.loads((out / name / "results.json").read_text())
        assert {"score", "tests"} <= set(data)


def test_grader_check_in_the_learner_notebook(tmp_path, monkeypatch):
    """grader.check runs the public tests from exercises/ metadata, from any working folder."""
    import numpy as np

    monkeypatch.chdir(tmp_path)  # as if the learner's copy lived elsewhere
    grader = grading.checker(NAME)

    def good(y_true, y_pred):
        return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))

    ok = grader.check("q1", global_env={"np": np, "my_mse": good})
    assert ok.passed_all and len(ok.test_case_results) == 2, "public tests only"
    bad = grader.check("q1", global_env={"np": np, "my_mse": lambda a, b: 0.0})
    assert not bad.passed_all
    assert "the MSE of [1, 2] and [1, 4]" in repr(bad)


def test_checker_rejects_bad_names():
    with pytest.raises(ValueError, match="must look like"):
        grading.checker("chapter one")
    with pytest.raises(TypeError, match="must be a string"):
        grading.checker(1)
    with pytest.raises(FileNotFoundError, match="no master notebook"):
        grading.master_path("99_nothing_here")
