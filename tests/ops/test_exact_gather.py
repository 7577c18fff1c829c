"""Issue 12 (float64 speed): the compiled kernel's exact engine gathers each window's elements
into a lane-interleaved buffer that its passes read. A window of at most ``GATHER_ELEMS``
elements is gathered once; a larger one in runs of ``GATHER_ELEMS`` elements, again in each
pass. These tests put run boundaries mid-row, next to zeros and at the window's dominant
element, with lanes left idle (fewer planes than lanes) and full, and compare forward and
backward with the oracle; they check that the kernel served the calls (not the pure-torch
path) and show that a run dropped or shifted by one element is caught."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ppverify.ops import _native, adaptive_p_pool1d
from ppverify.oracle import ulp_distance

from ._compare import FORWARD_ULP, adaptive_reference, check_adaptive_case, check_case

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")


def _gather_elems() -> int:
    m = re.search(r"constexpr int64_t GATHER_ELEMS = (\d+);", _native.SOURCE.read_text())
    assert m, "GATHER_ELEMS not found in the kernel source"
    return int(m.group(1))


GATHER = _gather_elems()


@pytest.fixture
def kernel_calls(monkeypatch):
    """Count the compiled kernel's forward and backward calls (so a test knows it ran): the
    plain entry points, and the saving forwards and the backwards from their states (windows
    that share no element: the exact engine's passes in the forward; windows that share
    elements: float64's overlap state, whose backward evaluates the windows it does not serve
    with the exact engine)."""
    calls = {"forward": 0, "backward": 0}
    for name, kind in (("forward", "forward"), ("forward_saved", "forward"),
                       ("forward_overlap_saved", "forward"),
                       ("backward", "backward"), ("backward_saved", "backward"),
                       ("backward_overlap_saved", "backward")):
        real = getattr(_native, name)

        def counting(*args, _real=real, _kind=kind, **kwargs):
            calls[_kind] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(_native, name, counting)
    return calls


def _signal(shape, seed, zeros=()):
    """float64 values in [0.05, 1.05), exact zeros at the given flat positions of each plane."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.05
    flat = x.view(*shape[:2], -1)
    for i in zeros:
        flat[..., i] = 0.0
    return x


def test_the_constant_fits_the_cases():
    # the cases below need windows of more than one run and runs that end mid-row
    assert 64 <= GATHER < 2250 and GATHER % 45 != 0


@pytest.mark.parametrize("channels", [3, 8], ids=["idle-lanes", "full-lanes"])
def test_a_global_window_in_runs_matches_the_oracle(channels, kernel_calls):
    # one global window of 50 x 45 = 2250 elements: two runs, the first ending mid-row
    # (element GATHER); zeros on both sides of the boundary; the largest element is the
    # boundary's first one (alpha = 150: it dominates y), and per-channel alphas cover the
    # general lanes (2.5, 150, -1.5 without zeros) and special ones (0 and -1.5 with zeros:
    # evaluated lane by lane after the vectorised passes)
    zeros = (GATHER - 2, GATHER + 1, 7)
    x = _signal((1, channels, 50, 45), 11, zeros)
    x.view(1, channels, -1)[..., GATHER] = 1.5
    x[0, 2].clamp_(min=0.05)  # channel 2: -1.5 with no zeros (a general lane)
    alphas = [2.5, 0.0, -1.5, 150.0, -1.5, 1.0, 30.0, -30.0][:channels]
    check_adaptive_case("ppool", x, torch.tensor(alphas, dtype=torch.float64), 1, dims=2)
    assert kernel_calls["forward"] >= 1 and kernel_calls["backward"] >= 1


def test_overlapping_windows_in_runs_match_the_oracle(kernel_calls):
    # 1-D windows of 2100 elements, stride 700: each element in up to three windows, every
    # window over two runs; zeros at run boundaries of the first window
    x = _signal((1, 2, 4900), 12, (GATHER - 1, GATHER, 2 * GATHER))
    gout = _signal((1, 2, 5), 13)
    alpha = torch.tensor([3.0, 0.0], dtype=torch.float64)
    check_case(x, alpha, 2100, 700, dims=1, grad_output=gout)
    assert kernel_calls["forward"] >= 1 and kernel_calls["backward"] >= 1
    # |alpha| > 16 in every lane: no element cache, so no overlap state, and the backward is
    # the exact engine's own over the same runs
    check_case(x, torch.tensor([30.0, -20.0], dtype=torch.float64), 2100, 700, dims=1,
               grad_output=gout)
    assert kernel_calls["backward"] >= 2


def test_small_windows_gathered_once_match_the_oracle(kernel_calls):
    # k3 s2 p1 over 9 planes (one full group, one with a single active lane)
    x = _signal((1, 9, 13, 11), 14, (0, 5, 60))
    alpha = torch.linspace(-3.0, 40.0, 9, dtype=torch.float64)
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert kernel_calls["forward"] >= 1 and kernel_calls["backward"] >= 1


@pytest.mark.parametrize("defect", ["last run dropped", "run shifted by one"])
def test_a_wrong_run_is_caught(defect):
    # What a gathering defect would return for a global window of 3000 elements: the P-pooling
    # of the first run only, or of the window with element GATHER replaced by GATHER - 1.
    # The largest element sits at GATHER, so either changes y by far more than the tolerance.
    x = _signal((1, 1, 3000), 15)
    x[..., GATHER] = 2.0
    alpha = torch.tensor([150.0], dtype=torch.float64)
    wrong_input = x[..., :GATHER] if defect == "last run dropped" else x.clone()
    if defect == "run shifted by one":
        wrong_input[..., GATHER] = x[..., GATHER - 1]
    wrong = adaptive_p_pool1d(wrong_input, alpha, 1).double().numpy()
    right = adaptive_p_pool1d(x, alpha, 1).double().numpy()
    ref = adaptive_reference("ppool", x.numpy(), alpha.numpy(), 1, 1, "float64",
                             gradients=False)[0]
    assert ulp_distance(right, ref, "float64").max() <= FORWARD_ULP
    assert ulp_distance(wrong, ref, "float64").max() > 1e6 * FORWARD_ULP
    assert not np.array_equal(wrong, right)
