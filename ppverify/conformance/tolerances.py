"""Per-dtype tolerances in ULP, their defaults and the ``QUANTITY.DTYPE=ULP`` override syntax.

An error is measured in ULP of the case's dtype, or of the quantity's error scale (see
``compare`` and ``scales``). Three quantities have their own tolerance: the forward ``output``,
the input gradient ``grad_input`` and the parameter gradient ``grad_param``. The defaults are
multiples of the error scale that absorb sums of a few hundred terms; they fail anything that
loses precision wholesale (computing in a narrower format, a naive formula that overflows or
cancels), and no careful implementation in the case's precision exceeds them (tested).

Overrides name what they change, and change nothing else: ``output.float32=32`` one quantity
of one dtype; ``grad_input.all=16`` one quantity of every dtype; ``*.float16=8`` every quantity
of one dtype; ``*.all=16`` everything. A bare ``float32=32`` is refused: it would set the three
quantities alike, and so silently tighten ``grad_param`` (default 256) while loosening
``output`` (16).
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUANTITIES = ("output", "grad_input", "grad_param")
DTYPES = ("float64", "float32", "float16", "bfloat16")

DEFAULTS: dict[str, dict[str, float]] = {
    "output": {"float64": 16, "float32": 16, "float16": 4, "bfloat16": 4},
    "grad_input": {"float64": 64, "float32": 64, "float16": 8, "bfloat16": 8},
    "grad_param": {"float64": 256, "float32": 256, "float16": 16, "bfloat16": 16},
}


@dataclass
class Tolerances:
    """ULP tolerances, ``table[quantity][dtype]``."""

    table: dict[str, dict[str, float]] = field(
        default_factory=lambda: {q: dict(v) for q, v in DEFAULTS.items()})

    def get(self, quantity: str, dtype: str) -> float:
        return self.table[quantity][dtype]

    def override(self, spec: str) -> Tolerances:
        """Apply one ``QUANTITY.DTYPE=ULP`` override (``*`` for every quantity, ``all`` for
        every dtype); returns self."""
        key, sep, value = spec.partition("=")
        if not sep:
            raise ValueError(f"tolerance override must look like 'output.float32=32', "
                             f"got {spec!r}")
        try:
            ulps = float(value)
        except ValueError:
            raise ValueError(f"tolerance {spec!r}: {value!r} is not a number of ULP") from None
        if not ulps >= 0:
            raise ValueError(f"tolerance {spec!r}: ULP must be non-negative")
        quantity, _, dtype = key.strip().rpartition(".")
        if not quantity:
            raise ValueError(
                f"tolerance {spec!r}: name the quantity it is for, e.g. output.{dtype}={value} "
                f"(or *.{dtype}={value} for output, grad_input and grad_param alike: their "
                f"defaults differ, 16/64/256 ULP in float32)")
        quantities = list(QUANTITIES) if quantity == "*" else [quantity]
        dtypes = list(DTYPES) if dtype == "all" else [dtype]
        for q in quantities:
            if q not in QUANTITIES:
                raise ValueError(f"tolerance {spec!r}: quantity must be one of "
                                 f"{', '.join(QUANTITIES)} or *")
            for d in dtypes:
                if d not in DTYPES:
                    raise ValueError(f"tolerance {spec!r}: dtype must be one of {DTYPES} or all")
                self.table[q][d] = ulps
        return self

    @classmethod
    def parse(cls, overrides=()) -> Tolerances:
        tol = cls()
        for spec in overrides or ():
            tol.override(spec)
        return tol

    def changed(self) -> list[str]:
        """The overrides in effect, as ``quantity.dtype=ULP (default D)`` strings."""
        return [f"{q}.{d}={self.table[q][d]:g} (default {DEFAULTS[q][d]:g})"
                for q in QUANTITIES for d in DTYPES if self.table[q][d] != DEFAULTS[q][d]]

    def to_dict(self) -> dict:
        return {q: dict(v) for q, v in self.table.items()}
