"""Every exercise set, generated from its master: the learner notebook is in sync, the master
scores full marks, the untouched notebook zero, every shortcut and constant answer that the
master lists zero on its question, and the set has the kinds of questions that teach."""

from __future__ import annotations

import copy
import json
import re

import nbformat
import pytest

from embedlab import grading

from conftest import EXERCISES, ROOT

if not EXERCISES:  # pragma: no cover - the repository always ships exercise set 1
    raise RuntimeError("no exercise master found in solutions/")

WRITE_PHRASE = "write this one yourself"
# Hidden-test feedback must not name what computes the answer.
REFERENCE_WORDS = re.compile(r"\b(sklearn|scikit-learn|gensim|torch|transformers|faiss|implicit|"
                             r"embedlab\.)", re.I)


@pytest.fixture(scope="module", params=EXERCISES)
def assignment(request, tmp_path_factory):
    name = request.param
    student, zip_path = grading.build_assignment(name, tmp_path_factory.mktemp(name) / "dist")
    return name, student, zip_path


def _normalised(path):
    nb = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]
    meta = {k: nb.metadata.get(k) for k in ("otter", "embedlab")}
    return cells, json.dumps(meta, sort_keys=True)


def test_exercise_is_in_sync_with_its_master(assignment, root):
    name, student, _ = assignment
    committed = root / "exercises" / f"{name}.ipynb"
    assert committed.exists(), f"run `embedlab assign {name}`"
    assert _normalised(committed) == _normalised(student), \
        f"exercises/{name}.ipynb is out of date with solutions/{name}.ipynb: run `embedlab assign {name}`"


def test_master_has_questions_of_every_kind(assignment):
    name, _, zip_path = assignment
    questions = grading.read_master(ROOT / "solutions" / f"{name}.ipynb")
    assert len(questions) >= 5, f"{name}: an exercise set has at least 5 questions"
    kinds = {k for q in questions for k in q.kinds}
    for needed in ("write", "predict", "data"):
        assert needed in kinds, f"{name}: no question of kind {needed!r}"
    for q in questions:
        assert q.kinds, f"{name} {q.name}: say its kinds (embedlab: kinds: [...])"
        if "write" in q.kinds:
            assert q.blocked, f"{name} {q.name}: a write question lists its blocked references"
            assert q.shortcuts, f"{name} {q.name}: a write question lists a shortcut to try"
        if "predict" in q.kinds:
            assert q.constants, f"{name} {q.name}: a predict question lists constants to try"
    specs = grading.load_tests(zip_path)
    assert set(specs) == {q.name for q in questions}
    for qname, spec in specs.items():
        cases = spec["suites"][0]["cases"]
        assert any(c.get("hidden") for c in cases), f"{qname} has no hidden test"
        assert any(not c.get("hidden") for c in cases), f"{qname} has no public test"
    predicts = [q.name for q in questions if "predict" in q.kinds]
    for qname in predicts:
        cases = specs[qname]["suites"][0]["cases"]
        assert any(c.get("success_message") for c in cases), \
            f"{name} {qname}: a predict question explains its answer in a success_message"


def test_hidden_feedback_names_no_reference_and_no_value(assignment):
    name, _, zip_path = assignment
    questions = {q.name: q for q in grading.read_master(ROOT / "solutions" / f"{name}.ipynb")}
    blocked_names = {p.rsplit(".", 1)[-1] for q in questions.values() for p in q.blocked}
    for qname, spec in grading.load_tests(zip_path).items():
        for case in spec["suites"][0]["cases"]:
            if not case.get("hidden"):
                continue
            message = case.get("failure_message") or ""
            assert not REFERENCE_WORDS.search(message), \
                f"{name} {qname}: hidden feedback names a library: {message!r}"
            named = [b for b in blocked_names if re.search(rf"\b{re.escape(b)}\b", message)]
            assert not named, f"{name} {qname}: hidden feedback names {named}: {message!r}"
            assert not re.search(r"\d\.\d", message), \
                f"{name} {qname}: hidden feedback gives a value: {message!r}"


def test_solution_scores_full_marks(assignment, root):
    name, _, zip_path = assignment
    report = grading.grade_notebook(root / "solutions" / f"{name}.ipynb", autograder=zip_path)
    assert report.possible > 0
    assert report.score == report.possible, report.to_text()
    assert not report.messages, report.messages


def test_untouched_exercise_scores_zero_on_every_question(assignment, root):
    name, _, zip_path = assignment
    report = grading.grade_notebook(root / "exercises" / f"{name}.ipynb", autograder=zip_path)
    assert report.possible > 0
    nonzero = {q.name: q.score for q in report.questions if q.score != 0}
    assert not nonzero, f"untouched answers earn points: {nonzero}\n{report.to_text()}"


# --------------------------------------------------------------------------------------------
# Cheats: every shortcut and constant that a master lists must score zero on its question

def cheat_submissions(master) -> list[tuple[nbformat.NotebookNode, dict[str, str]]]:
    """Copies of a master with listed cheats in place of solutions.

    Submission ``r`` puts the ``r``-th cheat (shortcuts first, then constants) of every
    question that has one in place of the code of that question's solution cells: the first
    solution cell gets the cheat, the others are emptied. Returns the notebooks with, for
    each, the questions it cheats on and how ("shortcut 1", "constant 2", ...).
    """
    questions = grading.read_master(master)
    nb = nbformat.read(master, as_version=4)
    cheats = {q.name: [(f"shortcut {i + 1}", c) for i, c in enumerate(q.shortcuts)]
              + [(f"constant {i + 1}", c) for i, c in enumerate(q.constants)] for q in questions}
    solution_cells: dict[str, list[int]] = {q.name: [] for q in questions}
    current, inside = None, False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "raw":
            if re.search(r"#\s*BEGIN QUESTION", cell.source, re.I):
                current = re.search(r"name:\s*(\S+)", cell.source).group(1)
            elif re.search(r"#\s*BEGIN SOLUTION", cell.source, re.I):
                inside = True
            elif re.search(r"#\s*END SOLUTION", cell.source, re.I):
                inside = False
        elif inside and cell.cell_type == "code" and current:
            solution_cells[current].append(i)
    out = []
    for r in range(max((len(c) for c in cheats.values()), default=0)):
        sub, what = copy.deepcopy(nb), {}
        for qname, listed in cheats.items():
            if r >= len(listed):
                continue
            cells = solution_cells[qname]
            assert cells, f"{master.name} {qname}: no solution cell to put a cheat in"
            label, code = listed[r]
            for k, idx in enumerate(cells):
                sub.cells[idx].source = code if k == 0 else ""
            what[qname] = label
        out.append((sub, what))
    return out


def test_listed_cheats_score_zero(assignment, root, tmp_path):
    name, _, zip_path = assignment
    master = root / "solutions" / f"{name}.ipynb"
    questions = {q.name: q for q in grading.read_master(master)}
    subs = cheat_submissions(master)
    assert subs, f"{name}: the master lists no shortcut or constant to try"
    for r, (nb, what) in enumerate(subs, start=1):
        path = tmp_path / f"cheat{r}.ipynb"
        nbformat.write(nb, path)
        report = grading.grade_notebook(path, autograder=zip_path)
        by_name = {q.name: q for q in report.questions}
        scored = {q: f"{what[q]}: {by_name[q].score:g}" for q in what if by_name[q].score != 0}
        assert not scored, f"{name}: cheats earn points: {scored}\n{report.to_text()}"
        for qname, label in what.items():
            if label == "shortcut 1" and "write" in questions[qname].kinds:
                feedback = "\n".join(by_name[qname].feedback)
                assert WRITE_PHRASE in feedback, \
                    f"{name} {qname}: the first shortcut should hit a blocked reference " \
                    f"and the feedback say so:\n{feedback}"
