"""Draw the figures and write the audit document (reports/index.md, reports/index.html).

Every plotted value comes from the oracle; the accuracy maps (figure 5) measure ppverify.ops
and need torch (skipped with a message without it). The audit table comes from
ppverify.claims (`ppverify prove`). What each exact figure shows is stored in
DIR/data/<figure>.json and is the same on every machine; the accuracy maps are a
measurement, labelled with the machine, torch version and date (DIR/data/accuracy.json).
On one machine a rerun rewrites every file identically. With --only, the other figures keep
their files from an earlier run and stay in the document. Examples:

  ppverify report                 # writes reports/
  ppverify report --out /tmp/rep  # elsewhere
  ppverify report --quick --no-claims --only interpolation detail
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .catalogue import FIGURES

HELP = "figures and the audit document in reports/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="output directory (default: reports)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced resolution (for tests; use --out elsewhere so that the "
                             "committed reports/ keeps full resolution)")
    parser.add_argument("--no-claims", action="store_true",
                        help="do not run ppverify prove; the document says so")
    parser.add_argument("--json", action="store_true",
                        help="print the result as a JSON record instead of lines")
    parser.add_argument("--only", nargs="+", metavar="FIGURE", choices=[f.stem for f in FIGURES],
                        help="draw only these figures (the others keep their files from an "
                             "earlier run in --out and stay in the document): "
                             + ", ".join(f.stem for f in FIGURES))


class _PlainProgress:
    """One line per finished step, for logs and pipes."""

    def __init__(self, stream):
        self.stream = stream
        self.done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, description: str, done: int, total: int) -> None:
        if done > self.done:
            self.done = done
            print(f"[{done}/{total}] {description}", file=self.stream, flush=True)


class _RichProgress:
    """A rich progress bar on a terminal."""

    def __init__(self, stream):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream)
        self.bar = Progress(TextColumn("ppverify report"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.description}"),
                            console=self.console, transient=False)
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task("claims and figures", total=None)
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def __call__(self, description: str, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total, description=description)
        if not description.endswith("..."):
            self.console.print(f"[{done}/{total}] {description}", highlight=False)


def make_progress(stream=None):
    stream = stream or sys.stderr
    if stream.isatty():
        try:
            return _RichProgress(stream)
        except ImportError:
            pass
    return _PlainProgress(stream)


def run(args: argparse.Namespace) -> int:
    from .driver import build_report

    t0 = time.perf_counter()
    try:
        with make_progress() as progress:
            result = build_report(args.out, quick=args.quick, claims=not args.no_claims,
                                  only=tuple(args.only) if args.only else None,
                                  progress=progress)
    except ValueError as err:
        print(f"ppverify report: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"ppverify report: error: cannot write --out {args.out}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    for f in result.figures:
        if f.kept:
            print(f"figure {f.spec.number} ({f.spec.stem}): kept from an earlier run")
        elif f.skipped:
            print(f"figure {f.spec.number} ({f.spec.stem}): skipped: {f.skipped}")
        else:
            sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KB" for p in f.files)
            print(f"figure {f.spec.number} ({f.spec.stem}): {sizes} [{f.seconds:.1f} s]")
    if result.claims.verdicts is None:
        print(f"claims: {result.claims.message}")
    else:
        print(f"claims: {len(result.claims.verdicts)} verdicts [{result.claims.seconds:.1f} s]")
    print("documents: " + ", ".join(str(p) for p in result.documents))
    print(f"ppverify report: done in {time.perf_counter() - t0:.1f} s")
    return 0
