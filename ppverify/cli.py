"""The ``ppverify`` command: a thin dispatcher to one layer per subcommand.

Each subcommand lives beside the layer it drives, in a module exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
subcommand runs, so ``ppverify --help`` needs neither torch nor sympy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from . import __version__

#: exit statuses shared by every subcommand (each command's --help says what 0 and 1 mean)
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and its verdict is negative (does not conform, a crash, ...)
EXIT_USAGE = 2  # bad arguments or input files: nothing was checked
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away
EXIT_STATUS_HELP = (
    "Exit status: 0 success; 1 the command ran and its result is negative (see the command's "
    "help); 2 usage error (bad arguments or input files); 141 the reader of the output went "
    "away (a closed pipe, as in `| head`)."
)

# name -> (module, one-line help). The help is repeated here so that --help imports nothing.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("ppverify.oracle.command", "correctly rounded value and gradients of one window"),
    "prove": ("ppverify.claims.command", "SymPy verdicts on every claim, cross-checked"),
    "check": ("ppverify.conformance.command", "check an implementation against the oracle"),
    "vectors": ("ppverify.conformance.vectors_command", "write golden test vectors (JSON/.npz)"),
    "bench-oracle": ("ppverify.oracle.bench", "oracle throughput in certified windows per second"),
    "report": ("ppverify.report.command", "figures and the audit document in reports/"),
    "bench": ("ppverify.ops.bench", "speed and peak memory of the ops vs torch's pooling"),
    "kernel": ("ppverify.ops.kernel_command", "build (if needed) and describe the compiled kernel"),
    # one line per subcommand; keep this list the only place that names them
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppverify",
        description=(
            "Verified mathematics, a correctly rounded reference and a fast torch op for "
            "polynomial (P-) pooling y = sum x^(a+1) / sum x^a and its relatives."
        ),
        epilog="Run 'ppverify COMMAND --help' for a command's options, defaults and examples. "
               + EXIT_STATUS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"ppverify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
    return parser


TORCH_INSTALL = (
    "install torch first, pinned so that pip takes the CPU wheel rather than a multi-GB CUDA "
    "build (`pip install torch==2.13.0` on the machines this project targets; the ops need "
    "torch >= 2.4, 2.13.0 is tested), then `pip install -e '.[torch]'`"
)


def _needs_torch(command: str, argv: list[str]) -> int:
    """The message for a subcommand that cannot run without torch; exit status 0 for --help."""
    wants_help = any(a in ("-h", "--help") for a in argv)
    stream = sys.stdout if wants_help else sys.stderr
    print(f"ppverify {command}: {SUBCOMMANDS[command][1]}\n\n"
          f"ppverify {command} needs torch, which is not installed in this environment: "
          f"{TORCH_INSTALL}.", file=stream)
    return 0 if wants_help else 2


#: what argparse must read as a (negative) number, not an option: argparse's own pattern
#: misses exponents, so `ppverify eval --op max 1e308 -1e308` would read -1e308 as an option
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                             re.IGNORECASE)


def numbers_may_be_negative(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` read ``-1e308``, ``-.5e-3`` and ``-inf`` as values (none of ppverify's
    options looks like a number)."""
    parser._negative_number_matcher = NEGATIVE_NUMBER


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in SUBCOMMANDS:
        try:
            module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] != "torch":
                raise
            return _needs_torch(argv[0], argv[1:])
        p = argparse.ArgumentParser(prog=f"ppverify {argv[0]}", description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        numbers_may_be_negative(p)
        args = p.parse_args(argv[1:])
        try:
            return int(module.run(args) or 0)
        except BrokenPipeError:
            # the reader went away (``ppverify prove --json | head``): no traceback, and a
            # status of its own, the one a shell gives a process killed by SIGPIPE
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
