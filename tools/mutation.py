"""Mutation testing of the exercise checks: does each check reject the plausible slips that a mutation tool makes in
the course's reference solutions, and does its hint name them? A script, not a test (it runs every check hundreds of
times: about 20 s on a 2-core CPU for the whole course, the design tasks being left out).

    python -m tools.mutation                      # every exercise, a table per exercise on stdout
    python -m tools.mutation --only 03 05:jacobian_penalty
    python -m tools.mutation --write              # also instructors/mutation_testing.md and the README's table

The mutants come from Cosmic Ray (``cosmic_ray.mutating.mutate_code``), restricted to the operators below, which
stand for slips a learner makes: a sign or an operator swapped (``+``/``-``, ``*``/``/``, ``**``/``*``, ``/``/``//``), a
comparison off by its edge or turned round, a number off by one, a minus dropped, ``True``/``False``, ``and``/``or``,
a loop that never runs. Each mutant is one change inside the reference function of one exercise
(``utils/reference/nbNN_*.py``): the whole reference module is executed with that change (so helpers that call the
function see it too) and the function is handed to the exercise's public check, and where that passes, to its hidden
check (``tools/hidden/``), each under a time limit. A mutant is

- **killed, named**: the public check rejects it with a hint that names a mistake (a ``Mistake``);
- **killed, restated**: rejected with a hint that only restates what is expected (an ``Unrecognised``);
- **killed, crash**: the mutant's own code raised (the learner sees the exception and their line);
- **killed, hidden**: the public check passed it, the hidden check (grading only) rejected it;
- **killed, timeout**: it ran past the time limit;
- **survived**: both checks passed it. Every survivor must be triaged in ``tools/equivalent_mutants/`` as an
  equivalent mutant (it computes the same thing, or something the exercise's contract allows), with the reason;
  an untriaged survivor is a missing check.

Design tasks are left out: their check accepts any design that meets the targets, so a mutant of the reference design
is another design, not a mistake. A question's mutants are other answers (a number off by one, True for False). The score is killed ÷ (mutants − equivalent).
"""
import argparse
import ast
import importlib
import re
import signal
import sys
import time
import types
from dataclasses import dataclass

import nbformat
import torch

from tools import build, equivalent_mutants
from utils import checks as course_checks
from utils.checks import Exercise

import cosmic_ray.mutating  # noqa: E402,I001 - before cosmic_ray.plugins: the other order is a circular import
import cosmic_ray.plugins  # noqa: E402
from cosmic_ray.ast import ast_nodes, get_ast  # noqa: E402

ROOT = build.ROOT
REPORT = ROOT / "instructors" / "mutation_testing.md"
TIME_LIMIT = 60  # seconds per check and mutant; a mutant that loops for ever is killed by it

# The plausible slips (Cosmic Ray's operator names), see the module docstring.
_BINARY = [("Add", "Sub"), ("Sub", "Add"), ("Mul", "Div"), ("Div", "Mul"), ("Pow", "Mul"), ("Mul", "Pow"),
           ("FloorDiv", "Div"), ("Div", "FloorDiv"), ("Mod", "FloorDiv")]
_COMPARISON = [("Lt", "LtE"), ("LtE", "Lt"), ("Gt", "GtE"), ("GtE", "Gt"), ("Lt", "Gt"), ("Gt", "Lt"),
               ("Eq", "NotEq"), ("NotEq", "Eq"), ("Is", "IsNot"), ("IsNot", "Is")]
OPERATORS = ([f"core/ReplaceBinaryOperator_{a}_{b}" for a, b in _BINARY]
             + [f"core/ReplaceComparisonOperator_{a}_{b}" for a, b in _COMPARISON]
             + ["core/ReplaceUnaryOperator_Delete_USub", "core/ReplaceUnaryOperator_USub_UAdd", "core/NumberReplacer",
                "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue", "core/ReplaceAndWithOr",
                "core/ReplaceOrWithAnd", "core/ZeroIterationForLoop", "core/AddNot"])

# Survivors judged equivalent, per check module in tools/equivalent_mutants/: (reference function, the mutated line
# after the change, stripped) -> why.
TRIAGE = equivalent_mutants.load()


@dataclass
class Mutant:
    function: str
    operator: str
    line: int
    before: str
    after: str
    source: str


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # "named", "restated", "crash", "hidden", "timeout", "survived", "equivalent"
    message: str = ""


def course_exercises():
    """(notebook stem, check module name, Exercise) for every exercise, in notebook order."""
    found = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        module = next(m.group(1) for cell in notebook.cells if (m := build.CHECK_IMPORT.search(cell.source)))
        checks = importlib.import_module(f"utils.{module}")
        exercises = [value for value in vars(checks).values() if isinstance(value, Exercise)]
        for exercise in sorted(exercises, key=lambda e: int(e.key) if e.key.isdigit() else 10**9):
            found.append((path.stem, module, exercise))
    return found


def definition_lines(source, name):
    """The first and last line of the top-level function or class ``name``, or of the assignment of a question's
    answer (``name = value``)."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return first, node.end_lineno
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.lineno, node.end_lineno
    raise LookupError(f"no top-level definition of {name}")


def mutants_of(source, name):
    """Every mutant of the definition ``name`` in ``source`` that the operators make."""
    first, last = definition_lines(source, name)
    module_ast = get_ast(source)
    original_lines = source.splitlines()
    found = []
    for operator_name in OPERATORS:
        operator = cosmic_ray.plugins.get_operator(operator_name)()
        positions = [start for node in ast_nodes(module_ast) for start, _ in operator.mutation_positions(node)]
        for occurrence, (line, _) in enumerate(positions):
            if not first <= line <= last:
                continue
            mutated = cosmic_ray.mutating.mutate_code(source, operator, occurrence)
            if mutated is None or mutated == source:
                continue
            mutated_lines = mutated.splitlines()
            if len(mutated_lines) != len(original_lines):
                continue  # never seen with these operators: one change, one line
            found.append(Mutant(name, operator_name.split("/", 1)[1], line, original_lines[line - 1].strip(),
                                mutated_lines[line - 1].strip(), mutated))
    return found


class _TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise _TimeLimit()


def _within_limit(call):
    """call() under TIME_LIMIT seconds; returns its value, or raises _TimeLimit."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT)
    try:
        return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def load_mutant(mutant, module_name):
    """The mutated reference function, from the whole reference module executed with the change."""
    module = types.ModuleType(f"utils.reference.{module_name}")
    module.__file__ = f"<mutant of {mutant.function}, line {mutant.line}>"
    exec(compile(mutant.source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the course's own code
    return getattr(module, mutant.function)


def judge(exercise, hidden_check, mutant, module_name):
    """The Outcome of one mutant."""
    triaged = TRIAGE.get((mutant.function, mutant.after))
    try:
        candidate = load_mutant(mutant, module_name)
    except Exception as error:  # noqa: BLE001 - a mutant that cannot even be defined is caught at once
        return Outcome(mutant, "crash", f"{type(error).__name__}: {error}")
    try:
        result = _within_limit(lambda: exercise.run(candidate))
    except _TimeLimit:
        return Outcome(mutant, "timeout")
    if result.status == "failed":
        return Outcome(mutant, "named" if result.named else "restated", result.message)
    if result.status == "error":
        return Outcome(mutant, "crash", result.message)
    if result.status != "passed":
        return Outcome(mutant, "crash", result.message)
    if hidden_check is not None:
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)  # as the judge seeds it
                _within_limit(lambda: hidden_check(candidate))
        except _TimeLimit:
            return Outcome(mutant, "timeout")
        except course_checks.Mistake as mistake:
            return Outcome(mutant, "hidden", str(mistake))
        except Exception as error:  # noqa: BLE001
            return Outcome(mutant, "hidden", f"{type(error).__name__}: {error}")
    if triaged:
        return Outcome(mutant, "equivalent", triaged)
    return Outcome(mutant, "survived")


def selected(stem, function, only):
    if not only:
        return True
    return any(stem.startswith(item.split(":")[0]) and (":" not in item or item.split(":", 1)[1] == function)
               for item in only)


def run(only=(), progress=print):
    """{(notebook stem, exercise key, function): [Outcome]} for every exercise selected."""
    results = {}
    for stem, module, exercise in course_exercises():
        module_name, function = exercise.reference.rsplit(".", 1)
        if exercise.kind == "design" or not selected(stem, function, only):
            continue
        source = (ROOT / "utils" / "reference" / f"{module_name}.py").read_text(encoding="utf-8")
        try:
            hidden = getattr(importlib.import_module(f"tools.hidden.{module}"), exercise.test.__name__, None)
        except ImportError:
            hidden = None
        start = time.perf_counter()
        outcomes = [judge(exercise, hidden, mutant, module_name) for mutant in mutants_of(source, function)]
        results[(stem, exercise.key, function)] = outcomes
        progress(f"{stem} exercise {exercise.key} ({function}): {len(outcomes)} mutants, "
                 f"{score_line(outcomes)} in {time.perf_counter() - start:.0f} s")
    return results


KILLED = ("named", "restated", "crash", "hidden", "timeout")


def tally(outcomes):
    counts = {verdict: 0 for verdict in KILLED + ("survived", "equivalent")}
    for outcome in outcomes:
        counts[outcome.verdict] += 1
    return counts


def score_line(outcomes):
    counts = tally(outcomes)
    killed = sum(counts[v] for v in KILLED)
    scored = len(outcomes) - counts["equivalent"]
    return f"{killed}/{scored} killed" + (f", {counts['survived']} survived" if counts["survived"] else "")


def _header(second):
    """The score table's two header lines; its second column names the exercise, or counts a notebook's."""
    columns = ["notebook", second, "mutants", "equivalent", "killed", "score", "named hint", "restated", "crash",
               "hidden check only", "timeout", "survived"]
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def table(results):
    """Markdown: one row per exercise, then the course's totals."""
    rows = _header("exercise")
    total = []
    for (stem, key, function), outcomes in results.items():
        total += outcomes
        rows.append(_row(f"{stem[:2]}", f"{key} `{function}`", outcomes))
    rows.append(_row("all", "", total))
    return "\n".join(rows)


def notebook_table(results):
    """Markdown for the README: one row per notebook (its exercises together), then the course's totals; the table
    per exercise is in instructors/mutation_testing.md."""
    rows = _header("exercises")
    by_notebook, total = {}, []
    for (stem, key, function), outcomes in results.items():
        by_notebook.setdefault(stem, []).append(outcomes)
    for stem, groups in by_notebook.items():
        outcomes = [outcome for group in groups for outcome in group]
        total += outcomes
        rows.append(_row(stem[:2], str(len(groups)), outcomes))
    rows.append(_row("all", str(len(results)), total))
    return "\n".join(rows)


def _row(notebook, exercise, outcomes):
    counts = tally(outcomes)
    killed = sum(counts[v] for v in KILLED)
    scored = len(outcomes) - counts["equivalent"]
    rejected = counts["named"] + counts["restated"]
    named = f"{counts['named']} ({counts['named'] / rejected:.0%})" if rejected else "–"
    score = f"{killed / scored:.1%}" if scored else "–"
    return (f"| {notebook} | {exercise} | {len(outcomes)} | {counts['equivalent']} | {killed} | {score} | {named} | "
            f"{counts['restated']} | {counts['crash']} | {counts['hidden']} | {counts['timeout']} | "
            f"{counts['survived']} |")


def report(results, seconds):
    """instructors/mutation_testing.md: the table, then every equivalent and surviving mutant, and a sample of the
    restated hints (each a place where a check could name the mistake)."""
    lines = ["# Mutation testing of the exercise checks", "",
             f"Generated by `python -m tools.mutation --write` ({time.strftime('%Y-%m-%d')}, torch "
             f"{torch.__version__.split('+')[0]}, {seconds:.0f} s on a 2-core CPU). How the mutants are made and what each "
             "column means: the docstring of `tools/mutation.py`.", "", table(results), ""]
    for title, verdict in [("Equivalent mutants", "equivalent"), ("Surviving mutants (missing checks)", "survived"),
                           ("Killed with a hint that restates the contract", "restated")]:
        found = [o for outcomes in results.values() for o in outcomes if o.verdict == verdict]
        lines += [f"## {title} ({len(found)})", ""]
        for outcome in found:
            m = outcome.mutant
            why = f": {outcome.message.splitlines()[-1].strip()}" if outcome.message else ""
            lines.append(f"- `{m.function}`, line {m.line}, {m.operator}: `{m.before}` → `{m.after}`{why}")
        lines.append("")
    return "\n".join(lines)


SCORE_BEGIN = "<!-- mutation score: generated by `python -m tools.mutation --write` -->"
SCORE_END = "<!-- end of mutation score -->"


def write_readme(results):
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if SCORE_BEGIN not in text or SCORE_END not in text:
        raise SystemExit(f"README.md has no markers for the mutation score: add\n{SCORE_BEGIN}\n{SCORE_END}")
    block = f"{SCORE_BEGIN}\n{notebook_table(results)}\n{SCORE_END}"
    readme.write_text(re.sub(re.escape(SCORE_BEGIN) + ".*?" + re.escape(SCORE_END), lambda _: block, text,
                             flags=re.S), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=(), metavar="NN[:function]",
                        help="notebooks (01) or exercises (05:jacobian_penalty) to mutate; default: all")
    parser.add_argument("--write", action="store_true",
                        help="write instructors/mutation_testing.md and the README's score table (all exercises only)")
    parser.add_argument("--list", action="store_true", help="print every survivor and restated hint")
    args = parser.parse_args(argv)
    if args.write and args.only:
        parser.error("--write needs every exercise: leave out --only")
    start = time.perf_counter()
    results = run(args.only)
    print("\n" + table(results))
    text = report(results, time.perf_counter() - start)
    if args.list:
        print("\n" + text.split("\n## ", 1)[1] if "\n## " in text else "")
    if args.write:
        REPORT.write_text(text, encoding="utf-8")
        write_readme(results)
        print(f"\nwrote {REPORT.relative_to(ROOT)} and the README's table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
