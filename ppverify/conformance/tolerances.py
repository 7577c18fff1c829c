"""Per-dtype tolerances in ULP, their defaults and the ``dtype=ULP`` override syntax.

An error is measured in ULP of the case's dtype (see ``compare``). Three quantities have their
own tolerance: the forward ``output``, the input gradient ``grad_input`` and the parameter
gradient ``grad_param``. The defaults allow the rounding errors of a careful implementation that
works in the input's dtype (a few roundings per element, accumulated over a window of up to 64
elements and over overlapping windows), while failing anything that loses precision wholesale
(computing in a narrower format, a naive formula that overflows or cancels).

Overrides: ``float32=64`` sets every quantity of float32; ``grad_input.float16=8`` one quantity;
``all=16`` every dtype and quantity.
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
        """Apply one ``[quantity.]dtype=ULP`` override (``all`` for every dtype); returns self."""
        key, sep, value = spec.partition("=")
        if not sep:
            raise ValueError(f"tolerance override must look like 'float32=16', got {spec!r}")
        try:
            ulps = float(value)
        except ValueError:
            raise ValueError(f"tolerance {spec!r}: {value!r} is not a number of ULP") from None
        if not ulps >= 0:
            raise ValueError(f"tolerance {spec!r}: ULP must be non-negative")
        quantity, _, dtype = key.strip().rpartition(".")
        quantities = [quantity] if quantity else list(QUANTITIES)
        dtypes = list(DTYPES) if dtype == "all" else [dtype]
        for q in quantities:
            if q not in QUANTITIES:
                raise ValueError(f"tolerance {spec!r}: quantity must be one of {QUANTITIES}")
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

    def to_dict(self) -> dict:
        return {q: dict(v) for q, v in self.table.items()}
