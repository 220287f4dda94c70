"""A static screen of a learner's solution cell, run by the grader before the cell's code is executed.

``screen(source) -> list[str]``: one plain-English problem per finding, each ``line N: <what was found>; <why the
grader refuses it>``; an empty list means nothing was found. It only parses the source (``ast``), never runs it,
and never raises: source that does not parse, is longer than ``MAX_CHARS`` or nests too deeply for the parser
gives one problem, and so does any failure of the screen itself (it fails closed).

Why: the grader runs the checks in the same interpreter as the learner's code, so code that reaches the grader's
machinery (the checks, the references, the interpreter's internals, the file system), patches a library the checks
compute with, or returns an object built to fool a comparison could earn points it did not earn. The screen refuses
what a correct solution never needs (every solution cell and every correct alternative in tests/test_checks_*.py
passes it; tests/test_screen.py keeps it so):

* imports outside ``ALLOWED_IMPORTS`` (torch and its numeric corners, numpy, a few pure stdlib modules, the
  course's learner-facing ``utils`` modules, ``sklearn.metrics``); relative imports; ``from x import *``;
* the builtins that run strings, open files, reach namespaces or attributes by name (``REFUSED_NAMES``), the
  notebook's own ``check``, ``sys``, ``Path``, ``plt``, ... (unless the cell binds the name itself, by Python's
  scoping rules: ``def forward(self, input)`` is fine, ``def f(type=type)`` is not), and every dunder name;
* dunder attributes other than ``__init__`` (``x.__class__``, ``torch.__dict__``), private attributes (``_x``)
  other than ``self._x``, and attribute names that lead out of the numeric libraries into modules or functions
  that reach the interpreter, the file system, the grader or global hooks (``REFUSED_ATTRIBUTES``, plus
  ``torch.utils.<anything but data>``); the same names in ``from x import name`` and in ``match`` class patterns;
* setting or deleting attributes other than ``self.<x>`` and a tensor's or layer's ``grad``, ``requires_grad``,
  ``data``, ``weight`` and ``bias`` on the cell's own names (so no ``torch.allclose = f``, ``T = torch.Tensor;
  T.allclose = f``, ``model.parameters = ...``), and item assignment into an imported module's objects;
* ``global`` statements (a function must not rebind the notebook's names); catching or raising the interpreter's
  stop signals (bare ``except:``, ``BaseException``, ``SystemExit``, ``KeyboardInterrupt``);
* defining dunder methods outside ``ALLOWED_DUNDER_METHODS`` (``__eq__``, ``__bool__``, ``__float__``,
  ``__torch_function__``, ``__getattr__``, ``__del__`` ... are how a returned object fools a comparison); classes
  whose bases are not ``nn.Module`` and its layers, ``torch.autograd.Function``, ``torch.utils.data.Dataset``,
  ``utils.Autoencoder``, ``object`` or the cell's own classes (so no ``torch.Tensor`` subclass), and metaclasses;
* string constants that are a dunder name (``'__eq__'``) or a format field reading one (``'{0.__class__}'``).

Honest limits: a static screen is not a sandbox. Python can reach almost anything from almost anything, and a deny
list only covers the roads it names (REFUSED_ATTRIBUTES comes from walking the attributes of every allowed module,
see tests/test_screen.py, but a new library version can open a new one). It cannot follow values: a local name
bound by a call may hold a class, and its ``weight``/``bias``/``grad``/``data`` may then be set. It does not limit
time or memory, and it does not see what the learner's functions do with the objects a check passes them beyond
attribute assignment (``model.register_forward_hook(...)`` on the check's own model is allowed). The grader must
still run the code in a separate, confined process and check the returned values' types at run time.
"""
import ast
import re

MAX_CHARS = 200_000  # a solution cell is a few hundred characters; anything this long is not one

ALLOWED_IMPORTS = {
    "torch", "torch.nn", "torch.nn.functional", "torch.func", "torch.distributions", "torch.linalg", "torch.fft",
    "torch.special", "torch.optim", "torch.utils.data", "torch.autograd",
    "numpy", "math", "itertools", "functools", "collections", "typing", "dataclasses", "statistics", "random",
    "utils", "utils.data", "utils.models", "utils.train", "utils.pca", "utils.viz", "utils.device",
    "sklearn.metrics",  # notebook 07 uses scikit-learn; tests/test_checks_anomaly.py accepts precision_score
}
# These packages' submodules are numeric code too (torch.nn.init, torch.distributions.normal, torch.optim.lr_scheduler).
ALLOWED_IMPORT_PACKAGES = ("torch.nn.", "torch.distributions.", "torch.optim.", "torch.utils.data.")

WHY_IMPORT = ("a solution needs only torch, numpy, math and a few pure standard modules and the course's utils, "
              "and the grader refuses modules that can reach its own machinery")

# Builtins a solution never needs, each a road out of plain computation.
REFUSED_NAMES = {
    "exec": "runs a string as code", "eval": "runs a string as code", "compile": "turns a string into code",
    "__import__": "imports any module by name", "open": "opens files", "input": "waits for a keyboard",
    "globals": "reaches the notebook's namespace", "locals": "reaches a namespace", "vars": "reaches a namespace",
    "getattr": "reaches attributes by name, past this screen", "setattr": "sets attributes by name",
    "delattr": "deletes attributes by name", "breakpoint": "stops in a debugger", "help": "starts a pager",
    "exit": "ends the interpreter", "quit": "ends the interpreter", "memoryview": "reads raw memory",
    "license": "starts a pager", "type": "builds classes and reaches a value's class",
    "property": "makes an attribute compute a value each time it is read",
    "check": "is the grader's check module", "BaseException": "catches or raises the interpreter's stop signals",
    "SystemExit": "ends the interpreter", "KeyboardInterrupt": "is the grader's stop signal",
    "GeneratorExit": "is the interpreter's own signal",
}

_GROUPS = {
    "reach the interpreter's machinery or the operating system": (
        "sys os gc builtins importlib inspect ctypes ctypeslib subprocess signal threading multiprocessing "
        "python_multiprocessing socket pickle marshal io shutil pathlib Path platform types weakref traceback "
        "linecache glob gzip tempfile logging contextlib chdir operator attrgetter methodcaller abc copyreg "
        "dispatch_table stdlib_re bltns sysconfig"),
    "reach the grader: checks, references, settings": (
        "checks reference load_reference settings threads sealed"),
    "read or write files, or load code": (
        "load save savez savez_compressed loadtxt savetxt genfromtxt fromfile tofile from_file fromregex memmap "
        "dump hub model_zoo datasets plt f2py lib package serialization storage jit cpp_extension cpp classes "
        "onnx export compile compiler profiler profiler_util profiler_legacy tensorboard collect_env file_baton show_pickle distributed dist "
        "DataSource extbuild datapipes"),
    "change how torch or typing work for everyone, the checks included": (
        "ops library overrides fx register register_kl get_type_hints ForwardRef make_dataclass "
        "cached_property set_default_dtype set_default_device set_default_tensor_type"),
    "reach the interpreter's frames, and through them the grader's own variables (its secret, its results)": (
        "gi_frame cr_frame ag_frame tb_frame tb_next f_back f_locals f_globals f_builtins f_code f_trace "
        "gi_code cr_code ag_code gi_yieldfrom cr_await ag_await cr_origin"),
    "are builtins that run strings, open files or reach attributes by name": (
        "exec eval open globals locals vars getattr setattr delattr breakpoint input"),
}
REFUSED_ATTRIBUTES = {name: why for why, names in _GROUPS.items() for name in names.split()}
# Global hooks: nn.modules.module.register_module_forward_hook and optimizer.register_optimizer_step_post_hook
# change every module or optimizer in the process, the checks' own included.
REFUSED_ATTRIBUTE_PREFIXES = {"checks_": "reach the grader: checks, references, settings",
                              "register_module_": "change how torch or typing work for everyone, the checks included",
                              "register_optimizer_": "change how torch or typing work for everyone, the checks included"}

ALLOWED_DUNDER_METHODS = {"__init__", "__call__", "__repr__", "__len__", "__getitem__", "__iter__", "__post_init__"}
SETTABLE_ATTRIBUTES = {"grad", "requires_grad", "data", "weight", "bias"}
ALLOWED_BASES = {"object", "torch.autograd.Function", "torch.utils.data.Dataset", "torch.utils.data.IterableDataset",
                 "utils.Autoencoder", "utils.models.Autoencoder"}
TENSOR_CLASSES_IN_NN = {"Parameter", "UninitializedParameter", "Buffer", "UninitializedBuffer"}

# What the notebooks import as they start: a cell may use these without importing them.
NOTEBOOK_ALIASES = {"nn": "torch.nn", "F": "torch.nn.functional", "np": "numpy", "Normal": "torch.distributions.Normal"}
# Other names the notebooks bind that a solution must not use (sys, subprocess, Path and io are refused as attributes).
NOTEBOOK_NAMES_REFUSED = {
    "widgets": "the notebook's widgets are not a solution's business",
    "Image": "PIL's Image reads and writes files",
    "leaderboard": "utils.leaderboard is the course's, not a solution's",
    "variants": "utils.variants builds the course's own models",
    "subprocess": "it runs programs", "display": "a solution returns values, it does not display them",
}

_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)
_IMPORTABLE_TOPS = {name.split(".")[0] for name in ALLOWED_IMPORTS}
_DUNDER = re.compile(r"^__\w+__$")
_FORMAT_FIELD_DUNDER = re.compile(r"\{[^{}]*__\w+__[^{}]*\}")


def screen(source):
    """The problems found in one solution cell's source, as ``line N: ...`` sentences; [] when it is clean."""
    try:
        if not isinstance(source, str):
            return ["line 1: the cell is not text; the grader reads only Python source"]
        if len(source) > MAX_CHARS:
            return [f"line 1: the cell is {len(source):,} characters long; the grader reads cells of at most "
                    f"{MAX_CHARS:,} characters"]
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            return [f"line {error.lineno or 1}: does not parse: SyntaxError at line {error.lineno or 1}"]
        except (RecursionError, MemoryError, ValueError, OverflowError) as error:
            return [f"line 1: does not parse: {type(error).__name__} (nested too deeply or malformed)"]
        return _Screen(tree).problems()
    except (RecursionError, MemoryError):
        return ["line 1: the cell is nested too deeply for the grader to read"]
    except Exception as error:  # fail closed: a screen that cannot read a cell must not pass it
        return [f"line 1: the grader could not screen this cell ({type(error).__name__})"]


def attribute_refused(name):
    """Why an attribute (or imported) name is refused, or None: the attribute part of the screen, for its tests."""
    if _DUNDER.match(name):
        return None if name == "__init__" else "it is a dunder attribute, a road into the interpreter's internals"
    if name.startswith("_"):
        return "it is private (starts with _); a solution uses only public names"
    if name in REFUSED_ATTRIBUTES:
        return f"the grader refuses names that {REFUSED_ATTRIBUTES[name]}"
    for prefix, why in REFUSED_ATTRIBUTE_PREFIXES.items():
        if name.startswith(prefix):
            return f"the grader refuses names that {why}"
    return None


def import_allowed(module):
    allowed = module in ALLOWED_IMPORTS or module.startswith(ALLOWED_IMPORT_PACKAGES)
    # ... and no step of the path is a refused name (torch.utils.data.datapipes opens files)
    return allowed and not any(attribute_refused(part) for part in module.split("."))


class _Screen:
    def __init__(self, tree):
        self.tree = tree
        self.found = []  # (line, text)
        self.imported = {}  # local name -> dotted path of what it was imported as
        self.bound = set()  # every name the cell binds: parameters, assignments, loop targets, defs, imports
        self.classes = set()  # classes the cell defines
        self.parent = {}
        self.scope_bindings = {}

    def problems(self):
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self._collect_bindings()
        for node in ast.walk(self.tree):
            self._visit(node)
        seen, out = set(), []
        for line, text in sorted(self.found, key=lambda item: item[0]):
            message = f"line {line}: {text}"
            if message not in seen:
                seen.add(message)
                out.append(message)
        return out

    def report(self, node, text):
        self.found.append((getattr(node, "lineno", 1) or 1, text))

    def _collect_bindings(self):
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imported[alias.asname] = alias.name
                    else:  # `import torch.nn` binds torch
                        self.imported[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.bound.add(node.id)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.bound.add(node.name)
            elif isinstance(node, ast.ClassDef):
                self.bound.add(node.name)
                self.classes.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bound.add(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                self.bound.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self.bound.add(node.rest)
        self.bound |= set(self.imported)
        # Names bound to a module or something in one (`T = torch.Tensor`, `f = F`, `T, = torch.Tensor,`): setting
        # their attributes patches the library as surely as `torch.Tensor.x = ...` does.
        self.aliases, self.alias_paths = set(), {}
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(self._module_path(chain) for chain in _plain_chains(node.value)):
                    self.aliases |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                    if len(targets) == 1 and isinstance(targets[0], ast.Name) and \
                            isinstance(node.value, (ast.Name, ast.Attribute)):
                        self.alias_paths[targets[0].id] = self._module_path(node.value)  # `u = torch.utils`

    def _dotted(self, node):
        """The dotted path an expression names through the cell's imports (`nn.Linear` -> 'torch.nn.Linear'), or None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.imported.get(node.id) or (NOTEBOOK_ALIASES.get(node.id, node.id) if node.id not in self.bound
                                              else node.id)
        return ".".join([head] + parts[::-1])

    def _visit(self, node):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not import_allowed(alias.name):
                    self.report(node, f"imports {alias.name}; {WHY_IMPORT}")
        elif isinstance(node, ast.ImportFrom):
            self._visit_import_from(node)
        elif isinstance(node, ast.Name):
            self._visit_name(node)
        elif isinstance(node, ast.Attribute):
            self._visit_attribute(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = _root(node)
            if isinstance(root, ast.Name) and (root.id in self.imported or root.id not in self.bound):
                self.report(node, f"changes an item of {ast.unparse(node.value)}, which this cell did not make; "
                                  "a solution must not change what the checks themselves use")
        elif isinstance(node, ast.Global):
            self.report(node, f"declares global {', '.join(node.names)}; a solution's functions must not rebind "
                              "the notebook's names")
        elif isinstance(node, ast.ExceptHandler):
            if node.type is None:
                self.report(node, "has a bare `except:`; it catches the grader's own stop signals (time limit, "
                                  "exit): catch Exception instead")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._visit_def(node)
        elif isinstance(node, ast.ClassDef):
            self._visit_class(node)
        elif isinstance(node, ast.arg) and node.arg.startswith("__"):
            self.report(node, f"names a parameter {node.arg}; dunder names are the interpreter's, not a solution's")
        elif isinstance(node, ast.MatchClass):
            for attr in node.kwd_attrs:
                why = attribute_refused(attr)
                if why:
                    self.report(node, f"reads .{attr} through a match pattern; {why}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DUNDER.match(node.value) and node.value not in ALLOWED_DUNDER_METHODS | {"__main__"}:
                self.report(node, f"uses the string {node.value!r}; a dunder name in a string is how code reaches "
                                  "attributes by name past this screen")
            elif _FORMAT_FIELD_DUNDER.search(node.value):
                self.report(node, "has a format string that reads a dunder attribute; format fields reach "
                                  "attributes by name past this screen")

    def _visit_import_from(self, node):
        if node.level:
            self.report(node, f"uses a relative import (from {'.' * node.level}{node.module or ''}); {WHY_IMPORT}")
            return
        if not import_allowed(node.module or ""):
            self.report(node, f"imports from {node.module}; {WHY_IMPORT}")
            return
        for alias in node.names:
            if alias.name == "*":
                self.report(node, f"uses `from {node.module} import *`; the grader needs to see every name a cell "
                                  "takes")
                continue
            full = f"{node.module}.{alias.name}"
            why = attribute_refused(alias.name) or _path_refused(full)
            if why:
                self.report(node, f"imports {full}; {why}")

    def _visit_name(self, node):
        name = node.id
        if name.startswith("__"):
            self.report(node, f"uses the name {name}; dunder names reach the interpreter's internals")
        elif self._bound_in_scope(node):
            return  # the cell's own variable (`def forward(self, input)`, `check = flagged.any()`), not the builtin
        elif name in REFUSED_NAMES:
            self.report(node, f"uses {name}, which {REFUSED_NAMES[name]}; a solution never needs it")
        elif name in NOTEBOOK_NAMES_REFUSED or attribute_refused(name):
            # the notebook's own sys, subprocess, Path, plt, io, ... or a module the grader's namespace may hold
            why = NOTEBOOK_NAMES_REFUSED.get(name) or attribute_refused(name)
            self.report(node, f"uses {name}, which this cell does not define; {why}")

    def _bound_in_scope(self, node):
        """Whether a name refers to something the cell binds, by Python's scoping: in the function (or lambda,
        comprehension) it sits in, one around it, or the cell's top level; a class body counts only for its own
        statements, not its methods."""
        below, child, scope, nearest = None, node, self.parent.get(node), True
        while scope is not None:
            if isinstance(scope, _SCOPES) and not _evaluated_outside(scope, child, below) and \
                    (nearest or not isinstance(scope, ast.ClassDef)):
                if node.id in self._bindings(scope):
                    return True
                nearest = False
            below, child, scope = child, scope, self.parent.get(scope)
        return False

    def _bindings(self, scope):
        if scope not in self.scope_bindings:
            names = set()
            for child in ast.walk(scope):
                if child is not scope and self._scope_of(child) is not scope:
                    continue
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    names.add(child.id)
                elif isinstance(child, ast.arg) and self._scope_of(child) is scope:
                    names.add(child.arg)
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child is not scope:
                    names.add(child.name)
                elif isinstance(child, ast.ExceptHandler) and child.name:
                    names.add(child.name)
                elif isinstance(child, (ast.Import, ast.ImportFrom)):
                    names |= {alias.asname or alias.name.split(".")[0] for alias in child.names}
            self.scope_bindings[scope] = names
        return self.scope_bindings[scope]

    def _scope_of(self, node):
        """The scope a binding lands in: a parameter in its function, a name in the nearest enclosing scope."""
        if isinstance(node, ast.arg):  # arguments -> the function or lambda that owns them
            return self.parent.get(self.parent.get(node))
        parent = self.parent.get(node)
        while parent is not None and not isinstance(parent, _SCOPES):
            parent = self.parent.get(parent)
        return parent

    def _visit_attribute(self, node):
        why = attribute_refused(node.attr)
        if why and node.attr.startswith("_") and not _DUNDER.match(node.attr) and \
                isinstance(node.value, ast.Name) and node.value.id == "self":
            why = None  # a class's own private attributes (self._cache) are its business
        if why:
            if not self._refused_inside(node.value):  # report the first step off the road, not each one after it
                self.report(node, f"reaches {_show(node)}; {why}")
            return
        path = self._module_path(node)
        if path and not self._module_path_refused_inside(node.value):
            path_why = _path_refused(path)
            if path_why:
                self.report(node, f"reaches {path}; {path_why}")
                return
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._visit_attribute_store(node)

    def _refused_inside(self, node):
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            if isinstance(node, ast.Attribute) and attribute_refused(node.attr) and not (
                    node.attr.startswith("_") and isinstance(node.value, ast.Name) and node.value.id == "self"):
                return True
            node = node.func if isinstance(node, ast.Call) else node.value
        return False

    def _module_path(self, node):
        """The dotted path of a chain rooted at a module the cell imports or the notebook's (`nn.Linear` ->
        'torch.nn.Linear'); None for chains rooted at the cell's own values."""
        root = _root(node)
        if isinstance(root, ast.Name) and self.alias_paths.get(root.id) and isinstance(node, (ast.Name, ast.Attribute)):
            rest = self._dotted(node).split(".")[1:]
            return ".".join([self.alias_paths[root.id]] + rest)
        if not isinstance(root, ast.Name) or not (root.id in self.imported or root.id not in self.bound):
            return None
        return self._dotted(node)

    def _module_path_refused_inside(self, node):
        path = self._module_path(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
        return bool(path and _path_refused(path))

    def _visit_attribute_store(self, node):
        verb = "deletes" if isinstance(node.ctx, ast.Del) else "sets"
        root = _root(node)
        target = _show(node)
        if isinstance(root, ast.Name) and root.id == "self":
            return
        library = isinstance(root, ast.Name) and (
            root.id in self.imported or root.id in self.aliases or
            (root.id not in self.bound and (root.id in NOTEBOOK_ALIASES or root.id in _IMPORTABLE_TOPS)))
        if library:
            what = self.imported.get(root.id) or NOTEBOOK_ALIASES.get(root.id) or (
                root.id if root.id in _IMPORTABLE_TOPS else "a library")
            self.report(node, f"{verb} {target}; that patches {what} for everyone, the checks included")
        elif not isinstance(root, ast.Name) or root.id not in self.bound:
            self.report(node, f"{verb} {target} on something this cell did not make; a solution must not change "
                              "what the checks themselves use")
        elif node.attr not in SETTABLE_ATTRIBUTES:
            self.report(node, f"{verb} {target}; a solution sets attributes only on self or a tensor's or layer's "
                              f"{', '.join(sorted(SETTABLE_ATTRIBUTES))}: replacing another object's attribute "
                              "(a model's parameters, a class's method) can make a check read a fake")

    def _visit_def(self, node):
        if _DUNDER.match(node.name) and node.name not in ALLOWED_DUNDER_METHODS:
            self.report(node, f"defines {node.name}; a returned object with its own {node.name} can fool a "
                              f"comparison (allowed: {', '.join(sorted(ALLOWED_DUNDER_METHODS))})")
        elif node.name.startswith("__") and not _DUNDER.match(node.name):
            self.report(node, f"defines {node.name}; dunder-prefixed names are mangled by the interpreter")

    def _visit_class(self, node):
        if _DUNDER.match(node.name):
            self.report(node, f"defines a class named {node.name}; dunder names are the interpreter's")
        for keyword in node.keywords:
            self.report(node, f"passes {keyword.arg or '**'}= to class {node.name}; a metaclass decides how a class "
                              "behaves, which a solution must leave to Python")
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.classes and base.id not in self.imported:
                continue
            path = self._dotted(base) if isinstance(base, (ast.Name, ast.Attribute)) else None
            if path in ALLOWED_BASES or (path and path.startswith("torch.nn.") and
                                         path.split(".")[-1] not in TENSOR_CLASSES_IN_NN):
                continue
            self.report(node, f"class {node.name} derives from {ast.unparse(base)}; a solution's classes derive only "
                              "from nn.Module (or a layer), torch.autograd.Function, Dataset or its own classes: a "
                              "tensor subclass can fool every comparison a check makes")


# utils' own public names that are functions or classes, not modules (utils.fit, utils.Autoencoder, ...): reached
# as utils.<name>; anything else lower-case under utils is one of its modules.
_UTILS_FUNCTIONS = {"score_summary", "load_dataset", "describe_device", "get_device", "set_seed", "trace_shapes",
                    "fast_mode", "strict_mode", "evaluate", "fit", "gradient_step", "reconstruction_mse",
                    "plot_latent_2d", "plot_losses", "show_image_rows"}


def _path_refused(path):
    """Why a dotted module path is refused beyond its names: torch.utils holds cpp_extension, collect_env (which
    runs shell commands), tensorboard and more, so only torch.utils.data is a solution's business; and of utils,
    only the learner-facing modules and functions."""
    parts = path.split(".")
    if parts[:2] == ["torch", "utils"] and len(parts) > 2 and parts[2] != "data":
        return "of torch.utils only torch.utils.data is a solution's business"
    if parts[0] == "utils" and len(parts) > 1 and parts[1][:1].islower() and \
            f"utils.{parts[1]}" not in ALLOWED_IMPORTS and parts[1] not in _UTILS_FUNCTIONS:
        return "of utils only its learner-facing modules (data, models, train, pca, viz, device) are a solution's business"
    return None


def _evaluated_outside(scope, child, below=None):
    """Whether `child`, a direct part of `scope`, runs in the scope around it: a function's defaults, annotations
    and decorators (`def f(type=type)` reads the builtin), a comprehension's first iterable (``below``, the part of
    `child` the name sits in, tells the iterable from the loop's target and conditions, which run inside), a class's
    bases."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return child is scope.args or child in getattr(scope, "decorator_list", []) or child is getattr(scope, "returns", None)
    if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return child is scope.generators[0] and below is scope.generators[0].iter
    if isinstance(scope, ast.ClassDef):
        return child in scope.bases or child in scope.keywords or child in scope.decorator_list
    return False


def _plain_chains(value):
    """The names and attribute chains an expression passes on as they are, not through a call: `torch.Tensor` in
    `torch.Tensor`, `(torch.Tensor, 1)` or `a or torch`, but not in `nn.Linear(3, 4)`."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Name, ast.Attribute)):
            yield node
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            stack.extend(node.elts)
        elif isinstance(node, ast.Starred):
            stack.append(node.value)
        elif isinstance(node, ast.IfExp):
            stack.extend([node.body, node.orelse])
        elif isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.NamedExpr):
            stack.append(node.value)
        elif isinstance(node, ast.Subscript):
            stack.append(node.value)  # `[torch.Tensor][0]` passes torch.Tensor on
        elif isinstance(node, ast.Dict):
            stack.extend(v for v in node.values if v is not None)


def _root(node):
    """The innermost value of an attribute or subscript chain: `a` in `a.b[0].c`."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _show(node):
    try:
        text = ast.unparse(node)
    except Exception:
        text = f".{getattr(node, 'attr', '?')}"
    return text if len(text) <= 60 else text[:57] + "..."
