"""Build, from solutions/, a student release (what learners get) and an autograder bundle (what grading needs).

    python -m tools.release OUT [--repository URL] [--force]
    python -m tools.release --verify OUT/autograder

OUT/student/: notebooks/, utils/, data/README.md, requirements.txt and a README.md for learners, nothing else.
The exercise checks (utils/checks_*.py) and the reference solutions (utils/reference/nb*.py) are sealed (see
utils/sealed.py): a stuck learner's check still falls back on the reference, but no solution code lies there as
plain text. --repository is the address the student tree will be published at (its default branch: the setup
cell clones the default branch); every Colab and Binder badge and the setup cell's clone address point there.
Without it they keep the course's own address, and Colab would clone the full course, answers included.

OUT/autograder/: tools/ (the grader, and tools/hidden/ whatever it holds), utils/ (plain), notebooks/ (the same
learner notebooks), requirements.txt, requirements-dev.txt, README.md, data/README.md and MANIFEST.json (the sha256
of every file). Grade there: ``cd OUT/autograder && python -m tools.grade SUBMISSIONS --out gradebook.csv``.
``--verify`` checks a bundle against its manifest and names every changed, missing and extra file.

Notebooks and references are generated in memory from solutions/ (tools.build), never read from notebooks/ or
utils/reference/ on disk, which may be stale.
"""
import argparse
import contextlib
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

from . import build, launch
from utils.sealed import SUFFIX, seal

STUDENT_ENTRIES = ["README.md", "data", "notebooks", "requirements.txt", "utils"]
AUTOGRADER_ENTRIES = ["MANIFEST.json", "README.md", "data", "instructors", "notebooks", "requirements-dev.txt",
                      "requirements.txt", "tools", "utils"]  # instructors/: misconceptions, discussion answers
SEALED_GLOBS = ["checks_*.py", "reference/nb*.py"]  # inside utils/: the answers, and the oracles that hint at them
BYPRODUCTS = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
MANIFEST = "MANIFEST.json"

# The student README keeps the course README's title and introduction, the syllabus table, how to launch on
# Colab, the set-up and the data sections; a sentence (or a parenthesis) naming what the student tree does not
# ship is dropped.
STUDENT_SECTIONS = ["Syllabus", "Launch in one click", "Setup (two commands)", "Offline data"]
# How the course picks torch's threads, and what its tests cover: long, and not a learner's concern.
DROPPED_PARAGRAPHS = ("**CPU threads.**", "What is tested offline")
NOT_SHIPPED = re.compile(r"solutions/|tools[/.]|tests/|test_\w+\.py|requirements-dev|\.ci/|binder/|runtime\.txt|"
                         r"nbgrader|[Ii]nstructor|contributor")
GENERATED_BLOCK = re.compile(r"<!-- (?!end).*?-->.*?<!-- end of .*?-->\n?", re.S)  # benchmark's tables, and so on
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*`(])")

SEALING_NOTE = """## The checks, and the `.sealed` files

Each exercise's check cell tests your function, gives its points and a hint that names the mistake, and when it
does not pass, lets the rest of the notebook carry on with the course's reference implementation. Those checks
and reference implementations ship *sealed*: `utils/checks_*.py` and `utils/reference/nb*.py` are three-line
stubs, and the code they run lies beside them in `.sealed` files, compressed and scrambled (`utils/sealed.py`
says how). This is obscurity, not security: anyone can decode them with a few lines of Python. It is there so
that the answers are not read or pasted by accident. Grading does not depend on it: the grader has its own copy, spots
pasted reference code, and grades with checks of its own. You learn more from a hint than from the answer.
"""


class ReleaseError(ValueError):
    pass


@contextlib.contextmanager
def published_at(repository):
    """tools.launch's functions, pointed at ``repository`` for the duration (launch keeps its address in a global)."""
    saved = launch.REPOSITORY
    launch.REPOSITORY = repository
    try:
        launch.github_path()  # raises on an address that is not https://github.com/OWNER/NAME
        yield
    finally:
        launch.REPOSITORY = saved


COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/([^)\s]+)")
BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/[^?\s]+\?urlpath=lab/tree/([^)\s]+)")


def relinked(text):
    """``text`` with every Colab and Binder link pointing at launch.REPOSITORY (same notebook path)."""
    text = COLAB_LINK.sub(lambda link: launch.colab_url(link.group(1)), text)
    return BINDER_LINK.sub(lambda link: launch.binder_url(link.group(1)), text)


def learner_notebooks(root):
    """{file name: text} of the learner notebooks, built from solutions/ now, with badges and the setup cell's
    clone address for launch.REPOSITORY."""
    notebooks = {}
    for path, text in build.expected_outputs(root).items():
        if path.parent == root / "notebooks":
            notebook = launch.with_badges(nbformat.reads(text, as_version=4), f"notebooks/{path.name}")
            for cell in notebook.cells:
                if cell.cell_type == "markdown":
                    cell.source = relinked(cell.source)
            notebooks[path.name] = nbformat.writes(notebook) + "\n"
    return notebooks


def reference_modules(root):
    """{file name: source} of utils/reference/nb*.py, built from solutions/ now."""
    reference = root / "utils" / "reference"
    return {path.name: text for path, text in build.expected_outputs(root).items() if path.parent == reference}


def copy_utils(root, target):
    """utils/ with the references freshly built (stale or stray nb*.py on disk are not copied)."""
    def ignore(folder, names):
        in_reference = Path(folder).name == "reference"
        stale = {n for n in names if in_reference and n.startswith("nb") and n.endswith(".py")}
        return BYPRODUCTS(folder, names) | stale

    shutil.copytree(root / "utils", target, ignore=ignore)
    for name, source in reference_modules(root).items():
        (target / "reference" / name).write_text(source, encoding="utf-8")


def seal_modules(utils_dir):
    """Replace each module matched by SEALED_GLOBS with a stub that runs its sealed source (utils/sealed.py)."""
    sealed = []
    for pattern in SEALED_GLOBS:
        for path in sorted(utils_dir.glob(pattern)):
            parent = "." * len(path.relative_to(utils_dir).parts)  # "." in utils/, ".." in utils/reference/
            path.with_suffix(SUFFIX).write_bytes(seal(path.read_text(encoding="utf-8"), path.stem))
            path.write_text(f'"""{path.stem}, sealed: its code is in {path.stem}{SUFFIX}, run on import by '
                            f'utils/sealed.py (which says how, and what this is worth)."""\n'
                            f"from {parent}sealed import unseal as _unseal\n"
                            "_unseal(globals())\n", encoding="utf-8")
            sealed.append(path)
    return sealed


def _without_unshipped(block):
    if block.lstrip().startswith(DROPPED_PARAGRAPHS):
        return ""
    if block.lstrip().startswith(("|", "```", "<!--")):  # a table or code: keep or drop whole
        return "" if NOT_SHIPPED.search(block) else block
    block = re.sub(r" ?\([^()]*\)", lambda p: "" if NOT_SHIPPED.search(p.group(0)) else p.group(0), block)
    return " ".join(s for s in SENTENCE_END.split(block) if not NOT_SHIPPED.search(s))


def student_readme(course_readme):
    """The learner's README: see STUDENT_SECTIONS. Links are rewritten by the caller."""
    text = GENERATED_BLOCK.sub("", course_readme)
    preamble, *sections = re.split(r"^(?=## )", text, flags=re.M)
    kept = [preamble.strip()]
    for section in sections:
        heading, _, body = section.partition("\n")
        if heading[3:].strip() not in STUDENT_SECTIONS:
            continue
        # Blocks split at blank lines: this README's code fences hold none.
        blocks = [_without_unshipped(block) for block in re.split(r"\n\s*\n", body.strip())]
        kept.append(heading + "\n\n" + "\n\n".join(b for b in blocks if b.strip()))
    return "\n\n".join(kept + [SEALING_NOTE.strip()]) + "\n"


def write_student(root, out, notebooks):
    out.mkdir(parents=True)
    (out / "notebooks").mkdir()
    for name, text in notebooks.items():
        (out / "notebooks" / name).write_text(text, encoding="utf-8")
    copy_utils(root, out / "utils")
    seal_modules(out / "utils")
    (out / "data").mkdir()
    shutil.copy2(root / "data" / "README.md", out / "data" / "README.md")
    shutil.copy2(root / "requirements.txt", out / "requirements.txt")
    readme = relinked(student_readme((root / "README.md").read_text(encoding="utf-8")))
    (out / "README.md").write_text(readme, encoding="utf-8")


def write_autograder(root, out, notebooks):
    out.mkdir(parents=True)
    shutil.copytree(root / "tools", out / "tools", ignore=BYPRODUCTS)  # tools/hidden/ too, whatever it holds
    copy_utils(root, out / "utils")
    (out / "notebooks").mkdir()
    for name, text in notebooks.items():
        (out / "notebooks" / name).write_text(text, encoding="utf-8")
    (out / "data").mkdir()
    for name in ["README.md", "requirements.txt", "requirements-dev.txt", "data/README.md"]:
        shutil.copy2(root / name, out / name)
    (out / MANIFEST).write_text(json.dumps({"sha256": digests(out)}, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")


def _is_byproduct(relative):
    """What running the bundle leaves behind and the manifest ignores: bytecode, notebook checkpoints, and the
    dataset cache under data/ (its README is checked)."""
    parts = relative.split("/")
    return (bool({"__pycache__", ".ipynb_checkpoints"} & set(parts)) or relative.endswith(".pyc")
            or (parts[0] == "data" and relative != "data/README.md"))


def digests(folder):
    """{path relative to folder: sha256} of every file but the manifest and the byproducts."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative != MANIFEST and not _is_byproduct(relative):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def verify(folder):
    """(changed, missing, extra) file lists of a bundle against its MANIFEST.json."""
    folder = Path(folder)
    expected = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["sha256"]
    actual = digests(folder)
    changed = sorted(p for p in expected if p in actual and actual[p] != expected[p])
    missing = sorted(p for p in expected if p not in actual)
    extra = sorted(p for p in actual if p not in expected)
    return changed, missing, extra


def release(out, repository=None, force=False, root=build.ROOT):
    out = Path(out).resolve()
    for inside in (root / "utils", root / "tools", root / "solutions", root / "notebooks"):
        if out == inside or inside in out.parents:
            raise ReleaseError(f"{out} is inside {inside}, which the release reads.")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out} is not empty: choose another folder, or pass --force to replace its "
                               "student/ and autograder/.")
        for name in ("student", "autograder"):
            shutil.rmtree(out / name, ignore_errors=True)
    with published_at(repository or launch.REPOSITORY):
        notebooks = learner_notebooks(root)
        write_student(root, out / "student", notebooks)
        write_autograder(root, out / "autograder", notebooks)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write student/ and autograder/ into (or, with --verify, "
                                                "the autograder bundle to check)")
    parser.add_argument("--repository", help="https://github.com/OWNER/NAME where the student tree is published")
    parser.add_argument("--force", action="store_true", help="replace student/ and autograder/ in a non-empty OUT")
    parser.add_argument("--verify", action="store_true", help="check a bundle against its MANIFEST.json")
    args = parser.parse_args(argv)
    if args.verify:
        if not (args.out / MANIFEST).is_file():
            parser.error(f"{args.out / MANIFEST} not found: is {args.out} an autograder bundle?")
        changed, missing, extra = verify(args.out)
        for label, paths in (("changed", changed), ("missing", missing), ("extra", extra)):
            for path in paths:
                print(f"{label}: {path}")
        print("bundle intact" if not (changed or missing or extra) else f"bundle NOT intact: {args.out}")
        return 1 if changed or missing or extra else 0
    if args.repository is None:
        print(f"warning: no --repository, so the student notebooks' Colab and Binder badges and their setup cell "
              f"keep the course's address, {launch.REPOSITORY}: on Colab they would clone the full course, "
              "answers included. Pass the address the student tree will be published at.", file=sys.stderr)
    try:
        out = release(args.out, args.repository.rstrip("/").removesuffix(".git") if args.repository else None,
                      args.force)
    except (ReleaseError, ValueError) as problem:
        parser.error(str(problem))
    print(f"wrote {out / 'student'} (for learners) and {out / 'autograder'} (for grading; "
          f"check it with `python -m tools.release --verify {out / 'autograder'}`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
