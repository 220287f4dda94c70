"""Copy detection: does a learner's solution cell wrap or paste the course's reference?

``find_copy(learner_source, reference_source, function_names) -> str | None``: None when nothing is found, else one
short reason for the gradebook. It parses, never runs, and never raises (an unparsable cell gives None: the screen,
tools/screen.py, reports parse errors). Two kinds:

* **wrapped**: the cell reaches the reference: it imports from ``utils.reference``, names ``reference``,
  ``load_reference``, a ``nbNN_...`` reference module or the string ``utils.reference``, or uses the notebook's
  ``check`` module (``check.build_autoencoder(...)`` hands back the reference when given a wrong function) or any
  ``utils.checks*`` module. Names the cell binds itself (a variable ``reference = targets``) are its own.
* **pasted**: a function or class of the cell is, once normalised, the same as a reference function named in
  ``function_names``. Normalising drops docstrings, comments (the parser never sees them), other bare string or
  ``...`` statements, ``pass``, annotations and decorators' order of keyword arguments; renames arguments and
  local variables by order of first appearance (v0, v1, ...; in a class, also the attributes it sets on self and
  its method names); resolves module aliases through each source's imports (``fn.relu`` and ``F.relu`` are both
  ``torch.nn.functional.relu``; a name the cell uses without importing it, as the reference does); and keeps
  constants, attribute names and everything else. Comparison is exact: any change beyond names, comments and
  keyword order (``x ** 2`` for ``x.pow(2)``, one more statement) is not a copy. There is no similarity
  ratio: an honest near-miss and a lightly edited paste look alike.

Only references with enough *evidence* are compared: a short answer that the exercise dictates is what an honest
learner writes too. Evidence is the size of the function's AST without its docstring, counting each layer built
from ``nn.<Layer>(...)`` (and ``utils.Autoencoder(...)``) as one node, since the architecture is spelt out by the
exercise; a reference needs ``MIN_EVIDENCE`` nodes and ``MIN_STATEMENTS`` statements. Measured on
utils/reference/ (nodes, statements; tests/test_copies.py keeps this table true):

    compared:     train 210/19, VQAutoencoder 175/14, importance_weighted_bound 160/8, vq_vae_step 157/13,
                  VAE 108/11, pca_reconstruction 90/6, roc_auc 90/4, sensitive_directions 84/5, sae_loss 83/6,
                  sin_layer_jacobians 78/5, predicted_code_movement 78/4, build_small_autoencoder 70/10,
                  hutchinson_penalty 69/4, precision_recall 68/5, bits_per_image 68/6, standardise 68/3,
                  reset_dead_codes 67/5, activity_summary 65/5, quantise 65/3, kl_sparsity 63/2,
                  feature_images 62/4, dead_latents 59/6, auxiliary_loss 59/4, codebook_perplexity 59/4,
                  jacobian_penalty 53/2, contractive_loss 51/3, nearest_code 50/2, sigmoid_jacobian_penalty 49/2,
                  elbo_loss 48/3
    too small to tell a copy from an independent answer:
                  denoising_step 42/5, train_step 39/5, psnr 41/2, sparse_loss 43/3 (the textbook optimiser step
                  and one-line formulas), sample_images 36/3, kl_divergence 34/1, reparameterize 29/2,
                  per_image_mse 29/2, add_gaussian_noise 21/1, threshold_at_false_alarm_rate 16/1, and the model
                  builders whose layers the exercise lists (build_autoencoder, build_encoder, build_decoder,
                  build_conv_autoencoder, build_sparse_autoencoder, tabular_autoencoder: 2-10 once layers count 1).

Honest limits: exact matching up to names is evidence, not proof, and a learner who rewrites a pasted reference a
little (reorders two statements, writes ``x * x``) is not caught; a pasted body inlined into a larger function is
not caught either. Use the reason as a flag for a human, not as a verdict.
"""
import ast
import re

MIN_EVIDENCE = 45
MIN_STATEMENTS = 2
# Calls whose arguments the exercise dictates (the layers of a spelt-out architecture): one node of evidence each.
_DICTATED_CALL = re.compile(r"^(torch\.nn\.[A-Z]\w*|utils\.Autoencoder|utils\.models\.Autoencoder)$")
_REFERENCE_MODULE = re.compile(r"^nb\d\d_\w+$")
_NOTEBOOK_ALIASES = {"nn": "torch.nn", "F": "torch.nn.functional", "np": "numpy"}


def find_copy(learner_source, reference_source, function_names):
    """None, or one short reason: ``wrapped: ...`` or ``pasted: <fn> is the course's reference up to names and
    comments``."""
    try:
        learner = _parse(learner_source)
        if learner is None:
            return None
        wrapped = _wrapped(learner)
        if wrapped:
            return wrapped
        reference = _parse(reference_source)
        if reference is None:
            return None
        return _pasted(learner, reference, list(function_names or []))
    except (RecursionError, MemoryError):
        return None  # nested too deeply to compare: the screen refuses such a cell anyway
    except Exception:  # never raise into the grader: a detector that fails finds nothing
        return None


def _parse(source):
    if not isinstance(source, str) or len(source) > 200_000:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _wrapped(tree):
    # A name the cell binds itself (`check = flagged.any()`, `reference = targets`) is the learner's, not the course's.
    own = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    own |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 1)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_reference_module(alias.name):
                    return f"wrapped: line {line} imports {alias.name}, the course's reference"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [f"{module}.{alias.name}" for alias in node.names]
            if _is_reference_module(module) or any(_is_reference_module(name) for name in names):
                return f"wrapped: line {line} imports from {module}, the course's reference"
        elif isinstance(node, ast.Name) and node.id not in own and (
                node.id in ("reference", "load_reference", "check") or _REFERENCE_MODULE.match(node.id)):
            what = "the check, which hands back the reference" if node.id == "check" else "the course's reference"
            return f"wrapped: line {line} uses {node.id}, {what}"
        elif isinstance(node, ast.Attribute) and (node.attr in ("reference", "load_reference")
                                                  or node.attr == "checks" or node.attr.startswith("checks_")
                                                  or _REFERENCE_MODULE.match(node.attr)):
            return f"wrapped: line {line} reaches .{node.attr}, the course's reference"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                "utils.reference" in node.value or _REFERENCE_MODULE.match(node.value)):
            return f"wrapped: line {line} names {node.value!r}, the course's reference"
    return None


def _is_reference_module(name):
    parts = name.split(".")
    return (parts[:2] == ["utils", "reference"] or (parts[0] == "utils" and len(parts) > 1 and
                                                    parts[1].startswith("checks"))
            or any(_REFERENCE_MODULE.match(part) for part in parts))


def _pasted(learner, reference, function_names):
    # A name the cell uses without importing it (`Normal`) comes from the notebook's import cells, which import what
    # the reference module imports: resolve it as the reference does.
    reference_imports = _imports(reference)
    learner_imports = {**reference_imports, **_imports(learner)}
    candidates = [_normal(node, learner_imports) for node in ast.walk(learner)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    for name in function_names:
        original = next((node for node in reference.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                         and node.name == name), None)
        if original is None or not telling(original, reference_imports):
            continue
        if _normal(original, reference_imports) in candidates:
            return f"pasted: {name} is the course's reference up to names and comments"
    return None


def telling(definition, imports=None):
    """Whether a reference function or class is long enough that an identical answer tells a copy (see the module
    docstring): its evidence (nodes, statements) reaches MIN_EVIDENCE and MIN_STATEMENTS."""
    nodes, statements = evidence(definition, imports)
    return nodes >= MIN_EVIDENCE and statements >= MIN_STATEMENTS


def evidence(definition, imports=None):
    """(nodes, statements) of a definition's body without its docstring, each dictated layer call counting as one."""
    imports = _imports(definition) if imports is None else imports
    nodes = statements = 0
    stack = list(_without_docstring(definition.body))
    while stack:
        node = stack.pop()
        nodes += 1
        statements += isinstance(node, ast.stmt)
        if isinstance(node, ast.Call) and _DICTATED_CALL.match(_dotted(node.func, imports) or ""):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes, statements


def _imports(tree):
    names = dict(_NOTEBOOK_ALIASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node, imports):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([imports.get(node.id, node.id)] + parts[::-1])


def _without_docstring(body):
    return [statement for statement in body if not _is_noop(statement)]


def _is_noop(statement):
    # docstrings, other bare strings and `...` (comment-like), and `pass`: a copier adds or drops them freely
    return isinstance(statement, ast.Pass) or (isinstance(statement, ast.Expr) and
                                               isinstance(statement.value, ast.Constant))


def _normal(definition, imports):
    """The definition's canonical dump: see the module docstring for what is normalised."""
    local, attributes = _local_names(definition), _own_attributes(definition)
    order, attribute_order = {}, {}
    for node in _source_order(definition):
        if isinstance(node, ast.Attribute):  # a class's own attributes (self.mu) and methods: a namespace apart
            if _on_self(node) and node.attr in attributes and node.attr not in attribute_order:
                attribute_order[node.attr] = f"a{len(attribute_order)}"
            continue
        if isinstance(node, ast.FunctionDef) and node.name in attributes and node.name not in attribute_order:
            attribute_order[node.name] = f"a{len(attribute_order)}"
        name = node.id if isinstance(node, ast.Name) else node.arg if isinstance(node, ast.arg) else \
            node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if name in local and name not in order:
            order[name] = f"v{len(order)}"
    canonical = _Canonical(local, order, imports, attribute_order)
    return ast.dump(canonical.visit(_copy(definition)), annotate_fields=False)


def _on_self(node):
    return isinstance(node.value, ast.Name) and node.value.id == "self"


def _own_attributes(definition):
    """In a class: the attributes it sets on self and its methods' names (renamed together, apart from locals)."""
    if not isinstance(definition, ast.ClassDef):
        return set()
    names = {node.attr for node in ast.walk(definition)
             if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _on_self(node)}
    return names | {node.name for node in definition.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _local_names(definition):
    """Arguments and names bound inside the definition."""
    names = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not definition and \
                node not in getattr(definition, "body", []):  # nested helpers; a class's methods are attributes
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _source_order(node):
    """Nodes depth first, in the order the parser lists fields (near enough the order of the source)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(ast.iter_child_nodes(current))))


def _copy(tree):
    return ast.parse(ast.unparse(tree)).body[0]


class _Canonical(ast.NodeTransformer):
    def __init__(self, local, order, imports, attribute_order):
        self.local, self.order, self.imports, self.attribute_order = local, order, imports, attribute_order

    def rename(self, name):
        return self.order.get(name, name) if name in self.local else name

    def visit_Name(self, node):
        if node.id in self.local:
            return ast.Name(id=self.rename(node.id), ctx=node.ctx)
        return ast.Name(id=self.imports.get(node.id, node.id), ctx=node.ctx)  # `fn` and `F` alike

    def visit_arg(self, node):
        return ast.arg(arg=self.rename(node.arg), annotation=None)

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == self.rename("self"):
            node.attr = self.attribute_order.get(node.attr, node.attr)
        return node

    def _body(self, node):
        node.body = [self.visit(s) for s in _without_docstring(node.body)] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        node.name = "f"  # the function's own name is what the caller compares by: not evidence either way
        node.returns = None
        node.args = self.visit(node.args)
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        return self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = "C"
        node.bases = [self.visit(b) for b in node.bases]
        node.keywords = [self.visit(k) for k in node.keywords]
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.body = [self._method(s) for s in _without_docstring(node.body)]
        return node

    def _method(self, node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = self.attribute_order.get(node.name, node.name)
            node = self.visit_FunctionDef(node)
            node.name = name
            return node
        return self.visit(node)

    def visit_AnnAssign(self, node):
        self.generic_visit(node)
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value)

    def visit_Call(self, node):
        self.generic_visit(node)
        node.keywords = sorted(node.keywords, key=lambda k: (k.arg is None, k.arg or ""))
        return node

    def visit_For(self, node):
        self.generic_visit(node)
        node.body = _without_docstring(node.body) or [ast.Pass()]
        return node

    visit_While = visit_If = visit_With = visit_For
