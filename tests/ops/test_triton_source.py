"""Rules for ``ppverify/ops/_triton_kernels.py`` that Triton's compiler enforces on a GPU but its
interpreter does not, so that ``tests/ops/test_triton.py`` (interpreter only) cannot catch them.
Both were found by compiling the kernels to PTX with a stub driver (issue 13):

* Triton checks at every launch that each global a kernel read is unchanged since it was
  compiled, comparing with ``!=``: a NaN global (``nan != nan``) makes every launch raise
  ``RuntimeError: Global variable ... has changed since we compiled this kernel``.
* Triton 3.4's compiler rejects a name rebound to a value of another type inside an ``if``
  (``initial value for '_' is of type int32[...], but the then block redefines it as
  fp64[...]``): the kernels give every discarded value its own name, never ``_``.

The source is read as text and parsed (no Triton needed), so these run everywhere.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

KERNELS = Path(__file__).resolve().parents[2] / "ppverify" / "ops" / "_triton_kernels.py"


def _module_level_numbers(tree: ast.Module) -> dict[str, float]:
    """Module-level ``NAME = <number>`` and ``NAME = tl.constexpr(<number expression>)``."""
    found = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and ast.unparse(value.func).endswith("constexpr") \
                and value.args:
            value = value.args[0]
        try:
            number = eval(compile(ast.Expression(value), str(KERNELS), "eval"),
                          {"float": float, "math": math})
        except Exception:
            continue
        if isinstance(number, (int, float)):
            found[node.targets[0].id] = number
    return found


def test_no_kernel_global_is_nan():
    tree = ast.parse(KERNELS.read_text())
    numbers = _module_level_numbers(tree)
    assert "INF" in numbers and "LN2_HI" in numbers  # the parser sees the constants
    nan = [name for name, v in numbers.items() if v != v]
    assert not nan, (f"module-level NaN constant(s) {nan}: Triton's launch-time check that "
                     f"globals are unchanged (with !=) fails on every launch; form NaN inside "
                     f"the kernel (INF - INF)")


def _jit_functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
                "jit" in ast.unparse(d) for d in node.decorator_list):
            yield node


def _throwaway_bindings(fn: ast.FunctionDef) -> list[int]:
    """Lines where an assignment binds ``_`` (a loop counter ``for _ in ...`` is an int
    throughout and compiles everywhere)."""
    lines = []
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                lines += [n.lineno for n in ast.walk(t)
                          if isinstance(n, ast.Name) and n.id == "_"]
    return lines


def test_kernels_never_bind_the_throwaway_name():
    tree = ast.parse(KERNELS.read_text())
    functions = list(_jit_functions(tree))
    assert len(functions) >= 5  # the kernels and their helpers were found
    offenders = [f"{fn.name}:{line}" for fn in functions for line in _throwaway_bindings(fn)]
    assert not offenders, (f"'_' bound in @triton.jit code at {offenders}: Triton 3.4's "
                           f"compiler rejects a name rebound with another type inside an if")


def test_the_rules_catch_the_defects_they_name():
    bad = ast.parse('NAN = tl.constexpr(float("nan"))\nINF = tl.constexpr(float("inf"))\n'
                    'LN2_HI = tl.constexpr(0.69)\n')
    numbers = _module_level_numbers(bad)
    assert math.isnan(numbers["NAN"])
    jit = ast.parse("@triton.jit\ndef k(x):\n    for _ in range(3):\n        pass\n"
                    "    _, e = f(x)\n    return e\n")
    assert [line for f in _jit_functions(jit) for line in _throwaway_bindings(f)] == [5]
