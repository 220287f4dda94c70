"""The judge: runs one submission's solution cells and the course's checks on them, in a process of its own.

    python -I tools/judge.py JOB_JSON RESULTS_FD      (started confined by tools/grade.py; the nonce arrives on stdin)

The learner's notebook kernel never decides points. This fresh interpreter, confined like the kernel, does, in this
order, so that everything the checks rely on is in place before any learner code runs:
1. it reads a secret nonce from stdin and closes stdin, then imports torch, the course's checks, the references and
   the hidden checks (all of them now: nothing is imported later from files the learner could have changed);
2. it records every attribute of the modules and classes the checks use (builtins, torch, Tensor, nn.Module,
   the optimisers, math, the course's modules, …), keeping the objects themselves;
3. it runs the course's import cells and then the learner's solution cells, each alone, in one namespace (cells
   the grader's screen refused are not run at all);
4. for each exercise: the public check, then the hidden check, each under a time limit; then it compares every
   recorded attribute with what it holds now. A replaced or deleted attribute (a patched ``torch.allclose``, a
   method added to ``torch.Tensor``, a rewritten check) makes the exercise, and every one after it, ``tampered``;
5. it writes one JSON line per exercise, carrying the nonce, to the pipe the grader gave it, as soon as that
   exercise is decided (a later hang or crash loses only what comes after), and ends with a ``done`` line.

Limits (honest): this is one Python interpreter, and Python has no true sandbox. What keeps learner code from the
judge's state is the grader's static screen (no imports of the interpreter's machinery, no dunder or private
attribute access, no reflection builtins, no file functions) together with these run-time comparisons and the
nonce; a way around all three would need a hole in each. The instructor sees every refused or tampered row.
"""
import json
import os
import signal
import sys


class OutOfTime(BaseException):  # a BaseException: a learner's `except Exception` cannot swallow it
    pass


def _out_of_time(signum, frame):
    raise OutOfTime()


def watched():
    """The objects whose attributes the checks rely on, as (label, object, whether new attributes count)."""
    import builtins
    import copy
    import math
    import numbers

    import torch
    import torch.nn.functional as F
    from torch import nn

    watched = [("builtins", builtins, False), ("math", math, False), ("numbers", numbers, False),
               ("copy", copy, False), ("json", json, False), ("os", os, False), ("sys", sys, False),
               ("torch", torch, False), ("torch.nn.functional", F, False), ("torch.linalg", torch.linalg, False),
               ("torch.autograd", torch.autograd, False), ("torch.random", torch.random, False),
               ("torch.func", torch.func, False), ("torch.distributions", torch.distributions, False),
               ("torch.Tensor", torch.Tensor, True), ("torch.nn.Module", nn.Module, True),
               ("torch.nn.Parameter", nn.Parameter, True), ("torch.optim.Optimizer", torch.optim.Optimizer, True),
               ("torch.optim.SGD", torch.optim.SGD, True), ("torch.optim.Adam", torch.optim.Adam, True)]
    watched += [(name, module, False) for name, module in sorted(sys.modules.items())
                if name == "utils" or name.startswith(("utils.", "tools.hidden"))]
    return watched


def snapshot(objects):
    return {(label, key): value for label, obj, _ in objects for key, value in list(vars(obj).items())}


def changes(objects, before):
    """What was replaced, deleted, or (on a class) added since ``before``: a short list of names."""
    found = []
    now = snapshot(objects)
    for (label, key), value in before.items():
        if (label, key) not in now:
            found.append(f"{label}.{key} deleted")
        elif now[(label, key)] is not value:
            found.append(f"{label}.{key} replaced")
    strict = {label for label, _, new_counts in objects if new_counts}
    found += [f"{label}.{key} added" for (label, key) in now if label in strict and (label, key) not in before]
    return found


def main(job_path, results_fd):
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    os.close(0)
    results = os.fdopen(int(results_fd), "w", buffering=1)

    def send(**line):
        results.write(json.dumps({"nonce": nonce, **line}) + "\n")
        results.flush()

    with open(job_path, encoding="utf-8") as file:
        job = json.load(file)
    sys.path.insert(0, job["root"])
    signal.signal(signal.SIGALRM, _out_of_time)

    import importlib

    import torch

    checks = importlib.import_module("utils.checks")
    module = importlib.import_module(f"utils.{job['module']}")
    try:
        hidden = importlib.import_module(f"tools.hidden.{job['module']}")
    except ModuleNotFoundError:
        hidden = None
    exercises = {name: value for name, value in vars(module).items() if isinstance(value, checks.Exercise)}
    references = {name: exercise.load_reference() for name, exercise in exercises.items()}  # imported now, not later
    import torch.func  # noqa: F401 - the checks' oracles, imported before any learner code
    import torch.distributions  # noqa: F401
    for optimizer in (torch.optim.SGD, torch.optim.Adam):  # the first instance of each wraps its class's step()
        optimizer([torch.zeros(1, requires_grad=True)], lr=0.1)

    namespace = {"__name__": "submission"}
    for index, cell in enumerate(job["course_cells"]):  # the course's imports: torch, nn, F, utils
        exec(compile(cell, f"<course cell {index}>", "exec"), namespace)
    objects = watched()
    before = snapshot(objects)

    cell_errors = {}
    for cell in job["learner_cells"]:
        signal.alarm(job["cell_timeout"])
        try:
            exec(compile(cell["source"], f"<your cell {cell['id']}>", "exec"), namespace)
        except OutOfTime:
            cell_errors[cell["id"]] = "timeout"
        except BaseException as error:  # noqa: BLE001 - whatever the learner's cell raised, the checks go on
            cell_errors[cell["id"]] = f"{type(error).__name__}: {str(error)[:200]}"
        finally:
            signal.alarm(0)
    tampered = changes(objects, before)

    for exercise in job["exercises"]:
        name, function = exercise["check"], exercise["function"]
        line = {"exercise": name}
        if tampered:
            send(**line, status="tampered", detail="; ".join(tampered[:5]))
            continue
        candidate = namespace.get(function) if exercise.get("cell") else None
        if exercise.get("cell") is None:
            line.update(status="missing", detail="no solution cell defines it")
        elif exercise["cell"] in cell_errors and candidate is None:
            line.update(status="error", detail=f"its cell raised {cell_errors[exercise['cell']]}")
        elif candidate is None and exercises[name].kind == "question":
            line.update(status="not attempted", detail=f"{function} is still None")
        elif candidate is None or not (callable(candidate) or exercises[name].kind == "question"):
            line.update(status="missing", detail=f"its cell does not define {function}")
        elif candidate is references[name] and exercises[name].kind != "question":  # an answer is a value: "b" is "b"
            line.update(status="reference", detail="the course's reference, not the learner's code")
        else:
            line.update(_run_checks(exercises[name], getattr(hidden, name, None), candidate, job["check_timeout"]))
        tampered = changes(objects, before)
        if tampered:
            line.update(status="tampered", detail="; ".join(tampered[:5]))
        send(**line)
    send(done=True, cell_errors=cell_errors)
    results.close()
    os._exit(0)  # nothing the learner registered (atexit, __del__) runs after the results


def _run_checks(exercise, hidden, candidate, seconds):
    import torch

    from utils.checks import Mistake

    signal.alarm(seconds)
    try:
        result = exercise.run(candidate)
        if result.status != "passed":
            return {"status": result.status, "detail": _first_line(result.message)}
        if hidden is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)
                try:
                    hidden(candidate)
                except Mistake as mistake:
                    return {"status": "failed", "detail": f"hidden check: {_first_line(str(mistake))}"}
                except Exception as error:  # noqa: BLE001 - the learner's code crashed on a hidden case
                    return {"status": "error", "detail": f"hidden check: {type(error).__name__}: {str(error)[:200]}"}
        return {"status": "passed", "points": result.points, "detail": ""}
    except OutOfTime:
        return {"status": "timeout", "detail": f"its checks ran past {seconds} s"}
    finally:
        signal.alarm(0)


def _first_line(message):
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    hint = next((line for line in lines if line.startswith("Hint:")), lines[-1] if lines else "")
    return hint[:300]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
