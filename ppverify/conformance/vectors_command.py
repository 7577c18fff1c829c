"""Write golden vectors: inputs, parameters, pooling arguments and correctly rounded results.

The file format (JSON or .npz, chosen by the extension of --out; format version 1) is
documented in ppverify.conformance.vectors; score results computed from it with
`ppverify check --vectors FILE --results FILE`. Examples:

  ppverify vectors --op ppool --out ppool.json
  ppverify vectors --op lp --dim 2 --count 50 --dtype float32 --out lp2d.npz
"""

from __future__ import annotations

import argparse
import os
import sys

from .targets import CONVENTIONS

HELP = "write golden test vectors (JSON or .npz) for implementations outside Python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", required=True, choices=sorted(CONVENTIONS),
                        help="operator the vectors are for")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="output file, .json or .npz")
    parser.add_argument("--dim", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3],
                        help="spatial dimensions (default: 1 2 3)")
    parser.add_argument("--count", type=int, default=24,
                        help="valid cases per dimension, 0 for error inputs only (default 24)")
    parser.add_argument("--dtype", nargs="+", default=["float64", "float32", "float16",
                                                       "bfloat16"],
                        choices=["float64", "float32", "float16", "bfloat16"],
                        help="dtypes to cover (default: all four)")
    parser.add_argument("--seed", type=int, default=0, help="case generator seed (default 0)")
    parser.add_argument("--no-errors", action="store_true",
                        help="leave out the error inputs")


def run(args: argparse.Namespace) -> int:
    from .vectors import build_vectors, write_vectors

    if not str(args.out).endswith((".json", ".npz")):
        print(f"ppverify vectors: error: --out must end in .json or .npz, got {args.out!r}",
              file=sys.stderr)
        return 2
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        print(f"ppverify vectors: error: --out {args.out}: directory {parent} does not exist",
              file=sys.stderr)
        return 2
    try:
        doc = build_vectors(args.op, tuple(dict.fromkeys(args.dim)), count=args.count,
                            seed=args.seed, dtypes=tuple(args.dtype),
                            include_errors=not args.no_errors)
    except ValueError as err:
        print(f"ppverify vectors: error: {err}", file=sys.stderr)
        return 2
    try:
        write_vectors(doc, args.out)
    except OSError as err:
        print(f"ppverify vectors: error: cannot write --out {args.out}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    errors = sum(1 for c in doc["cases"] if c["expect_error"])
    print(f"wrote {len(doc['cases'])} cases ({errors} error inputs) for {args.op} to {args.out} "
          f"(format {doc['format']} v{doc['format_version']})")
    return 0
