"""The chapters' prose: every number computed, every chapter reference real, the structure
every chapter shares (CONTRIBUTING.md, "The chapter notebook")."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT

CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
CHAPTER_NUMBERS = {int(s[:2]) for s in CHAPTERS}
MIN_WORDS = 3000
# Chapters whose further reading must include SLP3 ch. 6 and d2l ch. 15.
TEXTBOOK_CHAPTERS = {1, 2, 3, 4, 5, 6, 7, 8, 11}


def _nb(stem: str):
    return nbformat.read(ROOT / "chapters" / f"{stem}.ipynb", as_version=4)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


# --------------------------------------------------------------------------------------------
# What counts as prose

_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def strip_to_prose(text: str) -> str:
    """Markdown reduced to the words a reader reads as sentences.

    Code blocks, math, inline code, every MyST role (glue, cite, term, doc, ...), link
    targets, HTML comments and directive options go; the bodies of directives such as
    ``{exercise}``, ``{solution}``, ``{note}`` stay, since they are prose.
    """
    out, fence, keep_body = [], None, False
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if fence is None and m:
            fence, keep_body = m.group(1), m.group(2).strip().startswith("{") and \
                not m.group(2).strip().startswith(("{code", "{math", "{glue"))
            continue
        if fence is not None:
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
                continue
            if keep_body and not re.match(r"^\s*:[\w-]+:", line):
                out.append(line)
            continue
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\\\[.*?\\\]", " ", text, flags=re.S)
    text = re.sub(r"\\\(.*?\\\)", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$[^$\n]+?(?<!\\)\$", " ", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)           # roles: {glue:text}`x`, {cite}`k`
    text = re.sub(r"``.*?``|`[^`\n]*`", " ", text)             # inline code
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r" \1 ", text)    # images: keep the alt text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r" \1 ", text)      # links: keep the text
    text = re.sub(r"<[^>\n]+>", " ", text)                      # inline HTML tags
    text = re.sub(r"https?://\S+", " ", text)
    return text


_NUMBER = re.compile(r"(?<![\w.,])[-+]?\d[\d,]*(?:\.\d+)?%?(?![\w])")


def flagged_numbers(prose: str) -> list[str]:
    """Numbers that look measured: decimals, percentages, thousands separators, and
    integers of 100 or more that are not years."""
    found = []
    for m in _NUMBER.finditer(prose):
        token = m.group(0).rstrip(",")
        if not token or not token[-1:].isdigit() and not token.endswith("%"):
            continue
        if "." in token or token.endswith("%") or re.search(r"\d,\d{3}", token):
            found.append(token)
            continue
        value = int(token.replace(",", "").lstrip("+-") or 0)
        if value >= 100 and not 1900 <= value <= 2099:
            found.append(token)
    return found


def _value(token: str) -> float:
    t = token.replace(",", "")
    return float(t[:-1]) / 100 if t.endswith("%") else float(t)


_CODE_NUMBER = re.compile(r"(?<![\w.])\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?")


def asserted_values(nb) -> set[float]:
    """Numeric literals of ``assert`` lines in the notebook's ``remove-cell`` cells."""
    values = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "remove-cell" not in _tags(cell):
            continue
        for line in cell.source.splitlines():
            if "assert" in line:
                for lit in _CODE_NUMBER.findall(line):
                    try:
                        values.add(float(lit.replace("_", "")))
                    except ValueError:
                        pass
    return values


def unexplained_numbers(nb) -> list[str]:
    """Flagged numbers of a chapter's prose, captions and alt text that are neither glued,
    asserted as a bound, nor listed with a reason in the notebook's metadata."""
    allowed = nb.metadata.get("embedlab", {}).get("prose_numbers", {})
    bad_reasons = [k for k, v in allowed.items() if not (isinstance(v, str) and v.strip())]
    assert not bad_reasons, f"prose_numbers entries need a reason: {bad_reasons}"
    asserted = asserted_values(nb)
    texts = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            texts.append((f"cell {i}", cell.source))
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        for where, value in (("alt text", mystnb.get("image", {}).get("alt")),
                             ("caption", mystnb.get("figure", {}).get("caption"))):
            if isinstance(value, str):
                texts.append((f"cell {i} {where}", value))
    out = []
    for where, text in texts:
        for token in flagged_numbers(strip_to_prose(text)):
            if token in allowed:
                continue
            if any(abs(_value(token) - v) <= 1e-12 * max(1.0, abs(v)) for v in asserted):
                continue
            out.append(f"{where}: {token}")
    return out


# --------------------------------------------------------------------------------------------
# The checker itself

def test_the_number_check_flags_measurements_and_spares_the_rest():
    prose = ("Our skip-gram scored 0.378 against 0.377, on 1,077 questions; 42% of pairs; "
             "331 thousand words; in 2013; 5 epochs of Chapter 3; WordSim353 and float32.")
    assert flagged_numbers(prose) == ["0.378", "0.377", "1,077", "42%", "331"]
    md = ("The score is {glue:text}`score:.3f` and $x^{0.75}$, `n = 1000`, see {cite}`a2013`.\n"
          "```python\nx = 0.5\n```\n```{exercise}\n:label: cu-01-a\nWhy 0.5?\n```")
    assert flagged_numbers(strip_to_prose(md)) == ["0.5"]


def test_the_number_check_accepts_asserted_bounds_and_listed_facts():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("recall above 0.95, exponent 0.75, gap 0.12"),
                nbformat.v4.new_code_cell("assert recall > 0.95", metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_code_cell("assert gap == 0.12")]  # not hidden: does not count
    nb.metadata["embedlab"] = {"prose_numbers": {"0.75": "exponent from Mikolov et al."}}
    assert unexplained_numbers(nb) == ["cell 0: 0.12"]


# --------------------------------------------------------------------------------------------
# Every chapter

@pytest.mark.parametrize("stem", CHAPTERS)
def test_prose_numbers_are_computed(stem):
    """Measured numbers in prose, captions and alt text are glued or asserted bounds."""
    bad = unexplained_numbers(_nb(stem))
    assert not bad, (f"{stem}: numbers typed into prose; glue them (or state an asserted bound, "
                     f"or list a quoted fact in metadata embedlab.prose_numbers): {bad}")


def _chapter_mentions(text: str) -> set[int]:
    found = set()
    for m in re.finditer(r"\bChapters?\s+((?:\d+)(?:\s*(?:,|and|to|or|-|–)\s*\d+)*)", text):
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if re.search(r"\d\s*(?:to|-|–)\s*\d", m.group(1)) and len(numbers) == 2:
            numbers = list(range(numbers[0], numbers[1] + 1))
        found.update(numbers)
    return found


def test_every_chapter_reference_exists():
    pages = [p for p in (ROOT / "chapters").glob("*.ipynb")] + \
        [p for p in (ROOT / "solutions").glob("*.ipynb")]
    missing = {}
    for path in pages:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        bad = _chapter_mentions(text) - CHAPTER_NUMBERS
        if bad:
            missing[str(path.relative_to(ROOT))] = sorted(bad)
    for path in (ROOT / "book").glob("*.md"):
        bad = _chapter_mentions(path.read_text()) - CHAPTER_NUMBERS
        if bad:
            missing[str(path.relative_to(ROOT))] = sorted(bad)
    assert not missing, f"references to chapters that do not exist: {missing}"


def test_chapter_reference_reader():
    assert _chapter_mentions("see Chapter 3, and Chapters 9 to 12, Chapters 4 and 5") == \
        {3, 4, 5, 9, 10, 11, 12}


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_structure(stem):
    nb = _nb(stem)
    number = int(stem[:2])
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# Chapter {number}. "), \
        f"{stem}: the first cell must start with '# Chapter {number}. Title'"
    assert "Learning objectives" in first.source, f"{stem}: no learning objectives"
    headings = [(i, c.source.splitlines()[j]) for i, c in enumerate(nb.cells)
                if c.cell_type == "markdown" for j in range(len(c.source.splitlines()))
                if c.source.splitlines()[j].startswith("## ")]
    titles = [h[1][3:].strip() for h in headings]
    for needed in ("Summary", "Further reading", "Exercises"):
        assert needed in titles, f"{stem}: no '## {needed}' section"
    assert titles[-1] == "Exercises", f"{stem}: '## Exercises' must be the last section"
    start = headings[-1][0]
    calls = [c for c in nb.cells[start:] if c.cell_type == "code"
             and f'exercise_overview("{stem}")' in c.source.replace("'", '"')]
    assert calls, f'{stem}: the Exercises section must call embedlab.book.exercise_overview("{stem}")'
    assert all("remove-input" in _tags(c) for c in calls), \
        f"{stem}: the exercise_overview cell must be tagged remove-input"
    first_section = headings[0][0]
    for cell in nb.cells[:first_section]:
        if cell.cell_type == "code":
            assert _tags(cell) & {"hide-cell", "remove-cell"}, \
                f"{stem}: set-up cells before the first section must be tagged hide-cell"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_check_your_understanding(stem):
    text = "\n".join(c.source for c in _nb(stem).cells if c.cell_type == "markdown")
    labels = re.findall(r"```+\{exercise\}[^\n]*\n\s*:label:\s*(\S+)", text)
    assert len(labels) >= 3, f"{stem}: needs at least 3 check-your-understanding exercises"
    for label in labels:
        m = re.search(r"```+\{solution\}\s*" + re.escape(label) + r"\s*\n((?:\s*:[\w-]+:.*\n)*)",
                      text)
        assert m, f"{stem}: exercise {label} has no solution block"
        assert re.search(r":class:\s*dropdown", m.group(1)), \
            f"{stem}: the solution of {label} must be folded (:class: dropdown)"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_enough_prose(stem):
    words = sum(len(re.findall(r"[A-Za-z][A-Za-z'’-]*", strip_to_prose(c.source)))
                for c in _nb(stem).cells if c.cell_type == "markdown")
    assert words >= MIN_WORDS, f"{stem}: {words} words of prose, fewer than {MIN_WORDS}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_further_reading_cites_the_sources(stem):
    nb = _nb(stem)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    part = text.split("## Further reading", 1)[-1].split("\n## ", 1)[0]
    assert "{cite" in part, f"{stem}: further reading cites nothing"
    if int(stem[:2]) in TEXTBOOK_CHAPTERS:
        for key in ("jurafsky2025slp", "zhang2023d2l"):
            assert key in part, f"{stem}: further reading should include {key}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_figures_have_alt_text_and_captions(stem):
    for i, cell in enumerate(_nb(stem).cells):
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            mystnb = cell.metadata.get("mystnb", {})
            assert mystnb.get("image", {}).get("alt", "").strip(), f"{stem} cell {i}: no alt text"
            assert mystnb.get("figure", {}).get("caption", "").strip(), \
                f"{stem} cell {i}: no caption"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_exercise_master_links_back_to_its_chapter(stem):
    master = ROOT / "solutions" / f"{stem}.ipynb"
    assert master.exists(), f"{stem} has no exercise master"
    nb = nbformat.read(master, as_version=4)
    intro = next(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"../chapters/{stem}.ipynb" in intro, \
        f"solutions/{stem}.ipynb: the introduction must link to ../chapters/{stem}.ipynb"
