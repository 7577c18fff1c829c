"""torch.compile's backward from the forward's saved state (``ppverify.ops._compiled``): the
compiled graph holds ``ppverify::pool_saving`` where the input needs a gradient, its backward
reads the kernel's state instead of recomputing the forward, and it gives eager autograd's
bits (eager autograd reads the same state). Compiled with ``aot_eager`` (AOTAutograd's
forward / backward split without inductor's code generation: the same custom ops)."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv

from ppverify.ops import _compiled, _dispatch, _layout, _native

pytestmark = pytest.mark.skipif(not _native.available(), reason="no compiled kernel")

K3S2P1 = _layout.windowed(2, 3, 2, 1)
K2S2 = _layout.windowed(2, 2, 2)
K4S4 = _layout.windowed(2, 4, 4)
GLOBAL = _layout.adaptive(2, 1)

# (operator, layout, shape, channels-last, dtype, the state kind it saves)
CASES = [
    ("ppool", K2S2, (2, 9, 12, 10), False, torch.float32, "jac"),
    ("ppool", K3S2P1, (2, 9, 12, 10), False, torch.float32, "overlap"),
    ("ppool", K3S2P1, (2, 9, 12, 10), True, torch.float32, "overlap"),
    ("ppool", K3S2P1, (2, 9, 12, 10), False, torch.bfloat16, "overlap"),
    ("ppool", K3S2P1, (2, 9, 12, 10), False, torch.float64, "overlap"),
    ("ppool", GLOBAL, (2, 9, 12, 10), False, torch.float32, "jac"),
    ("powermean", K2S2, (2, 9, 12, 10), False, torch.float32, "jac"),
    ("powermean", K3S2P1, (2, 9, 12, 10), False, torch.float64, "power_overlap"),
    ("lp", K3S2P1, (2, 9, 12, 10), True, torch.float64, "power_overlap"),
    ("powermean", K3S2P1, (2, 9, 12, 10), False, torch.float32, "none"),  # recomputes
    ("powermean", GLOBAL, (2, 9, 12, 10), False, torch.float64, "jac"),
    ("ppool", K4S4, (2, 9, 16, 12), False, torch.float32, "window_sums"),  # alpha 2
    # (windows that share elements, channels-last: dy/dalpha as a float32)
    ("ppool", K3S2P1, (2, 16, 12, 10), True, torch.float32, "window_sums"),
]
IDS = [f"{op}-{kind}-{'cl' if cl else 'c'}-{str(dt)[6:]}-{i}"
       for i, (op, _, _, cl, dt, kind) in enumerate(CASES)]


def _input(shape, channels_last, dtype, seed=0):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).to(dtype) + 0.05
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _param(op, kind):
    if kind == "window_sums":  # an integer alpha: the integer-alpha window state
        return 2.0
    return 2.5 if op == "ppool" else 3.1


def _kind(op, layout, x, param, need_param):
    """The state form ``pool_saving`` keeps for this call (by the real op)."""
    args = (param, op, _layout.encode(layout), True, need_param)
    return _compiled.KINDS[int(torch.ops.ppverify.pool_saving(x, *args)[4])]


def _step(fn, x, param):
    xr = x.clone().requires_grad_(True)
    param.grad = None
    y = fn(xr)
    y.backward(torch.linspace(0.5, 1.5, y.numel(), dtype=torch.float64).reshape(y.shape)
               .to(y.dtype).contiguous(memory_format=_dispatch._memory_format(y)))
    return y.detach(), xr.grad, None if param.grad is None else param.grad.clone()


def _no_recomputation(monkeypatch):
    """Every recomputing backward fails the test (the state's backward must serve)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the compiled backward recomputed the forward")

    monkeypatch.setattr(_dispatch, "backward_impl", refuse)


@pytest.mark.parametrize("learnable", [True, False], ids=["learnable", "fixed"])
@pytest.mark.parametrize(("op", "layout", "shape", "cl", "dtype", "kind"), CASES, ids=IDS)
def test_compiled_backward_reads_the_state_and_gives_eager_bits(monkeypatch, op, layout,
                                                                  shape, cl, dtype, kind,
                                                                  learnable):
    x = _input(shape, cl, dtype)
    param = torch.tensor(_param(op, kind), dtype=torch.float64, requires_grad=learnable)
    assert _kind(op, layout, x, param.detach(), learnable) == kind

    def fn(v):
        return _dispatch.pool(op, v, param, layout)

    eager = _step(fn, x, param)
    torch._dynamo.reset()
    compiled_fn = torch.compile(fn, backend="aot_eager", fullgraph=True)
    if kind != "none":
        _no_recomputation(monkeypatch)
    compiled = _step(compiled_fn, x, param)
    assert torch.equal(compiled[0], eager[0])
    assert compiled[1].stride() == eager[1].stride()
    assert torch.equal(compiled[1], eager[1])
    if learnable:
        assert torch.equal(compiled[2], eager[2])


def test_the_graph_holds_the_saving_op_only_where_a_gradient_is_wanted():
    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    ops = []

    def backend(gm, example_inputs):
        ops.append({str(n.target) for n in gm.graph.nodes if n.op == "call_function"})
        return gm

    def fn(v):
        return _dispatch.pool("ppool", v, param, K3S2P1)

    x = _input((1, 2, 8, 8), False, torch.float32)
    torch._dynamo.reset()
    torch.compile(fn, backend=backend, fullgraph=True)(x.clone().requires_grad_(True))
    torch._dynamo.reset()
    torch.compile(fn, backend=backend, fullgraph=True)(x)  # no input gradient: plain op
    torch._dynamo.reset()
    with torch.no_grad():
        torch.compile(fn, backend=backend, fullgraph=True)(x.clone().requires_grad_(True))
    saving = [any("pool_saving" in t for t in g) for g in ops]
    assert saving == [True, False, False]


def test_export_keeps_the_plain_op():
    """torch.export's programs lower to the deployment decomposition, which knows
    ``ppverify::pool`` alone."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = torch.nn.Parameter(torch.tensor(2.5, dtype=torch.float64))

        def forward(self, v):
            return _dispatch.pool("ppool", v, self.alpha, K3S2P1)

    ep = torch.export.export(Net(), (_input((1, 2, 8, 8), False, torch.float32),))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any(t.startswith("ppverify.pool") and "saving" not in t for t in targets)
    assert not any("pool_saving" in t for t in targets)


@pytest.mark.parametrize("need_param", [True, False])
@pytest.mark.parametrize(("op", "layout", "shape", "cl", "dtype", "kind"), CASES, ids=IDS)
def test_the_fake_outputs_are_the_real_ones(op, layout, shape, cl, dtype, kind, need_param):
    """The fake implementation's output has the real one's shape, dtype and strides; the
    state is bytes of a size the fake leaves unbacked (data-dependent)."""
    x = _input(shape, cl, dtype)
    param = torch.tensor(_param(op, kind), dtype=torch.float64)
    args = (param, op, _layout.encode(layout), True, need_param)
    real = torch.ops.ppverify.pool_saving(x, *args)
    assert _compiled.KINDS[int(real[4])] == kind
    with FakeTensorMode(shape_env=ShapeEnv()) as mode:
        fake = torch.ops.ppverify.pool_saving(mode.from_tensor(x), mode.from_tensor(param),
                                              *args[1:])
    assert (real[0].shape, real[0].dtype, real[0].stride()) == (
        fake[0].shape, fake[0].dtype, fake[0].stride())
    for r, f in zip(real[1:4], fake[1:4], strict=True):
        assert r.dtype == f.dtype == torch.uint8 and r.dim() == f.dim() == 1
        assert isinstance(f.shape[0], torch.SymInt)
    assert real[4].dtype == fake[4].dtype == torch.int64 and real[4].dim() == 0


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_dynamic_sizes_save_the_state_too(monkeypatch, backend):
    """``dynamic=True``: one graph for every size, each call's backward from its state."""
    if backend == "inductor":
        from .test_compat import _inductor_has_a_compiler
        if not _inductor_has_a_compiler():
            pytest.skip("inductor needs a C++ compiler")
    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)

    def fn(v):
        return _dispatch.pool("ppool", v, param, K3S2P1)

    torch._dynamo.reset()
    compiled_fn = torch.compile(fn, backend=backend, fullgraph=True, dynamic=True)
    for size in (9, 12, 15):
        x = _input((2, 3, size, size + 1), False, torch.float32, seed=size)
        eager = _step(fn, x, param)
        with monkeypatch.context() as m:
            _no_recomputation(m)
            compiled = _step(compiled_fn, x, param)
        for c, e in zip(compiled, eager, strict=True):
            assert torch.equal(c, e)


def test_an_unusable_state_recomputes(monkeypatch):
    """Where the forward could not save a usable state (``usable`` false), the backward
    recomputes and gives the recomputing backward's gradients."""
    op, layout = "ppool", K3S2P1
    x = _input((2, 9, 12, 10), False, torch.float32)
    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    saving = _dispatch._native_saving_forward

    def unusable(*args, **kwargs):
        bad, _, state = saving(*args, **kwargs)
        return bad, False, state

    monkeypatch.setattr(_dispatch, "_native_saving_forward", unusable)
    calls = []
    recompute = _dispatch.backward_impl

    def counted(*args, **kwargs):
        calls.append(1)
        return recompute(*args, **kwargs)

    monkeypatch.setattr(_dispatch, "backward_impl", counted)

    def fn(v):
        return _dispatch.pool(op, v, param, layout)

    torch._dynamo.reset()
    y, gx, gp = _step(torch.compile(fn, backend="aot_eager", fullgraph=True), x, param)
    assert calls == [1]
    xr = x.clone().requires_grad_(True)
    gy = torch.linspace(0.5, 1.5, y.numel(), dtype=torch.float64).reshape(y.shape).float()
    want_x, want_p = _dispatch.backward_impl(op, xr.detach(), param.detach(), layout, gy, True)
    assert torch.equal(gx, want_x)
    assert torch.equal(gp, want_p)


def test_validation_still_raises_in_the_saving_forward():
    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    x = _input((1, 2, 8, 8), False, torch.float32)
    x[0, 1, 3, 4] = -1.0
    torch._dynamo.reset()
    fn = torch.compile(lambda v: _dispatch.pool("ppool", v, param, K3S2P1),
                       backend="aot_eager", fullgraph=True)
    with pytest.raises(ValueError, match=r"negative"):
        fn(x.clone().requires_grad_(True))


@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_compiled_autograd_runs_the_saved_backward(monkeypatch, op):
    """Compiled autograd (the backward graph traced and compiled too) over a compiled forward:
    the backward op with its unbacked-size state traces, and gives eager's bits."""
    param = torch.tensor(_param(op, "jac"), dtype=torch.float64, requires_grad=True)
    x = _input((2, 8, 12, 10), False, torch.float32)

    def fn(v):
        return _dispatch.pool(op, v, param, K3S2P1 if op == "ppool" else K2S2)

    eager = _step(fn, x, param)
    torch._dynamo.reset()
    compiled_fn = torch.compile(fn, backend="aot_eager", fullgraph=True)
    _no_recomputation(monkeypatch)
    with torch._dynamo.compiled_autograd._enable(torch.compile(backend="aot_eager")):
        compiled = _step(compiled_fn, x, param)
    for c, e in zip(compiled, eager, strict=True):
        assert torch.equal(c, e)


def test_activation_checkpointing_inside_a_compiled_function():
    """``torch.utils.checkpoint`` inside the compiled region: the checkpointed forward (the
    saving op) runs again in the backward, and the gradients are eager's."""
    from torch.utils.checkpoint import checkpoint

    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)

    def fn(v):
        return checkpoint(lambda t: _dispatch.pool("ppool", t.relu() + 0.1, param, K3S2P1), v,
                          use_reentrant=False)

    x = _input((2, 8, 12, 10), False, torch.float32) - 0.3
    eager = _step(fn, x, param)
    torch._dynamo.reset()
    compiled = _step(torch.compile(fn, backend="aot_eager", fullgraph=True), x, param)
    for c, e in zip(compiled, eager, strict=True):
        assert torch.equal(c, e)


def test_the_pure_torch_path_keeps_no_state_and_recomputes(monkeypatch):
    """With the kernel switched off (a machine without a compiler), the saving op saves no
    state (kind 0) and its backward recomputes on the pure-torch path: eager's gradients."""
    monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    _dispatch._native_calls.clear()
    _dispatch._eager_calls.clear()
    param = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    x = _input((2, 3, 9, 8), False, torch.float32)
    assert _kind("ppool", K3S2P1, x, param.detach(), True) == "none"

    def fn(v):
        return _dispatch.pool("ppool", v, param, K3S2P1)

    eager = _step(fn, x, param)
    torch._dynamo.reset()
    compiled = _step(torch.compile(fn, backend="aot_eager", fullgraph=True), x, param)
    for c, e in zip(compiled, eager, strict=True):
        assert torch.equal(c, e)
