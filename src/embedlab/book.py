"""Helpers for the book: show the source of ``embedlab`` code inside a chapter.

A chapter never copies code from the package; it displays the code the notebook runs,
so the text and the package cannot drift apart.
"""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["show_source", "exercise_overview", "interactive_scatter", "InteractiveFigure"]


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


# --------------------------------------------------------------------------------------------
# The Exercises section of a chapter

def exercise_overview(name: str):
    """The body of a chapter's Exercises section, computed from the set's master.

    It lists the questions (title, kind, points) and the total, the learner notebook's path,
    how to open it (``make lab``), how to check one answer (``grader.check``) and how to grade
    the set (``embedlab grade``), with a link to the set's page in the book. Returns an
    IPython ``Markdown`` object, rendered as MyST by the book.
    """
    from IPython.display import Markdown

    from . import grading

    master = grading.master_path(name)
    questions = grading.read_master(master)
    if not questions:
        raise ValueError(f"{master} has no question (no raw '# BEGIN QUESTION' cell)")
    number = int(name[:2])
    total = sum(q.points for q in questions)
    rows = ["| question | what you do | kind | points |", "| --- | --- | --- | --- |"]
    for q in questions:
        kinds = ", ".join(grading.KINDS[k] for k in q.kinds) or "practice"
        rows.append(f"| {q.name} | {q.title or '(untitled)'} | {kinds} | {q.points:g} |")
    path = f"exercises/{name}.ipynb"
    lines = [
        f"The set has {len(questions)} questions worth {total:g} points in all:",
        "",
        *rows,
        "",
        f"Read the questions in the book: [Exercises {number}](../{path}). To work on them, "
        f"open the learner notebook `{path}` in JupyterLab (`make lab` in the repository "
        f"prints the address to open), replace every `...` with your answer, and run the "
        f"`grader.check(\"q1\")` cell under each answer. Grade the whole set from a terminal:",
        "",
        "```bash",
        f".venv/bin/embedlab grade {path}",
        "```",
        "",
        "Questions of the kind *write it yourself* switch off the library functions that would "
        "do the work; *predict, then check* asks for your prediction before you compute, and "
        "explains the answer after grading.",
    ]
    return Markdown("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Interactive 2-D maps

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]


class InteractiveFigure:
    """A Plotly figure (as a plain dict) with a static PNG copy and alt text.

    Displayed in JupyterLab through Plotly's own renderer, and in the book as HTML that
    draws with the ``plotly.min.js`` the book serves (see ``embedlab._sphinx``); the PNG
    replaces it in print.
    """

    def __init__(self, figure: dict, png: bytes, alt: str, title: str):
        self.figure = figure
        self.png = png
        self.alt = alt
        self.title = title

    def _html(self) -> str:
        import base64
        import hashlib
        import html
        import json

        payload = json.dumps(self.figure).replace("</", "<\\/")
        # A stable id: the same figure gets the same id in every run.
        uid = "embedlab-plot-" + hashlib.sha1((payload + self.alt).encode()).hexdigest()[:12]
        alt = html.escape(self.alt, quote=True)
        png = base64.b64encode(self.png).decode("ascii")
        return (
            f'<figure class="embedlab-figure">'
            f'<div id="{uid}" class="embedlab-plotly" role="img" aria-label="{alt}" '
            f'style="height:{self.figure["layout"].get("height", 480)}px"></div>'
            f'<img class="embedlab-static" alt="{alt}" src="data:image/png;base64,{png}">'
            f'<script type="text/javascript">(function () {{'
            f'var fig = {payload}; var tries = 0;'
            f'function draw() {{'
            f'  if (window.Plotly) {{ window.Plotly.newPlot("{uid}", fig.data, fig.layout,'
            f'    {{responsive: true, displaylogo: false}}); return; }}'
            f'  if (++tries < 100) {{ setTimeout(draw, 50); return; }}'
            f'  var box = document.getElementById("{uid}"); box.style.display = "none";'
            f'  box.nextElementSibling.style.display = "block";'
            f'}}'
            f'draw(); }})();</script></figure>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "application/vnd.plotly.v1+json": {"data": self.figure["data"],
                                               "layout": self.figure["layout"],
                                               "config": {"displaylogo": False}},
            "text/html": self._html(),
            "text/plain": f"<interactive figure: {self.title}>",
        }


def interactive_scatter(xy, labels, *, title: str, xlabel: str, ylabel: str, alt: str,
                        groups=None, hover=None, height: int = 480, marker_size: int = 7,
                        show_labels: bool = False) -> InteractiveFigure:
    """An interactive 2-D map: hover shows each point's label, zoom and pan work.

    ``xy`` is an ``(n, 2)`` array of coordinates, ``labels`` the ``n`` names shown on hover
    (``hover`` may give longer texts instead), ``groups`` an optional colour group per point
    (one legend entry each). ``alt`` describes the figure for readers who cannot see it; it
    becomes the ARIA label of the interactive figure and the alt text of its static copy.
    ``show_labels`` also writes the labels beside the points (for a few dozen points).
    """
    import io

    import matplotlib

    from ._checks import check_array, check_int

    xy = check_array("xy", xy, ndim=2)
    if xy.shape[1] != 2:
        raise ValueError(f"xy must have 2 columns (x, y), got shape {xy.shape}")
    n = xy.shape[0]
    if n == 0:
        raise ValueError("xy must hold at least one point")
    for arg, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel), ("alt", alt)):
        if not isinstance(value, str):
            raise TypeError(f"{arg} must be a string, got {type(value).__name__}")
    if not alt.strip():
        raise ValueError("alt must describe the figure for readers who cannot see it")
    labels = _as_texts("labels", labels, n)
    hover = labels if hover is None else _as_texts("hover", hover, n)
    groups = ["" for _ in range(n)] if groups is None else _as_texts("groups", groups, n)
    height = check_int("height", height, minimum=200, maximum=2000)
    marker_size = check_int("marker_size", marker_size, minimum=1, maximum=40)

    order = list(dict.fromkeys(groups))
    traces = []
    for k, g in enumerate(order):
        idx = [i for i in range(n) if groups[i] == g]
        traces.append({
            "type": "scatter",
            "mode": "markers+text" if show_labels else "markers",
            "name": g or "points",
            "x": [round(float(xy[i, 0]), 5) for i in idx],
            "y": [round(float(xy[i, 1]), 5) for i in idx],
            "text": [labels[i] for i in idx],
            "hovertext": [hover[i] for i in idx],
            "hovertemplate": "%{hovertext}<extra></extra>",
            "textposition": "top center",
            "marker": {"size": marker_size, "color": _PALETTE[k % len(_PALETTE)],
                       "opacity": 0.8},
        })
    layout = {
        # the title sits just above the plot area, under the toolbar Plotly draws at the top
        "title": {"text": title, "x": 0, "xref": "paper", "xanchor": "left", "y": 1,
                  "yref": "paper", "yanchor": "bottom", "pad": {"b": 12}, "font": {"size": 15}},
        "xaxis": {"title": {"text": xlabel}, "zeroline": False},
        "yaxis": {"title": {"text": ylabel}, "zeroline": False},
        "hovermode": "closest",
        "dragmode": "zoom",
        "height": height,
        "showlegend": len(order) > 1,
        "margin": {"l": 60, "r": 20, "t": 80, "b": 50},
        "plot_bgcolor": "white",
    }

    # The static copy, drawn with matplotlib's non-interactive backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, height / 80 * 0.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for k, g in enumerate(order):
        idx = [i for i in range(n) if groups[i] == g]
        ax.scatter(xy[idx, 0], xy[idx, 1], s=marker_size ** 2 / 2,
                   color=_PALETTE[k % len(_PALETTE)], alpha=0.8, label=g or None)
        if show_labels:
            for i in idx:
                ax.annotate(labels[i], (xy[i, 0], xy[i, 1]), fontsize=7,
                            xytext=(2, 2), textcoords="offset points")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(order) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    with matplotlib.rc_context({"savefig.dpi": 110}):
        fig.savefig(buf, format="png")
    return InteractiveFigure({"data": traces, "layout": layout}, buf.getvalue(), alt, title)


def _as_texts(name: str, values, n: int) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of {n} texts, got one string")
    try:
        texts = [str(v) for v in values]
    except TypeError:
        raise TypeError(f"{name} must be a sequence of {n} texts, got "
                        f"{type(values).__name__}") from None
    if len(texts) != n:
        raise ValueError(f"{name} must have one entry per point ({n}), got {len(texts)}")
    return texts
