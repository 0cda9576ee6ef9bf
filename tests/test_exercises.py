"""Every exercise set, generated from its master: the learner notebook is in sync, the master
scores full marks, the untouched notebook zero, every shortcut and constant answer that the
master lists zero on its question, and the set has the kinds of questions that teach."""

from __future__ import annotations

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


@pytest.fixture(scope="class")
def assignment(request, tmp_path_factory):
    name = request.cls.NAME
    student, zip_path = grading.build_assignment(name, tmp_path_factory.mktemp(name) / "dist")
    return name, student, zip_path


def _normalised(path):
    nb = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]
    meta = {k: nb.metadata.get(k) for k in ("otter", "embedlab")}
    return cells, json.dumps(meta, sort_keys=True)


@pytest.fixture(scope="class")
def graded(assignment, root):
    """The master graded once, with every listed cheat tried in the same kernel afterwards."""
    name, student, zip_path = assignment
    master = root / "solutions" / f"{name}.ipynb"
    cheats = [(q.name, label, code) for q in grading.read_master(master)
              for label, code in [(f"shortcut {i + 1}", c) for i, c in enumerate(q.shortcuts)]
              + [(f"constant {i + 1}", c) for i, c in enumerate(q.constants)]]
    report, results = grading.grade_variants(master, [(q, code) for q, _, code in cheats],
                                             autograder=zip_path, learner=student)
    return report, [(q, label, r) for (q, label, _), r in zip(cheats, results)]


class ExerciseSet:
    """The tests of one exercise set; a subclass per set below (pytest-xdist's loadscope then
    runs each set as one unit, so the sets spread over the workers)."""

    NAME = ""

    def test_exercise_is_in_sync_with_its_master(self, assignment, root):
        name, student, _ = assignment
        committed = root / "exercises" / f"{name}.ipynb"
        assert committed.exists(), f"run `embedlab assign {name}`"
        assert _normalised(committed) == _normalised(student), \
            f"exercises/{name}.ipynb is out of date with solutions/{name}.ipynb: run `embedlab assign {name}`"

    def test_master_has_questions_of_every_kind(self, assignment):
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

    def test_hidden_feedback_names_no_reference_and_no_value(self, assignment):
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

    def test_solution_scores_full_marks(self, graded):
        report, _ = graded
        assert report.possible > 0
        assert report.score == report.possible, report.to_text()
        assert not report.messages, report.messages

    def test_untouched_exercise_scores_zero_on_every_question(self, assignment, root):
        name, _, zip_path = assignment
        report = grading.grade_notebook(root / "exercises" / f"{name}.ipynb", autograder=zip_path)
        assert report.possible > 0
        nonzero = {q.name: q.score for q in report.questions if q.score != 0}
        assert not nonzero, f"untouched answers earn points: {nonzero}\n{report.to_text()}"

    def test_listed_cheats_score_zero(self, assignment, graded, root):
        """Every shortcut and constant answer that the master lists scores zero on its question;
        the first shortcut of a write question is stopped by a blocked reference."""
        name, _, _ = assignment
        _, tried = graded
        assert tried, f"{name}: the master lists no shortcut or constant to try"
        kinds = {q.name: q.kinds for q in grading.read_master(root / "solutions" / f"{name}.ipynb")}
        scored = {f"{q} {label}": r.score for q, label, r in tried if r.score != 0}
        assert not scored, f"{name}: cheats earn points: {scored}"
        for q, label, r in tried:
            if label == "shortcut 1" and "write" in kinds[q]:
                feedback = "\n".join(r.feedback)
                assert WRITE_PHRASE in feedback, \
                    f"{name} {q}: the first shortcut should hit a blocked reference and the " \
                    f"feedback say so:\n{feedback}"


for _name in EXERCISES:
    globals()[f"Test_{_name}"] = type(f"Test_{_name}", (ExerciseSet,), {"NAME": _name})
