"""Switch reference functions off while a "write it yourself" question is graded.

An exercise master lists, per question, the functions, methods and classes that would do the
learner's work (``blocked:``). The grader calls :func:`install` in the grading kernel before any
learner cell runs, then :func:`activate` with the question that each cell or test run belongs
to. A blocked callable raises :class:`WriteItYourself` when it is called while its question is
active *and* the call comes from the learner's code (a notebook cell, or a function defined in
one). Test code and library internals may still call it: the tests compare the learner's answer
with the reference.

Who called is read from the Python stack. Frames of code compiled from notebook cells are the
learner's; the search stops at a boundary frame (:func:`run_tests`, or the ``check`` method of
the learner's ``grader``), below which lies the grader's own cell. This is a guard against
shortcuts, not a sandbox: determined code can still find the original objects.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import types

__all__ = ["WriteItYourself", "install", "uninstall", "activate", "active", "violations",
           "run_tests", "boundary", "forget"]

_BLOCKED: dict[str, set[str]] = {}      # question -> dotted paths switched off for it
_INSTALLED: dict[str, object] = {}      # dotted path -> original object
_ACTIVE: list[str | None] = [None]
_VIOLATIONS: list[tuple[str, str]] = []  # (question, dotted path), in call order
_BOUNDARIES: set[types.CodeType] = set()
_CELL_FILE = re.compile(r"(^<ipython-input-\d+-[0-9a-f]+>$)|(ipykernel_\d+[/\\]\d+\.py$)")


class WriteItYourself(RuntimeError):
    """Raised when learner code calls a reference that the question asks them to write."""


def boundary(func):
    """Mark ``func`` as a boundary: frames below it are not searched for learner code."""
    _BOUNDARIES.add(func.__code__)
    return func


def _learner_frame_above_boundary(frame) -> bool:
    while frame is not None:
        code = frame.f_code
        if code in _BOUNDARIES:
            return False
        if _CELL_FILE.search(code.co_filename):
            return True
        frame = frame.f_back
    return False


def _resolve(path: str):
    """(owner, attribute name, object) for a dotted path such as ``pkg.mod.Class.method``."""
    if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", path):
        raise ValueError(f"a blocked reference must be a dotted path like 'pkg.module.func', "
                         f"got {path!r}")
    parts = path.split(".")
    module, i = None, len(parts)
    while i > 0:
        try:
            module = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            i -= 1
    if module is None or i == len(parts):
        raise ValueError(f"blocked reference {path!r} does not name an attribute of a module")
    owner = module
    for name in parts[i:-1]:
        owner = getattr(owner, name)
    name = parts[-1]
    if not hasattr(owner, name):
        raise ValueError(f"blocked reference {path!r}: {owner!r} has no attribute {name!r}")
    return owner, name, getattr(owner, name)


def _make_blocker(path: str, original):
    short = path.rsplit(".", 1)[-1] if not path.endswith("__init__") else path.rsplit(".", 2)[-2]

    def blocked(*args, **kwargs):
        question = _ACTIVE[0]
        if question is not None and path in _BLOCKED.get(question, ()) \
                and _learner_frame_above_boundary(sys._getframe(1)):
            _VIOLATIONS.append((question, path))
            raise WriteItYourself(
                f"`{short}` is switched off while question {question} is graded: "
                f"write this one yourself, with NumPy (the tests compare your code with it)")
        return original(*args, **kwargs)

    blocked.__name__ = getattr(original, "__name__", short)
    blocked.__qualname__ = getattr(original, "__qualname__", short)
    blocked.__doc__ = getattr(original, "__doc__", None)
    blocked.__module__ = getattr(original, "__module__", None)
    # Keep the original's signature for the libraries that read it (scikit-learn's
    # get_params reads __init__'s), without exposing the original through __wrapped__.
    try:
        blocked.__signature__ = inspect.signature(original)
    except (TypeError, ValueError):
        pass
    blocked.__embedlab_blocked__ = path
    return blocked


def _install_one(path: str) -> None:
    if path in _INSTALLED:
        return
    owner, name, obj = _resolve(path)
    if inspect.isclass(obj):
        # A class: its construction is blocked, wherever the class is referenced from.
        init = obj.__dict__.get("__init__", None)
        original = obj.__init__
        blocker = _make_blocker(path + ".__init__", original)
        _BLOCKED_ALIASES[path + ".__init__"] = path
        try:
            obj.__init__ = blocker
        except TypeError as exc:
            raise ValueError(f"blocked reference {path!r}: its construction cannot be "
                             f"intercepted ({exc}); block a function or method instead") from None
        _INSTALLED[path] = (obj, "__init__", init)
        return
    if inspect.isclass(owner):
        static = inspect.getattr_static(owner, name)
        if isinstance(static, staticmethod):
            wrapped = staticmethod(_make_blocker(path, static.__func__))
        elif isinstance(static, classmethod):
            wrapped = classmethod(_make_blocker(path, static.__func__))
        else:
            wrapped = _make_blocker(path, static)
        try:
            setattr(owner, name, wrapped)
        except TypeError as exc:
            raise ValueError(f"blocked reference {path!r} cannot be intercepted ({exc})") from None
        _INSTALLED[path] = (owner, name, static)
        return
    if not callable(obj):
        raise ValueError(f"blocked reference {path!r} is not callable")
    blocker = _make_blocker(path, obj)
    # Replace every module-level reference to the same object (``from x import f`` copies).
    copies = []
    for mod in list(sys.modules.values()):
        namespace = getattr(mod, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            if value is obj:
                try:
                    setattr(mod, key, blocker)
                    copies.append((mod, key))
                except (AttributeError, TypeError):
                    pass
    setattr(owner, name, blocker)
    _INSTALLED[path] = (owner, name, obj)
    _COPIES[path] = copies


_BLOCKED_ALIASES: dict[str, str] = {}
_COPIES: dict[str, list] = {}  # dotted path -> the (module, name) pairs that were replaced


def uninstall() -> None:
    """Put every blocked reference back as it was and forget all questions."""
    for path, (owner, name, original) in list(_INSTALLED.items()):
        for mod, key in _COPIES.pop(path, []):
            setattr(mod, key, original)
        if original is None:  # a class whose __init__ was inherited
            try:
                delattr(owner, name)
            except AttributeError:
                pass
        else:
            setattr(owner, name, original)
    _INSTALLED.clear()
    _BLOCKED.clear()
    _BLOCKED_ALIASES.clear()
    _VIOLATIONS.clear()
    _ACTIVE[0] = None


def install(blocked) -> None:
    """Switch off ``blocked`` (a mapping question -> list of dotted paths, or its JSON).

    Safe to call more than once; later calls add questions and references.
    """
    if isinstance(blocked, str):
        blocked = json.loads(blocked)
    if not isinstance(blocked, dict):
        raise TypeError(f"blocked must map question names to lists of dotted paths, got "
                        f"{type(blocked).__name__}")
    for question, paths in blocked.items():
        if isinstance(paths, str) or not all(isinstance(p, str) for p in paths):
            raise TypeError(f"blocked[{question!r}] must be a list of dotted paths")
        for path in paths:
            _install_one(path)
            # a class is matched through its __init__ wrapper
            key = path + ".__init__" if path + ".__init__" in _BLOCKED_ALIASES else path
            _BLOCKED.setdefault(question, set()).add(key)


def activate(question: str | None) -> None:
    """Make ``question`` the one being graded (``None``: no question, nothing is blocked)."""
    if question is not None and not isinstance(question, str):
        raise TypeError(f"question must be a name like 'q1' or None, got {question!r}")
    _ACTIVE[0] = question


def active() -> str | None:
    """The question being graded, if any."""
    return _ACTIVE[0]


def violations(question: str | None = None, *, clear: bool = False) -> list[str]:
    """Short names of the blocked references that learner code called (for ``question``)."""
    found = [path for q, path in _VIOLATIONS if question is None or q == question]
    if clear:
        _VIOLATIONS[:] = [(q, p) for q, p in _VIOLATIONS if question is not None and q != question]
    seen, out = set(), []
    for path in found:
        name = _BLOCKED_ALIASES.get(path, path)
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def forget(names, namespace: dict) -> None:
    """Remove ``names`` from ``namespace`` (the grader resets an answer before a variant)."""
    for name in names:
        namespace.pop(name, None)


@boundary
def run_tests(spec_json: str, namespace: dict, mark: str) -> None:
    """Run one question's OK-format tests in ``namespace`` and print the results as JSON.

    Used by the grader: the question named in the spec is active while the tests run, and
    the references that learner code called are reported with the results.
    """
    from otter.test_files.ok_test import OKTestFile

    spec = json.loads(spec_json)
    question = spec.get("name")
    previous = _ACTIVE[0]
    activate(question)
    violations(question, clear=True)
    try:
        tf = OKTestFile.from_spec(spec, path="")
        tf.run(namespace)
        results = [[bool(r.passed), r.message or ""] for r in tf.test_case_results]
    finally:
        activate(previous)
    out = {"results": results, "blocked_calls": violations(question)}
    print(mark + json.dumps(out) + mark)
