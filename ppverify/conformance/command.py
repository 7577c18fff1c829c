"""Check a pooling implementation against the oracle, or score results computed elsewhere.

TARGET is module:callable, or module:Class / module:Class(arg=value, ...) for an nn.Module
class (a fresh module per case). Windowed functions follow torch's functional convention for
--op (lp: torch.nn.functional.lp_pool2d; ppool: ppverify.ops.p_pool2d; avg/max/min:
avg_pool2d/max_pool2d; powermean: like ppool with p); with --pooling global or adaptive the
parameter and output_size are passed by the names the signature uses (gem(x, p=3, eps=1e-6)
gets p=...). "{d}" in TARGET is replaced by the dimension; the current directory is on the
import path.

The target is imported and run only in a worker process, never in the checker's: each case
has --timeout seconds (5x for the import and the first call); a crash, an exit, a hang or
processes left running is a failure of the target, and its prints go to stderr (--json stays
clean). Exit status: 0 only when the target conforms; 1 when it does not (or failed as above);
2 for a usage error or an invalid --vectors/--results file (validated against the published
JSON Schema in ppverify/conformance/schemas/ and the rules in README "The validation rule for
files", the error naming the file, the case id and the field; nothing is scored).

  ppverify check torch.nn.functional:lp_pool2d --op lp
  ppverify check 'torch.nn.functional:max_pool{d}d' --op max --dim 1 2 3 --json
  ppverify check mypkg.pool:gem --op powermean --pooling global --input-min 1e-6
  ppverify check 'mypkg.layers:GeM(p=3)' --op powermean --pooling global --input-min 1e-6
  ppverify check mypkg.layers:GeM --op powermean --pooling global --input-min 1e-6
      --param-attr raw_p --param-map 'softplus(v) + 1'     (one command, on one line)
  ppverify check mypkg.necks:GeneralizedMeanPooling --op powermean --pooling global
      --input-min 1e-6 --batched-only --flat-output        (a head: (N, C, H, W) -> (N, C))
  ppverify check ppverify.ops:PPool2d --op ppool --param-attr raw_alpha
      --per-channel                                          (a learnable alpha per channel)
  ppverify check mypkg.pooling:gem --op powermean --pooling global --per-channel
      --param-shape broadcast        (a function given p of shape (1, C, 1, 1) per channel)
  ppverify check torch.nn:LPPool2d --op lp --coverage
  ppverify check mymodel:gem_onnxruntime --op powermean --pooling global --param 3
      --forward-only --batched-only                        (an exported model, no backward)
  ppverify check --vectors golden.json --results mine.json

Errors are measured in ULP of the case's dtype against the correctly rounded reference, or in
ULP of the result's error scale (the rounding error a careful implementation cannot avoid);
where the reference is an infinity because the exact value lies beyond the dtype's range, other
results are measured against the exact value (a second oracle run for such a case only);
see ppverify.conformance.scales for the formulas, ppverify.conformance.compare for the
categories and ppverify.conformance.vectors for the vectors and results file formats.
"""

from __future__ import annotations

import argparse
import json
import sys

from .cases import DTYPES, LAYOUTS, POOLINGS
from .summary import format_report
from .targets import CONVENTIONS, default_dims
from .values import VALUE_KINDS

HELP = "check an implementation against the oracle (summary, reproducers, exit status)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?",
                        help="module:callable or module:Class(arg=value) to check, e.g. "
                        "torch.nn.functional:lp_pool2d ({d} is replaced by each dimension); "
                        "required unless --vectors")
    parser.add_argument("--op", choices=sorted(CONVENTIONS),
                        help="operator the target computes; required with TARGET")
    parser.add_argument("--dim", type=int, nargs="+", choices=(1, 2, 3), default=None,
                        help="spatial dimensions (default: from the target's name, e.g. "
                        "lp_pool2d -> 2; all three when TARGET contains {d}; 2 otherwise)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--pooling", choices=POOLINGS, default="windowed",
                        help="windowed (kernel_size, stride, ...; default), adaptive "
                        "(output_size) or global (one value per plane)")
    parser.add_argument("--tolerance", action="append", default=[],
                        metavar="QUANTITY.DTYPE=ULP",
                        help="override one tolerance, in ULP of the error scale: "
                        "output.float32=32, grad_input.float16=16, grad_param.all=512, "
                        "*.bfloat16=8 (every quantity); repeatable; it changes only what it "
                        "names, and the report lists it. Defaults are printed with the report")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES),
                        metavar="DTYPE", help=f"dtypes to test (default: {' '.join(DTYPES)})")
    parser.add_argument("--kinds", nargs="+", choices=VALUE_KINDS, default=list(VALUE_KINDS),
                        metavar="KIND", help="value kinds to test (default: all: "
                        f"{' '.join(VALUE_KINDS)})")
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS),
                        metavar="LAYOUT", help="memory layouts (default: all three)")
    parser.add_argument("--coverage", action="store_true",
                        help="print the coverage table: how often each pair of levels of "
                        "dtype, values, parameter class, pooling feature, layout and batching "
                        "occurred in the cases run")
    parser.add_argument("--input-min", type=float, default=None, metavar="EPS",
                        help="declare that the target clamps its input below EPS "
                        "(x.clamp(min=EPS), as GeM layers do): the oracle evaluates the "
                        "clamped operator and the report says so")
    parser.add_argument("--param-min", type=float, default=None, metavar="LOW",
                        help="declare the smallest alpha/p the target supports")
    parser.add_argument("--param-max", type=float, default=None, metavar="HIGH",
                        help="declare the largest alpha/p the target supports")
    parser.add_argument("--param-attr", default=None, metavar="NAME",
                        help="nn.Module targets: the attribute holding the parameter (default: "
                        "the first of p, alpha, norm_type, ... that exists); a Parameter's "
                        ".grad is the parameter gradient")
    parser.add_argument("--param-map", default=None, metavar="EXPR",
                        help="nn.Module targets: the attribute stores v and the module uses "
                        "EXPR(v) as the parameter, e.g. 'softplus(v) + 1' (torch functions "
                        "softplus, exp, log, sigmoid, ...), evaluated in the case's dtype; "
                        "float64(v) for a layer that computes it in float64, e.g. "
                        "'softplus(float64(v))'")
    parser.add_argument("--param-fixed", action="store_true",
                        help="the parameter is not trained: no parameter gradient is expected")
    parser.add_argument("--ties", choices=("any", "first", "split", "last"), default="any",
                        help="max/min: where the target may put the derivative at a tie: any "
                        "of the three (default; the report counts the cases passed under each "
                        "other than torch's), first (torch's max_pool, the oracle's default), "
                        "split (1/k to each of k tied elements, torch.amax) or last")
    parser.add_argument("--batched-only", action="store_true",
                        help="declare that the target takes only batched input (N, C, "
                        "*spatial), as many layers do: no unbatched (C, *spatial) case is run")
    parser.add_argument("--flat-output", action="store_true",
                        help="with --pooling global: declare that the target returns one value "
                        "per plane with the spatial axes dropped, (N, C) instead of (N, C, 1, "
                        "1), as a head that flattens does; judged as the pooling shape")
    parser.add_argument("--per-channel", action="store_true",
                        help="declare that the exponent has one value per channel (GeMmp, "
                        "PPool2d(num_channels=C)): each case draws one per channel from its "
                        "parameter class; a function gets a tensor of shape (C,), a module's "
                        "attribute C values (a constructor argument num_channels, channels, "
                        "in_channels or num_features is given C); the parameter gradient is "
                        "judged per channel")
    parser.add_argument("--param-shape", metavar="SHAPE",
                        help="a function target: the shape its parameter tensor is given, as "
                        "comma-separated 1s and at most one C (the channel count), e.g. "
                        "1,C,1,1 for GeM code that keeps p as torch.ones(1, C, 1, 1) * 3, or "
                        "'broadcast' for (1, C, 1, ...) with one 1 per spatial axis (right "
                        "for every --dim); default (C,) with --per-channel, a 0-d tensor "
                        "without. Without --per-channel the case's one exponent fills every "
                        "entry and the entries' gradients are added")
    parser.add_argument("--forward-only", action="store_true",
                        help="declare that the target has no backward (an inference engine, "
                        "an exported or ONNX model): its outputs alone are computed and "
                        "judged; with --vectors/--results, results without gradients are "
                        "scored on their outputs")
    parser.add_argument("--thorough", action="store_true",
                        help="5x more cases, larger kernels and windows")
    parser.add_argument("--count", type=int, default=None,
                        help="valid cases per dimension (default 100, 500 with --thorough)")
    parser.add_argument("--seed", type=int, default=0, help="case generator seed (default 0)")
    parser.add_argument("--param", type=float, action="append", default=None,
                        help="only this alpha/p (repeatable; finite, p != 0 for lp), for targets "
                        "that support only some values, or the value a target uses internally "
                        "(default: a built-in spread: ordinary, negative, huge)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="do not shrink failing cases")
    parser.add_argument("--shrink-seconds", type=float, default=None, metavar="S",
                        help="time to spend shrinking the failure groups, in report order "
                        "(default 10, 30 with --thorough)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="time limit per case in seconds (default 30; importing the target "
                        "and its first call get 5 times as long). A case past it is killed and "
                        "reported; after 2 such cases the target is not run any further")
    parser.add_argument("--vectors", metavar="FILE",
                        help="golden vectors (from ppverify vectors) to score --results against")
    parser.add_argument("--results", metavar="FILE", help="results computed elsewhere")


def _dims(args) -> tuple[int, ...]:
    if args.dim:
        return tuple(dict.fromkeys(args.dim))
    return default_dims(args.target)


def _import_path() -> None:
    """Put the current directory first on the import path, as ``python -m`` and pytest do."""
    import os

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _param_range(args):
    if args.param_min is None and args.param_max is None:
        return None
    low = float("-inf") if args.param_min is None else args.param_min
    high = float("inf") if args.param_max is None else args.param_max
    return low, high


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
    from .._progress import Progress
    from .driver import check

    _import_path()
    progress = Progress("ppverify check", "cases")
    try:
        report = check(args.target, args.op, _dims(args), thorough=args.thorough,
                       seed=args.seed, tolerances=tol, count=args.count,
                       shrink_failures=not args.no_shrink, progress=progress,
                       shrink_seconds=args.shrink_seconds,
                       params=args.param, dtypes=args.dtypes, kinds=args.kinds,
                       layouts=args.layouts, pooling=args.pooling, input_min=args.input_min,
                       param_range=_param_range(args), param_attr=args.param_attr,
                       param_map=args.param_map, param_fixed=args.param_fixed,
                       batched_only=args.batched_only, flat_output=args.flat_output,
                       per_channel=args.per_channel, forward_only=args.forward_only,
                       ties=args.ties, param_shape=args.param_shape,
                       timeout=args.timeout)
    except ValueError as err:
        print(f"ppverify check: error: {err}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(format_report(report, coverage=args.coverage))
    return 0 if report.conforms else 1


def _run_vectors(args, tol) -> int:
    from .vectors import format_score, load_results, load_vectors, score

    if not (args.vectors and args.results):
        print("ppverify check: error: --vectors and --results go together", file=sys.stderr)
        return 2
    vectors = None
    for option, path in (("--vectors", args.vectors), ("--results", args.results)):
        try:
            loaded = load_vectors(path) if vectors is None else load_results(path, vectors)
        except OSError as err:
            print(f"ppverify check: error: {option} {path}: {err.strerror or err}",
                  file=sys.stderr)
            return 2
        except ValueError as err:  # VectorsFileError names the file, the case and the field
            text = str(err).removeprefix(f"{path}: ")
            print(f"ppverify check: error: {option} {path}: {text}", file=sys.stderr)
            return 2
        if vectors is None:
            vectors = loaded
        else:
            results = loaded
    result = score(vectors, results, tol, ties=args.ties, forward_only=args.forward_only)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(format_score(result))
    return 0 if result.conforms else 1
