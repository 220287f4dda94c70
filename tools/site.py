"""Build the course website, offline, from solutions/ (with their stored outputs) and the README's sections.

    python -m tools.site              build into _site/ (open _site/index.html, or serve the folder)
    python -m tools.site --out DIR    build into DIR

Jupyter Book 1 (Sphinx) builds it from a source tree that this module writes into a temporary folder:
- index.md: the README's title and opening paragraph, then its "## Syllabus"; setup.md, leaderboard.md and
  instructors.md: the README's sections of those names. Each is cut from README.md at build time, never copied by
  hand. The README's relative links are rewritten: `notebooks/NN_name.ipynb` stays (it is the page of that
  notebook on the site), anything else points at the file on GitHub; badge images become plain links, since their
  pictures live on other hosts.
- notebooks/NN_name.ipynb: solutions/NN_name.ipynb as stored, never executed. Kept under notebooks/ so that the
  README's links land on them and Jupyter Book's Colab and Binder buttons open notebooks/NN_name.ipynb of the
  repository: the learner version, where the exercises are to do. The first cell's badges (which open the
  solution) give way to a line linking the learner version on GitHub; widget outputs become their last state
  (text and the figures they hold), since the widgets' JavaScript would come from a CDN and has no kernel here.
- _config.yml and _toc.yml, written from tools/launch.py's REPOSITORY and BRANCH, so the address is never typed
  twice; MathJax 3 from the sphinx-mathjax-offline package, served with the site (Sphinx's default loads
  MathJax from a CDN, which offline builds and readers cannot reach).
The build treats every Sphinx warning as an error.
"""
import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

from . import launch
from .build import ROOT

DEFAULT_OUT = ROOT / "_site"
# The README's sections that become pages of their own: file name -> the section's title in README.md.
PAGES = {"setup": "Setup (two commands)", "leaderboard": "Leaderboard", "instructors": "Instructor guide"}
COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class BuildError(Exception):
    pass


def learner_path(name):
    return f"notebooks/{name}"


def github_url(path):
    return f"{launch.REPOSITORY}/blob/{launch.BRANCH}/{path}"


# ---- the README's sections ----------------------------------------------------------------------------------------

def readme_section(title, readme):
    """The body of README's `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    if not match:
        raise BuildError(f"README.md has no section '## {title}'")
    return match.group(1).strip() + "\n"


def site_links(markdown):
    """The README's links, made to work on the site: badge images become text links (their pictures are on other
    hosts), links to notebooks/ stay (they are pages here), other relative links and anchors go to GitHub."""
    markdown = re.sub(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)\s]+)\)", r"[\1](\2)", markdown)

    def rewrite(match):
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:", target) or re.fullmatch(r"notebooks/\d\d_\w+\.ipynb", target):
            return match.group(0)
        if target.startswith("#"):
            return f"[{text}]({launch.REPOSITORY}{target})"
        return f"[{text}]({github_url(target)})"
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", rewrite, markdown)


def promoted_headings(markdown):
    """`### x` -> `## x` outside code fences, so that a section under its own page title keeps its levels."""
    lines, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{2,6} ", line):
            line = line[1:]
        lines.append(line)
    return "".join(lines)


def pages(readme):
    """{file name: MyST text} for the home page and the README's other sections."""
    title, _, rest = readme.partition("\n")
    intro = rest.split("\n## ", 1)[0].strip()
    home = (f"{title}\n\n{intro}\n\n"
            "Each notebook's page here is the complete notebook, with the outputs it printed and drew. The launch "
            "buttons at the top of a page (the rocket) open the learner version, with the exercises to do, on "
            "Colab or Binder.\n\n"
            f"## Syllabus\n\n{readme_section('Syllabus', readme)}")
    texts = {"index.md": home}
    for name, section in PAGES.items():
        texts[f"{name}.md"] = f"# {section}\n\n{promoted_headings(readme_section(section, readme))}"
    return {name: site_links(text) for name, text in texts.items()}


# ---- the notebooks -----------------------------------------------------------------------------------------------

def widget_outputs(output, state):
    """A widget's output as static outputs: its text (labels, values, a progress bar's counts) as one line, then
    what its Output widgets hold (figures). The widgets' JavaScript would need a CDN and a kernel."""
    texts, held = [], []

    def walk(model_id):
        model = state.get(model_id.replace("IPY_MODEL_", ""))
        if model is None:
            return
        name, values = model["model_name"], model["state"]
        if name in ("HTMLModel", "LabelModel", "HTMLMathModel"):
            texts.append(html.unescape(re.sub(r"<[^>]+>", "", values.get("value", ""))))
        elif name == "OutputModel":
            held.extend(values.get("outputs", []))
        elif "Progress" not in name and values.get("description"):  # a control: its setting as stored
            labels, index = values.get("_options_labels"), values.get("index")
            value = labels[index] if labels and isinstance(index, int) else values.get("value")
            texts.append(f"{values['description']}: {value} (a control: launch the notebook to change it)")
        for child in values.get("children", []):
            walk(child)

    walk(output["data"][WIDGET_VIEW]["model_id"])
    line = " ".join(" ".join(texts).replace("\u2007", " ").split())
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")] if line else []
    return outputs + [nbformat.from_dict(held_output) for held_output in held]


def display_math_as_blocks(markdown):
    """A blank line around each `$$` display. Jupyter renders a display inside a paragraph; MyST reads one as a
    block only when it stands alone, and inside a paragraph it pairs the dollars wrongly after a display ends."""
    lines, fenced, in_math = [], False, False
    for line in markdown.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        elif not fenced and not in_math and stripped.startswith("$$"):  # a display opens
            if lines and lines[-1].strip():
                lines.append("")
            in_math = not (len(stripped) >= 4 and stripped.endswith("$$"))  # else it closes on the same line
            lines += [line] if in_math else [line, ""]
            continue
        elif in_math and stripped.endswith("$$"):  # it closes
            lines += [line, ""]
            in_math = False
            continue
        lines.append(line)
    return "\n".join(lines)


def site_notebook(path):
    """solutions/NN_name.ipynb as its page shows it: outputs as stored, badges and widgets made static."""
    notebook = nbformat.read(path, as_version=4)
    learner = learner_path(path.name)
    note = (f"*This page is the complete notebook with its outputs. The learner version, with the exercises to do, "
            f"is [{learner}]({github_url(learner)}) on GitHub; the launch buttons at the top of this page (the "
            f"rocket) open it on Colab or Binder.*")
    first = notebook.cells[0]
    if launch.BADGE_LINE.search(first.source):
        first.source = launch.BADGE_LINE.sub(lambda _: note, first.source, count=1)
    else:
        title, _, rest = first.source.partition("\n")
        first.source = f"{title}\n\n{note}\n{rest}"
    state = notebook.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = display_math_as_blocks(cell.source)
        if cell.cell_type == "code":
            cell.outputs = [static for output in cell.outputs
                            for static in (widget_outputs(output, state) if WIDGET_VIEW in output.get("data", {})
                                           else [output])]
    return notebook


# ---- the book ----------------------------------------------------------------------------------------------------

def config(title):
    from jupyter_book.config import get_default_sphinx_config  # imported here: tools.site imports without it
    return {
        "title": title,
        "author": launch.github_path().split("/")[0],
        "copyright": "",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},  # the stored outputs are the site: nothing runs
        # $$ ... $$ inside a paragraph is display math, as in Jupyter: the notebooks write it so.
        "parse": {"myst_enable_extensions": ["dollarmath", "amsmath", "colon_fence"], "myst_dmath_double_inline": True},
        "html": {"use_repository_button": True, "home_page_in_navbar": True, "baseurl": launch.site_url()},
        "launch_buttons": {"colab_url": COLAB, "binderhub_url": BINDER, "notebook_interface": "jupyterlab"},
        "repository": {"url": launch.REPOSITORY, "branch": launch.BRANCH, "path_to_book": ""},
        "sphinx": {"recursive_update": True, "config": {  # merged into Jupyter Book's own settings
            # Jupyter Book's extensions less sphinx-thebe (live code on Binder, unused here), which writes its
            # settings into every page twice under Sphinx 7, a script error in the browser's console; plus
            # sphinx-mathjax-offline, which serves MathJax 3.2.2 with the site (its files are npm's mathjax@3.2.2,
            # byte for byte) where Sphinx would load it from a CDN that offline readers and builds cannot reach.
            "extensions": [name for name in get_default_sphinx_config()["extensions"] if name != "sphinx_thebe"]
                          + ["sphinx-mathjax-offline"],
            # The theme's light or dark mode follows the reader's system; unset, the theme logs an error in the
            # browser's console on a first visit.
            "html_context": {"default_mode": "auto"},
            "nb_merge_streams": True,
        }},
    }


def toc(notebooks):
    return {"format": "jb-book", "root": "index", "parts": [
        {"caption": "Notebooks", "chapters": [{"file": f"notebooks/{path.stem}"} for path in notebooks]},
        {"caption": "The course", "chapters": [{"file": name} for name in PAGES]},
    ]}


def write_source(source):
    """The book's source tree, in ``source``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, text in pages(readme).items():
        (source / name).write_text(text, encoding="utf-8")
    notebooks = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    (source / "notebooks").mkdir()
    for path in notebooks:
        nbformat.write(site_notebook(path), source / "notebooks" / path.name)
    title = readme.partition("\n")[0].lstrip("# ").strip()
    (source / "_config.yml").write_text(yaml.safe_dump(config(title), sort_keys=False), encoding="utf-8")
    (source / "_toc.yml").write_text(yaml.safe_dump(toc(notebooks), sort_keys=False), encoding="utf-8")


def build(out):
    """Build the site into ``out`` (replacing a site built there before) and return ``out``."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / ".buildinfo").exists():
        raise BuildError(f"{out} is not empty and holds no site built before: not replacing it")
    with tempfile.TemporaryDirectory(prefix="course-site-") as scratch:
        source = Path(scratch) / "book"
        source.mkdir()
        write_source(source)
        command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source),
                   "--path-output", scratch, "--warningiserror", "--keep-going", "--all", "--quiet"]
        # Sphinx's warnings go to stderr and show as they come; Jupyter Book's banner on stdout names the scratch
        # folder, so it is shown only if the build fails.
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if result.returncode != 0:
            print(result.stdout, file=sys.stderr)
            raise BuildError(f"the site's build failed (exit {result.returncode}): see the warnings above")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(Path(scratch) / "_build" / "html", out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the site goes (default: _site/)")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"The site is in {out}: open {out / 'index.html'}, or serve it: python -m http.server -d {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
