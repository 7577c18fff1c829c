"""Check every claim of the supplement (Sections 1 to 3), the toolkit's and the reviewer's.

Each claim's steps are decided by SymPy and, for every sign and inequality step, by z3 as well
(a disagreement is an error); the record says which engine decided each step. Verdicts: PROVED
(every step checked, all N), PROVED_UP_TO_N (for the sizes named), ARGUED (holds by an argument
whose listed steps are not checked), REFUTED (with a counterexample), CONDITIONAL (needs an
unstated hypothesis, named) or UNKNOWN (undecided within the claim's time limit). Every verdict
is cross-checked by the oracle. Prop. 2's 'lim = expression in alpha' displays are checked in
both readings (literal, and '.asym'), and printed inequalities with their delta.

Exit status: 0 when every check ran, SymPy and z3 agree and the oracle agrees (whatever the
verdicts, ARGUED and UNKNOWN included), 1 when a check crashed, the engines disagree or the
oracle disagrees, 2 on a usage error. Examples:

  ppverify prove
  ppverify prove --only P2 P2.squeeze --json
  ppverify prove --markdown reports/prove.md
  ppverify prove --readme README.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .._files import write_atomic

HELP = "SymPy and z3 verdicts on every claim, cross-checked by the oracle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="+", metavar="ID", help="check only these claim ids")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    parser.add_argument("--markdown", metavar="PATH", help="write the audit document to PATH "
                        "(what a reader should take from it, how it was made, every record "
                        "with its steps)")
    parser.add_argument("--readme", metavar="PATH", help="rewrite the generated audit block of "
                        "the README at PATH from this run (needs every claim: no --only)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes, at least 1 (default: 2, or 1 on a 1-core machine)")
    parser.add_argument("--list", action="store_true", help="list the claim ids and exit")


def run(args: argparse.Namespace) -> int:
    from . import CATALOGUE, all_ok, check_claims, render_markdown, select, summary_counts
    from .render import status

    if args.list:
        for c in CATALOGUE:
            print(f"{c.id:24} {c.source}")
        return 0
    readme = getattr(args, "readme", None)
    try:
        claims = select(args.only)
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        if args.markdown and os.path.isdir(args.markdown):
            raise ValueError(f"--markdown {args.markdown} is a directory; give a file name")
        if readme:
            if args.only:
                raise ValueError("--readme needs every claim; drop --only")
            from .readme import current_block

            current_block(Path(readme).read_text(encoding="utf-8"))  # markers present?
    except OSError as err:
        print(f"ppverify prove: error: cannot read --readme {readme}: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"ppverify prove: error: {err}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    live = None if args.json else _Display(len(claims))
    try:
        verdicts = check_claims([c.id for c in claims], progress=live and live.update,
                                jobs=args.jobs)
    finally:
        if live:
            live.close()
    wall = time.perf_counter() - t0
    if args.markdown:
        try:
            write_atomic(args.markdown, render_markdown(verdicts))
        except OSError as err:
            print(f"ppverify prove: error: cannot write --markdown {args.markdown}: {err}",
                  file=sys.stderr)
            return 2
    ok = all_ok(verdicts)
    if readme:
        if not ok:
            print("ppverify prove: --readme not written: the run has problems (see below)",
                  file=sys.stderr)
        else:
            from .readme import update_file

            update_file(readme, verdicts)
    if args.json:
        print(json.dumps({"claims": [v.to_json() for v in verdicts],
                          "summary": summary_counts(verdicts), "ok": ok,
                          "seconds": round(wall, 2)}, indent=2))
    else:
        _print_table(verdicts)
        counts = ", ".join(f"{k} {n}" for k, n in summary_counts(verdicts).items())
        print(f"{len(verdicts)} claims in {wall:.1f} s: {counts}")
        for v in verdicts:
            if status(v) != "ok":
                detail = v.error.splitlines()[0] if v.error else v.witness
                print(f"!! {v.id}: {status(v)}: {detail}", file=sys.stderr)
        if args.markdown:
            print(f"audit written to {args.markdown}")
        if readme and ok:
            print(f"audit block of {readme} rewritten")
    if not ok:
        print("ppverify prove: FAILED: a check crashed, SymPy and z3 disagree, or the oracle "
              "disagrees with a verdict (see above)", file=sys.stderr)
    return 0 if ok else 1


def _rich_console():
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


class _Display:
    """Progress while the claims are checked: a rich bar on a terminal, plain lines otherwise."""

    def __init__(self, total: int):
        self.total = total
        self.console = _rich_console()
        self.progress = None
        if self.console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("checking claims"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.description}"),
                                     console=self.console, auto_refresh=False, transient=True)
            self.task = self.progress.add_task("", total=total)
            self.progress.start()

    def update(self, verdict, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done,
                                 description=f"{verdict.id}: {verdict.verdict}")
            self.progress.refresh()
        else:
            print(f"[{done}/{total}] {verdict.id}: {verdict.verdict} ({verdict.seconds:.1f} s)",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_table(verdicts) -> None:
    from .render import status

    console = _rich_console()
    if console is not None:
        from rich.table import Table

        colours = {"PROVED": "green", "PROVED_UP_TO_N": "cyan", "ARGUED": "blue",
                   "REFUTED": "red", "CONDITIONAL": "yellow", "UNKNOWN": "magenta"}
        table = Table(title="ppverify prove")
        for name in ("id", "source", "verdict", "evidence"):
            table.add_column(name, overflow="fold")
        for v in verdicts:
            flag = "" if status(v) == "ok" else f" [bold red]{status(v)}[/]"
            table.add_row(v.id, v.source, f"[{colours[v.verdict]}]{v.verdict}[/]{flag}",
                          v.evidence)
        console.print(table)
        return
    w_id = max(len(v.id) for v in verdicts)
    w_src = max(len(v.source) for v in verdicts)
    print(f"{'id':{w_id}}  {'source':{w_src}}  {'verdict':14}  evidence")
    for v in verdicts:
        flag = "" if status(v) == "ok" else f" [{status(v)}]"
        print(f"{v.id:{w_id}}  {v.source:{w_src}}  {v.verdict:14}  {v.evidence}{flag}")
