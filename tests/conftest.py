"""The test session's one controller-side hook: torch imported before pytest-xdist's workers
report anything.

pytest-xdist's controller re-creates each warning a worker reports by importing its category's
module, in that worker's receiver thread (``xdist.workermanage.unserialize_warning_message``).
The suite's warnings include torch's own (``torch.jit.TracerWarning`` from the ONNX export
tests); on Python 3.11 (here) two receiver threads importing torch's modules at once (one
through ``torch.jit._trace``, one through another module) can trip the import-deadlock detector
(``_DeadlockError`` on ``torch._C``, or "partially initialized module 'torch' has no attribute
'jit'") and the controller goes down with the whole run: seen 2026-12-08 in a full run of the
suite (an INTERNALERROR and a segmentation fault at exit), and reproduced in 2 of 6 sessions of
two workers warning at once. Importing torch here, in the controller's main thread before the
workers start, leaves those threads nothing to import (``tests/test_xdist_imports.py``).
"""

from __future__ import annotations

import contextlib
import importlib

#: the packages whose warning categories the suite's workers report (beyond the builtins and
#: ``ppverify._warnings``, which import nothing)
WARNING_PACKAGES = ("torch", "hypothesis")


def import_before_workers() -> None:
    """Import ``WARNING_PACKAGES`` (those installed) here, so that no later thread has to."""
    for name in WARNING_PACKAGES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def pytest_configure(config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        import_before_workers()
