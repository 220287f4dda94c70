"""The check machinery: points, hints, fall-back to the reference, strict mode, the score summary."""
import types
from pathlib import Path

import pytest
import torch

from utils import checks, settings
from utils.checks import CheckFailed, Mistake, choice, exercise, question

demo = types.ModuleType("demo_checks")


@exercise("1", "doubling", 2, "nb01_linear_autoencoder.train")  # any real reference will do
def doubling(double):
    if double(3) != 6:
        raise Mistake("double(3) should be 6.")


demo.doubling = doubling


@pytest.fixture(autouse=True)
def clean_results(monkeypatch):
    monkeypatch.setattr(checks, "RESULTS", {})
    monkeypatch.delenv(settings.STRICT_ENV, raising=False)


def test_a_pass_returns_the_learners_function_with_full_points(capsys):
    mine = lambda x: 2 * x  # noqa: E731
    assert doubling(mine) is mine
    assert "✓ Exercise 1 · doubling: 2/2 points." in capsys.readouterr().out


def test_a_mistake_gives_its_hint_and_falls_back_on_the_reference(capsys):
    used = doubling(lambda x: x + 2)
    out = capsys.readouterr().out
    assert "0/2 points" in out and "Hint: double(3) should be 6." in out and "carry on" in out
    assert used.__module__ == "utils.reference.nb01_linear_autoencoder"


def test_a_crash_names_the_learners_line(capsys):
    def crashing(x):
        return x / 0

    doubling(crashing)
    out = capsys.readouterr().out
    assert "raised ZeroDivisionError" in out and "return x / 0" in out


def test_strict_mode_raises_on_unfinished_and_wrong_work(monkeypatch):
    monkeypatch.setenv(settings.STRICT_ENV, "1")

    def unfinished(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not attempted"):
        doubling(unfinished)
    with pytest.raises(CheckFailed, match="should be 6"):
        doubling(lambda x: x)


def test_score_summary_counts_every_exercise_even_unrun(capsys):
    second = exercise("2", "tripling", 3, "nb01_linear_autoencoder.train")(lambda f: None)
    demo.tripling = second
    try:
        doubling(lambda x: 2 * x)
        assert checks.score_summary(demo) == (2, 5)
        assert "not run" in capsys.readouterr().out
    finally:
        del demo.tripling


def test_checks_do_not_disturb_the_notebooks_random_numbers():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    doubling(lambda x: torch.rand(1) and 2 * x)
    assert torch.equal(torch.rand(3), expected)


@question("3", "which is larger", 1, "nb01_linear_autoencoder.train", "because 3 > 2.")
def which_is_larger(answer):
    if choice(answer, ("a", "b")) != "a":
        raise Mistake("compare them again.")


def test_a_question_is_not_attempted_until_answered_and_explains_once_answered(capsys):
    assert which_is_larger.run(None).status == "not attempted"
    which_is_larger(None)
    assert "Why:" not in capsys.readouterr().out
    assert which_is_larger(" (A) ") == " (A) "
    out = capsys.readouterr().out
    assert "1/1 points" in out and "Why: because 3 > 2." in out
    which_is_larger("b")
    out = capsys.readouterr().out
    assert "0/1 points" in out and "compare them again" in out and "Why:" in out
    assert which_is_larger.run("z").status == "failed" and "'a', 'b'" in which_is_larger.run("z").message


def check_defined_in_utils(source, name):
    """A check whose code the traceback places in utils/checks_demo.py, as the course's checks are."""
    namespace = {"torch": __import__("torch"), "Mistake": Mistake, "checks": checks}
    exec(compile(source, str(Path(checks.UTILS_DIR) / "checks_demo.py"), "exec"), namespace)
    return exercise("1", "adding noise", 2, "nb01_linear_autoencoder.train")(namespace[name])


def test_a_result_of_another_dtype_or_device_gets_a_hint_not_a_crash_in_the_check():
    add_noise = check_defined_in_utils(
        "def add_noise(noisy):\n"
        "    x = torch.zeros(3, dtype=torch.float32)\n"
        "    out = noisy(x)\n"
        "    torch.zeros(3).index_add_(0, torch.arange(3), out)  # float32 only, as a check's arithmetic may be\n",
        "add_noise")
    float64 = add_noise.run(lambda x: x.double() + 0.1)
    assert float64.status == "failed" and "dtype" in float64.message and "x.dtype" in float64.message
    on_meta = add_noise.run(lambda x: torch.empty(3, device="meta"))
    assert on_meta.status == "failed" and "device" in on_meta.message and "x.device" in on_meta.message
    # The learner's own crash is still shown as theirs, with their line.
    crash = add_noise.run(lambda x: x.view(7))
    assert crash.status == "error" and "Your code raised RuntimeError" in crash.message


def test_an_unrecognised_mistake_is_counted_apart_from_a_named_one():
    restated = check_defined_in_utils(
        "def restated(f):\n"
        "    if f(1) != 2:\n"
        "        raise checks.Unrecognised('f(1) should be 2.')\n", "restated")
    result = restated.run(lambda x: x)
    assert result.status == "failed" and not result.named and "f(1) should be 2." in result.message
    assert doubling.run(lambda x: x + 2).named


@pytest.mark.parametrize("noisy, hint", [
    (lambda x: x + 0.1 * torch.randn(x.shape), "mixes in a tensor made on the CPU"),
    (lambda x: x + 0.1 * torch.randn(x.shape, dtype=x.dtype), "mixes in a tensor made on the CPU"),
    (lambda x: (x + 0.1 * torch.randn_like(x)).float(), "with float64 inputs"),
    (lambda x: torch.from_numpy(x.numpy() + 0.1), "fails when the tensor is on a GPU"),
    (lambda x: (x.cpu() + 0.1).to(x.device), None),  # a round trip through the CPU: fine on a GPU, unknowable on meta
    (lambda x: x + 0.1 * torch.randn_like(x), None),
    (lambda x: x + 0.1 * torch.randn(x.shape, dtype=x.dtype, device=x.device), None),
])
def test_following_the_inputs_dtype_and_device_is_probed_without_a_gpu(noisy, hint):
    def probe():
        checks.check_follows_inputs(noisy, lambda dtype, device: (torch.zeros(4, 3, dtype=dtype, device=device),),
                                    "add_noise")
    if hint is None:
        probe()
    else:
        with pytest.raises(Mistake, match=hint):
            probe()
