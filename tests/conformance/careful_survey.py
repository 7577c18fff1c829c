"""Survey: the careful implementations (tests/conformance/_careful.py) under --thorough runs,
every operator, pooling mode, dimension, in working precision and in float64.

    python -m tests.conformance.careful_survey [--quick]

Prints one line per run (cases run, skipped, error inputs, seconds) and the groups of any
failure; exits 1 if anything failed. --quick runs the default 100 cases instead of 500.
"""

from __future__ import annotations

import sys
import time

from ppverify.conformance.driver import check
from ppverify.conformance.summary import format_groups

from . import _careful


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    thorough = "--quick" not in argv
    failed = 0
    for work in (None, "float64"):
        for op in ("ppool", "powermean", "lp", "avg", "max", "min"):
            for pooling in ("windowed", "adaptive", "global"):
                for dims in (1, 2, 3):
                    start = time.process_time()
                    r = check(_careful.make(op, dims, pooling, work), op, dims,
                              pooling=pooling, thorough=thorough, isolate=False)
                    cpu = time.process_time() - start
                    print(f"{op:<9} {pooling:<8} {dims}-D {work or 'working':<8} "
                          f"conforms={r.conforms} valid={r.cases_run} "
                          f"skipped={r.cases_skipped} errors={r.error_cases_passed}/"
                          f"{r.error_cases_run} cpu={cpu:.1f}s", flush=True)
                    if not r.conforms:
                        failed += 1
                        print("\n".join(format_groups(r.groups, detailed=2)))
    print(f"{failed} failing run(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
