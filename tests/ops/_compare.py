"""Compare ppverify.ops with the oracle, in ULP (shared by the tests of tests/ops).

Tolerances (issue 4):
* forward: ``FORWARD_ULP`` (8) ULP in float32/float64, ``HALF_ULP`` (2) in float16/bfloat16;
* gradients: within 8 ULP of the correctly rounded value, or within 64 units of roundoff
  (u = 2**-precision, the unit roundoff of round-to-nearest) of the
  largest gradient magnitude in the window, whichever is larger. For ``grad_input`` the scale of
  an element is the largest correctly rounded ``|grad_input|`` over the windows containing it.
  For ``grad_alpha`` (one number summed over all windows) the scale is
  ``sum_w |g_w| * max(x in w) / max(1, |alpha|)`` (dy/dalpha has the units of x and decays like
  1/alpha).
"""

from __future__ import annotations

import numpy as np
import torch

from ppverify.oracle import ulp_distance
from ppverify.oracle.formats import get_format, round_float_array
from ppverify.windows import iter_windows, make_geometry

from ._oracle_cache import reference

FORWARD_ULP = 8
HALF_ULP = 2
GRAD_ULP = 8
GRAD_ROUNDOFF = 64

FUNCS = {1: "p_pool1d", 2: "p_pool2d", 3: "p_pool3d"}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _window_lists(shape, dims, kernel, stride, padding, dilation, ceil_mode):
    geometry = make_geometry(dims, kernel, stride, padding, dilation, ceil_mode)
    spatial = tuple(shape[-dims:])
    return [w.positions for w in iter_windows(geometry, spatial)]


def grad_input_scale(ref_grad: np.ndarray, dims, kernel, stride, padding, dilation, ceil_mode):
    """Per element: the largest |grad| over the windows containing it (same plane)."""
    g = np.abs(np.asarray(ref_grad, dtype=np.float64))
    batched = g.shape
    g2 = g.reshape((-1,) + g.shape[-dims:])
    out = np.zeros_like(g2)
    for positions in _window_lists(batched, dims, kernel, stride, padding, dilation, ceil_mode):
        if not positions:
            continue
        idx = tuple(np.array(p) for p in zip(*positions))
        for plane in range(g2.shape[0]):
            m = g2[plane][idx].max()
            cur = out[plane][idx]
            out[plane][idx] = np.maximum(cur, m)
    return out.reshape(g.shape)


def alpha_scale(x: np.ndarray, alpha, dims, kernel, stride, padding, dilation, ceil_mode,
                grad_output=None):
    x = np.asarray(x, dtype=np.float64)
    planes = x.reshape((-1,) + x.shape[-dims:])
    wins = _window_lists(x.shape, dims, kernel, stride, padding, dilation, ceil_mode)
    C = x.shape[-dims - 1]
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (C,))
    per_channel = np.zeros(C)
    gout = None if grad_output is None else np.abs(np.asarray(grad_output, dtype=np.float64))
    gplanes = None if gout is None else gout.reshape(planes.shape[0], -1)
    for p in range(planes.shape[0]):
        c = p % C
        for j, positions in enumerate(wins):
            idx = tuple(np.array(q) for q in zip(*positions))
            gw = 1.0 if gplanes is None else gplanes[p, j]
            per_channel[c] += gw * planes[p][idx].max() / max(1.0, abs(a[c]))
    return per_channel if np.ndim(alpha) == 1 else per_channel.sum()


def within(candidate, ref, scale, dtype: str):
    """Boolean mask and the ULP distances: ok where ulp <= 8 or |err| <= 64 u scale."""
    fmt = get_format(dtype)
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    ulps = ulp_distance(c, r, dtype)
    u = 2.0 ** -fmt.precision  # unit roundoff of round-to-nearest
    with np.errstate(invalid="ignore"):
        ok = (ulps <= GRAD_ULP) | (np.abs(c - r) <= GRAD_ROUNDOFF * u * np.asarray(scale))
    return (ok & np.isfinite(c)) | (c == r), ulps


def run_case(x, alpha, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, *, dims,
             gradients=True, grad_output=None, device=None):
    """Evaluate the op (forward and, optionally, backward; on ``device``, default ``x``'s) and
    the oracle; return both."""
    from ppverify import ops

    fn = getattr(ops, FUNCS[dims])
    name = dtype_name(x.dtype)
    xin = x.detach().to(device or x.device).clone().requires_grad_(gradients)
    a = alpha
    if gradients or isinstance(alpha, torch.Tensor):
        a = torch.as_tensor(alpha, dtype=torch.float64).to(xin.device).clone()
        a.requires_grad_(gradients)
    y = fn(xin, a, kernel, stride, padding, dilation, ceil_mode)
    got = {"output": y.detach().double().cpu().numpy()}
    if gradients:
        g = torch.ones_like(y) if grad_output is None else grad_output.to(y)
        y.backward(g)
        got["grad_input"] = xin.grad.double().cpu().numpy()
        got["grad_param"] = a.grad.double().cpu().numpy()
    ref = reference("ppool", x.detach().double().cpu().numpy(),
                    np.asarray(torch.as_tensor(alpha, dtype=torch.float64).cpu()), kernel, stride,
                    padding, dilation, ceil_mode, dims=dims, dtype=name, gradients=gradients,
                    grad_output=None if grad_output is None
                    else grad_output.to(x.dtype).double().cpu().numpy())
    return got, ref


def check_case(x, alpha, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, *, dims,
               gradients=True, grad_output=None, device=None, forward_ulp=None):
    """Assert the op meets the issue's tolerances on one case (``forward_ulp`` overrides the
    forward bound); return the worst ULP figures. ``alpha`` may hold one value per channel."""
    name = dtype_name(x.dtype)
    got, ref = run_case(x, alpha, kernel, stride, padding, dilation, ceil_mode, dims=dims,
                        gradients=gradients, grad_output=grad_output, device=device)
    limit = forward_ulp or (HALF_ULP if name in ("float16", "bfloat16") else FORWARD_ULP)
    fwd = ulp_distance(got["output"], ref.output, name)
    head = x.detach().double().cpu().numpy().ravel()[:12]
    where = (f"{name} alpha={alpha} kernel={kernel} stride={stride} padding={padding} "
             f"dilation={dilation} ceil_mode={ceil_mode} x={head}")
    assert np.all(np.isfinite(got["output"])), f"non-finite output: {where}"
    worst = np.unravel_index(np.argmax(fwd), fwd.shape) if fwd.size else ()
    assert fwd.max(initial=0) <= limit, (
        f"forward {fwd.max()} ULP > {limit} at {worst}: got {got['output'][worst]!r}, "
        f"oracle {ref.output[worst]!r}; {where}")
    figures = {"forward": float(fwd.max(initial=0))}
    if gradients:
        scale = grad_input_scale(ref.grad_input, dims, kernel, stride, padding, dilation,
                                 ceil_mode)
        ok, ulps = within(got["grad_input"], ref.grad_input, scale, name)
        bad = np.argwhere(~ok)
        assert ok.all(), (
            f"grad_input outside tolerance at {tuple(bad[0])}: got "
            f"{got['grad_input'][tuple(bad[0])]!r}, oracle {ref.grad_input[tuple(bad[0])]!r}, "
            f"scale {scale[tuple(bad[0])]!r}; {where}")
        ascale = alpha_scale(x.detach().double().cpu().numpy(),
                             np.asarray(torch.as_tensor(alpha, dtype=torch.float64).cpu()), dims,
                             kernel, stride, padding, dilation, ceil_mode, grad_output)
        aname = "float64"  # alpha is a float64 tensor in run_case
        ok_a, ulps_a = within(got["grad_param"], ref.grad_param, ascale, name)
        assert np.all(ok_a), (
            f"grad_alpha outside tolerance: got {got['grad_param']!r}, oracle "
            f"{ref.grad_param!r} (scale {ascale!r}, {aname} container); {where}")
        figures["grad_input"] = float(np.max(ulps, initial=0))
        figures["grad_alpha"] = float(np.max(ulps_a, initial=0))
    return figures


# ------------------------------------------------------------------- adaptive and global forms

def adaptive_reference(op, x: np.ndarray, param, output_size, dims: int, dtype: str,
                       grad_output: np.ndarray | None = None, gradients: bool = True):
    """The oracle on every adaptive window: ``reference`` over each window's block of the
    input with ``kernel_size`` equal to the block (one window), assembled into the output, the
    input gradient (VJP) and the summed parameter gradient. Also returns, per element, the
    largest |gradient| over the windows containing it and the parameter-gradient scale.

    Adaptive windows overlap, so an element's gradient is a sum over windows: each window is
    evaluated correctly rounded to float64, the sums are formed in float64 and rounded once to
    ``dtype`` (at most half an ULP of ``dtype`` more than correct rounding, in rare ties)."""
    from ppverify.windows import iter_windows, make_adaptive_geometry

    geometry = make_adaptive_geometry(dims, output_size)
    batched = x.ndim == dims + 2
    xb = x if batched else x[None]
    spatial = xb.shape[2:]
    wins = list(iter_windows(geometry, spatial))
    out_spatial = tuple(max(w.out_index[a] for w in wins) + 1 for a in range(dims))
    N, C = xb.shape[:2]
    out = np.zeros((N, C) + out_spatial)
    gin = np.zeros(xb.shape)
    gscale = np.zeros(xb.shape)
    gpar = 0.0
    pscale = np.zeros(C)
    g = np.ones((N, C) + out_spatial) if grad_output is None else \
        (grad_output if batched else grad_output[None])
    a = np.broadcast_to(np.asarray(param, dtype=np.float64), (C,))
    for w in wins:
        lo = [min(p[ax] for p in w.positions) for ax in range(dims)]
        hi = [max(p[ax] for p in w.positions) + 1 for ax in range(dims)]
        block = (slice(None), slice(None)) + tuple(slice(lo[ax], hi[ax]) for ax in range(dims))
        at = (slice(None), slice(None)) + tuple(slice(i, i + 1) for i in w.out_index)
        r = reference(op, xb[block], np.asarray(param), tuple(h - lo_ for h, lo_ in zip(hi, lo)),
                      dims=dims, dtype="float64", gradients=gradients, grad_output=g[at])
        out[at] = r.output
        if gradients:
            gin[block] += r.grad_input
            big = np.abs(np.asarray(r.grad_input, dtype=np.float64)).reshape(N, C, -1).max(-1)
            gscale[block] = np.maximum(gscale[block], big.reshape((N, C) + (1,) * dims))
            gpar += np.asarray(r.grad_param, dtype=np.float64)
            peak = np.abs(xb[block]).reshape(N, C, -1).max(-1)
            weight = np.abs(np.asarray(g[at], dtype=np.float64)).reshape(N, C)
            pscale += (weight * peak / np.maximum(1.0, np.abs(a))).sum(0)
    fmt = get_format(dtype)

    def final(t):
        t = round_float_array(np.asarray(t, dtype=np.float64), fmt)
        return t if batched or np.ndim(t) == 0 else t[0]

    return final(out), final(gin), final(gpar), (gscale if batched else gscale[0]), \
        (pscale if np.ndim(param) == 1 else pscale.sum())


def check_adaptive_case(op, x, param, output_size, *, dims, gradients=True, grad_output=None,
                        device=None, forward_ulp=None):
    """Assert the adaptive/global op meets check_case's tolerances against the oracle
    evaluated window by window (the op on ``device``, default ``x``'s; ``forward_ulp``
    overrides the forward bound); return the worst ULP figures."""
    from ppverify.ops import adaptive_gem_pool, adaptive_p_pool, power_mean

    def lp(input, p, output_size, dims):
        return getattr(power_mean, f"adaptive_lp_pool{dims}d")(input, p, output_size)

    fn = {"ppool": adaptive_p_pool, "powermean": adaptive_gem_pool, "lp": lp}[op]
    name = dtype_name(x.dtype)
    xin = x.detach().to(device or x.device).clone().requires_grad_(gradients)
    a = torch.as_tensor(param, dtype=torch.float64).to(xin.device).clone()
    a.requires_grad_(gradients)
    y = fn(xin, a, output_size, dims=dims)
    xd = x.detach().double().cpu().numpy()
    gout = None if grad_output is None else grad_output.to(x.dtype).double().cpu().numpy()
    ref_out, ref_gin, ref_gpar, gscale, pscale = adaptive_reference(
        op, xd, np.asarray(torch.as_tensor(param, dtype=torch.float64).cpu()), output_size,
        dims, name, gout, gradients)
    where = f"{op} {name} param={param} output_size={output_size} x={xd.ravel()[:8]}"
    assert y.shape == ref_out.shape, (y.shape, ref_out.shape, where)
    fwd = ulp_distance(y.detach().double().cpu().numpy(), ref_out, name)
    limit = forward_ulp or (HALF_ULP if name in ("float16", "bfloat16") else FORWARD_ULP)
    assert fwd.max(initial=0) <= limit, f"forward {fwd.max()} ULP > {limit}; {where}"
    figures = {"forward": float(fwd.max(initial=0))}
    if gradients:
        y.backward(torch.ones_like(y) if grad_output is None else grad_output.to(y))
        gin = xin.grad.double().cpu().numpy()
        ok, ulps = within(gin, ref_gin, gscale, name)
        assert ok.all(), (f"grad_input outside tolerance at {np.argwhere(~ok)[0]}: got "
                          f"{gin[tuple(np.argwhere(~ok)[0])]}, oracle "
                          f"{ref_gin[tuple(np.argwhere(~ok)[0])]}; {where}")
        ok_a, ulps_a = within(a.grad.double().cpu().numpy(), ref_gpar, pscale, name)
        assert np.all(ok_a), (f"grad_param outside tolerance: got {a.grad}, oracle "
                              f"{ref_gpar} (scale {pscale}); {where}")
        figures["grad_input"] = float(np.max(ulps, initial=0))
        figures["grad_param"] = float(np.max(ulps_a, initial=0))
    return figures


def global_forward_ulps(op: str, y: torch.Tensor, x: torch.Tensor, param) -> np.ndarray:
    """ULP distance of a global pooling's output ``y`` (one value per plane) from the oracle's
    correctly rounded value, per plane."""
    dtype = dtype_name(x.dtype)
    ref = reference(op, x.float().numpy() if x.dtype == torch.bfloat16 else x.numpy(),
                    torch.as_tensor(param, dtype=torch.float64).tolist(), output_size=1,
                    dims=x.dim() - 2, dtype=dtype, gradients=False)
    got = y.detach().reshape(-1)
    got = got.float() if got.dtype == torch.bfloat16 else got
    return np.abs(ulp_distance(got.numpy(), np.asarray(ref.output).reshape(-1), dtype))


def grads_of(fn, x, p, *args, grad_output=None):
    """The op's output and gradients (input, p: a float64 tensor that requires grad), on the
    path the dispatcher picks."""
    xin = x.clone().requires_grad_(True)
    pt = torch.as_tensor(p, dtype=torch.float64).clone().requires_grad_(True)
    y = fn(xin, pt, *args)
    y.backward(torch.ones_like(y) if grad_output is None else grad_output)
    return y.detach(), xin.grad, pt.grad
