"""ppverify's warning categories, in a module that imports nothing.

``ppverify.ops._native.NativeKernelWarning`` and ``ppverify.ops._fallback.FallbackWarning`` are
defined here (and re-exported there) so that whatever re-creates a warning from its category's
module name imports this module alone, not ``ppverify.ops`` and torch with it. pytest-xdist's
controller does exactly that for each warning a worker reports, in the receiver thread of that
worker: two such threads importing torch's modules at once could trip Python's import-deadlock
detector (``_DeadlockError``, or a "partially initialized module 'torch'" error) and take the
test session down (seen 2026-12-08; ``tests/test_xdist_imports.py``).
"""


class NativeKernelWarning(RuntimeWarning):
    """The compiled kernel cannot be used (or was rebuilt); the reason is in the message."""


class FallbackWarning(RuntimeWarning):
    """The pure-torch path runs where a compiled kernel would be much faster."""
