"""The course website (tools/site.py), built offline once and read in headless Chromium, as a reader meets it:
served over HTTP from the build, every page loads everything it needs from the site itself, its figures load, its
equations are typeset by MathJax, its links lead to files of the build, and each notebook's launch buttons open the
learner version of that notebook (addresses from tools/launch.py). Screenshots go into the test's temporary folder,
named in the output of `pytest -s`."""
import functools
import html
import importlib.util
import re
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from tools import launch, site

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
README_PAGES = {"index.html": "Syllabus", **{f"{name}.html": title for name, title in site.PAGES.items()}}
PAGES = list(README_PAGES) + [f"notebooks/{path.stem}.html" for path in SOLUTIONS]
SCREENSHOTS = ["index.html", "notebooks/01_linear_autoencoder.html", "notebooks/06_variational_autoencoder.html"]
@pytest.fixture(scope="module")
def built_site(tmp_path_factory, skip_or_fail):
    for module, package in [("jupyter_book", "jupyter-book<2"), ("sphinx-mathjax-offline", "sphinx-mathjax-offline")]:
        if importlib.util.find_spec(module) is None:
            skip_or_fail(f"{package} is not installed (requirements-site.txt)")
    start = time.perf_counter()
    out = site.build(tmp_path_factory.mktemp("site") / "html")
    print(f"\nsite built in {time.perf_counter() - start:.0f} s into {out}")
    return out


@pytest.fixture(scope="module")
def server(built_site):
    """The build served over HTTP on the loopback, as GitHub Pages serves it (under file:// Chromium gives each
    file an origin of its own, and refuses web fonts across origins)."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# What the browser reports about a page once MathJax (where the page has math) has finished typesetting.
READ_PAGE = """
const done = arguments[arguments.length - 1];
function report() {
    const outside = el => !el.closest('pre, code, script, style, mjx-assistive-mml');
    const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
    let text = '';
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (outside(node.parentElement) && node.parentElement.getClientRects().length) text += node.data + ' ';
    }
    done({
        title: document.title,
        text: text,  // what a reader sees as prose: no code, no TeX source kept by MathJax
        all_text: (document.querySelector('main') || document.body).innerText,
        images: [...document.images].map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth,
                                                  output: !!img.closest('.cell_output')})),
        math: document.querySelectorAll('.math.notranslate').length,  // what Sphinx wrote as math
        typeset: [...document.querySelectorAll('.math.notranslate')].filter(el => el.querySelector('mjx-container')).length,
        math_errors: document.querySelectorAll('mjx-merror').length,
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        article_links: [...document.querySelectorAll('article a[href]')].map(a => a.href),  // the page's own text
        launch: [...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href),
        resources: performance.getEntriesByType('resource').map(entry => entry.name),
    });
}
function whenTypeset() {
    if (!document.querySelector('script[src*="mathjax"]')) return report();  // Sphinx adds MathJax only where math is
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return setTimeout(whenTypeset, 100);
    MathJax.startup.promise.then(report, report);  // settled once typesetting is over (the checks tell failures)
}
whenTypeset();
"""


OFFLINE_BADGE = "https://colab.research.google.com/assets/colab-badge.svg - Failed to load resource"


@pytest.fixture(scope="module")
def pages(browser, built_site, server, tmp_path_factory):  # the browser first: without one, skip before building
    """{page: what the browser reported}, each page opened once; screenshots of a few."""
    shots = tmp_path_factory.mktemp("site-screenshots")
    reports, start = {}, time.perf_counter()
    browser.get_log("browser")  # the session's browser is shared: drop what earlier tests left in its console
    for page in PAGES:
        browser.get(server + page)
        reports[page] = browser.execute_async_script(READ_PAGE)
        # Errors in the console, less the favicon.ico that Chromium asks every site for (this one has none), and
        # less the README's Colab badges, images on colab.research.google.com that cannot load offline (as in CI).
        reports[page]["console"] = [entry["message"] for entry in browser.get_log("browser")
                                    if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]
                                    and not entry["message"].startswith(OFFLINE_BADGE)]
        if page in SCREENSHOTS:
            name = page.replace("/", "_").removesuffix(".html")
            browser.save_screenshot(str(shots / f"{name}.png"))
            for what, selector in [("equations", "mjx-container[display='true']"), ("figure", ".cell_output img")]:
                if browser.execute_script(f"const el = document.querySelector(\"{selector}\");"
                                          "if (el) el.scrollIntoView({block: 'center'}); return !!el;"):
                    browser.save_screenshot(str(shots / f"{name}_{what}.png"))
    print(f"\n{len(PAGES)} pages read in Chromium in {time.perf_counter() - start:.0f} s; screenshots in {shots}")
    return reports


def stored_figures(path):
    """How many images the solution's stored outputs hold, those inside widgets' Output areas included."""
    notebook = nbformat.read(path, as_version=4)
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    outputs += [output for model in state.values() for output in model["state"].get("outputs", [])]
    return sum("image/png" in output.get("data", {}) for output in outputs)


def local_file(built_site, server, url):
    """The file of the build that ``url`` names, or None when the url is not the site's."""
    if not url.startswith(server):
        return None
    path = built_site / unquote(urlsplit(url).path).lstrip("/")
    return path / "index.html" if path.is_dir() else path


def test_every_page_loads_with_its_title_and_no_error(pages, built_site):
    for page, report in pages.items():
        assert (built_site / page).is_file(), f"the build has no {page}"
        assert report["title"] and report["text"].strip(), f"{page} shows nothing"
        assert not report["console"], f"{page}: errors in the browser's console: {report['console']}"
    for path in SOLUTIONS:
        title = nbformat.read(path, as_version=4).cells[0].source.partition("\n")[0].lstrip("# ").strip()
        shown = pages[f"notebooks/{path.stem}.html"]["title"].replace("\u2019", "'")  # Sphinx's curly apostrophe
        assert title in shown, f"{path.name}: the page's title is {shown!r}"


def test_everything_a_page_loads_comes_from_the_site_itself(pages, server):
    """Offline, in CI or a classroom without the internet, nothing may be fetched from elsewhere (MathJax, fonts,
    widget scripts)."""
    for page, report in pages.items():
        foreign = [url for url in report["resources"] + [image["src"] for image in report["images"]]
                   if not url.startswith(server)]
        assert not foreign, f"{page} loads from other hosts: {foreign}"


def test_every_image_loads_and_every_stored_figure_is_shown(pages):
    for page, report in pages.items():
        broken = [image["src"] for image in report["images"] if image["width"] == 0]
        assert not broken, f"{page}: images that did not load: {broken}"
    for path in SOLUTIONS:
        shown = sum(image["output"] for image in pages[f"notebooks/{path.stem}.html"]["images"])
        assert shown == stored_figures(path), f"{path.name}: {shown} figures shown of {stored_figures(path)}"
    assert sum(stored_figures(path) for path in SOLUTIONS) > 0


def test_equations_are_typeset_and_no_raw_tex_is_left(pages):
    for page, report in pages.items():
        assert report["typeset"] == report["math"], f"{page}: {report['math'] - report['typeset']} equations not typeset"
        assert report["math_errors"] == 0, f"{page}: {report['math_errors']} equations that MathJax could not read"
        for raw in ["$$", "\\(", "\\[", "\\frac", "\\mathbf"]:
            at = report["text"].find(raw)
            assert at < 0, f"{page} shows raw TeX: ...{report['text'][max(0, at - 60):at + 60]}..."
    for path in SOLUTIONS:
        markdown = "".join(cell.source for cell in nbformat.read(path, as_version=4).cells
                           if cell.cell_type == "markdown")
        if "$" in markdown:
            assert pages[f"notebooks/{path.stem}.html"]["math"] > 0, f"{path.name}'s equations are not math on the site"
    assert pages["notebooks/06_variational_autoencoder.html"]["typeset"] >= 50  # the ELBO's derivation


def test_every_internal_link_resolves_to_a_file_of_the_build(pages, built_site, server):
    ids = {}
    for page, report in pages.items():
        for url in report["links"]:
            target = local_file(built_site, server, url)
            if target is None:
                continue
            assert target.is_file(), f"{page} links to {url}, which is not in the build"
            fragment = unquote(urlsplit(url).fragment)
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8")))
                assert html.escape(fragment) in ids[target], f"{page} links to {url}: no such anchor"


def test_the_syllabus_links_to_notebooks_lead_to_their_pages(pages, built_site, server):
    syllabus = site.readme_section("Syllabus", (ROOT / "README.md").read_text(encoding="utf-8"))
    targets = set(re.findall(r"\]\((notebooks/\d\d_\w+)\.ipynb\)", syllabus))
    linked = {local_file(built_site, server, url) for url in pages["index.html"]["article_links"]}
    assert targets, "the README's syllabus links no notebook"
    for target in targets:
        assert built_site / f"{target}.html" in linked, f"the syllabus on the site does not link {target}'s page"


def test_launch_buttons_open_the_learner_version_of_the_pages_notebook(pages):
    for path in SOLUTIONS:
        learner = f"notebooks/{path.name}"
        report = pages[f"notebooks/{path.stem}.html"]
        assert sorted(report["launch"]) == sorted([launch.colab_url(learner), launch.binder_url(learner)]), path.name
        assert f"{launch.REPOSITORY}/blob/{launch.BRANCH}/{learner}" in report["links"], \
            f"{path.stem}'s page does not link its learner version on GitHub"
        assert not any("/solutions/" in url for url in report["links"]), f"{path.stem}'s page still opens solutions/"
    for page in README_PAGES:
        assert pages[page]["launch"] == [], f"{page} is no notebook, yet has launch buttons"


def test_the_readme_sections_reach_the_site_whole(pages):
    """Every word of each README section the site includes shows on its page (so nothing was cut or copied stale)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page, title in README_PAGES.items():
        section = site.readme_section(title, readme)
        section = re.sub(r"<!--.*?-->", "", section, flags=re.S)          # comments do not render
        section = re.sub(r"\]\([^)\s]+\)", "]", section)                     # nor link targets
        words = set(re.findall(r"[A-Za-z]{4,}", section))
        shown = set(re.findall(r"[A-Za-z]{4,}", pages[page]["all_text"]))
        assert words <= shown, f"{page} lacks words of README's '{title}': {sorted(words - shown)[:20]}"


def test_no_widget_output_is_left_for_javascript_that_the_site_does_not_carry(built_site):
    for page in built_site.glob("notebooks/*.html"):
        assert site.WIDGET_VIEW not in page.read_text(encoding="utf-8"), page.name


def test_the_readme_links_the_site():
    assert launch.site_url() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        f"README.md should link the course's website, {launch.site_url()}"
