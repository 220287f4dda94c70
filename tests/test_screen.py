"""tools/screen.py: no correct solution the course knows is refused, and each hostile snippet is refused with a
problem that names what it found."""
import ast
import collections
import json
import re
import types
from pathlib import Path

import pytest

from tools.screen import ALLOWED_IMPORTS, attribute_refused, screen
from tools import screen as screen_module

ROOT = Path(__file__).resolve().parent.parent


def solution_cells():
    """Every code cell of solutions/*.ipynb that holds an exercise, or that tools/build.py copies into the
    references (tagged `reference`): its whole source, as a learner would submit it."""
    cells = []
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            tags = cell.get("metadata", {}).get("tags", [])
            if cell["cell_type"] == "code" and ("### BEGIN SOLUTION" in source or "reference" in tags):
                cells.append(pytest.param(source, id=f"{path.stem}:{cell.get('id')}"))
    return cells


def correct_alternatives():
    """Each `test_..._pass(es)` of tests/test_checks_*.py as a learner's cell: the functions, classes and lambdas it
    accepts, the module-level helpers they call and the module's imports (not the checks', the references' or the
    test machinery's). `reference.kl_sparsity(...)` becomes `kl_sparsity(...)`: in a notebook the learner calls
    their own function from the cell before."""
    cases = []
    for path in sorted((ROOT / "tests").glob("test_checks_*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        helpers = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        imports = [ast.get_source_segment(text, node) for node in tree.body
                   if isinstance(node, (ast.Import, ast.ImportFrom))
                   and not re.search(r"utils\.reference|checks_|planted|pytest", ast.get_source_segment(text, node))]
        for test in tree.body:
            if not (isinstance(test, ast.FunctionDef) and re.match(r"test_.*_pass(es)?$", test.name)
                    and not test.name.startswith("test_reference")):
                continue
            parts = []
            for statement in test.body:
                # The test machinery (an assert_accepted call, or a loop of them over the candidates) is not the
                # learner's; a lambda handed to it is.
                calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)
                         and getattr(node.func, "id", "") == "assert_accepted"]
                if calls and not isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                    for call in calls:
                        for i, arg in enumerate(call.args[1:]):
                            if isinstance(arg, ast.Lambda):
                                parts.append(f"candidate_{i} = {ast.get_source_segment(text, arg)}")
                else:
                    parts.append(_dedent(ast.get_source_segment(text, statement, padded=True)))
            used = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
            needed, queue = [], [name for name in used if name in helpers and not name.startswith("test_")]
            while queue:
                name = queue.pop()
                if name in needed:
                    continue
                needed.append(name)
                queue += [n.id for n in ast.walk(helpers[name]) if isinstance(n, ast.Name) and n.id in helpers]
            source = "\n".join(imports + [ast.get_source_segment(text, helpers[n]) for n in needed] + parts)
            cases.append(pytest.param(source.replace("reference.", ""), id=f"{path.stem}:{test.name}"))
    return cases


def _dedent(segment):
    lines = segment.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)


@pytest.mark.parametrize("source", solution_cells())
def test_every_solution_cell_is_clean(source):
    assert screen(source) == []


@pytest.mark.parametrize("source", correct_alternatives())
def test_every_correct_alternative_is_clean(source):
    assert screen(source) == []


def test_the_corpus_is_all_there():
    assert len(solution_cells()) >= 23 + 3  # 23 exercises, plus the cells tagged reference
    assert len(correct_alternatives()) >= 20


PLAIN_CORRECT = [
    "def forward(self, input):\n    return self.net(input)",  # a parameter may shadow a refused builtin
    "import torch.nn.functional as fn\ndef f(x):\n    return fn.relu(x)",
    "from torch.distributions import Normal, kl_divergence\nk = lambda m, s: kl_divergence(Normal(m, s), Normal(0, 1))",
    "def f(layer, x):\n    layer.weight.requires_grad = False\n    x.requires_grad = True\n    return x",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self._cache = None\n"
    "    def __call__(self, x):\n        return x",
    "class Data(torch.utils.data.Dataset):\n    def __len__(self):\n        return 3\n    def __getitem__(self, i):\n"
    "        return i",
    "@torch.no_grad()\ndef f(model, x):\n    return model(x)",
    "def f(x):\n    try:\n        return x.sum()\n    except Exception:\n        return 0.0",
    "def f(m):\n    decoder = nn.Linear(3, 4)\n    decoder.weight = nn.Parameter(m.weight.T)\n    return decoder",
    "import numpy as np\nimport math\ndef f(x):\n    return float(np.mean(x.numpy())) + math.pi",
    "def f(x):\n    return f'{x.shape}'",
    "def f(flagged, targets):\n    check = flagged.any()\n    reference = targets\n    type = 'mean'\n    return check, reference, type",
    "from utils.models import Autoencoder\nimport utils.train\nm = utils.Autoencoder(nn.Flatten(), nn.Flatten())",
    "from torch.func import jacrev, vmap\nimport torch.utils.data\nloader = torch.utils.data.DataLoader([1, 2])",
    "def f(pairs):\n    return sum(flag for flag, _ in pairs), [x for _, x in pairs if _]",  # a loop's own target
]


@pytest.mark.parametrize("source", PLAIN_CORRECT)
def test_plain_correct_code_is_clean(source):
    assert screen(source) == []


HOSTILE = [
    ("import gc", "imports gc"),
    ("import importlib", "imports importlib"),
    ("from os import system", "imports from os"),
    ("import os.path", "imports os.path"),
    ("from . import checks", "relative import"),
    ("from torch import *", "import *"),
    ("import utils.checks_linear", "imports utils.checks_linear"),
    ("from torch.utils.data.datapipes.iter import FileOpener", "torch.utils.data.datapipes"),
    ("from utils import checks_linear as c", "utils.checks_linear"),
    ("from utils.reference.nb01_linear_autoencoder import train_step", "imports from utils.reference"),
    ("from utils import settings", "utils.settings"),
    ("import torch.utils.cpp_extension", "imports torch.utils.cpp_extension"),
    ("x = torch.utils.cpp_extension.load_inline('m', '')", "torch.utils.cpp_extension"),
    ("torch.utils.collect_env.run('ls')", "collect_env"),
    ("u = torch.utils\nu.benchmark.Timer()", "torch.utils.benchmark"),
    ("d = torch.__dict__", "torch.__dict__"),
    ("f = getattr(torch, 'allclose')", "uses getattr"),
    ("m = torch.sys.modules", "torch.sys"),
    ("x = (1).__class__.__base__.__subclasses__()", "__class__"),
    ("o = __builtins__['open']", "__builtins__"),
    ("torch.Tensor.__eq__ = lambda a, b: True", "__eq__"),
    ("torch.allclose = lambda *a, **k: True", "sets torch.allclose; that patches"),
    ("import torch.nn.functional as F\nF.mse_loss = lambda *a: 0", "sets F.mse_loss; that patches torch.nn.functional"),
    ("nn.Module.forward = lambda self, x: x", "sets nn.Module.forward"),
    ("np.x = 1", "sets np.x"),
    ("utils.fit = None", "sets utils.fit"),
    ("del torch.allclose", "deletes torch.allclose"),
    ("T = torch\nT.allclose = f", "sets T.allclose; that patches"),
    ("T = torch.Tensor\nT.allclose = f", "sets T.allclose; that patches"),
    ("T, = torch.Tensor,\nT.weight = f", "sets T.weight; that patches"),
    ("(T := torch.Tensor).allclose = f", "sets (T := torch.Tensor).allclose"),
    ("for torch.allclose in [f]:\n    pass", "sets torch.allclose"),
    ("def step(model, optimizer, images):\n    model.parameters = lambda: iter([])", "sets model.parameters"),
    ("class T(torch.Tensor):\n    pass", "derives from torch.Tensor"),
    ("B = torch.Tensor\nclass T(B):\n    pass", "derives from B"),
    ("class T(nn.Parameter):\n    pass", "derives from nn.Parameter"),
    ("class T(nn.Module, metaclass=M):\n    pass", "metaclass"),
    ("class V:\n    def __eq__(self, other):\n        return True", "defines __eq__"),
    ("class V:\n    def __torch_function__(cls, *a):\n        return True", "defines __torch_function__"),
    ("class V:\n    def __bool__(self):\n        return True", "defines __bool__"),
    ("class V:\n    __eq__ = lambda s, o: True", "uses the name __eq__"),
    ("m = torch.load('x.pt')", "torch.load"),
    ("torch.save(x, '/tmp/x')", "torch.save"),
    ("n = np.load('x.npy')", "np.load"),
    ("x.numpy().tofile('/tmp/x')", "tofile"),
    ("s = torch.UntypedStorage.from_file('/etc/passwd')", "from_file"),
    ("h = torch.hub.load('a/b', 'c')", "torch.hub"),
    ("torch.ops.load_library('x.so')", "torch.ops"),
    ("lib = torch.library.Library('aten', 'IMPL')", "torch.library"),
    ("torch.jit.load('m.pt')", "torch.jit"),
    ("exec('import os')", "uses exec"),
    ("eval('1')", "uses eval"),
    ("__import__('os')", "__import__"),
    ("f = lambda: globals()", "uses globals"),
    ("def f():\n    return vars(torch)", "uses vars"),
    ("x = check.build_autoencoder.load_reference()", "check"),
    ("def build(k):\n    return check.build_autoencoder.load_reference()(k)", "load_reference"),
    ("@getattr(torch, 'no_grad')()\ndef f(x):\n    return x", "uses getattr"),
    ("def outer():\n    def inner():\n        class Q(torch.Tensor):\n            pass\n        return Q\n    return inner",
     "derives from torch.Tensor"),
    ("def outer():\n    import subprocess\n    return subprocess", "imports subprocess"),
    ("def f():\n    global build_autoencoder\n    build_autoencoder = None", "declares global"),
    ("def f(x):\n    try:\n        return x\n    except:\n        return x", "bare `except:`"),
    ("def f(x):\n    try:\n        return x\n    except BaseException:\n        return x", "BaseException"),
    ("raise SystemExit(0)", "SystemExit"),
    ("match torch:\n    case object(__dict__=d):\n        pass", "match pattern"),
    ("s = '{0.__class__.__init__.__globals__}'.format(f)", "format string"),
    ("k = {'__eq__': f}", "'__eq__'"),
    ("C = type('C', (torch.Tensor,), {})", "uses type"),
    ("x = sys.modules", "uses sys"),
    ("p = Path('/tmp/x').write_text('')", "uses Path"),
    ("plt.savefig('/tmp/x.png')", "uses plt"),
    ("utils.data.shutil.rmtree('/')", "shutil"),
    ("h = nn.modules.module.register_module_forward_hook(f)", "register_module_forward_hook"),
    ("torch.optim.optimizer.register_optimizer_step_post_hook(f)", "register_optimizer_step_post_hook"),
    ("torch.distributions.kl.register_kl(Normal, Normal)(f)", "register_kl"),
    ("g = typing.get_type_hints(f)", "get_type_hints"),
    ("a = typing.operator.attrgetter('__class__')", "operator"),
    ("x = torch._C", "torch._C"),
    ("x = torch.overrides.TorchFunctionMode", "overrides"),
    ("x = utils.leaderboard", "utils.leaderboard"),
    ("v = torch.Tensor.__init__.__globals__", "__globals__"),
    ("n = __name__", "__name__"),
    ("y = property(lambda s: 1)", "property"),
    ("x = input()", "uses input"),
    ("def f(type=type):\n    return type(1)", "uses type"),  # a default is read outside the function
    ("t = [type for type in [type]]", "uses type"),  # a comprehension's first iterable too
    ("def g():\n    def h():\n        type = 1\n    return type(3)", "uses type"),  # h's type is not g's
    ("class A(nn.Module):\n    input = 3\n    def f(self):\n        return input()", "uses input"),
    ("breakpoint()", "breakpoint"),
]


@pytest.mark.parametrize("source, expected", HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_snippets_are_refused(source, expected):
    problems = screen(source)
    assert problems, source
    assert any(expected in problem for problem in problems), problems
    assert all(re.match(r"line \d+: ", problem) for problem in problems), problems


def test_the_line_is_the_offending_one():
    assert screen("import torch\n\n\nimport os") == [screen("import os")[0].replace("line 1", "line 4")]


def test_a_syntax_error_is_one_problem():
    assert screen("def f(:\n    pass") == ["line 1: does not parse: SyntaxError at line 1"]
    assert screen("x = 1\ny = (") [0].startswith("line 2: does not parse: SyntaxError")


@pytest.mark.parametrize("source", [
    "x = 1\n" * 100_000,  # over the size cap
    "x = " + "(" * 100_000 + ")" * 100_000,  # nested past the parser's limits
    "x = " + "-" * 50_000 + "1",  # deep, but parseable on some Pythons: the walk must not recurse
    "[" * 5_000 + "]" * 5_000,
    "x = 1\0",
    None,
    b"import os",
])
def test_absurd_sources_give_one_problem_and_never_raise(source):
    problems = screen(source)
    assert len(problems) <= 1 and all(re.match(r"line \d+: ", problem) for problem in problems)


def test_every_problem_says_why():
    for source, _ in HOSTILE:
        for problem in screen(source):
            assert ";" in problem or "does not parse" in problem, problem


# The deny list of attribute names was drawn from a walk of every allowed module's attributes: whatever in them is
# a module outside the allowed ones, or a function or class from the interpreter's machinery or the file system,
# must sit behind a refused name. This re-walks them, so that a new version of torch or numpy that opens a new
# road fails here rather than in a gradebook.

MACHINERY = ("os", "sys", "subprocess", "shutil", "builtins", "importlib", "io", "_io", "pickle", "ctypes", "socket",
             "pathlib", "gzip", "tempfile", "marshal", "runpy", "code", "pty", "signal", "threading",
             "multiprocessing", "gc", "inspect", "zipfile", "tarfile", "urllib", "http", "glob", "logging",
             "operator", "posix", "nt", "abc", "types", "weakref", "contextlib", "utils")
HARMLESS_MODULES = ("warnings", "numbers", "copy", "re", "keyword", "bisect", "textwrap", "typing_extensions",
                    "collections", "math", "functools", "itertools", "random", "statistics", "dataclasses", "typing",
                    "queue", "time", "json", "contextvars", "numpy", "torch", "enum", "sklearn", "scipy", "string", "opcode", "dis")
REFUSED_BUILTINS = {open, eval, exec, compile, __import__, getattr, setattr, delattr, globals, vars, breakpoint,
                    input, memoryview}


def _why_dangerous(value):
    if isinstance(value, types.ModuleType):
        name = value.__name__
        if name in ALLOWED_IMPORTS or name.startswith(("torch.nn.", "torch.distributions.", "torch.optim.",
                                                       "torch.utils.data.", "torch.autograd.", "numpy.",
                                                       "torch.linalg", "torch.fft", "torch.special", "torch.func")):
            return None
        top = name.split(".")[0]
        return f"module {name}" if top in MACHINERY or top not in HARMLESS_MODULES or \
            name.startswith(("torch.", "utils.")) else None
    if any(value is builtin for builtin in REFUSED_BUILTINS):
        return f"builtin {value.__name__}"
    module = getattr(value, "__module__", None)
    if isinstance(module, str) and module.split(".")[0] in MACHINERY[:-1] and callable(value) and \
            module not in ("builtins", "abc", "types", "operator", "weakref", "_weakrefset") and \
            getattr(value, "__qualname__", "") not in ("contextmanager", "RLock", "Lock"):
        return f"{module}.{getattr(value, '__qualname__', '?')}"
    return None


# torch's own corners that a walk finds as modules but that hold only numbers and flags (reading them is harmless,
# setting them is refused as a patch of a library).
HARMLESS_TORCH = {"torch.functional", "torch.random", "torch.return_types", "torch.types", "torch.torch_version",
                  "torch.version", "torch.quasirandom", "torch.masked", "torch.nested", "torch.sparse", "torch.signal",
                  "torch.signal.windows", "torch.amp", "torch.cpu", "torch.cuda", "torch.mps", "torch.xpu",
                  "torch.mtia", "torch.backends", "torch.accelerator", "torch.futures", "torch.monitor",
                  "torch.testing", "torch.ao", "torch.quantization", "torch.nn", "torch.utils.data",
                  "numpy.testing", "torch.autograd", "torch.utils", "torch.utils.hooks"}


WALK_DEPTH = int(__import__('os').environ.get('SCREEN_WALK_DEPTH', 4))  # 5 found nothing more when written


HARMLESS_TORCH_PACKAGES = ("torch.ao.nn.", "torch.cuda.", "torch.backends.")


def test_no_road_out_of_the_allowed_modules_is_left_open():
    pytest.importorskip("torch")
    import importlib
    roots = {}
    for name in sorted(ALLOWED_IMPORTS):
        try:
            roots[name] = importlib.import_module(name)
        except Exception:  # utils.viz needs matplotlib, sklearn may be absent: walk what is there
            continue
    open_roads, seen = [], set()
    queue = collections.deque((name, module, 0) for name, module in roots.items())  # breadth first: shortest roads
    while queue:
        path, value, depth = queue.popleft()
        if id(value) in seen or depth >= WALK_DEPTH or not isinstance(value, (types.ModuleType, type)):
            continue
        seen.add(id(value))
        for attribute in dir(value):
            if attribute_refused(attribute) or (path.startswith("torch.utils") and attribute != "data"
                                                and isinstance(value, types.ModuleType)
                                                and value.__name__ == "torch.utils"):
                continue
            if path == "utils" and screen_module._path_refused(f"utils.{attribute}"):
                continue  # utils.leaderboard and the like: refused by path (imported by earlier tests, or not)
            try:
                found = getattr(value, attribute)
            except Exception:
                continue
            why = _why_dangerous(found)
            if why and not (isinstance(found, types.ModuleType) and (found.__name__ in HARMLESS_TORCH or
                                                                     found.__name__.startswith(HARMLESS_TORCH_PACKAGES))):
                open_roads.append(f"{path}.{attribute} -> {why}")
            elif not why:
                queue.append((f"{path}.{attribute}", found, depth + 1))
    assert open_roads == [], "\n".join(open_roads)
