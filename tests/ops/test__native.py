"""The compiled kernel: build time, automatic selection and the fallback switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native, functional

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")


def _child(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env},
                         capture_output=True, text=True, check=True, timeout=240)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fresh_build_takes_well_under_a_minute(tmp_path):
    result = _child("""
        import json
        from ppverify.ops import _native
        ok = _native.available()
        print(json.dumps({"ok": ok, "seconds": _native.build_seconds}))
    """, {"PPVERIFY_CACHE": str(tmp_path)})
    assert result["ok"]
    assert result["seconds"] is not None and result["seconds"] < 30
    assert list(tmp_path.glob("ppool_kernel_*.so"))


def test_fallback_is_chosen_when_disabled():
    result = _child("""
        import json, torch
        from ppverify.ops import _dispatch, _native, p_pool2d
        x = torch.rand(1, 1, 4, 4)
        y = p_pool2d(x, 2.0, 2)
        print(json.dumps({"native": _native.available(), "used": _dispatch._use_native(x),
                          "finite": bool(torch.isfinite(y).all())}))
    """, {"PPVERIFY_NATIVE": "0"})
    assert result == {"native": False, "used": False, "finite": True}


def test_selection_rules():
    assert _dispatch._use_native(torch.rand(1, 1, 2, 2))
    assert _dispatch._use_native(torch.rand(1, 1, 2, 2).half())
    assert not _dispatch._use_native(torch.rand(1, 1, 2, 2, dtype=torch.float64))
    windowed, glob = _layout.windowed(2, 2), _layout.adaptive(2, 1)
    x = torch.rand(1, 1, 4, 6)
    assert _dispatch._backend("ppool", windowed, x) == "native"
    # adaptive layouts with a windowed equivalent (every axis divides; global pooling) too
    assert _dispatch._backend("ppool", glob, x) == "native"
    assert _dispatch._backend("ppool", _layout.adaptive(2, (2, 3)), x) == "native"
    assert _dispatch._backend("ppool", _layout.adaptive(2, (3, 4)), x) == "torch"
    assert _dispatch._backend("powermean", windowed, x) == "torch"


def test_kernel_entry_points():
    x = torch.rand(3, 1, 4, 4)
    geo = _native.geometry_list(_layout.windowed(2, 2), (4, 4), (2, 2))
    alpha = torch.full((3,), 2.0, dtype=torch.float64)
    for save in (False, True):
        y, bad, e, y64 = _native.forward_f32(x, alpha, geo, save)
        assert y.shape == (3, 1, 2, 2) and not bad
        assert e.numel() == (x.numel() if save else 0)
        gin, dalpha = _native.backward_f32(x, alpha, torch.ones_like(y), e, y64, geo, True)
        assert gin.shape == x.shape and dalpha.shape == (3,)
    x[0, 0, 1, 1] = float("nan")
    assert _native.forward_f32(x, alpha, geo)[1]


def test_kernel_flags_bad_values_and_op_names_them():
    x = torch.rand(1, 1, 4, 4)
    x[0, 0, 1, 1] = -1.0
    with pytest.raises(ValueError, match="negative"):
        functional.p_pool2d(x, 0.5, 2)
