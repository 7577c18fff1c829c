"""Write golden vectors: inputs, parameters, pooling arguments and correctly rounded results.

The file format (JSON or .npz, chosen by the extension of --out; format version 1) is
documented in ppverify.conformance.vectors and published as JSON Schemas in
ppverify/conformance/schemas/ (vectors-v1.schema.json, results-v1.schema.json); score results
computed from it with `ppverify check --vectors FILE --results FILE`, which reads only files
that match them. Cases are written as the oracle computes them, with progress on stderr; the
file replaces --out only when complete. Examples:

  ppverify vectors --op ppool --out ppool.json
  ppverify vectors --op lp --dim 2 --count 50 --dtype float32 --out lp2d.npz
  ppverify vectors --op powermean --pooling global --dim 2 --out gem.json
  ppverify vectors --op avg --args kernel_size,stride --kinds random zeros --out avg.json
  ppverify vectors --op powermean --pooling global --dim 2 --per-channel --out gem_pc.json
  ppverify vectors --op ppool --dim 2 --forward-only --out ppool_inference.npz

The cases cover every pair of levels of dtype, value kind, parameter class, pooling feature
and batching (see ppverify check --coverage) when --count is at least the covering array's
size (about 70 for a windowed operator with every argument; the default 24 samples fewer).
"""

from __future__ import annotations

import argparse
import os
import sys

from .cases import POOLINGS
from .targets import CONVENTIONS
from .values import VALUE_KINDS

HELP = "write golden test vectors (JSON or .npz) for implementations outside Python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", required=True, choices=sorted(CONVENTIONS),
                        help="operator the vectors are for")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="output file, .json or .npz")
    parser.add_argument("--dim", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3],
                        help="spatial dimensions (default: 1 2 3)")
    parser.add_argument("--count", type=int, default=24,
                        help="valid cases per dimension, 0 for error inputs only (default 24, "
                        "at most 100000: more go into several files with other --seed values)."
                        " Cases are written as they are computed, with progress on stderr")
    parser.add_argument("--dtypes", "--dtype", dest="dtype", nargs="+",
                        default=["float64", "float32", "float16",
                                                       "bfloat16"],
                        choices=["float64", "float32", "float16", "bfloat16"],
                        help="dtypes to cover (default: all four)")
    parser.add_argument("--seed", type=int, default=0, help="case generator seed (default 0)")
    parser.add_argument("--kinds", nargs="+", choices=VALUE_KINDS, default=list(VALUE_KINDS),
                        metavar="KIND", help="value kinds (default: all)")
    parser.add_argument("--pooling", choices=POOLINGS, default="windowed",
                        help="windowed (default), adaptive (output_size) or global")
    parser.add_argument("--args", default=None, metavar="ARG,ARG",
                        help="the pooling arguments the implementation supports, e.g. "
                        "kernel_size,stride (default: all of the operator's: kernel_size, "
                        "stride, padding, dilation, ceil_mode, and count_include_pad for avg)")
    parser.add_argument("--no-errors", action="store_true",
                        help="leave out the error inputs")
    parser.add_argument("--batched-only", action="store_true",
                        help="every valid case's input batched, (N, C, *spatial), for an "
                        "implementation that takes no unbatched (C, *spatial) input")
    parser.add_argument("--forward-only", action="store_true",
                        help="no expected gradients (null), for an implementation without a "
                        "backward (an inference engine, an exported model); faster to write")
    parser.add_argument("--per-channel", action="store_true",
                        help="one exponent per channel in every valid case (channel_params, "
                        "passed as a tensor of shape (C,)), and the parameter gradient one "
                        "value per channel, for an implementation with per-channel exponents")


def run(args: argparse.Namespace) -> int:
    from .._progress import Progress
    from .vectors import vectors_stream, write_vectors

    if not str(args.out).endswith((".json", ".npz")):
        print(f"ppverify vectors: error: --out must end in .json or .npz, got {args.out!r}",
              file=sys.stderr)
        return 2
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        print(f"ppverify vectors: error: --out {args.out}: directory {parent} does not exist",
              file=sys.stderr)
        return 2
    accepts = None
    if args.args is not None:
        names = [a.strip() for a in args.args.split(",") if a.strip()]
        accepts = [a for a in names if a != "kernel_size"]
        if args.pooling == "windowed" and "kernel_size" not in names:
            print("ppverify vectors: error: --args must include kernel_size for windowed pooling",
                  file=sys.stderr)
            return 2
    try:
        header, records, total = vectors_stream(
            args.op, tuple(dict.fromkeys(args.dim)), count=args.count, seed=args.seed,
            dtypes=tuple(args.dtype), include_errors=not args.no_errors, kinds=args.kinds,
            pooling=args.pooling, accepts=accepts, batched_only=args.batched_only,
            per_channel=args.per_channel, forward_only=args.forward_only)
    except ValueError as err:
        print(f"ppverify vectors: error: {err}", file=sys.stderr)
        return 2
    progress = Progress("ppverify vectors", "cases")
    try:
        written = write_vectors(header, args.out, records=records, total=total,
                                progress=progress)
    except OSError as err:
        progress.close()
        print(f"ppverify vectors: error: cannot write --out {args.out}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    progress.close()
    print(f"wrote {written} cases ({total - args.count * len(set(args.dim))} error inputs) "
          f"for {args.op} to {args.out} (format {header['format']} "
          f"v{header['format_version']})")
    return 0
