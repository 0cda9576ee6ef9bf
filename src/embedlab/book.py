"""Helpers for the book: show the source of ``embedlab`` code inside a chapter.

A chapter never copies code from the package; it displays the code the notebook runs,
so the text and the package cannot drift apart.
"""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["show_source"]


def show_source(obj, *, docstring: bool = True):
    """Display the source code of a function, class or module of ``embedlab``.

    Returns an IPython ``Markdown`` object (a fenced Python block) that renders in
    JupyterLab and in the built book. With ``docstring=False`` the leading docstring of
    a function or class is left out, for long ones that the chapter already explains.
    """
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj)
            or inspect.ismethod(obj)):
        raise TypeError(f"show_source takes a function, class, method or module, got "
                        f"{type(obj).__name__}")
    module = inspect.getmodule(obj)
    if module is None or not module.__name__.startswith("embedlab"):
        raise ValueError(f"show_source only shows embedlab code, got {obj!r}")
    source = textwrap.dedent(inspect.getsource(obj))
    if not docstring and not inspect.ismodule(obj):
        doc = inspect.getdoc(obj)
        if doc:
            source = _strip_docstring(source)
    from IPython.display import Markdown

    where = f"{module.__name__}" if inspect.ismodule(obj) else f"{module.__name__}.{obj.__qualname__}"
    return Markdown(f"`{where}`\n\n```python\n{source.rstrip()}\n```")


def _strip_docstring(source: str) -> str:
    import ast

    tree = ast.parse(source)
    node = tree.body[0]
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        lines = source.splitlines()
        del lines[first.lineno - 1:first.end_lineno]
        return "\n".join(lines)
    return source
