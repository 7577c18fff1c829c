"""The ops under torch's dispatch modes: FakeTensorMode (shape propagation, memory estimators,
non-strict export), make_fx's tracing, FlopCounterMode and any TorchDispatchMode.

Until 2026-12-06 the eager path called the compiled kernel directly whatever mode was active:
under FakeTensorMode it passed FakeTensors (no data) to the kernel, which read null pointers and
crashed the process (a segmentation fault); make_fx's fake tracing raised "Cannot access data
pointer"; and a Python-float parameter's tensor made under the mode was cached (``_validate``'s
``_cpu_floats``, ``_scalar_tensor``), so that a later eager call with the same value handed the
kernel a FakeTensor. Under an active mode the op now goes through its custom op
(``ppverify::pool``), which the mode sees: FakeTensorMode runs its fake implementation.

The crash is asserted in a child process (a regression would kill a pytest worker)."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native, gem, p_pool2d

from ._child import run_child


def test_fake_tensor_mode_gives_fake_outputs_and_does_not_reach_the_kernel():
    result = run_child("""
        import json, torch
        from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
        from ppverify.ops import PPool2d, adaptive_gem_pool, gem, p_pool2d
        out = {}
        with FakeTensorMode():
            x = torch.rand(2, 3, 16, 16)
            for name, fn in [("p_pool2d", lambda t: p_pool2d(t, 2.75, 2)),
                             ("gem", lambda t: gem(t, 3.25)),
                             ("adaptive", lambda t: adaptive_gem_pool(t, 3.0, 4, dims=2)),
                             ("module", PPool2d(3, 2, 1))]:
                y = fn(x)
                out[name] = [type(y).__name__, list(y.shape)]
            xg = torch.rand(2, 3, 16, 16, requires_grad=True)
            p_pool2d(xg, 2.75, 2).sum().backward()
            out["grad"] = [type(xg.grad).__name__, list(xg.grad.shape)]
        print(json.dumps(out))
    """)
    assert result == {"p_pool2d": ["FakeTensor", [2, 3, 8, 8]],
                      "gem": ["FakeTensor", [2, 3, 1, 1]],
                      "adaptive": ["FakeTensor", [2, 3, 4, 4]],
                      "module": ["FakeTensor", [2, 3, 8, 8]],
                      "grad": ["FakeTensor", [2, 3, 16, 16]]}


def test_a_parameter_seen_under_fake_tensor_mode_is_not_cached_for_eager_calls():
    # the same Python float first under FakeTensorMode, then eagerly: the eager call must get a
    # real parameter tensor (the failure was "Cannot access data pointer of Tensor that
    # doesn't have storage", or a crash)
    result = run_child("""
        import json, torch
        from torch._subclasses.fake_tensor import FakeTensorMode
        from ppverify.ops import gem, p_pool2d
        with FakeTensorMode():
            p_pool2d(torch.rand(1, 2, 8, 8), 2.8125, 2)
            gem(torch.rand(1, 2, 8, 8), 3.0625)
        x = torch.rand(1, 2, 8, 8, dtype=torch.float64) + 0.1
        y = p_pool2d(x.float(), 2.8125, 2).double()
        w = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(1, 2, 4, 4, 4)
        ref = (w ** 3.8125).sum(-1) / (w ** 2.8125).sum(-1)
        g = gem(x.float(), 3.0625).double()
        gref = (x ** 3.0625).mean((2, 3), keepdim=True) ** (1 / 3.0625)
        print(json.dumps([float(((y - ref) / ref).abs().max()),
                          float(((g - gref) / gref).abs().max())]))
    """)
    assert max(result) < 1e-6, result


def test_make_fx_traces_the_custom_op():
    from torch.fx.experimental.proxy_tensor import make_fx

    def f(x):
        return p_pool2d(x, 2.5, 2) + gem(x, 3.0)

    x = torch.rand(1, 2, 8, 8)
    for mode in ("fake", "real", "symbolic"):
        g = make_fx(f, tracing_mode=mode)(x)
        targets = {str(n.target) for n in g.graph.nodes if n.op == "call_function"}
        assert "ppverify.pool.default" in targets, (mode, targets)
        assert torch.equal(g(x), f(x)), mode


def test_a_dispatch_mode_sees_the_op_and_its_backward():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    x = torch.rand(1, 2, 8, 8, requires_grad=True)
    with Record() as rec:
        y = p_pool2d(x, 2.5, 2)
        y.sum().backward()
    assert "ppverify.pool.default" in rec.ops and "ppverify.pool_backward.default" in rec.ops
    ref = x.detach().clone().requires_grad_()
    y2 = p_pool2d(ref, 2.5, 2)
    y2.sum().backward()
    assert torch.equal(y.detach(), y2.detach()) and torch.equal(x.grad, ref.grad)


@pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")
def test_flop_counter_mode_runs_the_kernel_on_real_tensors():
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 2, 8, 8)
    with FlopCounterMode(display=False):
        y = gem(x, 3.0)
    assert torch.equal(y, gem(x, 3.0))


def test_a_parameter_made_while_a_transform_is_traced_is_not_cached():
    # dynamo tracing a torch.func transform over the op (which fails: a documented limit,
    # test_compat.py) and then the same transform eagerly left a storage-less plain tensor for
    # alpha = 2.0 in the parameter caches; every later eager call with 2.0 raised "Cannot
    # access data pointer of Tensor that doesn't have storage" (found when a partial test run
    # put test_dispatch.py after that test in one worker: 84 failures)
    result = run_child("""
        import json, torch
        from ppverify.ops import p_pool2d
        x = torch.rand(1, 2, 6, 6, dtype=torch.float64) + 0.1
        f = torch.compile(torch.func.grad(lambda t: p_pool2d(t, 2.0, 2).sum()),
                          backend="eager", fullgraph=True)
        try:
            f(x)
        except Exception:
            pass
        torch.func.grad(lambda t: p_pool2d(t, 2.0, 2).sum())(x)
        y = p_pool2d(x, 2.0, 2)
        w = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(1, 2, 3, 3, 4)
        ref = (w ** 3).sum(-1) / (w ** 2).sum(-1)
        print(json.dumps(float(((y - ref) / ref).abs().max())))
    """)
    assert result < 1e-14, result
