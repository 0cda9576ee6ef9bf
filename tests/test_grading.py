"""The grader survives bad notebooks, never edits the learner's file, grades folders, blocks
the references a question asks the learner to write, and grades against private masters.

The tests use their own small exercise set, ``tests/data/00_grader_fixture.ipynb``, in a
repository of their own (``EMBEDLAB_ROOT``), so that the course's sets can change freely.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from embedlab import grading

NAME = "00_grader_fixture"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    """A course folder holding only the fixture set, used as the repository."""
    root = tmp_path_factory.mktemp("course")
    (root / "solutions").mkdir()
    (root / "exercises").mkdir()
    shutil.copyfile(DATA / f"{NAME}.ipynb", root / "solutions" / f"{NAME}.ipynb")
    old = os.environ.get("EMBEDLAB_ROOT")
    os.environ["EMBEDLAB_ROOT"] = str(root)
    try:
        student, _ = grading.build_assignment(NAME, root / "_dist")
        shutil.copyfile(student, root / "exercises" / f"{NAME}.ipynb")
        yield root
    finally:
        if old is None:
            os.environ.pop("EMBEDLAB_ROOT", None)
        else:
            os.environ["EMBEDLAB_ROOT"] = old


@pytest.fixture(autouse=True)
def _no_blocks_left_behind():
    """Tests that switch references off in this process put them back afterwards."""
    yield
    from embedlab import _guard

    _guard.uninstall()


@pytest.fixture(scope="module")
def zip_path(fake_root):
    return grading.autograder_zip(NAME)


@pytest.fixture(scope="module")
def solution_nb(fake_root):
    return nbformat.read(fake_root / "solutions" / f"{NAME}.ipynb", as_version=4)


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
                                    cell_timeout=8)
    by = {q.name: q for q in report.questions}
    assert by["q4"].score == 0
    assert "ran longer than 8 s" in "\n".join(by["q4"].feedback)
    assert by["q5"].passed and by["q1"].passed, "questions after and before the loop are graded"


def test_loop_that_ignores_interrupts_restarts_the_kernel(tmp_path, solution_nb, zip_path):
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except KeyboardInterrupt:\n        pass\n")
    nb = _with_answer(solution_nb, "X_tr, X_va", stubborn)
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path,
                                    cell_timeout=8)
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


def test_learner_file_is_never_modified(tmp_path, fake_root, zip_path):
    src = fake_root / "exercises" / f"{NAME}.ipynb"
    copy = tmp_path / "renamed copy.ipynb"
    copy.write_bytes(src.read_bytes())
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    report = grading.grade_notebook(copy)  # exercise found from the notebook's metadata
    assert report.score == 0
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renamed copy.ipynb"]


def test_cli_grade_prints_a_table_and_exits_zero(tmp_path, fake_root, zip_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "embedlab.cli", "grade",
         str(fake_root / "solutions" / f"{NAME}.ipynb"),
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


def test_batch_writes_gradebook_and_results(tmp_path, fake_root, solution_nb, zip_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes((fake_root / "solutions" / f"{NAME}.ipynb").read_bytes())
    (subs / "bob.ipynb").write_bytes((fake_root / "exercises" / f"{NAME}.ipynb").read_bytes())
    # carol's answer looks for other submissions beside her own, then loops forever
    evil = ("import glob\nfound = [p for p in glob.glob('../*/*.ipynb') + glob.glob('*.ipynb')\n"
            "         if 'alice' in open(p).read() or 'bob' in p]\nwhile True:\n    pass\n")
    _write(_with_answer(solution_nb, "X_tr, X_va", evil), subs / "carol.ipynb")
    (subs / "dave.ipynb").write_text("{ truncated")
    out = tmp_path / "out"
    reports = grading.grade_folder(subs, out, autograder=zip_path, cell_timeout=8, progress=False)
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


def test_grader_check_in_the_learner_notebook(tmp_path, monkeypatch, fake_root):
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


def test_checker_rejects_bad_names(fake_root):
    with pytest.raises(ValueError, match="must look like"):
        grading.checker("chapter one")
    with pytest.raises(TypeError, match="must be a string"):
        grading.checker(1)
    with pytest.raises(FileNotFoundError, match="no master notebook"):
        grading.master_path("99_nothing_here")


# --------------------------------------------------------------------------------------------
# Blocked references ("write it yourself")

_SHORTCUT = ("from sklearn.metrics import mean_squared_error\n"
             "def my_mse(y_true, y_pred):\n    return float(mean_squared_error(y_true, y_pred))\n")


def test_assign_keeps_our_keys_out_of_otter_and_the_learner_notebook(fake_root, zip_path):
    questions = grading.read_master(fake_root / "solutions" / f"{NAME}.ipynb")
    assert questions[0].kinds == ["write"] and "embedlab.linear.mse" in questions[0].blocked
    learner = fake_root / "exercises" / f"{NAME}.ipynb"
    nb = nbformat.read(learner, as_version=4)
    assert nb.metadata["embedlab"] == {"blocked": {"q1": questions[0].blocked}}
    assert "mean_squared_error(y_true, y_pred)" not in learner.read_text(), "a shortcut leaked"
    assert grading.zip_metadata(zip_path)["questions"]["q1"]["blocked"] == questions[0].blocked


def test_a_shortcut_through_a_blocked_reference_scores_zero(tmp_path, solution_nb, zip_path):
    nb = _with_answer(solution_nb, "def my_mse", _SHORTCUT)
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    by = {q.name: q for q in report.questions}
    assert by["q1"].score == 0
    text = "\n".join(by["q1"].feedback)
    assert "write this one yourself" in text and "mean_squared_error" in text
    assert by["q2"].passed and by["q5"].passed


def test_a_blocked_call_in_a_cell_is_reported_and_other_questions_may_use_it(
        tmp_path, solution_nb, zip_path):
    top_level = ("from sklearn.metrics import mean_squared_error\n"
                 "_ = mean_squared_error([1.0], [2.0])\n" + solution_nb.cells[
                     next(i for i, c in enumerate(solution_nb.cells)
                          if c.cell_type == "code" and "def my_mse" in c.source)].source)
    nb = _with_answer(solution_nb, "def my_mse", top_level)
    # q4 may still call embedlab.linear.mse, blocked for q1 only
    report = grading.grade_notebook(_write(nb, tmp_path / "s.ipynb"), autograder=zip_path)
    by = {q.name: q for q in report.questions}
    assert "raised WriteItYourself" in "\n".join(by["q1"].feedback)
    assert by["q4"].passed, "embedlab.linear.mse is blocked for q1 only"


def test_the_guard_tells_learner_code_from_test_code():
    from embedlab import _guard

    _guard.install({"qx": ["embedlab.split.train_val_test_split"]})
    import numpy as np

    from embedlab import split

    X, y = np.zeros((10, 2)), np.zeros(10)
    learner_ns = {"split": split, "X": X, "y": y}
    code = compile("def answer():\n    return split.train_val_test_split(X, y, seed=0)\n",
                   "/tmp/ipykernel_4242/123456.py", "exec")
    exec(code, learner_ns)
    _guard.activate("qx")
    try:
        with pytest.raises(_guard.WriteItYourself, match="write this one yourself"):
            learner_ns["answer"]()
        assert len(split.train_val_test_split(X, y, seed=0)) == 6, "test code may call it"
        assert _guard.violations("qx") == ["embedlab.split.train_val_test_split"]
    finally:
        _guard.activate(None)
    assert len(learner_ns["answer"]()) == 6, "outside its question the reference works"


def test_a_blocked_class_still_works_for_test_code():
    """Blocking an estimator's construction keeps its signature (scikit-learn reads it)."""
    import numpy as np
    from sklearn.preprocessing import OneHotEncoder

    from embedlab import _guard

    _guard.install({"qy": ["sklearn.preprocessing.OneHotEncoder"]})
    _guard.activate("qy")
    try:
        enc = OneHotEncoder(handle_unknown="ignore").fit(np.array([["a"], ["b"]]))
        assert enc.get_params()["handle_unknown"] == "ignore"
        ns = {"OneHotEncoder": OneHotEncoder}
        exec(compile("def answer():\n    return OneHotEncoder()\n",
                     "/tmp/ipykernel_4242/777.py", "exec"), ns)
        with pytest.raises(_guard.WriteItYourself):
            ns["answer"]()
    finally:
        _guard.activate(None)


def test_uninstall_puts_every_reference_back():
    import sklearn.metrics

    from embedlab import _guard, linear

    originals = (linear.mse, sklearn.metrics.mean_squared_error,
                 sklearn.preprocessing.OneHotEncoder.__dict__.get("__init__"))
    _guard.install({"qz": ["embedlab.linear.mse", "sklearn.metrics.mean_squared_error",
                           "sklearn.preprocessing.OneHotEncoder"]})
    assert linear.mse is not originals[0]
    _guard.uninstall()
    assert (linear.mse, sklearn.metrics.mean_squared_error,
            sklearn.preprocessing.OneHotEncoder.__dict__.get("__init__")) == originals
    assert _guard.active() is None


def test_the_guard_rejects_what_it_cannot_block():
    from embedlab import _guard

    with pytest.raises(ValueError, match="does not name an attribute"):
        _guard.install({"q1": ["embedlab"]})
    with pytest.raises(ValueError, match="has no attribute"):
        _guard.install({"q1": ["embedlab.linear.no_such_function"]})
    with pytest.raises(TypeError, match="must be a list of dotted paths"):
        _guard.install({"q1": "embedlab.linear.mse"})


def test_grader_check_blocks_the_reference_in_the_learner_kernel(tmp_path, monkeypatch, fake_root):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    grader = grading.checker(NAME)
    ns = {"np": np}
    exec(compile(_SHORTCUT, "/tmp/ipykernel_4242/654321.py", "exec"), ns)
    result = grader.check("q1", global_env=ns)
    assert not result.passed_all
    assert "write this one yourself" in repr(result)


def test_success_messages_explain_after_grading(tmp_path, fake_root, zip_path):
    report = grading.grade_notebook(fake_root / "solutions" / f"{NAME}.ipynb",
                                    autograder=zip_path)
    q5 = next(q for q in report.questions if q.name == "q5")
    assert q5.explanations and "one-hot row" in q5.explanations[0]
    assert "Why (shown after grading)" in report.to_text()


# --------------------------------------------------------------------------------------------
# Private masters

def test_grading_against_a_private_copy_of_the_masters(tmp_path, fake_root, zip_path):
    """An instructor's private master (here with a stricter hidden test) grades the folder."""
    private = tmp_path / "private"
    private.mkdir()
    nb = nbformat.read(fake_root / "solutions" / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "failure_message: fit on the training rows only" in cell.source:
            cell.source = cell.source.replace("rtol=1e-6))", "rtol=1e-6)) and val_mse > 1e9")
            break
    else:
        raise AssertionError("the fixture's q4 hidden test was not found")
    nbformat.write(nb, private / f"{NAME}.ipynb")
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copyfile(fake_root / "solutions" / f"{NAME}.ipynb", subs / "alice.ipynb")
    out = tmp_path / "grades"
    proc = subprocess.run([sys.executable, "-m", "embedlab.cli", "grade-batch", str(subs),
                           "--exercise", NAME, "--masters", str(private), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv") as fh:
        row = next(csv.DictReader(fh))
    assert row["q4"] == "1", "the private hidden test (half of q4's points) decides"
    assert row["q1"] == "2" and row["total"] == "11"
    public = grading.grade_notebook(subs / "alice.ipynb", autograder=zip_path)
    assert public.score == public.possible, "the public masters give full marks"


def test_masters_must_be_a_folder(tmp_path, fake_root):
    with pytest.raises(NotADirectoryError, match="folder of master notebooks"):
        grading.master_path(NAME, masters=tmp_path / "missing")


# --------------------------------------------------------------------------------------------
# The command line: root, empty files, closed pipes

def test_lab_passes_allow_root_only_to_root():
    from embedlab import cli

    as_root = cli.lab_command(port=8899, token="t0k", root=True)
    as_user = cli.lab_command(port=8899, token="t0k", root=False)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert "--ip=127.0.0.1" in as_user and "--port=8899" in as_user
    assert "--IdentityProvider.token=t0k" in as_user


def test_lab_dry_run_prints_the_address(fake_root):
    proc = subprocess.run([sys.executable, "-m", "embedlab.cli", "lab", "--dry-run",
                           "--port", "8899"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "http://127.0.0.1:8899/lab?token=" in proc.stdout
    root_flag = "--allow-root" in proc.stdout
    assert root_flag == (os.geteuid() == 0)


def test_an_empty_file_is_said_not_to_be_a_notebook(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "embedlab.cli", "grade", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "could not be read as a Jupyter notebook" in proc.stderr
    assert "must look like" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_closed_pipe_ends_the_command_quietly(tmp_path, fake_root, zip_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ truncated")
    proc = subprocess.Popen([sys.executable, "-m", "embedlab.cli", "grade", str(path),
                             "--autograder", str(zip_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before anything is written, like `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def test_variants_grade_like_whole_submissions(tmp_path, fake_root, solution_nb, zip_path):
    """grade_variants, which the exercise tests use for listed cheats, agrees with grading
    the whole submission that has the same answer in place of the solution."""
    learner = fake_root / "exercises" / f"{NAME}.ipynb"
    wrong = "def my_mse(y_true, y_pred):\n    return 0.0\n"
    gap = "val_mse = 1.0\n"  # a constant answer to q4
    report, results = grading.grade_variants(
        fake_root / "solutions" / f"{NAME}.ipynb",
        [("q1", _SHORTCUT), ("q1", wrong), ("q4", gap), ("q2", "pass\n")],
        autograder=zip_path, learner=learner)
    assert report.score == report.possible
    whole = {}
    for key, marker, code in [("shortcut", "def my_mse", _SHORTCUT), ("wrong", "def my_mse", wrong),
                              ("gap", "X_tr, X_va", gap)]:
        path = _write(_with_answer(solution_nb, marker, code), tmp_path / f"{key}.ipynb")
        whole[key] = {q.name: q.score for q in
                      grading.grade_notebook(path, autograder=zip_path).questions}
    assert [r.score for r in results[:3]] == [whole["shortcut"]["q1"], whole["wrong"]["q1"],
                                              whole["gap"]["q4"]]
    assert results[1].score > 0, "a wrong but honest answer keeps its public-test point"
    assert results[3].score == 0, "an unanswered question (stubs from the learner notebook)"
    assert "write this one yourself" in "\n".join(results[0].feedback)
