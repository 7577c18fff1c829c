"""Evaluate the oracle on one window given on the command line.

The values form a single 1-D window (kernel size = number of values). Results are correctly
rounded to --dtype, or given to --digits significant digits. Examples:

  ppverify eval --op ppool --param 2 1 2 3 4
  ppverify eval --op lp --param 3 --dtype float32 0.5 0 2
  ppverify eval --op ppool --param 1e6 --digits 40 1 1e30 3
"""

from __future__ import annotations

import argparse
import json
import sys

import mpmath
import numpy as np

from .formats import FORMATS
from .operators import OracleDomainError
from .reference import CertificationError, reference
from .registry import OPERATORS

HELP = "correctly rounded value and gradients of one window"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("values", nargs="+", type=float,
                        help="the window's elements (one 1-D window; kernel size = their "
                        "number; negative values only for avg/max/min or an integer param)")
    parser.add_argument("--op", default="ppool", choices=sorted(OPERATORS),
                        help="operator (default: ppool)")
    parser.add_argument("--param", type=float, default=None,
                        help="alpha for ppool, p for lp and powermean (required for them; "
                        "avg, max and min take none)")
    parser.add_argument("--dtype", default="float64", choices=sorted(FORMATS),
                        help="format to round to (default: float64)")
    parser.add_argument("--digits", type=int, default=None,
                        help="give this many significant digits instead of rounding")
    parser.add_argument("--ties", default="first", choices=("first", "split", "last"),
                        help="max and min: where the derivative goes at a tie: first (torch's "
                        "max_pool; default), split (1/k to each of k tied elements, "
                        "torch.amax) or last")
    parser.add_argument("--json", action="store_true", help="print a JSON record")


def _text(value, digits: int | None) -> str:
    """A float's shortest repr, or an mpmath number with ``digits`` significant digits."""
    if digits is not None:
        return mpmath.nstr(value, digits, min_fixed=-4, max_fixed=digits)
    return repr(float(value))


def run(args: argparse.Namespace) -> int:
    x = np.asarray(args.values, dtype=np.float64).reshape(1, 1, -1)
    info = OPERATORS[args.op]
    if info.has_param and args.param is None:
        print(f"ppverify eval: error: --op {args.op} needs --param ({info.param_name})",
              file=sys.stderr)
        return 2
    if not info.has_param and args.param is not None:
        print(f"ppverify eval: error: --op {args.op} takes no --param", file=sys.stderr)
        return 2
    ties = getattr(args, "ties", "first")
    if ties != "first" and args.op not in ("max", "min"):
        print(f"ppverify eval: error: --ties is for max and min, not {args.op}", file=sys.stderr)
        return 2
    try:
        # dy/dparam needs ln x: with a negative input (integer alpha or p) it is undefined
        negative = info.has_param and bool(np.any(x < 0))
        r = reference(args.op, x, args.param, x.shape[-1], dims=1, dtype=args.dtype,
                      digits=args.digits, param_gradient=False if negative else None,
                      ties=ties)
    except (OracleDomainError, CertificationError, ValueError) as err:
        print(f"ppverify eval: error: {err}", file=sys.stderr)
        return 2
    record = {
        "op": args.op,
        "param": args.param,
        "dtype": r.dtype,
        "inputs": args.values,
        "value": _text(r.output.ravel()[0], args.digits),
        "grad_input": [_text(v, args.digits) for v in r.grad_input.ravel()],
        "grad_param": None if r.grad_param is None else _text(r.grad_param.ravel()[0],
                                                              args.digits),
        "conventions": dict(r.notes),
    }
    if args.op in ("max", "min"):
        record["ties"] = ties
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"{info.title}: {info.formula}   [{r.dtype}]")
    print(f"  y            = {record['value']}")
    for i, g in enumerate(record["grad_input"]):
        print(f"  dy/dx[{i}]     = {g}")
    if record["grad_param"] is not None:
        print(f"  dy/d{info.param_name:<8} = {record['grad_param']}")
    elif info.has_param:
        print(f"  dy/d{info.param_name:<8} : undefined (needs ln x of a negative input)")
    for note, count in record["conventions"].items():
        print(f"  convention: {note} ({count} window{'s' if count != 1 else ''})")
    return 0
