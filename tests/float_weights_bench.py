"""Micro-benchmark: the weights x^a in double (the kernel's 8-lane forms) against a float sketch.

    python -m tests.float_weights_bench

Compiles ``tests/float_weights_bench.cpp`` with the kernel's compiler and flags
(``fast_math_bench.build_and_run``; an AVX-512 machine is needed: the float sketch is written
in AVX-512 intrinsics) and prints time-stamp-counter cycles
per element, best of 400 calls on 16,384 elements in cache, interleaved: E = exp(a (ln x - Lc))
by ``fast_math.inc``'s ``fast_log8`` and ``fast_exp8`` (8 doubles per vector, as the kernel's
forward), and a sketch of the same weight in float (16 lanes per vector: log2 by a 16-entry
table and a degree-4 polynomial, exp2 by a degree-6 polynomial and ``scalef``; x taken relative
to a reference R, here 1), alone and with the weights summed in double, with the sketch's
largest relative error against ``pow`` (at a = 3.1 and x in [0.01, 1.01]: the float product
a log2(x / R) limits it where |a log2(x / R)| is large, that is where the weight is small).

A planning figure for the global and large-window rows of an AMD EPYC core, where a 512-bit
operation is two 256-bit halves and the double forms cost about 3.6 cycles per element
(2026-12-07 07:36 UTC: double 3.64-3.65, the float sketch 0.80, 1.11-1.12 with the double sums,
largest error 1.7e-6, 29 float ULPs of the weight). Not the kernel's code, not run by the
suite. What such weights do to the outputs: ``python -m tests.float_weights_survey`` (against
the oracle: 4.5-6.3% of global float32 outputs no longer correctly rounded).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .fast_math_bench import build_and_run

SOURCE = Path(__file__).with_name("float_weights_bench.cpp")


def main() -> int:
    build_and_run(SOURCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
