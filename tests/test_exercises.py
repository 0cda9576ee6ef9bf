"""Every exercise set: learner notebook in sync with its master, master scores full marks,
untouched learner notebook scores zero on every question."""

from __future__ import annotations

import json

import nbformat
import pytest

from embedlab import grading

from conftest import EXERCISES

if not EXERCISES:  # pragma: no cover - the repository always ships exercise set 1
    raise RuntimeError("no exercise master found in solutions/")


@pytest.fixture(scope="module", params=EXERCISES)
def assignment(request, tmp_path_factory):
    name = request.param
    student, zip_path = grading.build_assignment(name, tmp_path_factory.mktemp(name) / "dist")
    return name, student, zip_path


def _normalised(path):
    nb = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]
    return cells, json.dumps(nb.metadata.get("otter"), sort_keys=True)


def test_exercise_is_in_sync_with_its_master(assignment, root):
    name, student, _ = assignment
    committed = root / "exercises" / f"{name}.ipynb"
    assert committed.exists(), f"run `embedlab assign {name}`"
    assert _normalised(committed) == _normalised(student), \
        f"exercises/{name}.ipynb is out of date with solutions/{name}.ipynb: run `embedlab assign {name}`"


def test_master_has_enough_questions_and_hidden_tests(assignment):
    _, _, zip_path = assignment
    specs = grading.load_tests(zip_path)
    assert len(specs) >= 4, "an exercise set has at least 4 graded questions"
    for qname, spec in specs.items():
        cases = spec["suites"][0]["cases"]
        assert any(c.get("hidden") for c in cases), f"{qname} has no hidden test"
        assert any(not c.get("hidden") for c in cases), f"{qname} has no public test"


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
