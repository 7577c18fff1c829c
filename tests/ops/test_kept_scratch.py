"""The power engine keeps each thread's scratch between calls (``PowScratch`` in
``power_kernel.inc``) and does not clear its output-sized buffers (acc, orow, yrow, dwrow, coef)
when a call's plan differs from the last one's: every entry a call reads, it writes first. So a
call made after calls of other plans, whose values those buffers still hold, gives the bits of
the same call in a fresh process, where they start at zero. An entry read before it is written
(a per-row reset forgotten) shows here as a difference in the first output row, which the
accuracy tests may not see."""

from __future__ import annotations

import pytest

from ppverify.ops import _native

from ._child import run_child

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

_SETUP = """
import hashlib, json, torch
from ppverify.ops import (adaptive_gem_pool2d, adaptive_lp_pool2d, gem_pool1d, gem_pool2d,
                          lp_pool2d)
torch.set_num_threads(2)


def digest(fn, x, p, *args):
    xg = x.clone().requires_grad_()
    pg = torch.tensor(p, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32,
                      requires_grad=True)
    y = fn(xg, pg, *args)
    g = torch.rand(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y.backward((g + 0.5).to(y.dtype))
    h = hashlib.sha256()
    for t in (y, xg.grad, pg.grad):
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def uniform(*shape, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 0.05 + torch.rand(shape, generator=gen, dtype=dtype)


f64 = torch.float64
CASES = [  # the saving forward and its backward, or the recomputing backward: each form
    (gem_pool2d, uniform(2, 8, 23, 19), 3.1, 3, 2, 1),
    (lp_pool2d, uniform(2, 8, 22, 18, dtype=f64), 2.5, 2, 2),
    (gem_pool2d, uniform(1, 8, 30, 29, dtype=f64), 3.1, 3, 1, 1),
    (adaptive_gem_pool2d, uniform(2, 8, 40, 41, dtype=f64), 3.1, 1),
    (adaptive_lp_pool2d, uniform(1, 8, 33, 35), 2.5, (3, 2)),
    (gem_pool1d, uniform(1, 1, 30000), 3.1, 3, 1),
    # windows whose dy/dp takes the second pass over their elements (pow_dp_rows): near-ties
    # (float32), and float64 windows far below their plane's largest element
    (gem_pool2d, 1.0 + 1e-4 * uniform(2, 8, 20, 18), 3.0, 2, 2),
    (lp_pool2d, torch.where(torch.arange(20 * 18).reshape(20, 18) == 0, 1e60,
                            uniform(2, 8, 20, 18, dtype=f64)), 3.0, 2, 2),
]
"""


def test_a_call_after_other_plans_gives_a_fresh_process_bits():
    fresh = run_child(_SETUP + """
print(json.dumps([digest(*case) for case in CASES]))
""")
    # the same calls after larger calls of other plans (other sizes, p, operators, dtypes),
    # and in the reverse order (each after another case)
    after = run_child(_SETUP + """
for fn, shape, dtype, p, args in [
        (gem_pool2d, (4, 16, 64, 61), torch.float32, 2.7, (3, 1, 1)),
        (gem_pool2d, (4, 16, 64, 61), f64, 4.5, (2, 2)),
        (adaptive_gem_pool2d, (2, 16, 90, 80), f64, 1.7, (1,)),
        (adaptive_lp_pool2d, (2, 16, 90, 80), torch.float32, 3.3, (1,)),
        (gem_pool1d, (1, 1, 200000), torch.float32, 2.2, (3, 1))]:
    digest(fn, uniform(*shape, dtype=dtype, seed=5) * 7.0, p, *args)
# and calls that leave the second pass's sums behind (near-ties; windows far below the plane)
digest(gem_pool2d, 3.0 + 1e-4 * uniform(3, 16, 41, 37, seed=6), 2.5, 3, 1, 1)
far = uniform(3, 16, 41, 37, dtype=f64, seed=7)
far[..., 0, 0] = 1e80
digest(lp_pool2d, far, 2.5, 3, 1)
print(json.dumps([digest(*case) for case in reversed(CASES)][::-1]))
""")
    assert after == fresh
