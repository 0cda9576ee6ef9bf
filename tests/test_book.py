"""The book as readers use it: built from the executed chapters without a warning, then read
in headless Chromium with no network.

The tests marked ``book`` run after the chapters (``make test`` runs them in a second pytest
call): they build the book from the copies that nbval executed (``embedlab._site``) and
check every page in Chromium: math typeset by the MathJax the book serves, every image and
interactive figure drawn, internal links resolve, search finds words, no JavaScript error,
and no request to another host. Without Chromium they are skipped, with the reason.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

import embedlab
from embedlab import _site

from conftest import ROOT


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        pages += [c["file"] for c in part["chapters"]]
    return pages


PAGES = _toc_pages()
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]
EXERCISE_PAGES = [p for p in PAGES if p.startswith("exercises/")]
SCREENSHOTS = ROOT / "_build" / "screenshots"


# --------------------------------------------------------------------------------------------
# No build needed

def test_show_source_shows_package_code():
    md = embedlab.show_source(embedlab.linear.mse)
    assert "def mse(" in md.data and md.data.startswith("`embedlab.linear.mse`")
    short = embedlab.show_source(embedlab.linear.LinearRegressionGD.fit, docstring=False)
    assert "Fit on features" not in short.data and "def fit(" in short.data


def test_show_source_rejects_other_code():
    with pytest.raises(ValueError, match="only shows embedlab code"):
        embedlab.show_source(json.dumps)
    with pytest.raises(TypeError, match="takes a function"):
        embedlab.show_source(3)


def test_interactive_scatter_carries_labels_alt_text_and_a_static_copy():
    import numpy as np

    fig = embedlab.book.interactive_scatter(np.arange(8.0).reshape(4, 2), ["a", "b", "c", "d"],
                                            groups=["x", "x", "y", "y"], title="t", xlabel="u",
                                            ylabel="v", alt="four points in two groups")
    bundle = fig._repr_mimebundle_()
    html = bundle["text/html"]
    assert 'aria-label="four points in two groups"' in html and 'alt="four points' in html
    assert "data:image/png;base64," in html and "embedlab-plotly" in html
    data = bundle["application/vnd.plotly.v1+json"]["data"]
    assert [t["text"] for t in data] == [["a", "b"], ["c", "d"]]
    assert fig._repr_mimebundle_()["text/html"] == html, "the same figure gives the same page"
    with pytest.raises(ValueError, match="one entry per point"):
        embedlab.book.interactive_scatter(np.zeros((3, 2)), ["a"], title="t", xlabel="u",
                                          ylabel="v", alt="x")
    with pytest.raises(ValueError, match="2 columns"):
        embedlab.book.interactive_scatter(np.zeros((3, 3)), "abc", title="t", xlabel="u",
                                          ylabel="v", alt="x")
    with pytest.raises(ValueError, match="alt must describe"):
        embedlab.book.interactive_scatter(np.zeros((1, 2)), ["a"], title="t", xlabel="u",
                                          ylabel="v", alt=" ")


def test_exercise_overview_counts_from_the_master():
    from embedlab import grading

    name = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))[0]
    questions = grading.read_master(ROOT / "solutions" / f"{name}.ipynb")
    text = embedlab.book.exercise_overview(name).data
    total = sum(q.points for q in questions)
    assert f"has {len(questions)} questions worth {total:g} points" in text
    assert f"exercises/{name}.ipynb" in text and f"embedlab grade exercises/{name}.ipynb" in text
    assert len(re.findall(r"(?m)^\| q\d+ \|", text)) == len(questions)


# --------------------------------------------------------------------------------------------
# The built book

@pytest.fixture(scope="module")
def built_book():
    try:
        proc = _site.build(ROOT)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    log = proc.stdout + proc.stderr
    warnings = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings) or log[-4000:]
    return ROOT / "_build" / "html"


@pytest.mark.book
def test_every_page_of_the_toc_is_built(built_book):
    for page in PAGES + ["search", "genindex"]:
        assert (built_book / f"{page}.html").exists(), f"{page} was not built"


@pytest.mark.book
def test_no_page_loads_anything_from_another_host(built_book):
    """Scripts, styles, fonts and images come from the book itself (links may point out)."""
    offenders = {}
    for path in built_book.rglob("*.html"):
        html = path.read_text(errors="replace")
        loads = [m for m in re.findall(r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"((?:https?:)?//[^\"]+)\"",
                                       html)]
        loads += [m for m in re.findall(r"<link\b([^>]*)>", html)
                  if re.search(r"rel=\"(stylesheet|preload|icon|modulepreload)\"", m)
                  and re.search(r"href=\"(?:https?:)?//", m)]
        if loads:
            offenders[str(path.relative_to(built_book))] = loads[:3]
    css = "\n".join(p.read_text(errors="replace") for p in built_book.rglob("*.css"))
    remote_css = re.findall(r"@import\s+url\((?:['\"])?(https?:)?//[^)]+\)|url\((['\"]?)https?://", css)
    assert not offenders, f"pages load from other hosts: {offenders}"
    assert not remote_css, f"styles load from other hosts: {remote_css[:3]}"


@pytest.mark.book
def test_exercise_pages_show_no_hidden_test_and_link_both_ways(built_book):
    for page in EXERCISE_PAGES:
        stem = page.split("/")[1]
        html = (built_book / f"{page}.html").read_text()
        assert "hidden: true" not in html and "BEGIN TEST CONFIG" not in html, page
        assert f"../chapters/{stem}.html" in html, f"{page} does not link to its chapter"
        chapter = (built_book / "chapters" / f"{stem}.html").read_text()
        assert f"../exercises/{stem}.html" in chapter, f"chapter {stem} does not link to {page}"


@pytest.mark.book
def test_chapter_pages_offer_the_notebook_for_download(built_book):
    for page in CHAPTER_PAGES:
        html = (built_book / f"{page}.html").read_text()
        assert f"_sources/{page}.ipynb" in html, f"{page} has no notebook download"
        assert (built_book / "_sources" / f"{page}.ipynb").exists()


# --------------------------------------------------------------------------------------------
# In Chromium

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--window-size=1280,1000",
    # No network: every host name but the local server's fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Chromium and chromedriver are not installed, so the book was not checked "
                    "in a browser. On Debian or Ubuntu, `make test` installs them (packages "
                    "chromium and chromium-driver) when run as root; otherwise install them.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_Quiet, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


_READY = """
const done = arguments[arguments.length - 1];
const start = Date.now();
function wait() {
  const mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
  const plots = [...document.querySelectorAll('.embedlab-plotly')];
  const drawn = plots.every(p => p.querySelector('.main-svg'));
  if ((mj || Date.now() - start > 20000) && (drawn || Date.now() - start > 20000)) {
    (mj || Promise.resolve()).then(() => done(true));
  } else { setTimeout(wait, 100); }
}
wait();
"""

_PAGE_FACTS = """
const body = document.querySelector('main') || document.body;
const clone = body.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(e => e.remove());
const text = clone.innerText;
const imgs = [...document.querySelectorAll('main img')].map(i => ({
  src: i.getAttribute('src').slice(0, 80), ok: i.complete && i.naturalWidth > 0,
  alt: i.getAttribute('alt') || '', print: i.classList.contains('embedlab-static')}));
const plots = [...document.querySelectorAll('.embedlab-plotly')].map(p => ({
  drawn: !!p.querySelector('.main-svg'), label: p.getAttribute('aria-label') || ''}));
return {
  raw_tex: (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
  math: document.querySelectorAll('mjx-container').length,
  source_math: document.querySelectorAll('.math').length,
  imgs: imgs, plots: plots,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
};
"""


def _errors(driver) -> list[str]:
    """Uncaught JavaScript errors and failed loads of the page just read."""
    bad = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        if entry["source"] == "network" and "/favicon.ico" in entry["message"]:
            continue  # the browser asks every site for an icon; the book has none
        if entry["source"] in ("javascript", "network"):
            bad.append(entry["message"][:300])
    return bad


def _foreign_requests(driver, base: str) -> list[str]:
    host = urlparse(base).netloc
    out = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") != "Network.requestWillBeSent":
            continue
        url = msg["params"]["request"]["url"]
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about", "chrome", "file"):
            continue
        if parsed.netloc != host:
            out.append(url[:200])
    return out


def _check_links(links: list[str], base: str, built: Path) -> list[str]:
    broken = []
    for link in links:
        if not link.startswith(base):
            continue
        parsed = urlparse(link)
        rel = unquote(parsed.path[len(urlparse(base).path):]) or "index.html"
        target = built / rel
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(link)
            continue
        if parsed.fragment and target.suffix == ".html":
            html = target.read_text(errors="replace")
            if f'id="{parsed.fragment}"' not in html:
                broken.append(link)
    return sorted(set(broken))


@pytest.mark.book
@pytest.mark.parametrize("page", PAGES)
def test_page_reads_well_in_a_browser(page, browser, server, built_book):
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(urljoin(server, f"{page}.html"))
    browser.execute_async_script(_READY)
    facts = browser.execute_script(_PAGE_FACTS)
    problems = []
    if facts["source_math"] and facts["math"] == 0:
        problems.append("math was not typeset")
    if facts["raw_tex"]:
        problems.append(f"{facts['raw_tex']} pieces of raw TeX are left in the text")
    for img in facts["imgs"]:
        if not img["print"] and not img["ok"]:
            problems.append(f"image not loaded: {img['src']}")
        if not img["alt"].strip():
            problems.append(f"image without alt text: {img['src']}")
    for plot in facts["plots"]:
        if not plot["drawn"]:
            problems.append("an interactive figure was not drawn")
        if not plot["label"].strip():
            problems.append("an interactive figure has no alt text (aria-label)")
    broken = _check_links(facts["links"], server, built_book)
    if broken:
        problems.append(f"broken internal links: {broken[:5]}")
    errors = _errors(browser)
    if errors:
        problems.append(f"JavaScript errors: {errors[:3]}")
    foreign = _foreign_requests(browser, server)
    if foreign:
        problems.append(f"requests to other hosts: {foreign[:3]}")
    assert not problems, f"{page}: " + "; ".join(problems)


@pytest.mark.book
def test_interactive_maps_show_labels_on_hover(browser, server):
    pages = [p for p in CHAPTER_PAGES
             if "embedlab-plotly" in (ROOT / "_build" / "html" / f"{p}.html").read_text()]
    assert pages, "no chapter has an interactive map"
    for page in pages:
        browser.get(urljoin(server, f"{page}.html"))
        browser.execute_async_script(_READY)
        shown = browser.execute_script("""
            const out = [];
            for (const gd of document.querySelectorAll('.embedlab-plotly')) {
              gd.scrollIntoView();
              const trace = gd.data[0];
              window.Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 0}]);
              const label = gd.querySelector('.hoverlayer') ? gd.querySelector('.hoverlayer').textContent : '';
              out.push({want: String(trace.hovertext[0]), got: label, drag: gd.layout.dragmode});
            }
            return out;""")
        for item in shown:
            assert item["want"] and item["want"] in item["got"], f"{page}: hover shows {item}"
            assert item["drag"] == "zoom", f"{page}: zoom is not the drag mode"


@pytest.mark.book
@pytest.mark.parametrize("word", ["cosine", "attention"])
def test_search_finds_words(word, browser, server):
    browser.get(urljoin(server, f"search.html?q={word}"))
    deadline = time.monotonic() + 30
    count = 0
    while time.monotonic() < deadline:
        count = browser.execute_script(
            "return document.querySelectorAll('#search-results ul.search li').length;")
        if count:
            break
        time.sleep(0.25)
    assert count > 0, f"searching for {word!r} found nothing"


@pytest.mark.book
def test_math_renders_from_a_file_with_no_server(browser, built_book):
    """Opened as a file, as a reader who double-clicks index.html would."""
    page = next(p for p in CHAPTER_PAGES if "math" in (built_book / f"{p}.html").read_text())
    browser.get((built_book / f"{page}.html").as_uri())
    browser.execute_async_script(_READY)
    assert browser.execute_script("return document.querySelectorAll('mjx-container').length") > 0


@pytest.mark.book
def test_screenshots_for_people(browser, server, built_book):
    """Two screenshots to look at: a chapter with math, and an interactive map."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    math_page = next(p for p in CHAPTER_PAGES
                     if (built_book / f"{p}.html").read_text().count('class="math') > 5)
    browser.get(urljoin(server, f"{math_page}.html"))
    browser.execute_async_script(_READY)
    browser.execute_script("""
        const all = [...document.querySelectorAll('mjx-container')];
        const shown = all.find(m => m.getAttribute('display') === 'true') || all[0];
        shown.scrollIntoView({block: 'center'});""")
    time.sleep(0.5)
    assert browser.save_screenshot(str(SCREENSHOTS / "chapter-with-math.png"))
    map_page = next((p for p in CHAPTER_PAGES
                     if "embedlab-plotly" in (built_book / f"{p}.html").read_text()), None)
    assert map_page, "no chapter has an interactive map"
    browser.get(urljoin(server, f"{map_page}.html"))
    browser.execute_async_script(_READY)
    browser.execute_script("""
        const gd = document.querySelector('.embedlab-plotly');
        gd.scrollIntoView({block: 'center'});
        window.Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 0}]);""")
    time.sleep(0.5)
    assert browser.save_screenshot(str(SCREENSHOTS / "interactive-map.png"))
