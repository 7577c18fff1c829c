"""The op in every PyTorch workflow: each row of the README's compatibility table is backed by
a test here (or named in the table). Shapes are tiny: compiling is the slow part."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest
import torch

from ppverify.ops import (
    AdaptivePPool2d,
    GeM,
    LPPool2d,
    PowerMean2d,
    PPool1d,
    PPool2d,
    PPool3d,
    decompositions,
    p_pool1d,
    p_pool2d,
)
from ppverify.oracle import ulp_distance

from ._compare import dtype_name, grad_input_scale, within
from ._oracle_cache import reference

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def _inductor_has_a_compiler() -> bool:
    """Whether torch's inductor backend finds a working C++ compiler (on CPU it needs one, as
    our kernel does; on a machine without one the op still runs, on the pure-torch path)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception:  # torch's InvalidCxxCompiler, or an older torch without the helper
        return False
    return True


needs_inductor = pytest.mark.skipif(
    not _inductor_has_a_compiler(),
    reason="torch.compile's inductor backend needs a C++ compiler on CPU; none here")


def _oracle(x, alpha, *pool, dims=2, grad_output=None):
    return reference("ppool", x.detach().double().numpy(), alpha, *pool, dims=dims,
                     dtype=dtype_name(x.dtype), grad_output=grad_output)


def _assert_matches_oracle(y, gx, ga, x, alpha, pool, dims=2):
    """The forward within the README's bounds, the input's gradient within the shared bound of
    ``tests/ops/_compare`` (8 ULP or 64 u of the window's largest gradient: the compiled
    backward reads eager autograd's saved state, whose float16 / bfloat16 weights are
    bfloat16s, 2^-9 relative, as eager's gradients do)."""
    r = _oracle(x, alpha, *pool, dims=dims)
    name = dtype_name(x.dtype)
    # the op's forward bounds (README): 1 ULP, 5 for the float64 (pure-torch) path
    bound = 5 if name == "float64" else 1
    assert ulp_distance(y.detach().double().numpy(), r.output, name).max() <= bound
    window = (*pool, 1, False)  # kernel, stride, padding; dilation 1, no ceil_mode
    scale = grad_input_scale(r.grad_input, dims, *window)
    ok, _ = within(gx.double().numpy(), r.grad_input, scale, name)
    assert ok.all()
    # (the layer's alpha is a float32 parameter whatever the input's dtype)
    rtol = 2 ** -7 if name in ("float16", "bfloat16") else 1e-5
    assert np.isclose(float(ga), float(r.grad_param), rtol=rtol, atol=1e-6)


# ---------------------------------------------------------------------- torch.compile


def _compiled_step(backend, dtype, fullgraph=True, dynamic=None, shape=(1, 2, 6, 5)):
    torch._dynamo.reset()
    m = PPool2d(3, 2, 1, alpha=2.5)
    c = torch.compile(m, backend=backend, fullgraph=fullgraph, dynamic=dynamic)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    xg = x.clone().requires_grad_(True)
    y = c(xg)
    y.sum().backward()
    return x, y, xg.grad, m.raw_alpha.grad


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compile_fullgraph_backends(backend):
    x, y, gx, ga = _compiled_step(backend, torch.float32)
    _assert_matches_oracle(y, gx, ga, x, 2.5, (3, 2, 1))


@needs_inductor
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_compile_fullgraph_inductor_every_dtype(dtype):
    x, y, gx, ga = _compiled_step("inductor", dtype)
    assert y.dtype == dtype and gx.dtype == dtype
    _assert_matches_oracle(y, gx, ga, x, 2.5, (3, 2, 1))


class _CountingBackend:
    def __init__(self, backend):
        self.backend, self.graphs = backend, 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        from torch._dynamo.backends.registry import lookup_backend

        return lookup_backend(self.backend)(gm, example_inputs)


@needs_inductor
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=dtype_name)
def test_compile_dynamic_shapes_one_graph_forward_and_backward(dtype):
    """The issue's case: float64 PPool2d(3, 2, 1), dynamic=True, three sizes, forward and
    backward (an inductor C++ compile error before); one graph serves every size."""
    torch._dynamo.reset()
    counting = _CountingBackend("inductor")
    m = PPool2d(3, 2, 1, alpha=2.0, dtype=dtype)
    c = torch.compile(m, backend=counting, fullgraph=True, dynamic=True)
    for s in (7, 9, 12):
        x = torch.rand(2, 3, s, s + 1, dtype=dtype)
        xg = x.clone().requires_grad_(True)
        m.zero_grad()
        y = c(xg)
        y.sum().backward()
        ga = m.raw_alpha.grad.clone()
        xe = x.clone().requires_grad_(True)
        m.zero_grad()
        ye = m(xe)  # eager: the compiled graph calls the same op, so the outputs are identical
        ye.sum().backward()
        assert torch.equal(y, ye)
        # the gradients too: the compiled backward reads the state eager autograd's reads
        # (ppverify.ops._compiled; its unbacked state sizes serve dynamic=True)
        assert torch.equal(xg.grad, xe.grad)
        _assert_matches_oracle(y, xg.grad, ga, x, 2.0, (3, 2, 1))
        _assert_matches_oracle(ye, xe.grad, m.raw_alpha.grad, x, 2.0, (3, 2, 1))
    assert counting.graphs == 1


@pytest.mark.parametrize("layer", ["PPool2d", "GeM", "functional"])
def test_compile_dynamic_with_one_exponent_per_channel(layer):
    """A per-channel exponent under dynamic=True (the channel count symbolic too): until
    2026-12-05 the check 'shape[0] in (1, C)' raised in dynamo's tracing ('alpha must be a
    scalar or have one value per channel (3), got shape (3,)'), where eager mode passed."""
    from ppverify.ops import GeM, p_pool2d

    torch._dynamo.reset()
    alpha = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64, requires_grad=True)
    fn = {"PPool2d": lambda: PPool2d(2, alpha=2.0, num_channels=3, dtype=torch.float64),
          "GeM": lambda: GeM(p=3.0, num_channels=3, dtype=torch.float64),
          "functional": lambda: (lambda x: p_pool2d(x, alpha, 2))}[layer]()
    c = torch.compile(fn, backend="aot_eager", fullgraph=True, dynamic=True)
    for n, s in ((2, 6), (3, 9)):
        x = torch.rand(n, 3, s, s + 1, dtype=torch.float64) + 0.1
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ya, yb = c(xa), fn(xb)
        assert torch.equal(ya, yb)
        ya.sum().backward()
        yb.sum().backward()
        assert torch.allclose(xa.grad, xb.grad, rtol=1e-14, atol=0)
    with pytest.raises(Exception, match=r"one value per channel \(4\), got shape"):
        c(torch.rand(2, 4, 6, 6, dtype=torch.float64))  # 4 channels, 3 exponents


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=dtype_name)
def test_batched_gradients_jacobian_vectorize(dtype):
    """torch.autograd.functional.jacobian(..., vectorize=True) and torch.autograd.grad(...,
    is_grads_batched=True) vmap the backward (the legacy vmap: grad_output is a batched tensor
    without storage). Until 2026-12-05 every op raised there, "Cannot access data pointer of
    Tensor that doesn't have storage"; the batched backward now goes through the custom op,
    which vmap runs once per batch entry: equal to the unbatched backward."""
    from ppverify.ops import adaptive_p_pool2d, gem, gem_pool2d, lp_pool2d

    x = torch.rand(2, 3, 7, 6, dtype=dtype, generator=torch.Generator().manual_seed(3)) + 0.1
    tol = dict(rtol=1e-12, atol=0) if dtype == torch.float64 else dict(rtol=1e-6, atol=1e-7)
    for f in (lambda t: p_pool2d(t, 2.0, 3, 2, 1), lambda t: gem(t, 3.0),
              lambda t: gem_pool2d(t, 3.0, 3, 1), lambda t: lp_pool2d(t, 2.0, 2),
              lambda t: adaptive_p_pool2d(t, 2.0, (3, 2)),
              PPool2d(2, alpha=2.0, num_channels=3, dtype=dtype), GeM(p=3.0, dtype=dtype)):
        batched = torch.autograd.functional.jacobian(f, x, vectorize=True)
        looped = torch.autograd.functional.jacobian(f, x, vectorize=False)
        assert torch.allclose(batched, looped, **tol)
    xg = x.clone().requires_grad_(True)
    alpha = torch.tensor([2.0, 0.5, -1.0], dtype=torch.float64, requires_grad=True)
    y = p_pool2d(xg, alpha, 2)
    gys = torch.rand((4, *y.shape), dtype=dtype, generator=torch.Generator().manual_seed(4))
    gx, ga = torch.autograd.grad(y, (xg, alpha), gys, is_grads_batched=True, retain_graph=True)
    for i in range(4):
        want_x, want_a = torch.autograd.grad(y, (xg, alpha), gys[i], retain_graph=True)
        assert torch.allclose(gx[i], want_x, **tol) and torch.allclose(ga[i], want_a, **tol)
    # torch.func.vmap over autograd.grad: a functorch-wrapped grad_output, the same route
    vgx = torch.func.vmap(lambda g: torch.autograd.grad(y, xg, g, retain_graph=True)[0])(gys)
    assert torch.allclose(vgx, gx, **tol)


def test_compile_keeps_validation_without_graph_breaks():
    torch._dynamo.reset()
    c = torch.compile(lambda x: p_pool2d(x, 2.0, 2), backend="aot_eager", fullgraph=True)
    x = torch.rand(1, 1, 4, 4)
    c(x)
    x[0, 0, 1, 2] = -1.0
    with pytest.raises(ValueError, match=r"negative values \(first at batch 0, channel 0, "
                                         r"position \(1, 2\)\)"):
        c(x)
    c2 = torch.compile(lambda x: p_pool2d(x, 2.0, 2, validate=False), backend="aot_eager",
                       fullgraph=True)
    y = c2(x)
    assert torch.isnan(y[0, 0, 0, 1]) and torch.isfinite(y[0, 0, 1]).all()


def test_compile_power_mean_and_adaptive():
    torch._dynamo.reset()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    for m in (GeM(dtype=torch.float64), AdaptivePPool2d((2, 3), alpha=1.5, dtype=torch.float64),
              LPPool2d(2.0, 2)):
        c = torch.compile(m, backend="aot_eager", fullgraph=True)
        assert torch.equal(c(x), m(x))


# ---------------------------------------------------------------------- torch.export


@pytest.mark.parametrize("module, shape", [
    (PPool1d(3, 2, 1, alpha=2.0), (2, 3, 9)),
    (PPool2d(3, 2, 1, alpha=2.0, num_channels=3), (2, 3, 8, 7)),
    (PPool3d(2, alpha=-1.5, learnable=False), (1, 3, 4, 4, 4)),
    (AdaptivePPool2d(1, alpha=3.0), (2, 3, 5, 5)),
    (GeM(p=3.0), (2, 3, 5, 5)),
    (PowerMean2d(2, p=2.0), (2, 3, 4, 4)),
    (PPool2d(2, alpha=2.0, constraint="softplus", num_channels=3), (2, 3, 4, 4)),
    (GeM(p=3.0, constraint="softplus+1"), (2, 3, 5, 5)),
], ids=["PPool1d", "PPool2d", "PPool3d", "AdaptivePPool2d", "GeM", "PowerMean2d",
        "PPool2d softplus", "GeM softplus+1"])
def test_export(module, shape):
    x = torch.rand(shape)
    ep = torch.export.export(module, (x,))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert "ppverify.pool.default" in targets
    assert torch.equal(ep.module()(x), module(x))


def test_export_with_dynamic_shapes():
    m = PPool2d(3, 2, 1, alpha=2.0)
    side = torch.export.Dim("side", min=4, max=64)
    ep = torch.export.export(m, (torch.rand(2, 3, 8, 8),), dynamic_shapes=({2: side, 3: side},))
    x = torch.rand(2, 3, 13, 13)
    assert torch.equal(ep.module()(x), m(x))


class _Net(torch.nn.Module):
    """A small segmentation-style block: conv, P-pooling, conv, global GeM."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.pool = PPool2d(3, 2, 1, alpha=2.0, num_channels=4)
        self.conv2 = torch.nn.Conv2d(4, 4, 1)
        self.gem = GeM(p=3.0)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv1(x)))
        return h, self.gem(torch.relu(self.conv2(h)))


DECOMP_ULP = 2  # stated in the README: the decomposed program vs the eager op, float32


def _run_without_ppverify(tmp_path, load: str, x: torch.Tensor):
    """The outputs of the program ``load`` (an expression) gives, called on ``x`` in a fresh
    interpreter where ppverify cannot be imported (and is asserted not imported)."""
    torch.save(x, str(tmp_path / "x.pt"))
    code = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "ppverify" or name.startswith("ppverify."):
                    raise ImportError("ppverify is not installed here")
        sys.meta_path.insert(0, Block())
        import torch
        program = {load}
        out = program(torch.load({str(tmp_path / "x.pt")!r}))
        torch.save(out, {str(tmp_path / "out.pt")!r})
        print("ppverify" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": ""}, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
    return torch.load(str(tmp_path / "out.pt"))


def test_decomposed_program_runs_without_ppverify(tmp_path):
    """run_decompositions(ppverify.ops.decompositions()) leaves only aten ops; the saved
    program loads and runs in a fresh interpreter where ppverify cannot be imported."""
    net = _Net().eval()
    x = torch.rand(2, 3, 10, 10)
    ep = torch.export.export(net, (x,)).run_decompositions(decompositions())
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not any("ppverify" in t for t in targets), targets
    path = tmp_path / "net.pt2"
    torch.export.save(ep, str(path))
    h, g = _run_without_ppverify(tmp_path, f"torch.export.load({str(path)!r}).module()", x)
    h_ref, g_ref = net(x)
    for got, want in ((h, h_ref), (g, g_ref)):
        assert ulp_distance(got.detach().double().numpy(), want.detach().double().numpy(),
                            "float32").max() <= DECOMP_ULP


class _Pools(torch.nn.Module):
    """The pooling layers alone (an end-to-end comparison would also measure inductor's
    convolutions, whose compiled code differs from eager's in the last bits)."""

    def __init__(self):
        super().__init__()
        self.pool = PPool2d(3, 2, 1, alpha=2.0, num_channels=4)
        self.gem = GeM(p=3.0)

    def forward(self, x):
        h = self.pool(x)
        return h, self.gem(h)


def test_an_aotinductor_package_runs_without_ppverify(tmp_path):
    """AOTInductor (``torch._inductor.aoti_compile_and_package``, torch's ahead-of-time path
    to a compiled artifact) of the lowered program: it compiles, and the package loads and
    runs in a fresh interpreter where ppverify cannot be imported, within the lowering's
    bound of the eager op."""
    from ppverify.ops import _native

    if _native._compiler() is None:
        pytest.skip("AOTInductor compiles C++: no compiler here")
    net = _Pools().eval()
    torch.manual_seed(1)
    x = torch.relu(torch.randn(2, 4, 10, 10))
    ep = torch.export.export(net, (x,)).run_decompositions(decompositions())
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / "net.pt2"))
    h, g = _run_without_ppverify(tmp_path, f"torch._inductor.aoti_load_package({str(path)!r})",
                                 x)
    h_ref, g_ref = net(x)
    for got, want in ((h, h_ref), (g, g_ref)):
        assert ulp_distance(got.detach().double().numpy(), want.detach().double().numpy(),
                            "float32").max() <= DECOMP_ULP


ONNX_ULP = 2  # stated in the README: onnxruntime vs the eager op, float32


def test_onnx_export_runs_in_onnxruntime():
    import onnxruntime as ort  # in the test extras: a missing one is a failure, not a skip
    net = _Net().eval()
    x = torch.rand(2, 3, 12, 12)
    program = torch.onnx.export(net, (x,), dynamo=True, verbose=False)
    domains = {n.domain for n in program.model_proto.graph.node}
    assert domains <= {"", "ai.onnx"}, domains  # standard operators only
    session = ort.InferenceSession(program.model_proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    for seed in range(3):
        xs = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(seed)) * 10
        got = session.run(None, {session.get_inputs()[0].name: xs.numpy()})
        want = net(xs)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape)
            # conv differs between runtimes by a few ULP: compare the pooling on equal input
            assert np.allclose(g, w.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the pooling alone, ULP-exact comparison
    pool = PPool2d(3, 2, 1, alpha=2.0).eval()
    program = torch.onnx.export(pool, (x,), dynamo=True, verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    xs = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(9)) * 10
    got = session.run(None, {session.get_inputs()[0].name: xs.numpy()})[0]
    assert ulp_distance(got.astype(np.float64), pool(xs).detach().double().numpy(),
                        "float32").max() <= ONNX_ULP


# ---------------------------------------------------------------------- torch.fx


class _FxNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.pool = PPool2d(2, alpha=2.0, num_channels=4, constraint="softplus")
        self.gem = GeM(p=3.0)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(x)) + 0.01)
        return self.gem(h).flatten(1) + p_pool2d(h, 1.5, 2).mean((2, 3))


def test_fx_symbolic_trace_keeps_the_layers_learnable():
    """torch.fx.symbolic_trace (torchvision's feature extraction, FX quantization, graph
    surgery) raised "input must be a torch.Tensor, got Proxy" until 2026-12-05. A layer is
    now one call_module node (the traced module calls it, so its parameter stays the
    module's), a function one call_function node; a layer traced alone reads its stored
    parameter (get_attr) and applies its constraint in the graph."""
    torch.manual_seed(0)
    net = _FxNet()
    gm = torch.fx.symbolic_trace(net)
    kinds = {(n.op, str(n.target)) for n in gm.graph.nodes}
    assert ("call_module", "pool") in kinds and ("call_module", "gem") in kinds
    x = torch.rand(2, 3, 12, 12)
    assert torch.equal(gm(x), net(x))
    gm(x).sum().backward()
    got = (net.pool.raw_alpha.grad.clone(), net.gem.raw_p.grad.clone())
    net.zero_grad()
    net(x).sum().backward()
    assert torch.equal(got[0], net.pool.raw_alpha.grad) and torch.equal(got[1], net.gem.raw_p.grad)
    with torch.no_grad():  # a step on the traced module's parameter is the layer's
        gm.pool.raw_alpha.add_(0.5)
    assert torch.equal(gm(x), net(x))
    layer = PPool2d(2, alpha=2.0, constraint="softplus", dtype=torch.float64)
    traced = torch.fx.symbolic_trace(layer)
    assert any(n.op == "get_attr" for n in traced.graph.nodes)
    xd = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    assert torch.equal(traced(xd), layer(xd))
    traced(xd).sum().backward()
    assert traced.raw_alpha.grad is not None and layer.raw_alpha.grad is not None
    with pytest.raises(ValueError, match="negative values"):  # validation at run time
        traced(-xd)


# ---------------------------------------------------------------------- TorchScript


def test_jit_trace_saves_and_loads(tmp_path):
    m = PPool2d(2, alpha=2.0)
    x = torch.rand(1, 2, 4, 4)
    traced = torch.jit.trace(m, (x,))
    assert "ppverify::pool" in str(traced.graph)
    torch.jit.save(traced, str(tmp_path / "t.pt"))
    loaded = torch.jit.load(str(tmp_path / "t.pt"))
    assert torch.equal(loaded(x), m(x))
    xg = x.clone().requires_grad_(True)
    loaded(xg).sum().backward()  # the op's own autograd formula
    ref = _oracle(x, 2.0, 2)
    assert np.allclose(xg.grad.numpy(), ref.grad_input, rtol=1e-5, atol=1e-7)


def test_jit_script_is_not_supported():
    """Documented status: torch.jit.script cannot compile the layers (TorchScript is
    deprecated upstream); trace, torch.compile and torch.export are the routes."""
    with pytest.raises(Exception):  # noqa: B017  (TorchScript raises its own frontend errors)
        torch.jit.script(PPool2d(2))


def test_compiling_a_func_transform_of_the_op_is_not_supported():
    """Documented status (found 2026-12-05): torch.compile of a torch.func transform over the
    op (``torch.compile(torch.func.grad(f))``) fails while tracing: compiled graphs hold the
    custom op, and a torch.library custom op's autograd does not run under functorch
    transforms in torch 2.13 (a minimal custom op with ``register_autograd`` fails the same
    way, eagerly too). Each alone works: eager torch.func (an ``autograd.Function`` with
    ``setup_context``) and compiled autograd. If this starts passing, update the README."""
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64) + 0.1
    torch._dynamo.reset()
    f = torch.compile(torch.func.grad(lambda t: p_pool2d(t, 2.0, 2).sum()), backend="eager",
                      fullgraph=True)
    with pytest.raises(Exception, match="setup_context"):
        f(x)
    eager = torch.func.grad(lambda t: p_pool2d(t, 2.0, 2).sum())(x)
    xg = x.clone().requires_grad_(True)
    p_pool2d(xg, 2.0, 2).sum().backward()
    assert torch.allclose(eager, xg.grad, rtol=1e-14)


# ---------------------------------------------------------------------- torch.func


X1 = np.array([[0.75, 1.25, 3.5, 2.0, 0.5, 1.5]])  # few significant bits: x(1 +- 2^-40) exact
A1 = 1.5
POOL1 = (3, 2, 1)


def _oracle_jacobian(op, x, a, pool):
    """dy_j/dx_i and dy_j/da from the oracle, one VJP per output (float64)."""
    n_out = reference(op, x, a, *pool, dims=1, gradients=False).output.size
    rows, dparam = [], []
    for j in range(n_out):
        e = np.zeros(n_out)
        e[j] = 1.0
        r = reference(op, x, a, *pool, dims=1, grad_output=e.reshape(1, -1))
        rows.append(r.grad_input.reshape(-1))
        dparam.append(float(r.grad_param))
    return np.array(rows).reshape((1, n_out // 1) + x.shape), np.array(dparam).reshape(1, -1)


def _oracle_hessians(op, x, a, pool, step=2.0 ** -40):
    """d2(sum y)/dx2 and d2(sum y)/da2 by central differences of the oracle's gradient,
    evaluated to 40 digits (truncation error ~ step^2, far below float64's)."""
    def grads(xv, av):
        r = reference(op, xv, av, *pool, dims=1, digits=40)
        return r.grad_input.reshape(-1), np.asarray(r.grad_param).item()

    n = x.size
    hx = np.zeros((n, n))
    with mpmath.workdps(45):
        for k in range(n):
            up, down = x.copy(), x.copy()
            up.flat[k] *= 1 + step
            down.flat[k] *= 1 - step
            gu, _ = grads(up, a)
            gd, _ = grads(down, a)
            h = mpmath.mpf(up.flat[k]) - mpmath.mpf(down.flat[k])
            for i in range(n):
                hx[i, k] = float((gu[i] - gd[i]) / h)
        _, pu = grads(x, a * (1 + step))
        _, pd = grads(x, a * (1 - step))
        ha = float((mpmath.mpf(pu) - mpmath.mpf(pd)) / (mpmath.mpf(a) * 2 * step))
    return hx, ha


def _close(got, want, ulps=8):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.abs(want).max()
    assert np.all(np.abs(got - want) <= ulps * 2.0 ** -52 * np.maximum(np.abs(want), scale)), \
        (got, want)


@pytest.mark.parametrize("op, fn", [("ppool", p_pool1d), ("powermean", None)],
                         ids=["ppool", "powermean"])
def test_torch_func_transforms_match_oracle_derivatives(op, fn):
    from torch.func import grad, hessian, jacfwd, jacrev, vmap

    from ppverify.ops import gem_pool1d

    fn = fn or gem_pool1d
    x = torch.tensor(X1, dtype=torch.float64)
    a = torch.tensor(A1, dtype=torch.float64)

    def f(x, a):
        return fn(x, a, *POOL1)

    jac, dparam = _oracle_jacobian(op, X1, A1, POOL1)
    _close(jacrev(f)(x, a), jac)
    _close(jacfwd(f)(x, a), jac)
    _close(jacfwd(f, argnums=1)(x, a), dparam)
    _close(grad(lambda x: f(x, a).sum())(x), jac.sum(axis=(0, 1)))
    _close(grad(lambda a: f(x, a).sum())(a), dparam.sum())
    batch = torch.stack([x, 2 * x, x / 4])
    ys = vmap(f, in_dims=(0, None))(batch, a)
    for k, xb in enumerate(batch):
        ref = reference(op, xb.numpy(), A1, *POOL1, dims=1, gradients=False).output
        assert ulp_distance(ys[k].numpy(), ref, "float64").max() <= 2
    hx, ha = _oracle_hessians(op, X1, A1, POOL1)
    _close(hessian(lambda x: f(x, a).sum())(x).reshape(hx.shape), hx, ulps=64)
    _close(hessian(lambda a: f(x, a).sum())(a), ha, ulps=64)


def test_forward_mode_ad_matches_oracle():
    import torch.autograd.forward_ad as fwAD

    x = torch.tensor(X1, dtype=torch.float64)
    tangent = torch.tensor([[1.0, -2.0, 0.5, 0.0, 3.0, 1.0]], dtype=torch.float64)
    jac, dparam = _oracle_jacobian("ppool", X1, A1, POOL1)
    with fwAD.dual_level():
        a = fwAD.make_dual(torch.tensor(A1, dtype=torch.float64), torch.tensor(0.25,
                                                                             dtype=torch.float64))
        y = p_pool1d(fwAD.make_dual(x, tangent), a, *POOL1)
        jvp = fwAD.unpack_dual(y).tangent
    want = np.tensordot(jac, tangent.numpy(), axes=([2, 3], [0, 1])) + 0.25 * dparam
    _close(jvp, want)


def test_vmap_over_the_parameter_and_per_sample_gradients():
    from torch.func import grad, vmap

    x = torch.rand(4, 2, 7, dtype=torch.float64)
    alphas = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    ys = vmap(lambda xi, ai: p_pool1d(xi, ai, 3), in_dims=(0, 0))(x, alphas)
    for k in range(4):  # the batch is evaluated at once: equal up to a vectorised exp's last bit
        assert torch.allclose(ys[k], p_pool1d(x[k], alphas[k], 3), rtol=1e-15, atol=0)
    per_sample = vmap(grad(lambda ai, xi: p_pool1d(xi, ai, 3).sum()))(alphas, x)
    for k in range(4):
        r = reference("ppool", x[k].numpy(), float(alphas[k]), 3, dims=1)
        _close(per_sample[k], r.grad_param, ulps=16)


# ---------------------------------------------------------------------- autocast, layouts


def test_autocast_runs_in_the_input_dtype():
    """Policy: the op is not autocast-eligible (like max_pool2d); it runs in its input's
    dtype. A bf16 activation from an autocast conv gives a bf16 output within 1 ULP of the
    oracle; a float32 input stays float32."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 2, 3, padding=1)
    pool = PPool2d(2, alpha=2.0)
    x = torch.rand(1, 2, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.relu(conv(x))
        y = pool(h)
        y32 = pool(x)
    assert h.dtype == y.dtype == torch.bfloat16 and y32.dtype == torch.float32
    ref = reference("ppool", h.detach().double().numpy(), 2.0, 2, dims=2, dtype="bfloat16",
                    gradients=False)
    assert ulp_distance(y.detach().double().numpy(), ref.output, "bfloat16").max() <= 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert GeM()(x).dtype == torch.float32


@pytest.mark.parametrize("dims", [2, 3])
def test_channels_last_is_kept(dims):
    shape = (2, 3, 6, 5) if dims == 2 else (2, 3, 4, 5, 4)
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    x = torch.rand(shape).contiguous(memory_format=fmt).requires_grad_(True)
    m = (PPool2d if dims == 2 else PPool3d)(2, alpha=1.5)
    y = m(x)
    assert y.is_contiguous(memory_format=fmt)
    y.sum().backward()
    assert x.grad.is_contiguous(memory_format=fmt)
    r = _oracle(x, 1.5, 2, dims=dims)
    assert ulp_distance(y.detach().numpy(), r.output, "float32").max() <= 1
    for op in (GeM(), AdaptivePPool2d(2)) if dims == 2 else ():
        assert op(x).is_contiguous(memory_format=fmt)


@pytest.mark.parametrize("constraint", ["softplus", "softplus+1"])
def test_compile_fullgraph_with_a_softplus_constraint(constraint):
    """The constraint (values of F.softplus, derivatives of logaddexp) traces in one graph and
    gives eager's values and gradients."""
    torch._dynamo.reset()
    eager = GeM(p=3.0, constraint=constraint, num_channels=3)
    compiled = copy.deepcopy(eager)
    step = torch.compile(compiled, backend="aot_eager", fullgraph=True)
    x = torch.rand(2, 3, 5, 4, generator=torch.Generator().manual_seed(1)) + 0.1
    y_eager, y_comp = eager(x), step(x)
    y_eager.sum().backward()
    y_comp.sum().backward()
    assert torch.equal(y_eager, y_comp)
    assert torch.allclose(eager.raw_p.grad, compiled.raw_p.grad, rtol=1e-6, atol=0)
