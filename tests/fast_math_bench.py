"""Micro-benchmark of the fast engine's weight loop: ln and exp per element, before and after.

    python -m tests.fast_math_bench [COLUMNS]

Compiles ``tests/fast_math_bench.cpp`` with the kernel's compiler and flags (``_native.FLAGS``):
a loop shaped like the kernel's ``compute_row`` (a row of COLUMNS x 8 lane-interleaved doubles,
default 2048, the kernel's TILE_COLS; it stays in cache): E = exp(a (ln x - Lc)) and ln x - Lc
written per element.
Four variants, each the best of 300 calls, interleaved: the previous helpers (an atanh series
with a division and a degree-12 exp polynomial, ``ppool_kernel.cpp`` at 79f6f5a, kept below
verbatim) in one pass as the kernel ran them, the same in two passes (all logs, then all
exponentials), and ``fast_math.inc``'s 8-lane forms in one and in two passes (the kernel now).
Prints time-stamp-counter cycles per 8-lane vector (the TSC runs at the nominal clock; divide
by the core's clock ratio for core cycles). A development tool for machines with the 8-lane
forms (AVX-512, or AVX2 and FMA through ``simd8.inc``'s emulation); not run by the suite.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from ppverify.ops import _native

SOURCE = Path(__file__).with_name("fast_math_bench.cpp")


def build_and_run(source: Path, *args: str) -> None:
    """Compile ``source`` (its FAST_MATH_INC and SIMD8_INC standing for the kernel's headers)
    with the kernel's compiler and flags into a program, and run it with ``args``."""
    inc = _native.SOURCE.with_name("fast_math.inc")
    with tempfile.TemporaryDirectory() as tmp:
        cpp, exe = Path(tmp) / "bench.cpp", Path(tmp) / "bench"
        cpp.write_text(source.read_text().replace("FAST_MATH_INC", str(inc))
                       .replace("SIMD8_INC", str(inc.with_name("simd8.inc"))))
        flags = [f for f in _native.FLAGS if f not in ("-shared", "-fPIC")]
        subprocess.run([_native._compiler() or "g++", *flags, str(cpp), "-o", str(exe)],
                       check=True)
        subprocess.run([str(exe), *args], check=True)


def main() -> int:
    build_and_run(SOURCE, sys.argv[1] if len(sys.argv) > 1 else "2048")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
