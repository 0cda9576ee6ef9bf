"""Grading of exercise notebooks, built on otter-grader's tests and autograder zip.

``otter assign`` turns an instructor's master notebook (``solutions/NN_slug.ipynb``) into the
learner's notebook (``exercises/NN_slug.ipynb``, public tests in its metadata) and an autograder
zip (all tests, hidden ones included, as OK-format files under ``tests/``). This module adds
what plain ``otter run`` lacks for a course run on learners' own machines:

* every cell runs with a time limit; a cell that runs past it is interrupted (and, if it
  ignores the interrupt, its kernel is restarted), the feedback names the question the cell
  belongs to, and the other questions are still graded;
* a cell that kills its kernel (``os._exit``, a crash) is reported the same way: the kernel is
  restarted, the cells that had run before are run again, and grading goes on;
* a file that is not a notebook gets a clear message and zero points, never a traceback;
* hidden tests report only that they failed (and the instructor's hint), never their code or
  expected values;
* the learner's file is only read: execution happens on a copy in a fresh temporary folder.

Cells belong to the question whose ``grader.check("qN")`` call comes next after them, so
grading follows question names, not cell positions or the notebook's file name.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "checker", "repo_root", "master_path", "build_assignment", "autograder_zip", "load_tests",
    "QuestionResult", "GradeReport", "grade_notebook", "grade_folder", "exercise_name_of",
    "MasterQuestion", "read_master", "KINDS", "grade_variants",
]

CHECK_RE = re.compile(r"""grader\.check\(\s*["']([^"']+)["']\s*\)""")
_MARK = "@@EMBEDLAB-RESULT@@"


# --------------------------------------------------------------------------------------------
# Where things are

def repo_root() -> Path:
    """The course repository: ``EMBEDLAB_ROOT`` if set, else the checkout holding this package."""
    env = os.environ.get("EMBEDLAB_ROOT")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2])
    candidates.extend([Path.cwd(), *Path.cwd().parents])
    for c in candidates:
        if (c / "solutions").is_dir() and (c / "exercises").is_dir():
            return c
    raise FileNotFoundError(
        "cannot find the course repository (a folder with solutions/ and exercises/); "
        "run from inside the repository or set EMBEDLAB_ROOT"
    )


def _check_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"exercise name must be a string like '01_what_are_embeddings', got "
                        f"{type(name).__name__}")
    if not re.fullmatch(r"\d\d_[a-z0-9_]+", name):
        raise ValueError(f"exercise name must look like '01_what_are_embeddings', got {name!r}")
    return name


def master_path(name: str, *, masters: Path | None = None) -> Path:
    """Path of the master notebook of exercise set ``name``.

    It is looked up in ``masters`` (a folder, such as an instructor's private copy of the
    masters) if given, else in the repository's ``solutions/``.
    """
    if masters is not None:
        masters = Path(masters)
        if not masters.is_dir():
            raise NotADirectoryError(f"masters must be a folder of master notebooks, got {masters}")
    folder = masters if masters is not None else repo_root() / "solutions"
    path = folder / f"{_check_name(name)}.ipynb"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.ipynb"))
        raise FileNotFoundError(f"no master notebook {path}; known exercise sets: {known}")
    return path


# --------------------------------------------------------------------------------------------
# Our keys in a master's questions

KINDS = {
    "write": "write it yourself",
    "predict": "predict, then check",
    "data": "real data",
    "concept": "concept",
}
_EMBEDLAB_KEYS = {"kinds", "blocked", "shortcuts", "constants"}
_TITLE_RE = re.compile(r"\*\*Question\s+[\w.]+\s*\(([^)]*)\)\s*\.?\s*\*\*")


@dataclass
class MasterQuestion:
    """One question of an exercise master, with the ``embedlab:`` keys of its config."""

    name: str
    points: float
    title: str
    kinds: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    shortcuts: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)


def _split_question_config(source: str) -> tuple[dict, dict]:
    """Parse a raw ``# BEGIN QUESTION`` cell: (otter's config, our ``embedlab`` keys)."""
    import yaml

    body = re.sub(r"^\s*#\s*BEGIN QUESTION[^\n]*\n?", "", source, count=1, flags=re.I)
    config = yaml.safe_load(body) or {}
    if not isinstance(config, dict):
        raise ValueError(f"a BEGIN QUESTION cell must hold YAML keys, got {body!r}")
    ours = config.pop("embedlab", None) or {}
    name = config.get("name", "?")
    if not isinstance(ours, dict):
        raise ValueError(f"question {name}: the embedlab key must hold a mapping")
    unknown = set(ours) - _EMBEDLAB_KEYS
    if unknown:
        raise ValueError(f"question {name}: unknown embedlab keys {sorted(unknown)}; "
                         f"expected some of {sorted(_EMBEDLAB_KEYS)}")
    for key in _EMBEDLAB_KEYS:
        value = ours.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"question {name}: embedlab.{key} must be a list of strings")
        ours[key] = value
    bad = [k for k in ours["kinds"] if k not in KINDS]
    if bad:
        raise ValueError(f"question {name}: unknown kinds {bad}; expected some of {sorted(KINDS)}")
    return config, ours


def read_master(path) -> list[MasterQuestion]:
    """The questions of an exercise master, in order, with points, title and our keys."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    questions: list[MasterQuestion] = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "raw" or not _BEGIN_Q.search(cell.source):
            continue
        config, ours = _split_question_config(cell.source)
        title = ""
        for later in cells[i + 1:]:
            if later.cell_type == "markdown":
                m = _TITLE_RE.search(later.source)
                title = m.group(1).strip() if m else ""
                break
        points = config.get("points")
        questions.append(MasterQuestion(
            name=str(config.get("name")), points=float(1 if points is None else points),
            title=title, **ours))
    return questions


def _strip_our_keys(nb) -> dict[str, dict]:
    """Remove the ``embedlab:`` keys from a master's question cells (otter rejects them)."""
    import yaml

    found: dict[str, dict] = {}
    for cell in nb.cells:
        if cell.cell_type == "raw" and _BEGIN_Q.search(cell.source):
            config, ours = _split_question_config(cell.source)
            found[str(config.get("name"))] = ours
            cell.source = "# BEGIN QUESTION\n" + yaml.safe_dump(config, sort_keys=False)
    return found


def checker(name: str):
    """The ``grader`` object of a learner notebook: ``grader.check("q1")`` runs public tests.

    It reads the public tests from ``exercises/<name>.ipynb`` in the course repository, so it
    works whatever the learner's own copy of the notebook is called or wherever it lives.
    While a question's tests run, the references that question asks the learner to write
    are switched off for the learner's code, as they are when the notebook is graded.
    """
    import nbformat
    import otter

    path = repo_root() / "exercises" / f"{_check_name(name)}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; regenerate it with `embedlab assign {name}`")
    blocked = nbformat.read(path, as_version=4).metadata.get("embedlab", {}).get("blocked", {})
    return _Checker(otter.Notebook(nb_path=str(path)), dict(blocked))


class _Checker:
    """otter's ``Notebook`` with the blocked references of each question switched off."""

    def __init__(self, notebook, blocked: dict[str, list[str]]):
        from . import _guard

        self._notebook = notebook
        self._blocked = blocked
        # Switch the references off now, in the set-up cell: whatever the learner imports
        # afterwards is already the guarded version.
        if blocked:
            _guard.install(blocked)

    def check(self, question: str, *args, **kwargs):
        from . import _guard

        previous = _guard.active()
        _guard.activate(question if isinstance(question, str) else None)
        try:
            return self._notebook.check(question, *args, **kwargs)
        finally:
            _guard.activate(previous)

    def __getattr__(self, attr):
        return getattr(self._notebook, attr)


def _register_boundary():
    from . import _guard

    _guard.boundary(_Checker.check)


_register_boundary()


# --------------------------------------------------------------------------------------------
# otter assign

def build_assignment(name: str, dist: Path, *, masters: Path | None = None) -> tuple[Path, Path]:
    """Run ``otter assign`` on the master of ``name`` into ``dist``.

    ``masters`` is a folder of masters to use instead of the repository's ``solutions/`` (an
    instructor's private copy). Our ``embedlab:`` question keys are taken out before otter
    reads the master; the blocked references go into the autograder zip (``embedlab.json``)
    and into the learner notebook's metadata, so that both the grader and ``grader.check``
    switch them off. Returns the learner notebook and the autograder zip. Cell ids are
    renumbered so that the generated notebook is the same from run to run.
    """
    import nbformat

    master = master_path(name, masters=masters)
    dist = Path(dist)
    if dist.exists():
        shutil.rmtree(dist)
    nb = nbformat.read(master, as_version=4)
    ours = _strip_our_keys(nb)
    blocked = {q: v["blocked"] for q, v in ours.items() if v["blocked"]}
    with tempfile.TemporaryDirectory(prefix="embedlab-assign-") as tmp:
        clean = Path(tmp) / master.name
        nbformat.write(nb, clean)
        _otter_assign(clean, dist.resolve(), master)
    student = dist / "student" / master.name
    zips = sorted((dist / "autograder").glob("*.zip"))
    if not student.exists() or len(zips) != 1:
        raise RuntimeError(f"otter assign did not write a learner notebook and one zip in {dist}; "
                           "is `generate: true` in the ASSIGNMENT CONFIG?")
    snb = nbformat.read(student, as_version=4)
    for i, cell in enumerate(snb.cells):
        cell["id"] = f"cell-{i:03d}"
    snb.metadata.pop("jupytext", None)
    snb.metadata.pop("embedlab", None)
    if blocked:
        snb.metadata["embedlab"] = {"blocked": blocked}
    nbformat.write(snb, student)
    meta = {"questions": {q: {"kinds": v["kinds"], "blocked": v["blocked"]}
                          for q, v in ours.items()}}
    with zipfile.ZipFile(zips[0], "a") as zf:
        zf.writestr("embedlab.json", json.dumps(meta, indent=1, sort_keys=True))
    return student, zips[0]


def _otter_assign(clean: Path, dist: Path, master: Path) -> None:
    """``otter assign`` in this process (its command line spends seconds importing itself)."""
    import contextlib
    import io

    from otter.assign import main as assign_main

    out = io.StringIO()
    cwd = os.getcwd()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            assign_main(str(clean), str(dist))
    except Exception as exc:
        raise RuntimeError(f"otter assign failed on {master}: {type(exc).__name__}: {exc}\n"
                           f"{out.getvalue()[-2000:]}") from None
    finally:
        os.chdir(cwd)


def _cache_dir() -> Path:
    root = repo_root()
    return root / "_build" / "autograder"


_ZIP_FORMAT = "2"  # bump when build_assignment changes what goes into the zip


def autograder_zip(name: str, *, masters: Path | None = None) -> Path:
    """The autograder zip of exercise set ``name``, built from its master and cached by hash.

    ``masters`` is a folder holding the master instead of the repository's ``solutions/``.
    """
    import otter

    master = master_path(name, masters=masters)
    digest = hashlib.sha256(master.read_bytes() + otter.__version__.encode()
                            + _ZIP_FORMAT.encode()).hexdigest()[:16]
    target = _cache_dir() / f"{name}-{digest}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            _, zpath = build_assignment(name, Path(tmp) / "dist", masters=masters)
            tmp_target = target.with_suffix(f".part-{os.getpid()}")
            shutil.copyfile(zpath, tmp_target)
            os.replace(tmp_target, target)
    return target


def zip_metadata(zip_path: Path) -> dict:
    """Our additions to an autograder zip (kinds and blocked references per question).

    A zip written by plain ``otter assign`` has none: then nothing is blocked.
    """
    with zipfile.ZipFile(zip_path) as zf:
        if "embedlab.json" not in zf.namelist():
            return {"questions": {}}
        return json.loads(zf.read("embedlab.json").decode("utf-8"))


def load_tests(zip_path: Path) -> dict[str, dict]:
    """Read the OK-format test specs (hidden ones included) from an autograder zip."""
    zip_path = Path(zip_path)
    if not zip_path.exists():
        raise FileNotFoundError(f"autograder zip {zip_path} does not exist")
    specs = {}
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.namelist():
            if member.startswith("tests/") and member.endswith(".py"):
                env: dict = {}
                exec(zf.read(member).decode("utf-8"), env)  # instructor's own test file
                spec = env["test"]
                specs[spec["name"]] = spec
    if not specs:
        raise ValueError(f"{zip_path} holds no tests/*.py: is it an otter autograder zip?")
    return dict(sorted(specs.items(), key=lambda kv: _natural_key(kv[0])))


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# --------------------------------------------------------------------------------------------
# Results

@dataclass
class QuestionResult:
    """Score and feedback of one question."""

    name: str
    score: float
    possible: float
    feedback: list[str] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.score >= self.possible


@dataclass
class GradeReport:
    """The grade of one notebook: per-question results and notebook-wide messages."""

    notebook: str
    questions: list[QuestionResult]
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def possible(self) -> float:
        return sum(q.possible for q in self.questions)

    def to_gradescope(self) -> dict:
        """A Gradescope-style ``results.json`` dictionary (the format otter writes)."""
        out = {
            "score": round(self.score, 5),
            "execution_time": round(self.seconds, 2),
            "tests": [
                {
                    "name": q.name,
                    "score": round(q.score, 5),
                    "max_score": round(q.possible, 5),
                    "status": "passed" if q.passed else "failed",
                    "visibility": "visible",
                    "output": "\n\n".join(q.feedback + [f"Why: {e}" for e in q.explanations])
                              or "All tests passed.",
                }
                for q in self.questions
            ],
        }
        if self.messages:
            out["output"] = "\n".join(self.messages)
        return out

    def to_text(self) -> str:
        """A table of points per question, the total, then feedback for what failed."""
        width = max([8] + [len(q.name) for q in self.questions])
        lines = [f"Grading {self.notebook}", ""]
        lines += [f"{'question':<{width}}  points", f"{'-' * width}  ------"]
        for q in self.questions:
            mark = "" if q.passed else "  <- see feedback"
            lines.append(f"{q.name:<{width}}  {_fmt(q.score)} / {_fmt(q.possible)}{mark}")
        lines.append(f"{'total':<{width}}  {_fmt(self.score)} / {_fmt(self.possible)}")
        if self.messages:
            lines += ["", "Notebook:"] + [f"  {m}" for m in self.messages]
        failed = [q for q in self.questions if q.feedback and not q.passed]
        if failed:
            lines += ["", "Feedback:"]
            for q in failed:
                lines.append(f"[{q.name}]")
                for fb in q.feedback:
                    lines += ["  " + ln for ln in fb.splitlines()]
        explained = [q for q in self.questions if q.explanations]
        if explained:
            lines += ["", "Why (shown after grading):"]
            for q in explained:
                lines.append(f"[{q.name}]")
                for text in q.explanations:
                    lines += ["  " + ln for ln in text.splitlines()]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------------
# A kernel that survives timeouts and deaths

@dataclass
class _CellRun:
    status: str  # "ok", "error", "timeout", "dead"
    stdout: str = ""
    error: str = ""


class _Kernel:
    """A Jupyter kernel in ``cwd``, driven one cell at a time with a time limit."""

    def __init__(self, cwd: str):
        from jupyter_client import KernelManager

        self.cwd = cwd
        env = dict(os.environ)
        env.update({"MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        self.km = KernelManager(kernel_name="python3", transport="ipc",
                                ip=str(Path(cwd) / ".kernel"))
        self.km.start_kernel(cwd=cwd, env=env)
        self._connect()

    def _connect(self):
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def restart(self):
        try:
            self.kc.stop_channels()
        except Exception:
            pass
        self.km.restart_kernel(now=True)
        self._connect()

    def run(self, code: str, timeout: float) -> _CellRun:
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        deadline = time.monotonic() + timeout
        interrupted = False
        out, err = [], ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if interrupted:  # the interrupt was ignored: give up on this kernel
                    return _CellRun("timeout", "".join(out), "did not stop when interrupted")
                self.km.interrupt_kernel()
                interrupted = True
                deadline = time.monotonic() + 10
                continue
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.km.is_alive():
                    return _CellRun("dead", "".join(out), "the kernel died")
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content.get("text", ""))
            elif kind == "error":
                err = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}".strip()
            elif kind == "status" and content.get("execution_state") == "idle":
                if interrupted:
                    return _CellRun("timeout", "".join(out), "interrupted")
                return _CellRun("error" if err else "ok", "".join(out), err)

    def shutdown(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


# --------------------------------------------------------------------------------------------
# Grading one notebook

# The grader's own cells. They bind no name in the learner's namespace.
_GUARD = '__import__("embedlab._guard", fromlist=["install"])'
_TEST_HARNESS = _GUARD + ".run_tests({spec!r}, globals(), {mark!r})"


_BEGIN_Q = re.compile(r"#\s*BEGIN QUESTION", re.I)
_NAME = re.compile(r"^\s*name:\s*(\S+)", re.M)


def _question_of_cells(cells) -> list[str | None]:
    """For each cell, the question it belongs to (None outside every question).

    In a learner notebook a cell belongs to the question whose ``grader.check("qN")`` comes
    next; in an instructor's master, to the question opened by the last raw
    ``# BEGIN QUESTION`` cell before it.
    """
    owner: list[str | None] = [None] * len(cells)
    if any(c.get("cell_type") == "raw" and _BEGIN_Q.search(c.get("source", "")) for c in cells):
        current = None
        for i, cell in enumerate(cells):
            src = cell.get("source", "")
            if cell.get("cell_type") == "raw" and _BEGIN_Q.search(src):
                m = _NAME.search(src)
                current = m.group(1) if m else None
            owner[i] = current
        return owner
    current = None
    for i in range(len(cells) - 1, -1, -1):
        cell = cells[i]
        if cell.get("cell_type") == "code":
            m = CHECK_RE.search(cell.get("source", ""))
            if m:
                current = m.group(1)
        owner[i] = current
    # The set-up before the first question's prompt belongs to no question.
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown" and (
                _TITLE_RE.search(cell.get("source", ""))
                or cell.get("metadata", {}).get("editable") is False):
            owner[:i] = [None] * i
            break
    return owner


def _test_cells(cells) -> set[int]:
    """Indices of the test cells of a master (between raw BEGIN TESTS and END TESTS)."""
    inside, out = False, set()
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "raw":
            src = cell.get("source", "")
            if re.search(r"#\s*BEGIN TESTS", src, re.I):
                inside = True
            elif re.search(r"#\s*END TESTS", src, re.I):
                inside = False
        elif inside:
            out.add(i)
    return out


def _is_grader_cell(source: str) -> bool:
    """Cells that only call the grader (checks, export): not run while grading."""
    lines = [ln for ln in source.strip().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(re.match(r"\s*grader\.(check|check_all|export)\(", ln) for ln in lines)


def exercise_name_of(nb) -> str | None:
    """The exercise set a notebook belongs to, from the metadata ``otter assign`` writes."""
    meta = nb.get("metadata", {}).get("otter", {}) if isinstance(nb, dict) else {}
    name = meta.get("assignment_name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _zero_report(path: str, specs: dict, message: str, t0: float) -> GradeReport:
    qs = [QuestionResult(n, 0.0, _possible(s), [message]) for n, s in specs.items()]
    return GradeReport(path, qs, [message], time.monotonic() - t0)


def _possible(spec: dict) -> float:
    from otter.test_files.ok_test import OKTestFile

    return float(OKTestFile.from_spec(spec).possible)


def grade_notebook(notebook, *, autograder: Path | None = None, exercise: str | None = None,
                   masters: Path | None = None, cell_timeout: float = 120.0,
                   test_timeout: float = 60.0) -> GradeReport:
    """Grade one notebook file and return a :class:`GradeReport`.

    The tests come from ``autograder`` (an otter autograder zip) or, if it is not given, from
    the master of ``exercise`` (in ``masters``, a folder of masters, if given; else in the
    repository's ``solutions/``); ``exercise`` defaults to the name stored in the notebook's
    metadata, then to the file's name. The notebook file itself is only read.
    """
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    return _grade_bytes(path.read_bytes(), str(path), path.stem, autograder=autograder,
                        exercise=exercise, masters=masters, cell_timeout=cell_timeout,
                        test_timeout=test_timeout)


def _parse(data: bytes):
    import nbformat

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
        return nb, None
    except Exception as exc:  # JSON errors, validation errors, wrong encoding
        first = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"{type(exc).__name__}: {first}"


def grade_variants(notebook, variants, *, autograder: Path, learner=None,
                   cell_timeout: float = 120.0, test_timeout: float = 60.0):
    """Grade ``notebook``, then other answers to single questions, in the same kernel.

    ``variants`` is a list of ``(question, code)``. After the notebook is graded as usual, for
    each variant: the cells of that question in ``learner`` (the learner notebook, whose
    answers are ``...``) run first, so the question starts from an unanswered state; then
    ``code`` runs as a cell of the question (its blocked references switched off); then the
    question's tests run; last, the notebook's own cells of the question run again, so the
    next variant finds the notebook's state. Returns the notebook's :class:`GradeReport` and
    one :class:`QuestionResult` per variant. This checks many answers (listed shortcuts and
    constant answers) at the cost of one grading.
    """
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    if not isinstance(variants, (list, tuple)) or not all(
            isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, str) for x in v)
            for v in variants):
        raise TypeError("variants must be a list of (question, code) pairs of strings")
    learner_cells = None
    if learner is not None:
        import nbformat

        learner_cells = nbformat.read(str(learner), as_version=4).cells
    return _grade_bytes(path.read_bytes(), str(path), path.stem, autograder=autograder,
                        exercise=None, cell_timeout=cell_timeout, test_timeout=test_timeout,
                        variants=list(variants), learner_cells=learner_cells)


def _grade_bytes(data: bytes, label: str, stem: str, *, autograder, exercise, cell_timeout,
                 test_timeout, masters=None, variants=None, learner_cells=None):
    t0 = time.monotonic()
    for arg, value in (("cell_timeout", cell_timeout), ("test_timeout", test_timeout)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{arg} must be a positive number of seconds, got {value!r}")
    nb, read_error = _parse(data)
    if nb is None and autograder is None and exercise is None:
        raise ValueError(f"{label} could not be read as a Jupyter notebook ({read_error}); "
                         "save the notebook from JupyterLab and try again (or pass --exercise "
                         "NN_slug to record a zero for every question)")
    if autograder is None:
        name = exercise or (exercise_name_of(nb) if nb is not None else None) or stem
        autograder = autograder_zip(name, masters=masters)
    specs = load_tests(Path(autograder))
    blocked = {q: v.get("blocked", []) for q, v in
               zip_metadata(Path(autograder))["questions"].items() if v.get("blocked")}

    if nb is None:
        msg = (f"The file could not be read as a Jupyter notebook ({read_error}). "
               "No question could be checked. Save the notebook from JupyterLab and try again.")
        return _zero_report(label, specs, msg, t0)

    cells = nb.cells
    owner = _question_of_cells(cells)
    skip = _test_cells(cells)  # a master's own tests: the autograder runs the real ones
    notes: dict[str, list[str]] = {n: [] for n in specs}
    messages: list[str] = []

    def note(i: int, text: str):
        q = owner[i]
        where = f"cell {i + 1}"
        if q in notes:
            notes[q].append(f"{where}: {text}")
        else:
            messages.append(f"{where} (after the last question): {text}")

    with tempfile.TemporaryDirectory(prefix="embedlab-grade-") as work:
        (Path(work) / "submission.ipynb").write_bytes(data)
        kernel = _GuardedKernel(work, blocked)
        try:
            done: list[int] = []  # cells that ran without killing or hanging the kernel
            for i, cell in enumerate(cells):
                if cell.get("cell_type") != "code":
                    continue
                source = cell.get("source", "")
                if not source.strip() or _is_grader_cell(source) or i in skip:
                    continue
                kernel.activate(owner[i])
                res = kernel.run(source, cell_timeout)
                if res.status in ("ok", "error"):
                    done.append(i)
                    if res.status == "error":
                        note(i, f"raised {res.error}")
                elif res.status == "timeout":
                    note(i, f"ran longer than {cell_timeout:g} s and was stopped "
                            "(an infinite loop?); the cells after it were still run")
                    if res.error == "did not stop when interrupted":
                        _replay(kernel, cells, done, cell_timeout, owner)
                else:  # dead
                    note(i, "made the Python kernel die (os._exit, a crash or memory); "
                            "the kernel was restarted without this cell")
                    _replay(kernel, cells, done, cell_timeout, owner)

            kernel.activate(None)
            questions = [_run_question(kernel, qname, spec, notes[qname], test_timeout, cells,
                                       done, owner) for qname, spec in specs.items()]
            if variants is not None:
                results = [_run_variant(kernel, q, code, specs, cells, owner, skip,
                                        learner_cells, cell_timeout, test_timeout, done)
                           for q, code in variants]
        finally:
            kernel.shutdown()
    report = GradeReport(label, questions, messages, time.monotonic() - t0)
    return report if variants is None else (report, results)


def _bound_names(sources) -> set[str]:
    """Names that the module level of these cells binds: assignments (in loops, branches and
    ``with`` blocks too), ``def``, ``class`` and imports; not names local to functions."""
    import ast

    names: set[str] = set()

    class Binder(ast.NodeVisitor):
        def visit_FunctionDef(self, node):
            names.add(node.name)  # the body is another scope

        visit_AsyncFunctionDef = visit_FunctionDef
        visit_ClassDef = visit_FunctionDef

        def visit_Lambda(self, node):
            pass

        def visit_ListComp(self, node):
            pass

        visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

        def visit_Name(self, node):
            if isinstance(node.ctx, ast.Store):
                names.add(node.id)

        def visit_Import(self, node):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])

        visit_ImportFrom = visit_Import

    for source in sources:
        try:
            Binder().visit(ast.parse(source))
        except SyntaxError:
            continue
    return names


def _run_variant(kernel, question, code, specs, cells, owner, skip, learner_cells,
                 cell_timeout, test_timeout, done) -> QuestionResult:
    if question not in specs:
        raise ValueError(f"variant for unknown question {question!r}; known: {sorted(specs)}")

    def run_cells(these, owners, skipped=()):
        for i, cell in enumerate(these):
            source = cell.get("source", "")
            if (cell.get("cell_type") == "code" and owners[i] == question and i not in skipped
                    and source.strip() and not _is_grader_cell(source)):
                kernel.run(source, cell_timeout)

    # Forget what the notebook's answer to this question defined (names bound by its cells
    # and by no other cell), as if it had never been answered; then the learner notebook's
    # cells of the question (given code and `...` stubs), then the variant.
    mine = [c.get("source", "") for i, c in enumerate(cells)
            if owner[i] == question and i not in skip and c.get("cell_type") == "code"]
    others = [c.get("source", "") for i, c in enumerate(cells)
              if owner[i] != question and i not in skip and c.get("cell_type") == "code"]
    forget = sorted(_bound_names(mine + [code]) - _bound_names(others))
    kernel.activate(None)
    kernel.run(f"{_GUARD}.forget({forget!r}, globals())", cell_timeout)
    kernel.activate(question)
    if learner_cells is not None:
        run_cells(learner_cells, _question_of_cells(learner_cells))
    res = kernel.run(code, cell_timeout)
    notes = []
    if res.status == "error":
        notes.append(f"the answer raised {res.error}")
    elif res.status != "ok":
        notes.append(f"the answer did not finish ({res.status})")
        _replay(kernel, cells, done, cell_timeout, owner)
    kernel.activate(None)
    result = _run_question(kernel, question, specs[question], notes, test_timeout, cells, done,
                           owner)
    kernel.activate(question)
    run_cells(cells, owner, skip)
    kernel.activate(None)
    return result


class _GuardedKernel:
    """A grading kernel with the question's blocked references switched off."""

    def __init__(self, cwd: str, blocked: dict[str, list[str]]):
        self.kernel = _Kernel(cwd)
        self.blocked = blocked
        self.current: str | None = None
        self._install()

    def _install(self):
        self.current = None
        if not self.blocked:
            return
        res = self.kernel.run(f"{_GUARD}.install({json.dumps(self.blocked)!r})", 300)
        if res.status != "ok":
            raise RuntimeError(f"could not switch off the blocked references {self.blocked}: "
                               f"{res.error or res.status}")

    def activate(self, question: str | None):
        if not self.blocked or question == self.current:
            return
        res = self.kernel.run(f"{_GUARD}.activate({question!r})", 30)
        self.current = question if res.status == "ok" else None

    def run(self, code: str, timeout: float) -> _CellRun:
        return self.kernel.run(code, timeout)

    def restart(self):
        self.kernel.restart()
        self._install()

    def shutdown(self):
        self.kernel.shutdown()


def _replay(kernel: _GuardedKernel, cells, done: list[int], timeout: float, owner) -> None:
    kernel.restart()
    for j in list(done):
        kernel.activate(owner[j])
        res = kernel.run(cells[j]["source"], timeout)
        if res.status in ("dead", "timeout"):
            done.remove(j)
            kernel.restart()
    kernel.activate(None)


def _run_question(kernel, qname, spec, notes, timeout, cells, done, owner) -> QuestionResult:
    from otter.test_files.ok_test import OKTestFile

    tf = OKTestFile.from_spec(spec)
    code = _TEST_HARNESS.format(mark=_MARK, spec=json.dumps(spec))
    res = kernel.run(code, timeout)
    feedback = list(notes)
    results, blocked_calls = None, []
    if res.status == "ok":
        parts = res.stdout.split(_MARK)
        try:
            payload = json.loads(parts[-2]) if len(parts) >= 3 else None
            results, blocked_calls = payload["results"], payload["blocked_calls"]
        except (ValueError, IndexError, KeyError, TypeError):
            results = None
    if results is None or len(results) != len(tf.test_cases):
        why = {"timeout": f"the tests ran longer than {timeout:g} s and were stopped",
               "dead": "the kernel died while the tests ran",
               "error": f"the tests could not run ({res.error})"}.get(res.status,
                                                                     "the tests gave no result")
        feedback.append(f"{why}; no point could be given for {qname}")
        if res.status in ("timeout", "dead"):
            _replay(kernel, cells, done, timeout, owner)
        return QuestionResult(qname, 0.0, float(tf.possible), feedback)

    from otter.test_files.abstract_test import TestCaseResult

    for name in blocked_calls:
        feedback.append(f"your code called `{name.rsplit('.', 1)[-1]}` while {qname} was graded; "
                        f"it is switched off for this question: write this one yourself")
    tf.test_case_results = [TestCaseResult(test_case=tc, message=msg, passed=ok)
                            for tc, (ok, msg) in zip(tf.test_cases, results)]
    explanations = []
    for k, (tc, (ok, msg)) in enumerate(zip(tf.test_cases, results), start=1):
        if ok:
            if tc.success_message:
                explanations.append(tc.success_message)
            continue
        if tc.hidden:
            text = f"hidden test {k} failed"
            if tc.failure_message:
                text += f": {tc.failure_message}"
        else:
            text = f"public test {k} failed"
            if tc.failure_message:
                text += f": {tc.failure_message}"
            text += "\n" + _trim_doctest(msg)
        feedback.append(text)
    return QuestionResult(qname, float(tf.score), float(tf.possible), feedback, explanations)


def _trim_doctest(message: str, limit: int = 1500) -> str:
    """The informative part of a doctest failure: the failing lines and what they gave."""
    text = message.replace("❌ Test case failed", "").strip()
    out = []
    for block in text.split("*" * 70):
        if "Failed example:" not in block:
            continue
        body = block.split("Failed example:", 1)[1].split("Trying:", 1)[0]
        if "Exception raised:" in body:
            example, exc = body.split("Exception raised:", 1)
            last = [ln.strip() for ln in exc.strip().splitlines() if ln.strip()]
            out.append(f"{example.strip()}\n  raised {last[-1] if last else 'an exception'}")
        else:
            out.append(body.strip())
    text = "\n".join(out) or text
    return text if len(text) <= limit else text[:limit] + "\n[...]"


# --------------------------------------------------------------------------------------------
# Grading a folder

def grade_folder(folder, out_dir, *, autograder: Path | None = None, exercise: str | None = None,
                 masters: Path | None = None, cell_timeout: float = 120.0,
                 test_timeout: float = 60.0, progress: bool = True) -> list[GradeReport]:
    """Grade every ``*.ipynb`` in ``folder``; write a CSV gradebook and one results.json each.

    ``out_dir/gradebook.csv`` has one row per submission and one column per question;
    ``out_dir/<submission>/results.json`` is the Gradescope-style result of each. The tests
    come from ``autograder`` (a zip), or from the master of ``exercise`` in ``masters`` (an
    instructor's private folder of masters) or else in the repository's ``solutions/``.

    All submissions are read into memory first; then each runs alone, in a fresh temporary
    folder holding only its own copy, deleted before the next starts. So a submission finds no
    other submission beside it, and deleting files cannot change another's grade. This is
    isolation, not a security sandbox: code run with your user's rights can still reach any
    absolute path you can; grade untrusted work inside a container or a throwaway account.
    """
    from tqdm.auto import tqdm

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of submissions")
    subs = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    if not subs:
        raise FileNotFoundError(f"{folder} holds no .ipynb submissions")
    if autograder is None:
        if exercise is None:
            raise ValueError("give the exercise set (--exercise NN_slug) or an autograder zip")
        autograder = autograder_zip(exercise, masters=masters)
    specs = load_tests(Path(autograder))
    out_dir.mkdir(parents=True, exist_ok=True)
    # Read every submission before any of them runs: what one does to the others' files
    # cannot change their grades.
    contents = [sub.read_bytes() for sub in subs]
    reports = []
    for sub, data in tqdm(list(zip(subs, contents)), desc="grading", unit="notebook",
                          disable=not progress):
        try:
            rep = _grade_bytes(data, str(sub), sub.stem, autograder=autograder, exercise=None,
                               cell_timeout=cell_timeout, test_timeout=test_timeout)
        except Exception as exc:  # one bad submission must not stop the batch
            rep = _zero_report(str(sub), specs, f"grading failed: {type(exc).__name__}: {exc}",
                               time.monotonic())
        reports.append(rep)
        target = out_dir / sub.stem
        target.mkdir(parents=True, exist_ok=True)
        (target / "results.json").write_text(json.dumps(rep.to_gradescope(), indent=2))
    with open(out_dir / "gradebook.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", *specs, "total", "possible", "messages"])
        for sub, rep in zip(subs, reports):
            by_name = {q.name: q.score for q in rep.questions}
            writer.writerow([sub.name, *[_fmt(by_name.get(n, 0.0)) for n in specs],
                             _fmt(rep.score), _fmt(rep.possible), " | ".join(rep.messages)])
    return reports
