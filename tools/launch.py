"""Where the course lives, and the one-click launch links that depend on it.

    python -m tools.launch            rewrite every badge and the setup cell's address from REPOSITORY
    python -m tools.launch --check    write nothing; exit 1 and name what points elsewhere

REPOSITORY is the only place the address is written by hand. From it come: the "Open in Colab" badge in the first
cell of every notebook in solutions/ (the build turns it into a link to notebooks/ for the learner versions), the
Colab and Binder badges and the website's address (GitHub Pages) in README.md, and the address the setup cell
clones on Colab.
"""
import argparse
import re
import sys

import nbformat

from .build import ROOT

REPOSITORY = "https://github.com/autoencoders-course/autoencoders"  # GitHub, https, no trailing slash
BRANCH = "main"

COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE_IMAGE = "https://mybinder.org/badge_logo.svg"
BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)(?: \[!\[Binder\]\([^)]*\)\]\([^)]*\))?$", re.M)
SETUP_ADDRESS = re.compile(r'^COURSE_REPOSITORY = "[^"]*"', re.M)


def github_path():
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", REPOSITORY)
    if not match:
        raise ValueError(f"REPOSITORY must look like https://github.com/OWNER/NAME, not {REPOSITORY!r}")
    return match.group(1)


def colab_url(path):
    """Colab's address for a notebook of this repository, e.g. path = "notebooks/01_linear_autoencoder.ipynb"."""
    return f"https://colab.research.google.com/github/{github_path()}/blob/{BRANCH}/{path}"


def binder_url(path):
    """Binder's address that opens JupyterLab on a notebook of this repository."""
    return f"https://mybinder.org/v2/gh/{github_path()}/{BRANCH}?urlpath=lab/tree/{path}"


def site_url():
    """Where GitHub Pages publishes the course's website (.github/workflows/site.yml), with no custom domain."""
    owner, name = github_path().split("/")
    return f"https://{owner}.github.io/{name}/"


def badges(path):
    return (f"[![Open In Colab]({COLAB_BADGE_IMAGE})]({colab_url(path)}) "
            f"[![Binder]({BINDER_BADGE_IMAGE})]({binder_url(path)})")


def with_badges(notebook, path):
    """``notebook`` with the badge line of ``path`` right under the title of its first cell, and the setup cell's
    address set to REPOSITORY."""
    title_cell = notebook.cells[0]
    line = badges(path)
    if BADGE_LINE.search(title_cell.source):
        title_cell.source = BADGE_LINE.sub(line, title_cell.source)
    else:
        title, _, rest = title_cell.source.partition("\n")
        title_cell.source = f"{title}\n\n{line}\n{rest}"
    for cell in notebook.cells:
        if cell.cell_type == "code" and SETUP_ADDRESS.search(cell.source):
            cell.source = SETUP_ADDRESS.sub(f'COURSE_REPOSITORY = "{REPOSITORY}"', cell.source)
    return notebook


def expected_texts(root=ROOT):
    """Every file the address reaches, with the text it should hold."""
    texts = {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        notebook = with_badges(nbformat.read(path, as_version=4), f"solutions/{path.name}")
        texts[path] = nbformat.writes(notebook) + "\n"
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/",
                  f"https://colab.research.google.com/github/{github_path()}/blob/{BRANCH}/", text)
    text = re.sub(r"https://mybinder\.org/v2/gh/[^/]+/[^/]+/[^?]+\?", f"https://mybinder.org/v2/gh/{github_path()}/{BRANCH}?", text)
    text = re.sub(r"https://[\w-]+\.github\.io/[\w.-]+/", site_url(), text)
    texts[readme] = text
    return texts


def stale(root=ROOT):
    return [path for path, text in expected_texts(root).items() if path.read_text(encoding="utf-8") != text]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything points elsewhere")
    args = parser.parse_args(argv)
    if args.check:
        elsewhere = stale()
        for path in elsewhere:
            print(f"points elsewhere: {path.relative_to(ROOT)}")
        return 1 if elsewhere else 0
    for path, text in expected_texts().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    print("Now run `python -m tools.build`, so that notebooks/ follow.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
