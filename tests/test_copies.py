"""tools/copies.py: a pasted or wrapped reference is found, an independent correct answer is not."""
import ast
import json
from pathlib import Path

import pytest

from tools import copies
from tools.copies import evidence, find_copy, telling

from test_screen import correct_alternatives

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = sorted((ROOT / "utils" / "reference").glob("nb*.py"))

# What the module docstring promises: the references compared, with their (nodes, statements) of evidence.
TELLING = {"VAE": (108, 11), "pca_reconstruction": (90, 6), "quantise": (65, 3), "precision_recall": (68, 5),
           "bits_per_image": (68, 6), "standardise": (68, 3), "roc_auc": (90, 4),
           "kl_sparsity": (63, 2), "feature_images": (62, 4), "jacobian_penalty": (53, 2),
           "contractive_loss": (51, 3), "sigmoid_jacobian_penalty": (49, 2), "elbo_loss": (48, 3),
           "train": (210, 19), "build_small_autoencoder": (70, 10),
           "sin_layer_jacobians": (78, 5), "predicted_code_movement": (78, 4), "sensitive_directions": (84, 5),
           "activity_summary": (65, 5), "importance_weighted_bound": (160, 8),
           "sae_loss": (83, 6), "dead_latents": (59, 6), "auxiliary_loss": (59, 4),
           "nearest_code": (50, 2), "VQAutoencoder": (175, 14), "vq_vae_step": (157, 13), "codebook_perplexity": (59, 4),
           "reset_dead_codes": (67, 5), "hutchinson_penalty": (69, 4)}


def definitions():
    """(reference file's source, definition node) for every top-level function and class of utils/reference/."""
    found = []
    for path in REFERENCES:
        source = path.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.append(pytest.param(source, node, id=f"{path.stem}:{node.name}"))
    return found


def test_the_docstring_table_is_the_measurement():
    measured = {}
    for param in definitions():
        source, node = param.values
        if telling(node, copies._imports(ast.parse(source))):
            measured[node.name] = evidence(node, copies._imports(ast.parse(source)))
    assert measured == TELLING
    for name, (nodes, statements) in TELLING.items():
        assert f"{name} {nodes}/{statements}" in copies.__doc__


class _Rename(ast.NodeTransformer):
    """Every argument and local variable given another name, as a copier would (self stays self)."""

    def __init__(self, local):
        self.new = {name: f"renamed_{i}" for i, name in enumerate(sorted(local - {"self"}))}

    def visit_Name(self, node):
        node.id = self.new.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.new.get(node.arg, node.arg)
        return node


def renamed(node):
    tree = ast.parse(ast.unparse(node))
    return ast.unparse(_Rename(copies._local_names(tree.body[0])).visit(tree))


def recommented(node):
    """Docstring replaced, comments added, the lines re-wrapped as the parser reads them back."""
    tree = ast.parse(ast.unparse(node)).body[0]
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        tree.body[0] = ast.Expr(ast.Constant("My own words, honestly."))
    lines = ast.unparse(tree).splitlines()
    return "\n".join(line + "  # I thought about this" if line.strip() and not line.rstrip().endswith((",", "("))
                     and '"""' not in line else line for line in lines)


@pytest.mark.parametrize("reference_source, node", definitions())
def test_a_pasted_reference_is_found_when_it_is_long_enough(reference_source, node):
    verbatim = ast.get_source_segment(reference_source, node)
    for pasted in (verbatim, renamed(node), recommented(node), "import torch\n\n" + renamed(node)):
        found = find_copy(pasted, reference_source, [node.name])
        if node.name in TELLING:
            assert found == f"pasted: {node.name} is the course's reference up to names and comments", pasted
        else:  # too short to tell from an honest answer: never flagged
            assert found is None, pasted


def test_a_pasted_reference_is_found_under_another_name_inside_a_helper():
    source = (ROOT / "utils" / "reference" / "nb01_linear_autoencoder.py").read_text()
    learner = ("import torch.nn.functional as fn\n\ndef helper(a, b, c):\n    t = a.flatten(1)\n    m = t.mean(dim=0)\n"
               "    _, _, vh = torch.linalg.svd(t - m, full_matrices=False)\n    v = vh[:c].T\n    s = b.flatten(1)\n"
               "    return ((s - m) @ v @ v.T + m).view_as(b)\n\n"
               "def pca_reconstruction(train_images, test_images, k):\n    return helper(train_images, test_images, k)\n")
    assert find_copy(learner, source, ["pca_reconstruction"]).startswith("pasted: pca_reconstruction")


def test_keyword_order_and_module_aliases_do_not_hide_a_copy():
    source = (ROOT / "utils" / "reference" / "nb06_variational_autoencoder.py").read_text()
    learner = ("import torch.nn.functional as fn\n\ndef elbo_loss(x, r, m, lv, beta=1.0):\n"
               "    rec = fn.binary_cross_entropy(r, x, reduction='sum') / len(x)\n    kl = kl_divergence(m, lv)\n"
               "    return rec + beta * kl, rec, kl\n")
    assert find_copy(learner, source, ["elbo_loss"]).startswith("pasted: elbo_loss")


def test_a_small_change_is_not_a_copy():
    source = (ROOT / "utils" / "reference" / "nb06_variational_autoencoder.py").read_text()
    learner = ("def elbo_loss(x, r, m, lv, beta=1.0):\n"
               "    rec = F.binary_cross_entropy(r, x, reduction='sum') / x.shape[0]\n    kl = kl_divergence(m, lv)\n"
               "    return rec + beta * kl, rec, kl\n")
    assert find_copy(learner, source, ["elbo_loss"]) is None


WRAPPERS = [
    "from utils.reference.nb01_linear_autoencoder import build_autoencoder as b\n\ndef build_autoencoder(k):\n"
    "    return b(k)",
    "def build_autoencoder(k):\n    return check.build_autoencoder.load_reference()(k)",
    "def build_autoencoder(k):\n    return check.build_autoencoder(None)(k)",
    "import utils.reference.nb01_linear_autoencoder as r\nbuild_autoencoder = r.build_autoencoder",
    "from utils import reference\nbuild_autoencoder = reference.nb01_linear_autoencoder.build_autoencoder",
    "from utils.reference import nb01_linear_autoencoder\nbuild_autoencoder = nb01_linear_autoencoder.build_autoencoder",
    "def train_step(m, o, x):\n    return utils.checks_linear.train_step.load_reference()(m, o, x)",
    "def train_step(m, o, x):\n    return x.reference(m)",
    "m = importlib.import_module('utils.reference.nb01_linear_autoencoder')",
]


@pytest.mark.parametrize("learner", WRAPPERS)
def test_a_wrapped_reference_is_found(learner):
    source = (ROOT / "utils" / "reference" / "nb01_linear_autoencoder.py").read_text()
    found = find_copy(learner, source, ["build_autoencoder", "train_step"])
    assert found and found.startswith("wrapped: line "), learner


@pytest.mark.parametrize("learner", correct_alternatives())
def test_no_correct_alternative_is_flagged(learner):
    for path in REFERENCES:
        source = path.read_text()
        names = [node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        assert find_copy(learner, source, names) is None, path.name


def released_exercise_cells():
    cells = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "NotImplementedError" in source:
                cells.append(pytest.param(path.stem, source, id=f"{path.stem}:{cell.get('id')}"))
    return cells


@pytest.mark.parametrize("stem, learner", released_exercise_cells())
def test_the_released_stubs_are_not_flagged(stem, learner):
    source = next(path for path in REFERENCES if path.stem.startswith(f"nb{stem[:2]}")).read_text()
    names = [node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert find_copy(learner, source, names) is None


def test_the_learners_own_variables_are_not_the_course_s():
    source = (ROOT / "utils" / "reference" / "nb03_denoising_autoencoder.py").read_text()
    learner = ("def psnr(reconstructions, targets):\n    reference = targets\n    check = (reconstructions - reference) ** 2\n"
               "    return (10 * torch.log10(1 / check.mean(dim=(1, 2, 3)))).mean().item()\n")
    assert find_copy(learner, source, ["psnr"]) is None


def test_a_stub_is_not_flagged():
    source = (ROOT / "utils" / "reference" / "nb01_linear_autoencoder.py").read_text()
    stub = 'def pca_reconstruction(train_images, test_images, k):\n    """Fit PCA."""\n    raise NotImplementedError()\n'
    assert find_copy(stub, source, ["pca_reconstruction", "train_step", "build_autoencoder"]) is None


@pytest.mark.parametrize("learner, reference, names", [
    ("def f(:", "def f(): pass", ["f"]),
    ("def f(): pass", "def f(:", ["f"]),
    (None, None, None),
    (b"def f(): pass", "def f(): pass", ["f"]),
    ("x = " + "(" * 100_000 + ")" * 100_000, "def f(): pass", ["f"]),
    ("x = " + "-" * 50_000 + "1", "def f(): pass", ["f"]),
    ("def f():\n    return " + "-" * 20_000 + "1", "def f():\n    return " + "-" * 20_000 + "1", ["f"]),
    ("x = 1\0", "def f(): pass", ["f"]),
    ("def f(): pass", "def f(): pass", "f"),
])
def test_never_raises(learner, reference, names):
    assert find_copy(learner, reference, names) is None
