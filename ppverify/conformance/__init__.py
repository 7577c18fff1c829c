"""The oracle as a test oracle for other implementations of pooling operators.

* ``check(target, op, dims)``: generated cases covering every pair of factor levels, the
  target's forward and backward, errors against the oracle measured in ULP of each result's
  error scale, failures grouped by cause with shrunk reproducers (``CheckReport``).
* ``vectors``: golden vectors for implementations outside Python, and scoring their results.
* ``pytest_plugin``: the ``assert_matches_oracle`` fixture and helper.

Modules, one job each: ``targets`` (target forms: functions, nn.Module classes; calling
conventions; signature inspection), ``cases`` (case data and its labels), ``values`` (value
kinds), ``coverage`` (factors, the covering array, the coverage table), ``generate`` (case
generation, error inputs), ``expected`` (oracle results), ``scales`` (error scales),
``runner`` (the only torch code, imported lazily), ``worker`` (the process that imports and
runs the target), ``isolation`` (starting, timing and watching it from the checker),
``wire`` (the validated messages between them), ``compare`` (errors and categories),
``diagnosis`` (groups by cause, the calling-convention diagnosis), ``tolerances``, ``shrink``,
``reproducer``, ``driver`` (``check``, the driver), ``summary`` (the text report), ``vectors``
(golden vectors, results scoring), ``vectorfiles`` (reading them: schema, rules, limits; the schemas
in ``schemas/``), ``jsonio`` (exact floats in JSON, atomic writes), ``command``
(``ppverify check``), ``vectors_command`` (``ppverify vectors``), ``pytest_plugin``.
Hypothesis strategies live in ``ppverify.strategies``. Importing this package does not import
torch.
"""

from __future__ import annotations

__all__ = ["check", "CheckReport", "Tolerances", "assert_matches_oracle"]


def __getattr__(name):
    if name in ("check", "CheckReport"):
        # (the driver is its own module, ``driver``: a submodule named ``check`` would be set
        # as this package's attribute ``check`` once imported, shadowing the function, and
        # ``from . import check`` here recursed into this function)
        from . import driver

        return getattr(driver, name)
    if name == "Tolerances":
        from .tolerances import Tolerances

        return Tolerances
    if name == "assert_matches_oracle":
        from .pytest_plugin import assert_matches_oracle

        return assert_matches_oracle
    raise AttributeError(name)
