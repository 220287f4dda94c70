"""Assertions shared by the tests of planted mistakes: every notebook's checks are tested the same way.

With COURSE_PLANTED_LOG=FILE set, each rejected planted mistake appends one line to FILE (the exercise, and whether its
hint names the mistake), and each accepted candidate one (a correct alternative, or the course's reference): `COURSE_PLANTED_LOG=planted.txt python -m pytest tests/test_checks_*.py` counts them for the
README's instructor guide."""
import os


def assert_rejected(exercise, candidate, hint, named=True):
    """The check fails the candidate, gives no points, and its message holds ``hint``: a hint that names the mistake
    (a ``Mistake``), or with ``named=False`` one that can only restate what is expected (an ``Unrecognised``), so
    that the tests say which planted mistakes are not yet named."""
    result = exercise.run(candidate)
    assert result.status == "failed" and result.points == 0, result.message
    assert hint in result.message, result.message
    assert result.named == named, ("named" if result.named else "restated") + ": " + result.message
    if os.environ.get("COURSE_PLANTED_LOG"):
        with open(os.environ["COURSE_PLANTED_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{exercise.id}\t{'named' if named else 'restated'}\n")


def assert_accepted(exercise, candidate):
    result = exercise.run(candidate)
    assert result.status == "passed" and result.points == result.max_points, result.message
    if os.environ.get("COURSE_PLANTED_LOG"):  # correct alternatives, counted by name (the references apart)
        module = getattr(candidate, "__module__", "") or ""
        name = getattr(candidate, "__qualname__", repr(candidate))
        kind = "reference" if module.startswith("utils.reference") else "accepted"
        with open(os.environ["COURSE_PLANTED_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{exercise.id}\t{kind}\t{module}.{name}\n")


def assert_reference_passes_and_stub_is_not_attempted(exercise, reference):
    assert_accepted(exercise, reference)

    def stub(*args):
        raise NotImplementedError()

    assert exercise.run(None if exercise.kind == "question" else stub).status == "not attempted"
