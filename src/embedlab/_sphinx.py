"""A small Sphinx extension for the course's book: it serves what interactive figures need.

* ``plotly.min.js`` (the copy inside the installed ``plotly`` package) is copied into the
  book's ``_static/`` and loaded only by pages that hold an interactive figure, so the book
  needs no network to draw them;
* ``embedlab.css`` shows the interactive version of a figure on screen and its static copy in
  print;
* the scripts of sphinx-thebe (which Jupyter Book always loads, twice, declaring the same
  constant twice and pointing at a CDN) are dropped: the book has no live-code button.

Enable it with ``sphinx: extra_extensions: [embedlab._sphinx]`` in ``_config.yml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

_CSS = """\
/* embedlab: interactive figures on screen, their static copy in print */
.embedlab-figure { margin: 1em 0; }
.embedlab-figure .embedlab-static { display: none; max-width: 100%; }
@media print {
  .embedlab-figure .embedlab-plotly { display: none !important; }
  .embedlab-figure .embedlab-static { display: block !important; }
}
"""

MARKER = "embedlab-plotly"


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` bundled with the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise FileNotFoundError(f"plotly.min.js is not in {path.parent}; reinstall plotly")
    return path


def _is_thebe(asset) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in name or "THEBE_JS_URL" in body


def _page_context(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if MARKER in body:
        app.add_js_file("plotly.min.js")
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_thebe(a)]


def _copy_assets(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), static / "plotly.min.js")
    (static / "embedlab.css").write_text(_CSS)


def setup(app):
    app.add_css_file("embedlab.css")
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
