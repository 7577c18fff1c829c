"""The deployment lowering (ppverify.ops._decomp.lower: standard aten ops only) against the
oracle, its NaN convention for invalid input, and dynamic shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ppverify.ops import PPool2d, _decomp, _layout, decompositions
from ppverify.oracle import reference, ulp_distance

from ._cases import ADAPTIVE_GEOMETRIES, ALPHAS, GEOMETRIES, KINDS, values
from ._compare import adaptive_reference, dtype_name

# stated in the README (measured: 1 ULP in float32/float16/bfloat16; in float64 21 ULP for
# P-pooling, 4 for Lp, 51 for the geometric mean over 30 decades)
DECOMP_ULP = {"float64": 64, "float32": 1, "float16": 1, "bfloat16": 1}
PARAMS = {"ppool": ALPHAS, "powermean": [-3.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 30.0, 1e3],
          "lp": [-3.0, 0.5, 1.0, 2.0, 3.0, 30.0, 1e3]}
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def _lower(op, x, param, geometry):
    planes = torch.full(x.shape[:2], float(param), dtype=torch.float64)
    return _decomp.lower(x, planes, op, _layout.encode(geometry), True)


def _param(op, kind, i, j):
    values_ = PARAMS[op]
    p = values_[(i * 5 + j * 3) % len(values_)]
    if op != "ppool" and kind in ("zeros", "tiny") and p <= 0:
        p = 2.0  # a zero with p <= 0 is outside the domain
    return p


@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_windowed_lowering_matches_oracle(op, dtype):
    name = dtype_name(dtype)
    gen = torch.Generator().manual_seed(31)
    for i, (dims, spatial, k, s, p, d, cm) in enumerate(GEOMETRIES):
        geometry = _layout.windowed(dims, k, s, p, d, cm)
        for j, kind in enumerate(KINDS):
            param = _param(op, kind, i, j)
            x = values(kind, (1, 2) + spatial, dtype, gen)
            y = _lower(op, x, param, geometry)
            r = reference(op, x.double().numpy(), param, k, s, p, d, cm, dims=dims, dtype=name,
                          gradients=False)
            err = ulp_distance(y.double().numpy(), r.output, name).max()
            assert err <= DECOMP_ULP[name], (op, name, kind, param, geometry, err)


@pytest.mark.parametrize("op", ["ppool", "powermean"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=dtype_name)
def test_adaptive_lowering_matches_oracle(op, dtype):
    name = dtype_name(dtype)
    gen = torch.Generator().manual_seed(32)
    for i, (dims, spatial, output_size) in enumerate(ADAPTIVE_GEOMETRIES):
        for j, kind in enumerate(KINDS[::2]):
            param = _param(op, kind, i, j)
            x = values(kind, (1, 2) + spatial, dtype, gen)
            y = _lower(op, x, param, _layout.adaptive(dims, output_size))
            want = adaptive_reference(op, x.double().numpy(), param, output_size, dims, name,
                                      gradients=False)[0]
            err = ulp_distance(y.double().numpy(), want, name).max()
            assert err <= DECOMP_ULP[name], (op, name, kind, param, output_size, err)


def test_invalid_windows_give_nan():
    x = torch.rand(1, 3, 4, 4) + 0.5
    x[0, 0, 0, 0] = -1.0
    x[0, 1, 3, 3] = math.inf
    x[0, 2, 1, 2] = math.nan
    g = _layout.windowed(2, 2)
    y = _lower("ppool", x, 2.0, g)
    assert torch.isnan(y[0, 0, 0, 0]) and torch.isnan(y[0, 1, 1, 1])
    assert torch.isnan(y[0, 2, 0, 1])
    assert int(torch.isnan(y).sum()) == 3
    assert torch.isnan(_lower("ppool", torch.rand(1, 1, 4, 4), math.inf, g)).all()
    assert torch.isnan(_lower("lp", torch.rand(1, 1, 4, 4), 0.0, g)).all()
    z = torch.rand(1, 1, 4, 4) + 0.5
    z[0, 0, 0, 0] = 0.0
    y = _lower("powermean", z, -1.0, g)
    assert torch.isnan(y[0, 0, 0, 0]) and int(torch.isnan(y).sum()) == 1


def test_lowering_traces_with_dynamic_sizes():
    m = PPool2d(3, 2, 1, alpha=2.0)
    side = torch.export.Dim("side", min=4, max=64)
    ep = torch.export.export(m, (torch.rand(2, 3, 8, 8),), dynamic_shapes=({2: side, 3: side},))
    low = ep.run_decompositions(decompositions())
    assert not any("ppverify" in str(n.target) for n in low.graph.nodes)
    for n in (5, 8, 13):
        x = torch.rand(2, 3, n, n)
        got, want = low.module()(x), m(x)
        assert ulp_distance(got.detach().double().numpy(), want.detach().double().numpy(),
                            "float32").max() <= DECOMP_ULP["float32"] + 1


def test_general_adaptive_lowering_needs_static_sizes():
    from ppverify.ops import AdaptivePPool2d

    side = torch.export.Dim("side", min=4, max=64)
    ep = torch.export.export(AdaptivePPool2d((2, 3)), (torch.rand(1, 2, 8, 8),),
                             dynamic_shapes=({2: side},))
    with pytest.raises(Exception, match="needs concrete spatial sizes"):
        ep.run_decompositions(decompositions())
    global_ep = torch.export.export(AdaptivePPool2d(1), (torch.rand(1, 2, 8, 8),),
                                    dynamic_shapes=({2: side},))
    low = global_ep.run_decompositions(decompositions())
    x = torch.rand(1, 2, 11, 8)
    assert np.allclose(low.module()(x).detach().numpy(),
                       AdaptivePPool2d(1)(x).detach().numpy(), rtol=2e-7)
