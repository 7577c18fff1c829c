"""The oracle as a test oracle for other implementations of pooling operators.

* ``check(target, op, dims)``: generated cases, the target's forward and backward, errors in
  ULP against the oracle, failure categories, shrunk reproducers (``CheckReport``).
* ``vectors``: golden vectors for implementations outside Python, and scoring their results.
* ``pytest_plugin``: the ``assert_matches_oracle`` fixture and helper.

Modules, one job each: ``targets`` (calling conventions, signature inspection), ``cases``
(case data and generation), ``expected`` (oracle results and their scales), ``runner`` (the
only torch code, imported lazily), ``compare`` (ULP errors and categories), ``tolerances``,
``shrink``, ``reproducer``, ``check`` (the driver), ``vectors`` (golden vectors, results
scoring), ``jsonio`` (exact floats in JSON, atomic writes), ``command`` (``ppverify check``),
``vectors_command`` (``ppverify vectors``), ``pytest_plugin``. Hypothesis strategies live in
``ppverify.strategies``. Importing this package does not import torch.
"""

from __future__ import annotations

__all__ = ["check", "CheckReport", "Tolerances", "assert_matches_oracle"]


def __getattr__(name):
    if name in ("check", "CheckReport"):
        from . import check as _check

        return getattr(_check, name)
    if name == "Tolerances":
        from .tolerances import Tolerances

        return Tolerances
    if name == "assert_matches_oracle":
        from .pytest_plugin import assert_matches_oracle

        return assert_matches_oracle
    raise AttributeError(name)
