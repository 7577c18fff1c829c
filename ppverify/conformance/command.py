"""Check a pooling implementation against the oracle, or score results computed elsewhere.

TARGET is module:callable with torch's functional calling convention for --op (lp: the
signature of torch.nn.functional.lp_pool2d; ppool: ppverify.ops.p_pool2d; avg/max:
avg_pool2d/max_pool2d; powermean: like ppool with p). "{d}" in TARGET is replaced by the
dimension. The exit status is 0 only when the target conforms.

  ppverify check torch.nn.functional:lp_pool2d --op lp
  ppverify check 'torch.nn.functional:max_pool{d}d' --op max --dim 1 2 3 --json
  ppverify check mypkg.pool:p_pool2d --op ppool --tolerance float32=32 --thorough
  ppverify check --vectors golden.json --results mine.json

Errors are measured in ULP of the case's dtype against the correctly rounded reference (or in
ULP of the result's scale, when it is small because terms cancel); see
ppverify.conformance.compare for the categories and ppverify.conformance.vectors for the
vectors and results file formats.
"""

from __future__ import annotations

import argparse
import json
import sys

from .summary import format_report
from .targets import CONVENTIONS, default_dims

HELP = "check an implementation against the oracle (summary, reproducers, exit status)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?",
                        help="module:callable to check, e.g. torch.nn.functional:lp_pool2d "
                        "({d} is replaced by each dimension); required unless --vectors")
    parser.add_argument("--op", choices=sorted(CONVENTIONS),
                        help="operator the target computes; required with TARGET")
    parser.add_argument("--dim", type=int, nargs="+", choices=(1, 2, 3), default=None,
                        help="spatial dimensions (default: from the target's name, e.g. "
                        "lp_pool2d -> 2; all three when TARGET contains {d}; 2 otherwise)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--tolerance", action="append", default=[], metavar="DTYPE=ULP",
                        help="override a tolerance in ULP, "
                        "[output.|grad_input.|grad_param.]DTYPE=ULP: float32=32, "
                        "grad_input.float16=16, all=8 (repeatable; defaults are "
                        "printed with the report)")
    parser.add_argument("--thorough", action="store_true",
                        help="5x more cases, larger kernels and windows")
    parser.add_argument("--count", type=int, default=None,
                        help="valid cases per dimension (default 100, 500 with --thorough)")
    parser.add_argument("--seed", type=int, default=0, help="case generator seed (default 0)")
    parser.add_argument("--param", type=float, action="append", default=None,
                        help="only this alpha/p (repeatable; finite, p != 0 for lp), for targets "
                        "that support a restricted range (default: a built-in spread, "
                        "including huge values)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="do not shrink failing cases")
    parser.add_argument("--vectors", metavar="FILE",
                        help="golden vectors (from ppverify vectors) to score --results against")
    parser.add_argument("--results", metavar="FILE", help="results computed elsewhere")


def _dims(args) -> tuple[int, ...]:
    if args.dim:
        return tuple(dict.fromkeys(args.dim))
    return default_dims(args.target)


def _progress():
    """A rich progress bar on a terminal, nothing otherwise. Returns (callback, close)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    except ImportError:  # pragma: no cover
        return None, lambda: None
    bar = Progress("checking", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   transient=True)
    bar.start()
    task = bar.add_task("cases", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def run(args: argparse.Namespace) -> int:
    from .tolerances import Tolerances

    try:
        tol = Tolerances.parse(args.tolerance)
    except ValueError as err:
        print(f"ppverify check: error: {err}", file=sys.stderr)
        return 2
    if args.vectors or args.results:
        return _run_vectors(args, tol)
    if not args.target or not args.op:
        missing = " and ".join(n for n, v in (("TARGET", args.target), ("--op", args.op))
                               if not v)
        print(f"ppverify check: error: {missing} required, e.g. ppverify check "
              f"torch.nn.functional:lp_pool2d --op lp (or --vectors FILE --results FILE)",
              file=sys.stderr)
        return 2
    from .check import check

    update, close = _progress()
    try:
        report = check(args.target, args.op, _dims(args), thorough=args.thorough,
                       seed=args.seed, tolerances=tol, count=args.count,
                       shrink_failures=not args.no_shrink, progress=update,
                       params=args.param)
    except ValueError as err:
        close()
        print(f"ppverify check: error: {err}", file=sys.stderr)
        return 2
    close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(format_report(report))
    return 0 if report.conforms else 1


def _run_vectors(args, tol) -> int:
    from .vectors import format_score, load_results, load_vectors, score

    if not (args.vectors and args.results):
        print("ppverify check: error: --vectors and --results go together", file=sys.stderr)
        return 2
    for option, path, load in (("--vectors", args.vectors, load_vectors),
                               ("--results", args.results, load_results)):
        try:
            loaded = load(path)
        except OSError as err:
            print(f"ppverify check: error: {option} {path}: {err.strerror or err}",
                  file=sys.stderr)
            return 2
        except (ValueError, KeyError) as err:
            where = option if str(err).startswith(str(path)) else f"{option} {path}"
            print(f"ppverify check: error: {where}: {err}", file=sys.stderr)
            return 2
        if option == "--vectors":
            vectors = loaded
        else:
            results = loaded
    result = score(vectors, results, tol)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(format_score(result))
    return 0 if result.conforms else 1
