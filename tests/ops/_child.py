"""Code run in a fresh Python process (a clean kernel cache or a clean peak-RSS record), its
last line of output read as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

#: run_child's limit for a child that compiles the kernel (a guard against a hung compiler,
#: not a speed test: the one-unit build alone takes about 100 s of one core here, and on a
#: CI machine's two cores it shares them with the other worker's tests and builds)
BUILD_TIMEOUT = 1200


def run_child(code: str, env: dict | None = None, timeout: float = 240) -> dict:
    """Run ``code`` (dedented) in a fresh interpreter with ``env`` added to this environment;
    the last line it prints, parsed as JSON. ``timeout``: seconds (``BUILD_TIMEOUT`` where the
    child compiles the kernel)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                         env={**os.environ, **(env or {})}, capture_output=True, text=True,
                         check=True, timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_growth(op: str, args: str, warm_shape: tuple, shape: tuple) -> dict:
    """Peak-RSS growth (kB, ``ru_maxrss``) of one forward and of forward+backward of
    ``ppverify.ops.<op>(x, <args>)`` on ``torch.rand(*shape)`` in a fresh process with 2
    threads, after a call on ``warm_shape`` has loaded the kernel: ``forward_kb``,
    ``grown_kb`` and ``finite`` (output and gradient)."""
    return run_child(f"""
        import json, resource, torch
        from ppverify.ops import {op}
        torch.set_num_threads(2)
        {op}(torch.rand(*{warm_shape!r}), {args})  # the kernel is loaded
        x = torch.rand(*{shape!r}, requires_grad=True)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        y = {op}(x, {args})
        forward = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        y.sum().backward()
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps({{"finite": bool(torch.isfinite(y).all() and torch.isfinite(x.grad).all()),
                          "forward_kb": forward, "grown_kb": grown}}))
    """)


def fwd_bwd_peak_growth(call: str, small_shape: tuple, shape: tuple, threads: int = 2,
                        p: float = 2.5, env: dict | None = None):
    """Peak-RSS growth (bytes; None where it cannot be reset) of one forward+backward of
    ``call`` (an expression of ``x``, with ``P`` = ``ppverify.ops``, ``F`` =
    ``torch.nn.functional`` and ``p``, a learnable 0-d tensor of that value) on
    ``torch.rand(*shape) + 0.01`` in a
    fresh process on ``threads`` threads, by the matrix's protocol
    (``ppverify.ops.bench_matrix.peak_rss_growth``: two warm-ups on ``small_shape``, then
    ``/proc/self/clear_refs`` and ``VmHWM``; ``ru_maxrss`` keeps the import's peak and misses
    growths below it). ``env``: added to the child's environment."""
    return run_child(f"""
        import json, torch
        import torch.nn.functional as F
        import ppverify.ops as P
        from ppverify.ops.bench_matrix import peak_rss_growth
        torch.set_num_threads({threads})
        p = torch.tensor({p!r}, requires_grad=True)
        def run(x):
            x = x.detach().requires_grad_(True)
            y = {call}
            y.backward(torch.ones_like(y))
            return y
        print(json.dumps(peak_rss_growth(run, torch.rand(*{small_shape!r}) + 0.01,
                                         lambda: torch.rand(*{shape!r}) + 0.01)))
    """, env)
