"""Compare this checkout's compiled kernel with another build of it bit for bit, float64.

    python -m tests.kernel_bits OTHER.so [--threads N]

OTHER.so is a ``ppool_kernel_*.so`` from another checkout's kernel cache (``PPVERIFY_CACHE``;
the same ABI version). Both libraries are called through ctypes with the same plan, input,
parameter and upstream gradient: ``ppv_forward`` and the recomputing ``ppv_backward`` on 256
float64 cases (k3 s2 p1, k2 s2, k3 s1 p1, global windows of 900 and 3660 elements, adaptive
windows, 3-D, one 1-D signal of 5000 samples (segments); random, 60-decade, zero-laden and
subnormal inputs; alpha from -300 to 1e300), and every output, input gradient and dy/dalpha
is compared by its bits. Prints each case that differs and the count; exits 1 if any does.
Used for issue 12's float64 work (docs/performance-history.md, note (e)): a change meant to
keep the arithmetic shows here that it did.

``--fast`` compares the fast engine (float32, bfloat16, float16) on contiguous and channels-last
memory: ``ppv_forward``, the recomputing ``ppv_backward`` and, where windows share elements, the
overlap state's pair (``ppv_forward_overlap_saved``, ``ppv_backward_overlap_saved``), with
widths that leave a partial block of 8 columns, channel counts that leave partial groups, two
global planes of 16,384 elements (lane slices), and small channels-last bands
(``ppv_cl_band_bytes``, the same in both libraries) so that planes run in several bands. Used
for issue 12's fused load and weights (``load_weights_row``).

``--saved`` compares the saving forward instead: ``ppv_forward_saved`` with dy/dalpha on
float32, bfloat16, float16 and float64 inputs whose windows share no element (global 1-D, 2-D
and 3-D, two global planes of 16,384 elements (lane slices), adaptive 7 on 56x56, k14, k2 s2,
contiguous; random, 12-decade and zero-laden inputs; alpha -3 .. 1e3; k2 s3 p1 (2-D, and 1-D
over several column tiles) and k2 s5 dilation 2, whose rows have columns in no window; the 2-D
ones on channels-last memory too, 9 channels among them (the backward's blocks of lcm(C, 8)
elements)): its
status, output, every saved dy/dx and every dy/dalpha, then ``ppv_backward_saved`` from that
state with a random upstream gradient (writing over the state where the dtypes agree, as
autograd's call does): its status, input gradient and dy/dalpha, all by their bits (issue 12's
one-pass dy/dx and the backward's runs, docs/performance-history.md, "The saving forward's dy/dx
in one pass").

``--overlap`` compares the overlap state's pair: ``ppv_forward_overlap_saved`` (status, output,
each element's float weight, each window's float dy/dalpha, each plane's Lc) and
``ppv_backward_overlap_saved`` from the one state both wrote (status, input gradient, dy/dalpha)
on float32, bfloat16 and float16 inputs whose windows share elements (2-D k3 s2 p1 on odd and
even sizes, k3 s1 p1, k5 s2 p2, dilation 2, adaptive 5 on 23x19, 3-D k3 s2 p1, a 1-D k4 s2 p1,
channels-last 2-D and 3-D; random, 12-decade and zero-laden inputs; alpha -3 .. 1e3), by their
bits (issue 12's small row: the backward's coefficient slots, docs/performance-history.md, "Per-
call overhead and RSS").

``--overlap64`` compares float64's overlap state: ``ppv_forward_overlap_saved64`` (status,
output, each element's x^alpha, each window's S, y, y's low part and dy/dalpha) and
``ppv_backward_overlap_saved64`` from the one state both wrote (status, input gradient,
dy/dalpha), on the float64 cases above that the state serves (windows that share elements,
contiguous and channels-last; windows that share none with 4 elements or more on average,
contiguous), with the scalar ALPHAS and one alpha per channel (8-plane groups of different
alphas).

``--int`` compares the integer-alpha window state's pair: ``ppv_forward_saved_int`` (status,
output, each window's dy/dalpha, S and y) and ``ppv_backward_saved_int`` from the one state both
wrote (status, input gradient, dy/dalpha) on float32, bfloat16 and float16 inputs whose windows
share no element and hold 16 elements or more on average (global 1-D, 2-D and 3-D, adaptive,
k8 with rows and columns in no window, k14, two global planes of 16,384 (lane slices)),
contiguous and channels-last with 2, 3, 12, 16 and 24 channels, alpha 0-4, random, wide and
zero-laden inputs; a call the state refuses (float16's infinities) compares its statuses alone
(issue 12's channels-last backward of few channels, docs/performance-history.md).

``--power`` compares the power mean's and the Lp norm's engine (power_kernel.inc) on float32,
bfloat16, float16 and float64 inputs, contiguous and channels-last: ``ppv_forward``, the
recomputing ``ppv_backward`` and, where windows share no element, ``ppv_forward_saved`` with
dy/dp and ``ppv_backward_saved`` from its state, elsewhere (float32, float64) the overlap
state's ``ppv_forward_power_overlap_saved`` and ``ppv_backward_power_overlap_saved`` (global
windows of 49 and 12,544 elements, two of 16,384 in lane slices, adaptive, k2 s2, k14, k3 s2 p1,
a 1-D signal in segments, 3-D; p = 1, 2, 3, 4 (the integer powers' rows), 2.5, -1.5, 20 and one
p per channel; random, wide and zero-laden inputs): every status, output, dy/dx state, dy/dp and
gradient by its bits (issue 12's one-pass dy/dx store, the integer powers' blends and the
parameter's plain sums, docs/performance-history.md)."""

from __future__ import annotations

import argparse
import ctypes

import torch

from ppverify.ops import _dispatch, _layout, _native

GEOMETRIES = [
    ((2, 16, 23, 19), _layout.windowed(2, 3, 2, 1)),
    ((2, 16, 22, 18), _layout.windowed(2, 2, 2)),
    ((1, 3, 40, 41), _layout.windowed(2, 3, 1, 1)),
    ((2, 9, 30, 30), _layout.adaptive(2, 1)),
    ((2, 9, 60, 61), _layout.adaptive(2, 1)),
    ((3, 5, 17, 13), _layout.adaptive(2, 4)),
    ((2, 8, 9, 10, 11), _layout.windowed(3, 3, 2, 1)),
    ((1, 1, 5000), _layout.windowed(1, 3, 2, 1)),
]
KINDS = ["random", "wide", "zeros", "subnormal"]
ALPHAS = [2.0, -1.5, 0.0, 1.0, 37.0, -300.0, 1e-160, 1e300]


def _input(shape, kind: str) -> torch.Tensor:
    x = torch.rand(shape, dtype=torch.float64) + 0.01
    if kind == "wide":
        return torch.exp(torch.randn(shape, dtype=torch.float64) * 60)
    if kind == "zeros":
        return x * (torch.rand(shape) > 0.3)
    if kind == "subnormal":
        return x * 1e-310
    return x


def _fast_input(shape, kind: str, dtype: torch.dtype) -> torch.Tensor:
    """An input of one of SAVED_KINDS in ``dtype``: uniform on [0.01, 1.01), spread over many
    decades ("wide": exp of a normal with sigma 7) or with about 30% zeros."""
    x = torch.rand(shape, dtype=torch.float64) + 0.01
    if kind == "wide":
        x = torch.exp(torch.randn(shape, dtype=torch.float64) * 7)
    elif kind == "zeros":
        x = x * (torch.rand(shape) > 0.3)
    return x.to(dtype)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """``t`` with the channels innermost in memory (the kernel reads the raw memory)."""
    return t.movedim(1, -1).contiguous().movedim(-1, 1)


def _empty_like_layout(t: torch.Tensor, shape, dtype: torch.dtype) -> torch.Tensor:
    """An empty tensor of ``shape`` and ``dtype`` in ``t``'s memory format (channels-last where
    ``t`` is not contiguous): where the kernel writes an output of a call on ``t``."""
    e = torch.empty(shape, dtype=dtype)
    return e.movedim(1, -1).contiguous().movedim(-1, 1) if not t.is_contiguous() else e


def _differs(run_a, run_b, case: str, names: str) -> bool:
    """Whether two ``(status, tensors)`` results differ in status or in any tensor's bits; if
    so, print the case, both statuses and how many elements of each tensor (``names``) differ."""
    (st_a, ts_a), (st_b, ts_b) = run_a, run_b
    if st_a == st_b and all(torch.equal(a, b) for a, b in zip(ts_a, ts_b)):
        return False
    print(f"differs: {case} status {st_a} / {st_b}; elements that differ ({names}): "
          f"{[int((a != b).sum()) for a, b in zip(ts_a, ts_b)]}", flush=True)
    return True


def _for(lib, plan):
    """``plan`` for ``lib``: a copy whose head names the library's ABI (the kernel refuses a
    plan of another ABI; the plan's layout has not changed since ABI 5, and ABI 6 changed
    only the integer-alpha state's entries, which ``_int_run`` calls by the library's ABI)."""
    mine = plan.copy()
    mine[0] = lib.ppv_abi_version()
    return mine


def _run(lib, plan, x, p, gy, out_shape, threads: int):
    vp = ctypes.c_void_p
    y = torch.empty(out_shape, dtype=torch.float64)
    gx = torch.empty_like(x)
    dp = torch.empty(1, dtype=torch.float64)
    s1 = lib.ppv_forward(vp(plan.ctypes.data), vp(x.data_ptr()), vp(p.data_ptr()),
                         vp(y.data_ptr()), threads)
    s2 = lib.ppv_backward(vp(plan.ctypes.data), vp(x.data_ptr()), vp(p.data_ptr()),
                          vp(gy.data_ptr()), vp(gx.data_ptr()), vp(dp.data_ptr()), threads)
    return (s1, s2), (y, gx, dp)


SAVED_GEOMETRIES = [
    ((2, 9, 30, 30), _layout.adaptive(2, 1)),
    ((2, 16, 60, 61), _layout.adaptive(2, 1)),
    ((2, 16, 56, 56), _layout.adaptive(2, 7)),
    ((2, 16, 56, 57), _layout.windowed(2, 14)),
    ((2, 16, 22, 18), _layout.windowed(2, 2, 2)),
    # rows with columns in no window (dy/dx 0 there): between the windows, and in 1-D over
    # column tiles of 2048 whose gaps fall on the previous tile's window columns
    ((2, 16, 23, 19), _layout.windowed(2, 2, 3, 1)),
    ((1, 8, 5000), _layout.windowed(1, 2, 3, 1)),
    ((2, 16, 23, 18), _layout.windowed(2, 2, 5, 0, 2)),  # dilated: gaps inside a window
    ((2, 8, 9, 10, 11), _layout.adaptive(3, 1)),
    ((2, 8, 300), _layout.adaptive(1, 1)),
    ((1, 2, 256, 64), _layout.adaptive(2, 1)),  # two planes of 16,384: lane slices
]
SAVED_KINDS = ["random", "wide", "zeros"]
SAVED_ALPHAS = [-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 7.5, 1e3]


_BITS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.bfloat16: torch.int16,
         torch.float16: torch.int16}


def _saved_run(lib, plan, x, p, out_shape, threads: int, gy):
    """The saving forward's status and state, then ``ppv_backward_saved`` with ``gy`` (over a
    copy of the state where the dtypes agree, as autograd's call writes) and its status, input
    gradient and dy/dalpha, all as bits."""
    vp = ctypes.c_void_p
    y = torch.empty(out_shape, dtype=x.dtype)
    jdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    jac = torch.zeros(x.shape, dtype=jdtype)
    dw = torch.empty(out_shape, dtype=torch.float64)
    st = lib.ppv_forward_saved(vp(plan.ctypes.data), vp(x.data_ptr()), vp(p.data_ptr()),
                               vp(y.data_ptr()), vp(jac.data_ptr()), vp(dw.data_ptr()),
                               threads)
    state = jac.clone()
    gx = state if state.dtype == x.dtype else torch.empty_like(x)
    dp = torch.zeros(1, dtype=torch.float64)  # the parameter's shape
    sb = lib.ppv_backward_saved(vp(plan.ctypes.data), vp(state.data_ptr()), vp(dw.data_ptr()),
                                vp(gy.data_ptr()), vp(gx.data_ptr()), vp(dp.data_ptr()),
                                threads)
    bits = _BITS[x.dtype]
    return (st, sb), (y.view(bits), jac.view(_BITS[jdtype]), dw.view(torch.int64),
                      gx.view(bits), dp.view(torch.int64))


def saved_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = 0
    for shape, layout in SAVED_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        for cl, dtype in [(cl, d) for cl in ((False, True) if len(shape) == 4 else (False,))
                          for d in (torch.float32, torch.bfloat16, torch.float16,
                                    torch.float64)]:
            plan = _native.make_plan("ppool", layout, shape, dtype, cl, 0, out)
            for kind in SAVED_KINDS:
                for alpha in SAVED_ALPHAS:
                    x = _fast_input(shape, kind, dtype)
                    p = torch.tensor([alpha], dtype=torch.float64)
                    gy = torch.randn(out_shape, dtype=torch.float64).to(dtype)
                    if cl:  # (the kernel reads the raw memory as channels-last)
                        x, gy = _channels_last(x), _channels_last(gy)
                    a, b = (_saved_run(lib, _for(lib, plan), x, p, out_shape, threads, gy)
                            for lib in libs)
                    cases += 1
                    differ += _differs(a, b, f"{shape} {dtype} channels_last={cl} {kind} "
                                       f"alpha={alpha}",
                                       "y, dy/dx, dy/dalpha, grad_x, grad_alpha")
    print(f"{cases} cases, {differ} differ")
    return 1 if differ else 0


FAST_GEOMETRIES = [
    ((2, 16, 23, 19), _layout.windowed(2, 3, 2, 1)),
    ((2, 17, 22, 18), _layout.windowed(2, 2, 2)),
    ((1, 9, 40, 41), _layout.windowed(2, 3, 1, 1)),
    ((2, 16, 30, 30), _layout.adaptive(2, 1)),
    ((3, 5, 17, 13), _layout.adaptive(2, 4)),
    ((1, 8, 7, 5), _layout.windowed(2, 3, 2, 1)),
    ((2, 16, 9, 10, 11), _layout.windowed(3, 3, 2, 1)),
    ((2, 8, 301), _layout.windowed(1, 3, 2, 1)),
    ((1, 2, 256, 64), _layout.adaptive(2, 1)),  # two planes of 16,384: lane slices
]
FAST_ALPHAS = [2.0, -1.5, 0.0, 1.0, 37.0, 1e3]


def _fast_run(lib, plan, x, p, gy, out_shape, threads: int, overlap: bool):
    """Every result of the fast engine's entry points on x, as integer views of their bits."""
    vp = ctypes.c_void_p

    y, gx = _empty_like_layout(x, out_shape, x.dtype), torch.empty_like(x)
    dp = torch.empty(1, dtype=torch.float64)
    ptr = vp(plan.ctypes.data)
    st = [lib.ppv_forward(ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(y.data_ptr()), threads),
          lib.ppv_backward(ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(gy.data_ptr()),
                           vp(gx.data_ptr()), vp(dp.data_ptr()), threads)]
    out = [y.clone(), gx.clone(), dp.clone()]
    if overlap:  # (rs, ys: the state's weights and dy/dalpha, float32; zeroed: a half type's
        # bfloat16 weights fill part of rs alone, and the rest must not compare stale bytes)
        rs = torch.zeros(_state_elements(plan, _native.overlap_weights_size(plan)),
                         dtype=torch.float32)
        ys = torch.zeros(_state_elements(plan, _native.overlap_state_size(plan)),
                         dtype=torch.float32)
        lc = torch.empty(x.shape[0] * x.shape[1], dtype=torch.float64)
        st.append(lib.ppv_forward_overlap_saved(ptr, vp(x.data_ptr()), vp(p.data_ptr()),
                                                vp(y.data_ptr()), vp(rs.data_ptr()),
                                                vp(ys.data_ptr()), vp(lc.data_ptr()), threads))
        st.append(lib.ppv_backward_overlap_saved(ptr, vp(x.data_ptr()), vp(p.data_ptr()),
                                                 vp(rs.data_ptr()), vp(ys.data_ptr()),
                                                 vp(lc.data_ptr()), vp(gy.data_ptr()),
                                                 vp(gx.data_ptr()), vp(dp.data_ptr()), threads))
        # a refused state (ST_UNSAVED, 4): the state's backward is not meant to run; its
        # outputs are left out (the statuses still compare)
        if not st[2] & 4:
            out += [y, gx, dp, rs, ys]
    bits = {torch.float32: torch.int32, torch.float64: torch.int64}
    return st, [t.contiguous().view(bits.get(t.dtype, torch.int16)) for t in out]


def fast_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = 0
    for lib in libs:
        lib.ppv_cl_band_bytes.argtypes = [ctypes.c_int64]
        lib.ppv_cl_band_bytes.restype = ctypes.c_int64
    for shape, layout in FAST_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        for channels_last in (False, True) if len(shape) > 3 else (False,):
            for band in (0, 2048) if channels_last else (0,):
                old = [lib.ppv_cl_band_bytes(band or (384 << 10)) for lib in libs]
                for dtype in (torch.float32, torch.bfloat16, torch.float16):
                    plan = _native.make_plan("ppool", layout, shape, dtype, channels_last, 0,
                                             out)
                    overlap = (not _native.plan_disjoint(plan)
                               and _native.saves_overlap("ppool", dtype))
                    for kind in SAVED_KINDS:
                        for alpha in FAST_ALPHAS:
                            x = _fast_input(shape, kind, dtype)
                            gy = torch.rand(out_shape, dtype=dtype)
                            if channels_last:
                                x, gy = _channels_last(x), _channels_last(gy)
                            p = torch.tensor([alpha], dtype=torch.float64)
                            a, b = (_fast_run(lib, _for(lib, plan), x, p, gy, out_shape,
                                              threads, overlap) for lib in libs)
                            cases += 1
                            differ += _differs(a, b, f"{shape} {dtype} channels_last="
                                               f"{channels_last} band={band} {kind} "
                                               f"alpha={alpha}", "each output of the run")
                for lib, b in zip(libs, old):
                    lib.ppv_cl_band_bytes(b)
    print(f"{cases} cases, {differ} differ")
    return 1 if differ else 0


OVERLAP_GEOMETRIES = [
    ((1, 16, 56, 56), _layout.windowed(2, 3, 2, 1), False),
    ((2, 9, 23, 19), _layout.windowed(2, 3, 2, 1), False),
    ((2, 8, 17, 16), _layout.windowed(2, 3, 1, 1), False),
    ((2, 8, 21, 22), _layout.windowed(2, 5, 2, 2), False),
    ((2, 8, 21, 22), _layout.windowed(2, 3, 1, 0, 2), False),
    ((2, 8, 23, 19), _layout.adaptive(2, 5), False),
    ((2, 8, 9, 10, 11), _layout.windowed(3, 3, 2, 1), False),
    ((2, 8, 300), _layout.windowed(1, 4, 2, 1), False),
    ((2, 16, 23, 19), _layout.windowed(2, 3, 2, 1), True),
    ((2, 8, 9, 10, 11), _layout.windowed(3, 3, 2, 1), True),
]


def _state_elements(plan, size: int) -> int:
    """``size`` elements of an overlap-state buffer for this build's ``plan`` or, on
    channels-last memory of a channel count that is not a multiple of 8, an older build's where
    larger (before 81b86b7 every such count, before the next commit those above 8: one batch
    entry's channels to a group of 8 lanes, the last padded, where this build packs 8 planes to
    a group, ``Plan::packed``): an older build compared against this one writes its own layout
    there (those cases' states then differ), and the buffers must hold it."""
    n, c, channels_last = int(plan[3]), int(plan[4]), bool(plan[2])
    if not channels_last or c % 8 == 0:
        return size
    packed = -(-(n * c) // 8)
    return max(size, size // packed * n * -(-c // 8))


def _overlap_run(lib, plan, x, p, gy, threads: int):
    vp = ctypes.c_void_p
    # zeros: what a kernel leaves unwritten (padded lanes; all but y after a refused state);
    # rs, ys: the state's weights and dy/dalpha (float32)
    rs = torch.zeros(_state_elements(plan, _native.overlap_weights_size(plan)),
                     dtype=torch.float32)
    ys = torch.zeros(_state_elements(plan, _native.overlap_state_size(plan)),
                     dtype=torch.float32)
    lc = torch.zeros(x.shape[0] * x.shape[1], dtype=torch.float64)
    y, gx, dp = torch.zeros_like(gy), torch.zeros_like(x), torch.zeros(1, dtype=torch.float64)
    s1 = lib.ppv_forward_overlap_saved(vp(plan.ctypes.data), vp(x.data_ptr()),
                                       vp(p.data_ptr()), vp(y.data_ptr()), vp(rs.data_ptr()),
                                       vp(ys.data_ptr()), vp(lc.data_ptr()), threads)
    s2 = lib.ppv_backward_overlap_saved(vp(plan.ctypes.data), vp(x.data_ptr()),
                                        vp(p.data_ptr()), vp(rs.data_ptr()), vp(ys.data_ptr()),
                                        vp(lc.data_ptr()), vp(gy.data_ptr()), vp(gx.data_ptr()),
                                        vp(dp.data_ptr()), threads) if s1 == 0 else -1
    bits = torch.int32 if x.dtype == torch.float32 else torch.int16
    return (s1, s2), (y.view(bits), rs.view(torch.int32), ys.view(torch.int32),
                      lc.view(torch.int64), gx.view(bits), dp.view(torch.int64))


def overlap_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = used = 0
    for shape, layout, channels_last in OVERLAP_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            plan = _native.make_plan("ppool", layout, shape, dtype, channels_last, 0, out)
            for kind in SAVED_KINDS:
                for alpha in SAVED_ALPHAS:
                    x = _fast_input(shape, kind, dtype)
                    gy = torch.rand(out_shape, dtype=torch.float64).to(dtype)
                    if channels_last:
                        x, gy = _channels_last(x), _channels_last(gy)
                    p = torch.tensor([alpha], dtype=torch.float64)
                    a, b = (_overlap_run(lib, _for(lib, plan), x, p, gy, threads) for lib in libs)
                    cases += 1
                    used += a[0] == (0, 0)
                    differ += _differs(a, b, f"{shape} {dtype} cl={channels_last} {kind} "
                                       f"alpha={alpha}", "y, 1/S, y64, Lc, dx, dy/dalpha")
    print(f"{cases} cases ({used} served from the state), {differ} differ")
    return 1 if differ else 0


def _overlap64_run(lib, plan, x, p, gy, threads: int):
    vp = ctypes.c_void_p
    f64, i64 = torch.float64, torch.int64
    n = _state_elements(plan, _native.overlap_state_size(plan))
    w = torch.zeros(_state_elements(plan, _native.overlap_weights_size(plan)), dtype=f64)
    dw = torch.zeros(n, dtype=f64)
    ref = torch.zeros(2 * n + (n + 1) // 2, dtype=f64)  # (overlap_ref_size's form for n)
    y, gx, dp = torch.zeros_like(gy), torch.zeros_like(x), torch.zeros(p.shape, dtype=f64)
    s1 = lib.ppv_forward_overlap_saved64(vp(plan.ctypes.data), vp(x.data_ptr()),
                                         vp(p.data_ptr()), vp(y.data_ptr()), vp(w.data_ptr()),
                                         vp(dw.data_ptr()), vp(ref.data_ptr()), threads)
    # the state as the forward left it (the backward writes over it); ref holds S and y per
    # window and lane, then y's low part as a float32, which is not read (and was left
    # unwritten before 2026-12-04) where the state does not serve the window (S = -1)
    lo = ref[2 * n:].view(torch.float32)[:n].clone()
    lo[ref[:n] == -1.0] = 0.0
    state = (w.clone().view(i64), dw.clone().view(i64), ref[:2 * n].clone().view(i64),
             lo.view(torch.int32))
    s2 = lib.ppv_backward_overlap_saved64(vp(plan.ctypes.data), vp(x.data_ptr()),
                                          vp(p.data_ptr()), vp(w.data_ptr()),
                                          vp(dw.data_ptr()), vp(ref.data_ptr()),
                                          vp(gy.data_ptr()), vp(gx.data_ptr()),
                                          vp(dp.data_ptr()), threads) if s1 == 0 else -1
    return (s1, s2), (y.view(i64), *state, gx.view(i64), dp.view(i64))


# the float64 overlap state's cases: windows that share elements (contiguous and channels-last
# memory), and windows that share none with 4 elements or more on average on contiguous memory
# (which the state serves too: _dispatch.float64_overlap_serves_disjoint)
OVERLAP64_GEOMETRIES = (
    [(shape, layout, False) for shape, layout in GEOMETRIES + SAVED_GEOMETRIES]
    + [(shape, layout, True) for shape, layout in GEOMETRIES if len(shape) > 3])


def overlap64_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = used = 0
    for shape, layout, channels_last in OVERLAP64_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        params = [torch.tensor([a], dtype=torch.float64) for a in ALPHAS]
        params.append(torch.linspace(-3.0, 5.0, shape[1], dtype=torch.float64))
        for p in params:
            plan = _native.make_plan("ppool", layout, shape, torch.float64, channels_last,
                                     int(p.numel() > 1), out)
            if _native.plan_disjoint(plan) and not _dispatch.float64_overlap_serves_disjoint(
                    "ppool", torch.float64, not channels_last, plan):
                break
            for kind in KINDS:
                x = _input(shape, kind)
                gy = torch.randn(out_shape, dtype=torch.float64)
                if channels_last:
                    x, gy = _channels_last(x), _channels_last(gy)
                a, b = (_overlap64_run(lib, _for(lib, plan), x, p, gy, threads) for lib in libs)
                cases += 1
                used += a[0] == (0, 0)
                differ += _differs(a, b, f"{shape} channels_last={channels_last} {kind} "
                                   f"alpha={p.tolist()[:3]}",
                                   "y, x^a, dy/dalpha, S|y, ylo, dx, dp")
    print(f"{cases} cases ({used} served from the state), {differ} differ")
    return 1 if differ else 0


# the power mean's and Lp's cases (``--power``): global windows as the dispatcher gives them
# (a 7 x 7 plane as one row of 49; 112 x 112 as it is), adaptive, k2 s2, k3 s2 p1 (overlap),
# k14, a 1-D signal cut into segments, 3-D; 16 planes (two contiguous groups of 8) or 9
POWER_GEOMETRIES = [
    ((2, 16, 1, 49), _layout.adaptive(2, 1)),
    ((1, 16, 112, 112), _layout.adaptive(2, 1)),
    ((2, 9, 30, 31), _layout.adaptive(2, 1)),
    ((2, 16, 23, 19), _layout.adaptive(2, 4)),
    ((2, 16, 22, 18), _layout.windowed(2, 2, 2)),
    ((2, 16, 23, 19), _layout.windowed(2, 3, 2, 1)),
    ((2, 16, 56, 57), _layout.windowed(2, 14)),
    ((1, 2, 9000), _layout.windowed(1, 3, 1)),
    ((2, 8, 9, 10, 11), _layout.adaptive(3, 1)),
    ((1, 2, 256, 64), _layout.adaptive(2, 1)),  # two planes of 16,384: lane slices
]
POWER_P = [1.0, 2.0, 3.0, 4.0, 2.5, -1.5, 20.0]


def _power_run(lib, plan, x, p, gy, out_shape, threads: int):
    """The power engine's entry points on x: ``ppv_forward``, the recomputing ``ppv_backward``
    and, where the plan's windows share no element, the saving forward with dy/dp and the
    backward from its state; statuses and every result, as bits."""
    vp = ctypes.c_void_p
    ptr = vp(plan.ctypes.data)

    def like(shape, dtype):
        e = torch.zeros(shape, dtype=dtype)
        return _channels_last(e) if not x.is_contiguous() else e

    y, gx = like(out_shape, x.dtype), like(x.shape, x.dtype)
    dp = torch.zeros(p.shape, dtype=torch.float64)
    st = [lib.ppv_forward(ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(y.data_ptr()), threads),
          lib.ppv_backward(ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(gy.data_ptr()),
                           vp(gx.data_ptr()), vp(dp.data_ptr()), threads)]
    out = [y.clone(), gx.clone(), dp.clone()]
    if _native.plan_disjoint(plan):
        jac = like(x.shape, torch.float64 if x.dtype == torch.float64 else torch.float32)
        dw = like(out_shape, torch.float64)
        st.append(lib.ppv_forward_saved(ptr, vp(x.data_ptr()), vp(p.data_ptr()),
                                        vp(y.data_ptr()), vp(jac.data_ptr()), vp(dw.data_ptr()),
                                        threads))
        out += [y.clone(), jac.clone(), dw.clone()]
        if st[-1] == 0:
            st.append(lib.ppv_backward_saved(ptr, vp(jac.data_ptr()), vp(dw.data_ptr()),
                                             vp(gy.data_ptr()), vp(gx.data_ptr()),
                                             vp(dp.data_ptr()), threads))
            out += [gx, dp]
    elif _native.saves_power_overlap("powermean", x.dtype):  # the overlap state's pair
        jac = like(x.shape, x.dtype)
        dw, cw = like(out_shape, torch.float64), like(out_shape, torch.float64)
        st.append(lib.ppv_forward_power_overlap_saved(
            ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(y.data_ptr()), vp(jac.data_ptr()),
            vp(dw.data_ptr()), vp(cw.data_ptr()), threads))
        out += [y.clone(), jac.clone(), dw.clone(), cw.clone()]
        if st[-1] == 0:
            st.append(lib.ppv_backward_power_overlap_saved(
                ptr, vp(p.data_ptr()), vp(jac.data_ptr()), vp(cw.data_ptr()), vp(dw.data_ptr()),
                vp(gy.data_ptr()), vp(jac.data_ptr()), vp(dp.data_ptr()), threads))
            out += [jac, dp]
    return st, [t.contiguous().view(_BITS[t.dtype]) for t in out]


def power_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = 0
    for shape, layout in POWER_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        for op in ("powermean", "lp"):
            params = [torch.tensor([v], dtype=torch.float64) for v in POWER_P
                      if op == "powermean" or v > 0]
            params.append(torch.linspace(1.0, 4.0, shape[1], dtype=torch.float64))
            for channels_last in (False, True) if len(shape) == 4 else (False,):
                for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.float64):
                    for p in params:
                        plan = _native.make_plan(op, layout, shape, dtype, channels_last,
                                                 int(p.numel() > 1), out)
                        for kind in SAVED_KINDS:
                            x = _fast_input(shape, kind, dtype)
                            gy = torch.randn(out_shape, dtype=torch.float64).to(dtype)
                            if channels_last:
                                x, gy = _channels_last(x), _channels_last(gy)
                            a, b = (_power_run(lib, _for(lib, plan), x, p, gy, out_shape, threads)
                                    for lib in libs)
                            cases += 1
                            differ += _differs(a, b, f"{op} {shape} {dtype} channels_last="
                                               f"{channels_last} {kind} p={p.tolist()[:3]}",
                                               "each output of the run")
    print(f"{cases} cases, {differ} differ")
    return 1 if differ else 0


INT_GEOMETRIES = [
    ((2, 3, 30, 30), _layout.adaptive(2, 1)),
    ((2, 2, 24, 16), _layout.adaptive(2, (3, 2))),
    ((1, 12, 20, 18), _layout.windowed(2, 8)),
    ((2, 16, 56, 57), _layout.windowed(2, 14)),
    ((2, 24, 32, 34), _layout.adaptive(2, 2)),
    ((1, 2, 256, 64), _layout.adaptive(2, 1)),  # two planes of 16,384: lane slices
    ((2, 8, 9, 10, 11), _layout.adaptive(3, 1)),
    ((2, 8, 300), _layout.adaptive(1, 1)),
]


def _int_run(lib, plan, x, p, gy, out_shape, threads: int):
    """The integer-alpha window state's forward (status, y, dy/dalpha, S and y in double) and
    its backward from that state (status, input gradient, dy/dalpha), all as bits."""
    vp = ctypes.c_void_p

    y, dw = (_empty_like_layout(x, out_shape, x.dtype),
             _empty_like_layout(x, out_shape, torch.float64))
    sums = torch.zeros(2 * y.numel(), dtype=torch.float64)
    gx, dp = torch.empty_like(x), torch.zeros(1, dtype=torch.float64)
    ptr = vp(plan.ctypes.data)
    flag = (0,) if lib.ppv_abi_version() >= 6 else ()  # (ABI 6: dw_float, 0: dw in double)
    st = (lib.ppv_forward_saved_int(ptr, vp(x.data_ptr()), vp(p.data_ptr()), vp(y.data_ptr()),
                                    vp(dw.data_ptr()), vp(sums.data_ptr()), *flag, threads),
          lib.ppv_backward_saved_int(ptr, vp(x.data_ptr()), vp(p.data_ptr()),
                                     vp(sums.data_ptr()), vp(dw.data_ptr()), vp(gy.data_ptr()),
                                     vp(gx.data_ptr()), vp(dp.data_ptr()), *flag, threads))
    if st != (0, 0):  # refused (float16's infinities, ...): the statuses alone compare
        return st, ()
    bits = _BITS[x.dtype]
    return st, (y.contiguous().view(bits), dw.contiguous().view(torch.int64),
                sums.view(torch.int64), gx.contiguous().view(bits), dp.view(torch.int64))


def int_main(libs, threads: int) -> int:
    torch.manual_seed(0)
    cases = differ = refused = 0
    for shape, layout in INT_GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        for channels_last in (False, True) if len(shape) > 3 else (False,):
            for dtype in (torch.float32, torch.bfloat16, torch.float16):
                plan = _native.make_plan("ppool", layout, shape, dtype, channels_last, 0, out)
                for kind in SAVED_KINDS:
                    for alpha in (0.0, 1.0, 2.0, 3.0, 4.0):
                        x = _fast_input(shape, kind, dtype)
                        gy = torch.randn(out_shape, dtype=torch.float64).to(dtype)
                        if channels_last:
                            x, gy = _channels_last(x), _channels_last(gy)
                        p = torch.tensor([alpha], dtype=torch.float64)
                        a, b = (_int_run(lib, _for(lib, plan), x, p, gy, out_shape, threads)
                                for lib in libs)
                        cases += 1
                        refused += a[0] != (0, 0)
                        differ += _differs(a, b, f"{shape} {dtype} channels_last="
                                           f"{channels_last} {kind} alpha={alpha}",
                                           "y, dy/dalpha, S and y, grad_x, grad_alpha")
    print(f"{cases} cases, {differ} differ ({refused} refused by the window state: their "
          "statuses compared)")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", help="the other build's ppool_kernel_*.so")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--saved", action="store_true",
                        help="compare the fast engine's saving forward (see above)")
    parser.add_argument("--fast", action="store_true",
                        help="compare the fast engine's forwards and backwards (see above)")
    parser.add_argument("--overlap", action="store_true",
                        help="compare the overlap state's forward and backward (see above)")
    parser.add_argument("--overlap64", action="store_true",
                        help="compare float64's overlap state's forward and backward (see above)")
    parser.add_argument("--int", action="store_true",
                        help="compare the integer-alpha window state's pair (see above)")
    parser.add_argument("--power", action="store_true",
                        help="compare the power mean's and Lp's entry points (see above)")
    args = parser.parse_args()
    libs = (ctypes.CDLL(args.other), _native.load())
    if args.int:
        return int_main(libs, args.threads)
    if args.power:
        return power_main(libs, args.threads)
    if args.overlap64:
        return overlap64_main(libs, args.threads)
    if args.overlap:
        return overlap_main(libs, args.threads)
    if args.saved:
        return saved_main(libs, args.threads)
    if args.fast:
        return fast_main(libs, args.threads)
    torch.manual_seed(0)
    cases = differ = 0
    for shape, layout in GEOMETRIES:
        out = _layout.out_spatial(layout, shape[2:])
        out_shape = (shape[0], shape[1], *out)
        plan = _native.make_plan("ppool", layout, shape, torch.float64, False, 0, out)
        for kind in KINDS:
            for alpha in ALPHAS:
                x = _input(shape, kind)
                p = torch.tensor([alpha], dtype=torch.float64)
                gy = torch.rand(out_shape, dtype=torch.float64)
                (st_a, ts_a), (st_b, ts_b) = (_run(lib, _for(lib, plan), x, p, gy, out_shape,
                                                   args.threads) for lib in libs)
                cases += 1
                same = st_a == st_b and all(
                    torch.equal(a.view(torch.int64), b.view(torch.int64))
                    for a, b in zip(ts_a, ts_b))
                if not same:
                    differ += 1
                    print(f"differs: {shape} {kind} alpha={alpha} status {st_a} / {st_b}; "
                          f"|dy| {(ts_a[0] - ts_b[0]).abs().max().item():.3g}, "
                          f"|dx| {(ts_a[1] - ts_b[1]).abs().max().item():.3g}, "
                          f"dalpha {ts_a[2].item()!r} / {ts_b[2].item()!r}", flush=True)
    print(f"{cases} cases, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
