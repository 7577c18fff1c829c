"""High-precision reference (oracle) for pooling operators; imports neither torch nor sympy.

* ``reference(op, input, param, kernel_size, ..., dims=, dtype=)``: correctly rounded forward,
  input gradient and parameter gradient with torch's window semantics.
* ``OPERATORS``: one record per operator (formula, parameter, padding meaning).
* ``operators``: the per-window mathematics and every convention (zeros, ties, padding).
* ``formats``: float16/bfloat16/float32/float64, correct rounding, ``ulp_distance``.
"""

from .formats import FORMATS, Format, get_format, round_fraction, ulp_distance
from .operators import OracleDomainError
from .reference import CertificationError, OracleMemoryError, OracleResult, reference
from .registry import OPERATORS, OperatorInfo, get_operator

__all__ = [
    "FORMATS",
    "OPERATORS",
    "CertificationError",
    "Format",
    "OperatorInfo",
    "OracleDomainError",
    "OracleMemoryError",
    "OracleResult",
    "get_format",
    "get_operator",
    "reference",
    "round_fraction",
    "ulp_distance",
]
