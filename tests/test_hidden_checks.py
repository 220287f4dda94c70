"""The hidden checks (tools/hidden/): one per exercise, named as the exercise; the course's references and the
correct alternatives of the public checks' tests pass them; and each catches at least one plausible mistake that
the public check lets through (the reason they exist), or says here why none was found."""
import importlib
import inspect

import pytest
import torch

from utils.checks import Exercise, Mistake

TOPICS = ["linear", "conv", "denoising", "sparse", "contractive", "vae", "anomaly", "compression", "sae", "vq"]


def public_module(topic):
    return importlib.import_module(f"utils.checks_{topic}")


def hidden_module(topic):
    return importlib.import_module(f"tools.hidden.checks_{topic}")


def exercises(topic, questions=True):
    """A check module's exercises by name; questions (answers compared with one value) have no hidden check."""
    return {name: value for name, value in vars(public_module(topic)).items()
            if isinstance(value, Exercise) and (questions or value.kind != "question")}


def hidden_checks(topic):
    """The public functions a hidden module defines itself (its helpers start with an underscore or are imported)."""
    module = hidden_module(topic)
    return {name: value for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_")}


ALL = [(topic, name) for topic in TOPICS for name in sorted(exercises(topic, questions=False))]


def run_hidden(topic, name, candidate):
    """As the grader runs it: in a forked RNG, seeded with 1."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return hidden_checks(topic)[name](candidate)


@pytest.mark.parametrize("topic", TOPICS)
def test_hidden_checks_are_named_as_the_exercises(topic):
    assert sorted(hidden_checks(topic)) == sorted(exercises(topic, questions=False))


@pytest.mark.parametrize("topic, name", ALL)
def test_the_reference_passes(topic, name):
    reference = exercises(topic)[name].load_reference()
    assert run_hidden(topic, name, reference) is None
    assert run_hidden(topic, name, reference) is None  # and again: nothing left over from the first run


def accepting_tests():
    """(test module, test function name) of every test in tests/test_checks_*.py that calls assert_accepted."""
    found = []
    for topic in TOPICS:
        module = importlib.import_module(f"test_checks_{topic}")
        for name, value in vars(module).items():
            if (name.startswith("test_") and inspect.isfunction(value) and not inspect.signature(value).parameters
                    and "assert_accepted(" in inspect.getsource(value)):
                found.append((f"test_checks_{topic}", name))
    return found


@pytest.mark.parametrize("module_name, test_name", accepting_tests())
def test_correct_alternatives_of_the_public_tests_pass(module_name, test_name, monkeypatch):
    # Run the public checks' test with assert_accepted recording its candidates; then run each through its hidden check.
    module = importlib.import_module(module_name)
    accepted = []
    monkeypatch.setattr(module, "assert_accepted", lambda exercise, candidate: accepted.append((exercise, candidate)))
    getattr(module, test_name)()
    assert accepted
    for exercise, candidate in accepted:
        topic = exercise.test.__module__.removeprefix("utils.checks_")
        name = next(name for name, value in exercises(topic).items() if value is exercise)
        try:
            run_hidden(topic, name, candidate)
        except Mistake as mistake:
            pytest.fail(f"{topic}.{name}: a correct alternative fails the hidden check: {mistake}")


def _per_topic(attribute):
    """A topic's own registry in tests/test_checks_<topic>.py: HIDDEN_CATCHES = {exercise: [mistakes the public
    check passes and the hidden one catches]}, NO_HIDDEN_MISTAKE_FOUND = {exercise: "why none was found"}."""
    found = {}
    for topic in TOPICS:
        for name, value in getattr(importlib.import_module(f"test_checks_{topic}"), attribute, {}).items():
            found[(topic, name)] = value
    return found


# Plausible mistakes that pass the public check and that only the hidden one catches, per exercise, or why none was
# found: each topic keeps its own, beside its planted mistakes.
PUBLIC_PASSES_HIDDEN_FAILS = _per_topic("HIDDEN_CATCHES")
NO_MISTAKE_FOUND = set(_per_topic("NO_HIDDEN_MISTAKE_FOUND"))


def test_every_exercise_has_a_mistake_or_says_why_not():
    assert set(PUBLIC_PASSES_HIDDEN_FAILS) | NO_MISTAKE_FOUND == set(ALL)
    assert not set(PUBLIC_PASSES_HIDDEN_FAILS) & NO_MISTAKE_FOUND


@pytest.mark.parametrize("topic, name, mistake", [(topic, name, mistake)
                                                  for (topic, name), mistakes in PUBLIC_PASSES_HIDDEN_FAILS.items()
                                                  for mistake in mistakes])
def test_the_hidden_check_catches_what_the_public_one_misses(topic, name, mistake):
    result = exercises(topic)[name].run(mistake)
    assert result.status == "passed", result.message
    with pytest.raises(Mistake):
        run_hidden(topic, name, mistake)
