"""Sealed modules: code that a learner's kernel runs but that should not read as code when a learner opens utils/.

In a student release (built by ``python -m tools.release``) the exercise checks (utils/checks_*.py) and the
reference solutions (utils/reference/nb*.py) are sealed. Each such module is a three-line stub that calls
``unseal(globals())``; its source lies beside it in ``<name>.sealed``: compressed with zlib, then XORed with a
SHA-256 keystream derived from the module's name, so neither the file nor a plain ``zlib.decompress`` of it shows
the code. ``unseal`` decodes the source and runs it in the stub module's own namespace, compiled under the stub's
own file name, so imports, ``Exercise.load_reference()``, pickling and tracebacks (file and line number; the
line's text is not shown) behave as with the plain module. Only zlib, hashlib and compile() from the source text:
no bytecode, so one release runs on any Python 3.9-3.13.

What this is, honestly: obscurity, not security. The key is in this file, and anyone who reads it can decode
every sealed module in a few lines of Python. It keeps the answers from being read, searched or pasted casually,
nothing more. Grading does not rely on it: the grader keeps its own plain copy of the checks and references,
recognises pasted reference code by comparing syntax trees, and grades with checks that are not shipped here.
"""
import hashlib
import zlib
from pathlib import Path

MAGIC = b"autoencoders-course sealed v1\n"  # says what the file is, and lets a wrong file fail clearly
SUFFIX = ".sealed"


def _xor_keystream(data, name):
    """XOR ``data`` with a keystream of SHA-256 blocks of ``name``: applying it twice gives ``data`` back."""
    stream = b"".join(hashlib.sha256(f"{name}:{block}".encode()).digest() for block in range(len(data) // 32 + 1))
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(stream[:len(data)], "big")
    return mixed.to_bytes(len(data), "big")


def seal(source, name):
    """The bytes of ``<name>.sealed`` for a module's source text (``name``: the module's file stem)."""
    return MAGIC + _xor_keystream(zlib.compress(source.encode("utf-8"), 9), name)


def unsealed_source(blob, name):
    """The source text that ``seal(source, name)`` sealed."""
    if not blob.startswith(MAGIC):
        raise ImportError(f"{name}{SUFFIX} is not a sealed module of this course (damaged or replaced?).")
    return zlib.decompress(_xor_keystream(blob[len(MAGIC):], name)).decode("utf-8")


def unseal(module_globals):
    """Run the sealed source of the stub module whose ``globals()`` these are, in that module's namespace."""
    stub = Path(module_globals["__file__"])
    source = unsealed_source(stub.with_suffix(SUFFIX).read_bytes(), stub.stem)
    # The stub's own file name: utils.checks tells the learner's frames from the course's by the utils/ folder.
    exec(compile(source, str(stub), "exec", dont_inherit=True), module_globals)
