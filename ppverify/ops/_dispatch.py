"""The dispatcher: one pair of ``torch.library`` custom ops for every pooling operator, the
backend choice behind them, input validation, and the autograd / torch.func rules.

What torch sees
---------------
``ppverify::pool(x, param, op, layout, validate) -> y`` and
``ppverify::pool_backward(grad_y, x, param, op, layout, need_param) -> (grad_x, grad_param)``,
with ``x`` of shape ``(N, C, *spatial)``, ``param`` float64 of shape ``()``, ``(C,)`` or
``(N, C)`` (one value for all, per channel or per plane; ``grad_param`` has its shape, summed
over the windows with one common power-of-two scaling, so that partial sums of huge or
subnormal magnitude neither overflow nor round early), ``op`` one of ``OPERATORS`` and
``layout`` the integer code of ``ppverify.ops._layout``.
Both have fake (meta) implementations, so ``torch.compile(fullgraph=True)`` (any backend,
``dynamic=True``) and ``torch.export`` trace them as single opaque nodes, and a vmap rule
(the vmapped dimension joins the batch). ``ppverify.ops._decomp`` registers their lowering to
standard aten ops for deployment (``torch.onnx.export``, ``ExportedProgram.run_decompositions``).

Backends (one file each) are records in ``BACKENDS``, tried in order; the first whose
``accepts(op, layout, x)`` is true serves the call: ``_triton`` (Triton kernels: P-pooling of
CUDA tensors, every layout and dtype) when Triton is installed, ``_native`` (the C++ kernel on
CPU, every layout, contiguous or channels-last: P-pooling in float32 / bfloat16 / float16 /
float64, the power mean and the Lp norm too, whose float64 calls, and backwards with terms
beyond float64's range, the kernel may hand back (``_native.NotServed``: then the pure-torch
path serves them); ``_native.supports``)
when it is available, otherwise ``_torch_impl`` (pure torch: every operator,
layout, dtype and device; it accepts everything, so it stays last; ``_fallback`` warns once
where a kernel could have served). A new backend is one more ``Backend`` record inserted
before the pure-torch one (``register_backend``).

Validation follows one rule on every path (``ppverify.ops._validate`` states it): arguments
are checked in ``pool`` at the call, without reading a tensor; values are checked inside the
custom op's implementation, so it costs no graph break and no guard in compiled or exported
graphs and runs the same in eager mode, compiled code and an exported program. With
``validate=True`` (the default) a negative, NaN or infinite element that some window reads, a
non-finite parameter, or a zero with p < 0 (power mean, Lp) raises ``ValueError`` naming the
element; its cost: nothing extra on the C++ kernel (it flags bad elements while reading them),
one reduction over the output and one host synchronisation on the pure-torch path. With
``validate=False`` those windows give NaN instead (no host synchronisation at all); the
deployment decomposition behaves the same way.

Autograd and torch.func
-----------------------
Three routes, chosen per call in ``pool``:

* plain eager mode (the common case, kept lean: one cached plan lookup, no host
  synchronisation): the backend is called directly when no gradient is needed, else through
  ``_EagerPool``, a classic ``autograd.Function`` (the cheapest autograd node torch has); a
  repeated call of a kind the C++ kernel served goes to the kernel with one dictionary lookup
  (``_eager_calls``, ``pool``'s shortcut), or where a gradient is wanted to ``_EagerPool``
  with two (``_train_calls``, the training shortcut); a floating parameter tensor is handed to
  ``_EagerPool`` in its own dtype and cast inside the node (no cast node of its own);
* torch.func transforms and forward-mode AD: ``_PoolFunction`` (an ``autograd.Function`` with
  ``setup_context``, ``jvp`` and ``generate_vmap_rule``), whose forward is the custom op;
* ``torch.compile`` and ``torch.jit.trace``: the custom op ``ppverify::pool`` itself, whose own
  autograd formula (the opaque ``pool_backward``, which recomputes) serves compiled code,
  exported programs and traces; under ``torch.compile``, where the input needs a gradient on
  CPU, ``ppverify::pool_saving`` instead, whose backward reads eager autograd's saved state
  (``ppverify.ops._compiled``).

The backward is the opaque kernel, unless the graph must be differentiated again
(``create_graph=True``, or a torch.func transform such as ``hessian``): then it is the
differentiable pure-torch formula. ``jvp`` (forward-mode AD, ``jacfwd``) is always the
pure-torch formula. Neither eager route touches ``torch.library``'s dispatch, so the first call
in a process does not import torch's compiler stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd import forward_ad
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from ..windows import AdaptiveGeometry
from . import _fallback, _layout, _native, _torch_impl, _triton, _validate


@dataclass(frozen=True)
class Operator:
    """One pooling operator as the op layer knows it."""

    name: str          # "ppool", "powermean", "lp" (the oracle's names)
    title: str         # for messages
    param: str         # the parameter's name
    zero_param: bool   # whether param = 0 is in the domain
    kernel: bool       # whether the Triton kernels implement it (the C++ kernel's operators
    #                    and dtypes: ``_native.supports``)


OPERATORS = {
    "ppool": Operator("ppool", "P-pooling", "alpha", True, True),
    "powermean": Operator("powermean", "the power mean", "p", True, False),
    "lp": Operator("lp", "the Lp norm", "p", False, False),
}


# ------------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Backend:
    """One implementation of the pooling ops.

    ``accepts(op, layout, x)``: whether it serves this call (cheap: it runs on every call).
    ``forward(op, x, param, layout, validate) -> y``: ``y`` in ``x``'s dtype, with the strides
    of ``_memory_format(x)``; with ``validate``, raise the ``ValueError`` of ``diagnose`` for
    inputs outside the domain, else give NaN in the affected windows.
    ``backward(op, x, param, layout, grad_y, need_param) -> (grad_x, grad_param | None)``:
    ``grad_x`` in ``x``'s dtype and memory format, ``grad_param`` float64 of ``param``'s shape.
    ``x`` is ``(N, C, *spatial)``, ``param`` float64 of shape ``()``, ``(C,)`` or ``(N, C)``.
    """

    name: str
    accepts: Callable[[str, object, Tensor], bool]
    forward: Callable[..., Tensor]
    backward: Callable[..., tuple]


def _use_native(x: Tensor) -> bool:
    """Whether the compiled kernel may serve ``x`` (CPU, and the kernel available). The
    tests and ``python -m tests.ops.ulp_survey --fallback`` replace this to force the
    pure-torch path."""
    return x.is_cpu and _native.available()


def _native_accepts(op: str, layout, x: Tensor) -> bool:
    # an empty batch or channel axis goes to the pure-torch path (the kernel's thread split
    # divided by the plane count: N = 0 or C = 0 stopped the process with SIGFPE)
    return _native.supports(op, x.dtype) and _use_native(x) and x.numel() > 0


#: the power mean's and Lp's kernel keeps a few buffers of (row length) x 8 planes doubles
#: per thread (its row cache has no column tiles): a global window whose rows are longer than
#: this is given to the kernel as rows of at most this length (P-pooling's too: _global_rows)
GLOBAL_ROW_MAX = 4096
#: P-pooling's engine saves the backward's state only for windows within its column tile
#: (``TILE_COLS``, 2048 columns; wider, the saving forward's state is not usable and the
#: backward recomputes the forward): its global rows are at most this long
GLOBAL_ROW_MAX_PPOOL = 2048
#: ... but not shorter than this (a row costs a call and a cache lookup)
GLOBAL_ROW_MIN = 256
#: ... unless the plane is larger than this and has no such divisor: then rows of its largest
#: divisor up to GLOBAL_ROW_MAX, however short (one 1,048,573-element row: forward 67 ms,
#: forward+backward 216 ms; as 1,048,573 rows of one element 22 and 123 ms)
GLOBAL_SHORT_ROWS_FROM = 1 << 16
#: the kernel's lanes: a global plane of at least GLOBAL_SLICE_MIN elements is cut into that
#: many slices where the planes leave lanes idle (``xlane_serves`` in ppool_kernel.cpp): of
#: its rows where they are a multiple of this (one depth slice), else of rows of its own
#: (``slice_plan``: up to 1024 elements, the first slices' last row partly the next one's)
KERNEL_LANES = 8
GLOBAL_SLICE_MIN = 1 << 14
#: a smaller plane whose rows are shorter than this (a ResNet head's 7 x 7, 14 x 14, 28 x 28)
#: is given as rows of its largest divisor up to GLOBAL_FOLD_ROW_MAX elements: each row costs
#: the engines a call, a cache lookup and a transposed load and store of 8 planes' short rows
#: (a row of 7 fills none of the 8 x 8 tiles that move them); (8, 2048, 7, 7) as rows of 49,
#: one thread, forward 2.22 -> 1.80 ms (power mean) and 2.26 -> 1.67 ms (P-pooling)
GLOBAL_SHORT_ROW = 32
GLOBAL_FOLD_ROW_MAX = 1024


def _row_length(size: int, lo: int, hi: int) -> int | None:
    """The largest divisor of ``size`` in ``[lo, hi]`` that leaves a multiple of
    ``KERNEL_LANES`` rows, else the largest divisor there, else None."""
    lengths = [n for n in range(hi, lo - 1, -1) if size % n == 0]
    sliced = [n for n in lengths if (size // n) % KERNEL_LANES == 0]
    return (sliced or lengths or [None])[0]


def _global_rows(op: str, layout, spatial: tuple[int, ...],
                 planes: int | None = None) -> tuple[int, int] | None:
    """For a global window (every operator): the plane as ``(rows, row length)`` for the
    kernel, or None to give it as it is. A global window is the whole plane in
    row-major order in either memory format, so the kernel reads the same elements in the
    same order whatever the rows. Three reasons to fold:

    * rows longer than ``GLOBAL_ROW_MAX``: the power engine's buffers grow with the row
      length (a global GeM forward of one 4M-element float32 row took 307 ms and 499 MiB of
      extra peak RSS, as rows of 4096 27 ms and none; ``python -m tests.ops.large_windows``;
      README), and P-pooling's engine, which works in column tiles, cannot cut one row into
      lane slices; for P-pooling longer than ``GLOBAL_ROW_MAX_PPOOL`` (its column tile: a
      wider window's saving forward keeps no usable state, so a (2896, 2896) plane's or a
      4,000,000-element signal's backward recomputed the forward: 1.9x and 3.0x torch's
      forward+backward, where the power mean's took 0.9x and 1.0x).
      The row length is a divisor of the plane's size from ``GLOBAL_ROW_MIN`` to
      ``GLOBAL_ROW_MAX`` or, for a plane of more than ``GLOBAL_SHORT_ROWS_FROM`` elements
      without one (a prime length), the largest divisor up to ``GLOBAL_ROW_MAX`` (not for
      P-pooling, whose engine is bounded in a long row and slower by a row per element: a
      4,194,301-element row 33 -> 293 ms forward; nor for fewer ``planes`` than
      ``KERNEL_LANES``, which the kernel always cuts into lane slices of its own rows,
      ``slice_plan``, while the backward from the saved state reads the rows given: a
      1,000,003-element GeM forward+backward 11.80 ms as rows of one element, 4.89 as one
      row, ``python -m tests.ops.large_windows --shapes 1,1,1,1000003``);
    * a plane of at least ``GLOBAL_SLICE_MIN`` elements whose rows are not a multiple of
      ``KERNEL_LANES`` (a 1-D signal, a 3-D volume, 1000 x 1001): rows that are are cut into
      lane slices of themselves (``xlane_serves``; other planes into slices of the kernel's
      own rows, ``slice_plan``), if a divisor from ``GLOBAL_ROW_MIN`` to ``GLOBAL_ROW_MAX``
      leaves such rows;
    * a smaller plane (2-D or 3-D) with rows shorter than ``GLOBAL_SHORT_ROW``: rows of its
      largest divisor up to ``GLOBAL_FOLD_ROW_MAX`` longer than its own rows (the engines'
      cost per row outweighs a short row's arithmetic).

    For the first two, among the candidates a row length leaving a multiple of
    ``KERNEL_LANES`` rows is taken first, then the longest (lane slices need a plane of
    ``GLOBAL_SLICE_MIN`` elements, so the third takes the longest)."""
    if not isinstance(layout, AdaptiveGeometry) or not layout.is_global:
        return None
    size = math.prod(spatial)
    row_max = GLOBAL_ROW_MAX_PPOOL if op == "ppool" else GLOBAL_ROW_MAX
    if spatial[-1] > row_max:
        length = _row_length(size, GLOBAL_ROW_MIN, row_max)
        few_planes = planes is not None and planes < KERNEL_LANES
        if length is None and size > GLOBAL_SHORT_ROWS_FROM and op != "ppool" and not few_planes:
            length = _row_length(size, 1, GLOBAL_ROW_MAX)
        return None if length is None else (size // length, length)
    if size < GLOBAL_SLICE_MIN:
        if len(spatial) == 1 or spatial[-1] >= GLOBAL_SHORT_ROW:
            return None
        length = max((n for n in range(spatial[-1] + 1, GLOBAL_FOLD_ROW_MAX + 1)
                      if size % n == 0), default=None)
        return None if length is None else (size // length, length)
    if len(spatial) == 2 and spatial[0] % KERNEL_LANES == 0:
        return None
    length = _row_length(size, GLOBAL_ROW_MIN, row_max)
    if length is None or (size // length) % KERNEL_LANES != 0:
        return None
    return size // length, length


#: the fast engine's dtypes (the integer-alpha window state's)
_NARROW = (torch.float32, torch.bfloat16, torch.float16)


class _NativeCall:
    """What the kernel needs to know about one kind of call (cached per operator, layout,
    shape, strides, dtype and parameter shape): its plan, the output shape and the memory
    format of the output and gradients.

    ``new_output()`` / ``new_grad_input()`` allocate the output and the input's gradient with
    ``torch.empty_like`` of a one-element tensor expanded to their shape (about 0.9 us instead
    of 1.6 us for ``torch.empty(shape, dtype=..., memory_format=...)``, which parses more
    arguments); whether ``empty_like`` must be told the memory format is settled here, once,
    by comparing its strides with the ones wanted."""

    __slots__ = ("op", "layout", "plan", "ptr", "out_shape", "dtype", "fmt", "copy",
                 "_out_like", "_out_fmt", "_gx_like", "_gx_fmt", "_saves", "_jac", "_dw",
                 "_jac_zeroed", "_overlap", "_int_windows", "_int_overlap")

    def __init__(self, op: str, layout, x: Tensor, param_shape: tuple[int, ...]):
        # the kernel reads one parameter (0-d), one per channel ((C,)) or one per plane
        # ((N, C): a parameter batched by vmap) and its backward writes as many gradients:
        # any other shape would read and write past the buffer (keyed by shape, so a cached
        # call never meets another)
        if tuple(param_shape) not in ((), (x.shape[1],), tuple(x.shape[:2])):
            raise ValueError(f"internal: the kernel takes a parameter of shape (), "
                             f"({x.shape[1]},) or {tuple(x.shape[:2])} for an input of shape "
                             f"{tuple(x.shape)}, got shape {tuple(param_shape)}")
        param_dim = len(param_shape)
        self.op = op
        self.layout = layout  # the cache's key holds id(layout): this keeps the id taken
        self.dtype = x.dtype
        fmt = _memory_format(x)
        spatial = tuple(x.shape[2:])
        out = _layout.out_spatial(layout, spatial)
        _layout.check_windows(layout, spatial)  # so a cached call stands for a checked shape
        plan_layout, plan_shape, plan_out = layout, tuple(x.shape), out
        rows = _global_rows(op, layout, spatial, x.shape[0] * x.shape[1])
        if rows is not None:  # the same window, the same elements in the same order
            plan_layout, plan_out = _layout.adaptive(2, 1), (1, 1)
            plan_shape = (*x.shape[:2], *rows)
        self.plan = _native.make_plan(op, plan_layout, plan_shape, x.dtype,
                                      fmt is not torch.contiguous_format, param_dim, plan_out)
        self.ptr = self.plan.ctypes.data
        self.out_shape = (x.shape[0], x.shape[1], *out)
        self.fmt = fmt
        self.copy = not x.is_contiguous(memory_format=fmt)
        self._out_like, self._out_fmt = _allocator(self.out_shape, x.dtype, fmt)
        self._gx_like, self._gx_fmt = _allocator(tuple(x.shape), x.dtype, fmt)
        self._saves = None  # settled on the first call that wants a gradient (``saves``)

    def new_output(self) -> Tensor:
        if self._out_fmt is None:
            return torch.empty_like(self._out_like)
        return torch.empty_like(self._out_like, memory_format=self._out_fmt)

    def new_grad_input(self) -> Tensor:
        if self._gx_fmt is None:
            return torch.empty_like(self._gx_like)
        return torch.empty_like(self._gx_like, memory_format=self._gx_fmt)

    def saves(self, need_param: bool = False) -> bool:
        """Whether a forward can save the backward's state (``_native_forward_saved``; with
        ``need_param`` the parameter's gradient is wanted too): windows that share no
        element, or (``overlap_state``) P-pooling in every dtype and the
        power mean / Lp norm in float32 with windows that share elements, where the state
        keeps the peak memory within bounds (``_overlap_state_fits``,
        ``_power_overlap_state_fits``)."""
        if self._saves is None:
            disjoint = _native.saves(self.dtype) and _native.plan_disjoint(self.plan)
            if disjoint and float64_overlap_serves_disjoint(
                    self.op, self.dtype, self.fmt is torch.contiguous_format, self.plan):
                disjoint = False
            # the overlap state, where windows hold 4 elements or more on average (1-D k3's
            # 3 elements: not measured with this state) and its memory fits
            self._overlap = (False, False)
            n_in, n_out = math.prod(self._gx_like.shape), math.prod(self.out_shape)
            if not disjoint and _native.plan_window_mean(self.plan) >= OVERLAP_MIN_WINDOW_MEAN:
                if _native.saves_overlap(self.op, self.dtype):
                    self._overlap = tuple(_overlap_state_fits(
                        self.plan, self.dtype, n_in, n_out, with_dw) for with_dw in (False, True))
                elif (_native.saves_power_overlap(self.op, self.dtype)
                      and self.dtype in POWER_OVERLAP_STATE_DTYPES):
                    self._overlap = tuple(_power_overlap_state_fits(
                        n_in, n_out, with_dw, self.dtype.itemsize) for with_dw in (False, True))
            self._saves = disjoint
            # windows where an integer alpha takes the window state (int_state): disjoint
            # ones of 16 elements or more, or (where the overlap state serves) shared ones
            # with 4 input elements or more per window on channels-last memory
            # (``_native.int_overlap_fits``). Not on contiguous memory, where the overlap
            # state writes the input's gradient over its weights, a buffer less at the peak:
            # this state there took k3 s2 p1 (8, 64, 112, 112) fwd+bwd at a fixed / learnable
            # alpha 2 from 17.3-18.0 / 22.7-23.0 ms to 13.9 / 19.6 (two threads, the AMD EPYC
            # machine) but the matrix's small row (1, 64, 56, 56) from 0.85-1.13x
            # max_pool2d's fresh-process peak RSS to 1.34-1.45x here and 1.66-1.71x in a
            # fresh-clone suite run (the target: 1.5x), 2026-12-07
            narrow_ppool = self.op == "ppool" and self.dtype in _NARROW
            self._int_windows = (disjoint and narrow_ppool
                                 and _native.plan_window_mean(self.plan)
                                 >= _native.INT_STATE_MIN_MEAN)
            # (channels-last with whole groups of 8 channels: with 3 channels the matrix's
            # k3 s2 p1 row read fwd+bwd 1.16x torch's against the overlap state's 0.82x; row:
            # an input row's elements as the kernel walks them, W x C)
            channels = self._gx_like.shape[1]
            row = int(self.plan[9]) * channels
            shared = (not disjoint and narrow_ppool and self.fmt is not torch.contiguous_format
                      and channels % 8 == 0
                      and _native.int_overlap_fits(self.plan, n_in, n_out, row))
            self._int_overlap = tuple(
                shared and self._overlap[with_dw]
                and _int_overlap_state_fits(n_in, n_out, self.dtype.itemsize, with_dw)
                for with_dw in (False, True))
            if self._saves or (self.op != "ppool" and any(self._overlap)):
                self._jac = _allocator(tuple(self._gx_like.shape),
                                       _native.jac_dtype(self.dtype), self.fmt)
                # float64 P-pooling's exact engine writes every element (0 outside the
                # windows); the power overlap state writes every row its windows read (and its
                # backward reads no other)
                exact_writes_all = self.dtype is torch.float64 and self.op == "ppool"
                self._jac_zeroed = (self._saves and not exact_writes_all
                                    and not _native.plan_covers(self.plan))
                self._dw = _allocator(self.out_shape, torch.float64, self.fmt)
            elif any(self._int_overlap):  # (dy/dalpha as a float32 there)
                self._dw = _allocator(self.out_shape, torch.float32, self.fmt)
        return self._saves or self._overlap[need_param]

    def new_saved(self, need_param: bool) -> tuple[Tensor, Tensor | None]:
        """Buffers of the saved state: dy/dx per input element (float32, float64 for a float64
        input; the input's shape and format; for the power overlap state ``E / x``) and, with
        ``need_param``, dy/dparam per window (float64, the output's)."""
        new = torch.zeros_like if self._jac_zeroed else torch.empty_like  # see plan_covers
        jac = new(self._jac[0], memory_format=self._jac[1] or torch.preserve_format)
        return jac, self.new_dw() if need_param else None

    def int_state(self, param: Tensor, need_param: bool) -> bool:
        """Whether the saved state is the integer-alpha window state (each window's S and y;
        after ``saves(need_param)`` said yes): P-pooling of a narrow dtype whose windows share
        no element and hold 16 elements or more on average, or (channels-last memory) share
        elements with 4 input elements or more per window where the overlap state would serve
        and this state's peak memory fits too (``_int_overlap_state_fits``), at one alpha of
        0-4 for every plane (read here: one look at the parameter's values, which the kernel
        reads on the CPU anyway)."""
        windows = self._int_windows if self._saves else self._int_overlap[need_param]
        return windows and _native.int_state_alpha(param)

    def new_window_sums(self) -> Tensor:
        """The integer-alpha window state's buffer: each window's S, then each window's y
        (float64, 2 x the output's elements, the output's layout each)."""
        return torch.empty(2 * math.prod(self.out_shape), dtype=torch.float64)

    def new_dw(self) -> Tensor:
        """dy/dparam per window (the output's shape and format): float64, or float32 for the
        integer-alpha window state where windows share elements."""
        return torch.empty_like(self._dw[0], memory_format=self._dw[1] or torch.preserve_format)

    def overlap_state(self, need_param: bool) -> bool:
        """Whether the saved state is the overlap one (P-pooling: each element's weight, with
        ``need_param`` each window's dy/dparam, the reference per plane; the power mean and
        Lp: each element's ``E / x``, each window's ``y / S`` and dy/dparam; after
        ``saves``)."""
        return not self._saves and self._overlap[need_param]

    def new_window_coefficients(self) -> Tensor:
        """The power overlap state's ``y / S`` per window (float64, the output's shape and
        format, as ``new_dw``'s)."""
        return self.new_dw()


#: the overlap state serves windows of this many elements or more on average
OVERLAP_MIN_WINDOW_MEAN = 4.0
#: the dtypes whose power-mean / Lp backward reads the power overlap state (windows that share
#: elements): float64 alone. The kernel serves float32 too (``_native.saves_power_overlap``),
#: and that state was faster than recomputing when it was built (2026-12-01), but against
#: today's recomputing backward it is slower on the Intel machine of 2026-12-06 for most
#: shapes (eager fwd+bwd, learnable / fixed p = 3.1, state over recompute: 2-D k3 s2 p1 1.13 /
#: 1.07, channels-last 1.13 / 1.06, k3 s1 p1 1.11 / 1.04, k4 s2 p1 1.09 / 1.03, k5 s2 p2 1.05 /
#: 1.01, adaptive 5 1.07 / 1.13; faster only at k7 s2 p3, 0.97 / 0.93, and 3-D k3 s2 p1, 0.96 /
#: 0.97) and it holds an input-sized buffer; float64's is faster everywhere measured (0.67-0.95,
#: its logarithms and exponentials being dearer). The tests that check the float32 state add
#: float32 here (the ``float32_power_state`` fixture of ``tests/ops/conftest.py``).
POWER_OVERLAP_STATE_DTYPES: tuple = (torch.float64,)


def float64_overlap_serves_disjoint(op: str, dtype: torch.dtype, contiguous: bool,
                                    plan) -> bool:
    """Whether float64 P-pooling saves the overlap state for windows that share no element
    (its saving forward and backward: 0.78-0.82x the disjoint state's time, 2026-12-04): on
    contiguous memory, where its memory always fits, with OVERLAP_MIN_WINDOW_MEAN elements or
    more per window on average. The kernel's recomputing backward takes the state's steps by
    the same rule (``fused_group64``, ``window_mean`` in ``ppool_kernel.cpp``), so the bits
    are the same either way; ``tests.kernel_ab`` and ``tests.kernel_bits`` choose their
    float64 cases by it."""
    return (op == "ppool" and dtype == torch.float64 and contiguous
            and _native.plan_window_mean(plan) >= OVERLAP_MIN_WINDOW_MEAN)


def _overlap_state_fits(plan, dtype: torch.dtype, n_in: int, n_out: int,
                        with_dw: bool) -> bool:
    """Whether a forward and backward that save the overlap state keep their peak memory
    within 1.45x max pooling's (issue 12's bound is 1.5x of the larger of torch's max and
    average pooling peaks, which is max pooling's). The model, in bytes beyond the input:
    max pooling holds its output, its int64 indices, the output's gradient and the input's
    gradient, ``n_out (2 s + 8) + n_in s`` (s: the dtype's size); this op its output, the
    output's gradient, the input's gradient and the state: ``n_out 2 s + n_in s`` plus the
    weights (4 bytes per element and plane lane for float32 inputs, 2 for the half types:
    ``_native.overlap_weights_dtype``; 8 for float64's ``x^alpha``) and, with ``with_dw``, 4
    bytes per output and lane (dy/dparam; 8 for float64), and for float64 20 bytes per output
    and lane (``S``, ``y`` and its low part as a float32); on contiguous memory the input's
    gradient is written over the weights (``_native_backward_saved``), so it is counted once.
    With float32 weights for every dtype and a separate input gradient the model matched the
    profiler's peaks of ``ppverify bench --matrix`` to 0.01 (2026-12-03: 2-D float32 k3 s2 p1
    1.38x, bfloat16 1.60x, 3-D float32 1.58x). The state's buffers hold 8 lanes per group of
    planes (the last group padded), as counted here; a state of at most 1 MiB is always kept
    (the peak of so small a call is torch's allocator and bookkeeping more than its buffers;
    tests with 2 or 3 planes, 8 lanes of state each, are such calls)."""
    weights = _native.overlap_weights_dtype(dtype).itemsize * _native.overlap_weights_size(plan)
    per_window = _native.overlap_dw_dtype(dtype).itemsize if with_dw else 0
    if dtype == torch.float64:  # S, y and y's low part (a float32)
        per_window += 20
    state = weights + per_window * _native.overlap_state_size(plan)
    # contiguous: the input's gradient lives in the weights
    return _state_peak_fits(n_in, n_out, dtype.itemsize, state, not bool(plan[2]))


def _int_overlap_state_fits(n_in: int, n_out: int, s: int, with_dw: bool) -> bool:
    """Whether the integer-alpha window state where windows share elements (each window's S
    and y in double, 16 bytes, and with ``with_dw`` its dy/dalpha as a float32, 4 more; the
    input's gradient a buffer of its own) keeps the peak within ``_state_peak_fits``' bound.
    k3 s2 p1 with 4 input elements a window: float32 1.25x / 1.375x max pooling's peak by the
    model (without / with dy/dalpha; in double it would be 1.50x), bfloat16 and float16 1.40x
    / 1.60x (with dy/dalpha kept on the overlap state)."""
    return _state_peak_fits(n_in, n_out, s, (20 if with_dw else 16) * n_out, False)


def _state_peak_fits(n_in: int, n_out: int, s: int, state: int, gx_in_state: bool) -> bool:
    """The peak-memory model of the saved states (``_overlap_state_fits``): ``state`` bytes
    of state beside this op's output and output gradient (``2 s n_out``) and, unless it is
    written over the state (``gx_in_state``), the input's gradient (``s n_in``), within 1.45x
    max pooling's ``n_out (2 s + 8) + n_in s``; a state of at most 1 MiB always fits."""
    if state <= 1 << 20:
        return True
    ours = n_out * 2 * s + state + (0 if gx_in_state else n_in * s)
    return ours <= 1.45 * (n_out * (2 * s + 8) + n_in * s)


def _power_overlap_state_fits(n_in: int, n_out: int, with_dw: bool, s: int = 4) -> bool:
    """Whether the power mean / Lp norm's overlap state (float32 or float64 inputs of ``s``
    bytes per element: ``E / x`` in the input's dtype per input element, ``y / S`` and, with
    ``with_dw``, dy/dparam as float64 per output) keeps the peak memory within 1.45x max
    pooling's, in ``_overlap_state_fits``'s model: max pooling ``n_out (2 s + 8) + n_in s``
    beyond the input, this op its output and the output's gradient, ``2 s n_out``, and the
    state, over which the input's gradient is written (``_native_backward_saved``). k3 s2 p1
    float32: 1.0x-1.25x max pooling's (``n_out = n_in / 4``); 2-D k3 s1 with dy/dparam: 28
    against 20 bytes per input element, 1.4x. A state of at most 1 MiB is always kept (as
    there)."""
    state = n_in * s + n_out * 8 * (2 if with_dw else 1)
    return _state_peak_fits(n_in, n_out, s, state, True)


def _allocator(shape: tuple, dtype: torch.dtype, fmt):
    """``(like, fmt_or_None)``: ``torch.empty_like(like)`` (memory format ``fmt`` passed
    only when ``empty_like`` would not give its strides by itself) is a new CPU tensor of
    ``shape``, ``dtype`` and memory format ``fmt``; ``like`` holds one element."""
    like = torch.empty((), dtype=dtype).expand(shape)
    want = torch.empty(shape, dtype=dtype, device="meta", memory_format=fmt).stride()
    return like, (None if torch.empty_like(like).stride() == want else fmt)


_native_calls: dict = {}
#: bounds of the call cache: a plan holds 16 bytes per output index of each axis, so a stream of
#: distinct long 1-D lengths (variable-length audio) must not accumulate plans without limit
_NATIVE_CALLS_MAX = 1024
_NATIVE_PLAN_BYTES_MAX = 64 << 20


def _native_call(op: str, layout, x: Tensor, param: Tensor) -> _NativeCall:
    # keyed by the layout's identity (hashing a geometry costs about 1 us; ``_layout`` hands
    # out one object per geometry); an equal geometry in another object gets its own entry
    key = (op, id(layout), x.shape, x.stride(), x.dtype, param.shape)
    call = _native_calls.get(key)
    if call is None or call.layout is not layout:
        call = _NativeCall(op, layout, x, param.shape)
        held = sum(c.plan.nbytes for c in _native_calls.values()) if _native_calls else 0
        if (len(_native_calls) >= _NATIVE_CALLS_MAX
                or held + call.plan.nbytes > _NATIVE_PLAN_BYTES_MAX):
            _native_calls.clear()
        _native_calls[key] = call
    return call


def _native_forward(op: str, x: Tensor, param: Tensor, layout, validate: bool) -> Tensor:
    call = _native_calls.get((op, id(layout), x.shape, x.stride(), x.dtype, param.shape))
    if call is None or call.layout is not layout:  # ``_native_call``'s lookup, inlined
        call = _native_call(op, layout, x, param)
    xk = x.contiguous(memory_format=call.fmt) if call.copy else x
    p = param if param.is_contiguous() else param.contiguous()
    y = call.new_output()
    try:
        bad = _native.forward(call.ptr, xk, p, y)
    except _native.NotServed:  # windows the power engine hands back
        return _torch_forward(op, x, param, layout, validate)
    if bad and validate:
        diagnose(op, x, param, layout)
    return y


def _kernel_grad_out(call: _NativeCall, x: Tensor, grad_y: Tensor) -> Tensor:
    """``grad_y`` as the kernel reads it: ``x``'s dtype, the call's memory format."""
    g = grad_y if grad_y.dtype == x.dtype else grad_y.to(x.dtype)
    if not g.is_contiguous(memory_format=call.fmt):
        g = g.contiguous(memory_format=call.fmt)
    return g


def _native_backward(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                     need_param: bool):
    call = _native_call(op, layout, x, param)
    xk = x.contiguous(memory_format=call.fmt) if call.copy else x
    p = param if param.is_contiguous() else param.contiguous()
    g = _kernel_grad_out(call, x, grad_y)
    gx = call.new_grad_input()
    try:
        return gx, _native.backward(call.ptr, xk, p, g, gx, need_param)
    except _native.NotServed:  # windows the power engine hands back
        return _torch_backward(op, x, param, layout, grad_y, need_param)


def _native_forward_saved(op: str, x: Tensor, param: Tensor, layout, validate: bool,
                          need_param: bool) -> tuple[Tensor, tuple | None]:
    """``(y, state)``: the output and, where the kernel can save it (windows that share no
    element), the state ``(jac, dw)`` of a backward that does not recompute the forward
    (``_native_backward_saved``); state None otherwise, or where some dy/dx is beyond
    float32's range or a float64 window's dy/dparam is not representable well enough (the
    backward then recomputes)."""
    call = _native_call(op, layout, x, param)
    if not call.saves(need_param):
        return _native_forward(op, x, param, layout, validate), None
    xk = x.contiguous(memory_format=call.fmt) if call.copy else x
    p = param if param.is_contiguous() else param.contiguous()
    y = call.new_output()
    try:
        bad, usable, state = _native_saving_forward(call, need_param, op, xk, p, y)
    except _native.NotServed:  # windows the power engine hands back
        return _torch_forward(op, x, param, layout, validate), None
    if bad and validate:
        diagnose(op, x, param, layout)
    return y, (state if usable else None)


def _native_saving_forward(call: _NativeCall, need_param: bool, op: str, xk: Tensor,
                           p: Tensor, y: Tensor) -> tuple[bool, bool, tuple]:
    """``(bad, usable, state)``: ``y`` filled and the state ``call.saves`` chose written."""
    if call.int_state(p, need_param):  # S and y per window: dy/dx from x in the backward
        dw = call.new_dw() if need_param else None
        sums = call.new_window_sums()
        bad, usable = _native.forward_saved_int(call.ptr, xk, p, y, dw, sums)
        state = (None, dw, None, None, sums)
    elif call.overlap_state(need_param) and op != "ppool":  # E / x, y / S, dy/dparam
        jac, dw = call.new_saved(need_param)
        cw = call.new_window_coefficients()
        bad, usable = _native.forward_power_overlap_saved(call.ptr, xk, p, y, jac, dw, cw)
        state = (jac, dw, None, cw)
    elif call.overlap_state(need_param):  # E per element, dy/dparam (need_param), Lc per plane
        # (float64: x^alpha per element, dy/dparam, and S, y, y's low part per window)
        sums = (torch.empty(_native.overlap_weights_size(call.plan),
                            dtype=_native.overlap_weights_dtype(xk.dtype)),
                torch.empty(_native.overlap_state_size(call.plan),
                            dtype=_native.overlap_dw_dtype(xk.dtype))
                if need_param else None,
                torch.empty(_native.overlap_ref_size(call.plan, xk.dtype), dtype=torch.float64))
        bad, usable = _native.forward_overlap_saved(call.ptr, xk, p, y, *sums)
        state = (None, None, sums)
    else:
        jac, dw = call.new_saved(need_param)
        bad, usable = _native.forward_saved(call.ptr, xk, p, y, jac, dw)
        state = (jac, dw)
    return bad, usable, state


def _native_backward_saved(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                           jac: Tensor | None, dw: Tensor | None, sums: tuple | None = None,
                           cw: Tensor | None = None, window_sums: Tensor | None = None,
                           need_param: bool = False, over_state: bool = True,
                           call: _NativeCall | None = None):
    """``(grad_x, grad_param or None)`` from ``_native_forward_saved``'s state: a pass over
    memory, ``grad_x = grad_y[window] * jac``, ``grad_param = sum grad_y * dw``. For a float32
    or float64 input ``grad_x`` is written over ``jac`` (same dtype and format): the state is
    used once, and the backward's peak memory is then no more than the forward's.
    For windows that share elements the state is ``sums = (E, dw, Lc)`` (``jac``, ``dw``
    None): the backward sums the windows again from the saved weights but takes no logarithm
    or exponential (``_native.backward_overlap_saved``; ``grad_param`` with ``need_param``,
    which needs the forward to have saved ``dw``); on contiguous memory ``grad_x`` is written
    over the weights (as wide as x's elements), group by group as each is done.
    For the power mean and Lp with windows that share elements the state is ``(jac, dw,
    None, cw)``: ``jac`` each element's ``E / x``, ``cw`` each window's ``y / S``; the backward
    (``_native.backward_power_overlap_saved``) writes ``grad_x`` over ``jac``.
    For P-pooling at an integer alpha of 0-4 with windows of 16 elements or more on average
    (or, on channels-last memory, windows that share elements: ``_NativeCall.int_state``) the
    state is ``window_sums`` (each window's S and y; ``jac`` None; ``dw`` float64, or float32
    where windows share elements): the backward forms each element's dy/dx from ``x``
    (``_native.backward_saved_int``).
    Without ``over_state`` ``grad_x`` is always a new tensor (``_compiled``'s custom op may
    not write over its inputs). ``call``: the forward's ``_native_call``, if known."""
    if call is None:
        call = _native_call(op, layout, x, param)
    g = _kernel_grad_out(call, x, grad_y)
    if window_sums is not None:
        xk = x.contiguous(memory_format=call.fmt) if call.copy else x
        p = param if param.is_contiguous() else param.contiguous()
        gx = call.new_grad_input()
        return gx, _native.backward_saved_int(call.ptr, xk, p, window_sums, dw, g, gx,
                                              param.shape)
    if cw is not None:
        p = param if param.is_contiguous() else param.contiguous()
        gx = jac if over_state else call.new_grad_input()
        return gx, _native.backward_power_overlap_saved(call.ptr, p, jac, cw, dw, g, gx,
                                                        need_param)
    if sums is not None:
        xk = x.contiguous(memory_format=call.fmt) if call.copy else x
        p = param if param.is_contiguous() else param.contiguous()
        weights = sums[0]
        if over_state and call.fmt is torch.contiguous_format:  # over the weights (see there)
            gx = weights.view(x.dtype)[:x.numel()].view(x.shape)
        else:
            gx = call.new_grad_input()
        return gx, _native.backward_overlap_saved(call.ptr, xk, p, *sums, g, gx, need_param)
    gx = jac if over_state and jac.dtype == x.dtype else call.new_grad_input()
    return gx, _native.backward_saved(call.ptr, jac, dw, g, gx, param.shape)


def _triton_accepts(op: str, layout, x: Tensor) -> bool:
    if x.is_cpu and not _triton.cpu_opt_in():  # the common case, decided in about 0.1 us
        return False
    return OPERATORS[op].kernel and x.numel() > 0 and _triton.serves(x)


def _triton_forward(op: str, x: Tensor, param: Tensor, layout, validate: bool) -> Tensor:
    y, flag = _triton.forward(x, param, layout, _memory_format(x), need_flag=validate)
    if validate and bool(flag):  # one host synchronisation; the kernel NaNs bad windows
        diagnose(op, x, param, layout)
    return y


def _triton_backward(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                     need_param: bool):
    return _triton.backward(grad_y, x, param, layout, need_param, _memory_format(x))


def _torch_forward(op: str, x: Tensor, param: Tensor, layout, validate: bool) -> Tensor:
    _fallback.note(x, layout, op)  # once per reason: a kernel could have served x
    y = _torch_impl.forward(op, x, param, layout)
    if validate and bool(torch.isnan(y).any()):
        diagnose(op, x, param, layout)
    return _conform(y, y.shape, _memory_format(x))


def _torch_backward(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                    need_param: bool):
    gx, gp = _torch_impl.backward(op, x, param, layout, grad_y, need_param)
    return _conform(gx, x.shape, _memory_format(x)), gp


TRITON = Backend("triton", _triton_accepts, _triton_forward, _triton_backward)
NATIVE = Backend("native", _native_accepts, _native_forward, _native_backward)
TORCH = Backend("torch", lambda op, layout, x: True, _torch_forward, _torch_backward)
BACKENDS: list[Backend] = [TRITON, NATIVE, TORCH]


def register_backend(backend: Backend, before: str = "torch") -> None:
    """Insert ``backend`` before the one named ``before`` (default: the pure-torch path,
    which accepts every call and so must stay last)."""
    names = [b.name for b in BACKENDS]
    BACKENDS.insert(names.index(before), backend)
    _eager_calls.clear()  # their entries stand for the old choice
    _train_calls.clear()


def _select(op: str, layout, x: Tensor) -> Backend:
    for backend in BACKENDS:
        if backend.accepts(op, layout, x):
            return backend
    raise RuntimeError("no backend accepts this call")  # unreachable: TORCH accepts all


def _backend(op: str, layout, x: Tensor) -> str:
    """The name of the backend that serves this call."""
    return _select(op, layout, x).name


def forward_impl(op: str, x: Tensor, param: Tensor, layout, validate: bool) -> Tensor:
    """The pooled output of ``x`` (``(N, C, *spatial)``) by the backend that serves it."""
    return _select(op, layout, x).forward(op, x, param, layout, validate)


def forward_saving(op: str, x: Tensor, param: Tensor, layout, validate: bool,
                   need_param: bool) -> tuple[Tensor, tuple | None]:
    """``(y, state)``: ``forward_impl``'s output and, where the C++ kernel serves the call and
    saves one, the state of a backward that does not recompute (``_native_forward_saved``;
    with ``need_param`` the parameter's too), else None. Eager autograd's forward
    (``_EagerPool``) and the compiled graph's (``_compiled``) both take it."""
    if _select(op, layout, x) is NATIVE:
        return _native_forward_saved(op, x, param, layout, validate, need_param)
    return forward_impl(op, x, param, layout, validate), None


def backward_impl(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                  need_param: bool):
    """``(grad_x, grad_param or None)`` by the backend that serves the call."""
    backend = _select(op, layout, x)
    gx, gp = backend.backward(op, x, param, layout, grad_y, need_param)
    if backend is not TORCH:
        gx, gp = gradients_within_range(op, x, param, layout, grad_y, gx, gp)
    return gx, gp


def gradients_within_range(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                           gx: Tensor, gp: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """A kernel's input and parameter gradients, each computed again by the pure-torch backend
    where it is not finite (``within_range``, ``param_within_range``): every backward that a
    kernel serves (``backward_impl``, eager autograd's from the saved state, ``_compiled``'s)."""
    return (within_range(op, x, param, layout, grad_y, gx),
            param_within_range(op, x, param, layout, grad_y, gp))


def within_range(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                 gx: Tensor) -> Tensor:
    """A kernel's float64 input gradient, with the planes where it is not finite computed again
    by the pure-torch backend.

    A window's dy/dx can exceed float64's range where the input gradient does not (P-pooling
    or the power mean with a parameter just above 0 on a window spanning the range: dy/dx ~
    (R / x)^(1 - alpha) for a tiny x; times a small grad_output, or two such terms of opposite
    signs): the kernels sum the terms as they come, and an infinite term gives inf or NaN.
    The pure-torch backend sums them with a common scale per element (``ScaledTerms``). Costs
    one sum over ``gx`` per float64 backward (a NaN or infinity in it is the only sign; about
    3% of a float64 forward+backward on CPU) and, on a GPU, a host synchronisation."""
    if x.dtype != torch.float64 or bool(torch.isfinite(gx.sum())):
        return gx
    planes = ~torch.isfinite(gx).flatten(2).all(-1)  # (N, C)
    n, c = planes.nonzero(as_tuple=True)
    per_plane = planes_of(param, x.shape[0], x.shape[1])[n, c].reshape(-1, 1)
    redo, _ = _torch_impl.backward(op, x[n, c].unsqueeze(1), per_plane, layout,
                                   grad_y[n, c].unsqueeze(1), need_param=False)
    gx[n, c] = redo[:, 0]
    return gx


def param_within_range(op: str, x: Tensor, param: Tensor, layout, grad_y: Tensor,
                       gp: Tensor | None) -> Tensor | None:
    """A kernel's float64 parameter gradient, computed again by the pure-torch backend where it
    is not finite.

    The kernels add each window's grad_y * dy/dparam to a plain double as they come (and the
    saved states' backwards their sum over windows): float64 terms near the format's largest
    value, each finite, can sum past it where the gradient does not (Lp at p = -1 on values
    about 1e308: -inf for a gradient of -1.74e308, found by ``ppverify check
    'ppverify.ops:lp_pool{d}d' --op lp --dtypes float64 --thorough``). The pure-torch
    backend sums them with a common scale. Costs one finiteness test of the parameter-sized
    gradient per float64 backward (and, on a GPU, a host synchronisation)."""
    if gp is None or x.dtype != torch.float64 or bool(torch.isfinite(gp).all()):
        return gp
    _, redo = _torch_impl.backward(op, x, param, layout, grad_y, True)
    return redo


def _memory_format(x: Tensor):
    """Outputs and input gradients keep a channels-last input's layout (as torch's pooling)."""
    if x.dim() == 4 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _conform(t: Tensor, shape, fmt) -> Tensor:
    """``t`` with exactly the strides the fake implementation promises."""
    t = t.reshape(shape)
    want = torch.empty(shape, device="meta", memory_format=fmt).stride()
    if t.stride() == want:
        return t
    out = torch.empty(shape, dtype=t.dtype, device=t.device, memory_format=fmt)
    out.copy_(t)
    return out


# ------------------------------------------------------------------------------- validation


def diagnose(op: str, x: Tensor, param: Tensor, layout) -> None:
    """Raise the ``ValueError`` that names why ``x`` / ``param`` are outside ``op``'s domain
    (only elements some window of ``layout`` reads count; ``ppverify.ops._validate``)."""
    _validate.diagnose(OPERATORS[op], x, param, layout)


# ------------------------------------------------------------------------------ custom ops


def planes_of(param: Tensor, N, C) -> Tensor:
    """The parameter as one value per (batch, channel) plane, shape ``(N, C)``."""
    if param.dim() == 0:
        return param.reshape(1, 1).expand(N, C)
    if param.dim() == 1:
        return param.reshape(1, -1).expand(N, C)
    return param


def reduce_planes(per_plane: Tensor, like: Tensor) -> Tensor:
    """A per-plane ``(N, C)`` gradient summed to the parameter's shape."""
    if like.dim() == 0:
        return per_plane.sum()
    if like.dim() == 1:
        return per_plane.sum(0)
    return per_plane


@torch.library.custom_op("ppverify::pool", mutates_args=())
def pool_op(x: Tensor, param: Tensor, op: str, layout: list[int], validate: bool) -> Tensor:
    """Pool every (batch, channel) plane of ``x`` with operator ``op`` (module docstring)."""
    geometry = _layout.decode(layout)
    spatial = tuple(x.shape[2:])
    _layout.out_spatial(geometry, spatial)
    _layout.check_windows(geometry, spatial)
    return forward_impl(op, x, param, geometry, validate)


@pool_op.register_fake
def _pool_fake(x, param, op, layout, validate):
    geometry = _layout.decode(layout)
    out = _layout.out_spatial(geometry, tuple(x.shape[2:]))
    return torch.empty((x.shape[0], x.shape[1], *out), dtype=x.dtype, device=x.device,
                       memory_format=_memory_format(x))


@torch.library.custom_op("ppverify::pool_backward", mutates_args=())
def pool_backward_op(grad_y: Tensor, x: Tensor, param: Tensor, op: str, layout: list[int],
                     need_param: bool) -> tuple[Tensor, Tensor]:
    """``(dL/dx, dL/dparam)`` (float64, ``param``'s shape) for the upstream ``grad_y``."""
    gx, gp = backward_impl(op, x, param, _layout.decode(layout), grad_y, need_param)
    if gp is None:
        gp = torch.zeros(param.shape, dtype=torch.float64, device=x.device)
    return gx, gp


@pool_backward_op.register_fake
def _pool_backward_fake(grad_y, x, param, op, layout, need_param):
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=_memory_format(x))
    return gx, x.new_empty(param.shape, dtype=torch.float64)


def _op_setup_context(ctx, inputs, output):
    x, param, op, layout, _ = inputs
    ctx.op, ctx.layout = op, layout
    ctx.save_for_backward(x, param)


def _op_backward(ctx, grad_y):
    x, param = ctx.saved_tensors
    gx, gp = torch.ops.ppverify.pool_backward(grad_y, x, param, ctx.op, ctx.layout,
                                              ctx.needs_input_grad[1])
    return gx, gp.to(param.dtype), None, None, None


pool_op.register_autograd(_op_backward, setup_context=_op_setup_context)


def _merge_vmap_dim(info, in_dims, x, param):
    """Move the vmapped dimension of ``x`` into the batch, (B, N, ...) -> (B N, ...), and make
    ``param`` per plane, ``(B N, C)`` (each sample may have its own)."""
    B = info.batch_size
    xd, pd = in_dims[0], in_dims[1]
    x = x.movedim(xd, 0) if xd is not None else x.expand(B, *x.shape)
    N, C = x.shape[1], x.shape[2]
    if pd is None:
        planes = planes_of(param, N, C).expand(B, N, C)
    else:
        param = param.movedim(pd, 0)
        per = param.reshape(B, 1, 1) if param.dim() == 1 else (
            param.reshape(B, 1, C) if param.dim() == 2 else param)
        planes = per.expand(B, N, C)
    return B, x.reshape(B * N, *x.shape[2:]), planes.reshape(B * N, C)


def _pool_vmap(info, in_dims, x, param, op, layout, validate):
    B, xm, pm = _merge_vmap_dim(info, in_dims, x, param)
    y = torch.ops.ppverify.pool(xm, pm, op, layout, validate)
    return y.reshape(B, -1, *y.shape[1:]), 0


pool_op.register_vmap(_pool_vmap)


def _pool_backward_vmap(info, in_dims, grad_y, x, param, op, layout, need_param):
    """Per-sample gradients: the parameter's gradient has its (unbatched) shape per sample."""
    B = info.batch_size
    gd = in_dims[0]
    grad_y = grad_y.movedim(gd, 0) if gd is not None else grad_y.expand(B, *grad_y.shape)
    _, xm, pm = _merge_vmap_dim(info, in_dims[1:], x, param)
    gm = grad_y.reshape(B * grad_y.shape[1], *grad_y.shape[2:])
    gx, gp = torch.ops.ppverify.pool_backward(gm, xm, pm, op, layout, need_param)
    gp = gp.reshape(B, -1, gp.shape[-1])
    one = param if in_dims[2] is None else param.select(in_dims[2], 0)
    gp = gp.sum((1, 2)) if one.dim() == 0 else (gp.sum(1) if one.dim() == 1 else gp)
    return (gx.reshape(B, -1, *gx.shape[1:]), gp), (0, 0)


pool_backward_op.register_vmap(_pool_backward_vmap)


# ------------------------------------------------------------------------------- autograd


def _opaque_backward_ok(*tensors: Tensor) -> bool:
    """Whether the backward may be the opaque op: not when it must itself be differentiated
    (create_graph=True, or a torch.func transform tracking these tensors)."""
    if torch.is_grad_enabled():
        return False
    return not any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


class _PoolFunction(torch.autograd.Function):
    """The op for autograd and torch.func (see the module docstring)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, param, op, layout, validate):
        return torch.ops.ppverify.pool(x, param, op, layout, validate)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, param, op, layout, _ = inputs
        ctx.op, ctx.layout = op, layout
        ctx.save_for_backward(x, param)
        ctx.save_for_forward(x, param)

    @staticmethod
    def backward(ctx, grad_y):
        x, param = ctx.saved_tensors
        need_x, need_param = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if _opaque_backward_ok(grad_y, x, param):
            gx, gp = torch.ops.ppverify.pool_backward(grad_y, x, param, ctx.op, ctx.layout,
                                                      need_param)
        else:
            gx, gp = _torch_impl.backward(ctx.op, x, param, _layout.decode(ctx.layout), grad_y,
                                          need_param)
        return (gx if need_x else None, gp.to(param.dtype) if need_param else None, None,
                None, None)

    @staticmethod
    def jvp(ctx, x_tangent, param_tangent, *_):
        x, param = ctx.saved_tensors
        return _torch_impl.jvp(ctx.op, x, param, _layout.decode(ctx.layout), x_tangent,
                               param_tangent)


class _EagerPool(torch.autograd.Function):
    """Plain eager autograd (no torch.func transform, no forward-mode AD): a classic
    ``autograd.Function``, several times cheaper per call than ``_PoolFunction``, whose forward
    and backward call the backend directly.

    Where the C++ kernel serves the call (P-pooling, the power mean and the Lp norm) and the
    windows share no element (stride >= kernel), the forward also
    saves each input element's dy/dx (float32; float64 for float64) and, when the parameter
    needs a gradient, each window's dy/dparam (float64); the backward is then a pass
    over memory instead of a recomputation (``_native_forward_saved``). Where windows share
    elements (P-pooling in float32 / bfloat16 / float16, at most 6 bytes of state per input
    element), the forward saves each element's weight ``E`` (float32) and, when the
    parameter needs a gradient, each window's dy/dparam (float32); the backward then takes no
    logarithm or exponential. For the power mean and Lp in float64 (the dtypes of
    ``POWER_OVERLAP_STATE_DTYPES``) it saves each
    element's ``E / x`` (in the input's dtype) and each window's ``y / S`` and dy/dparam
    (float64); the backward is
    then one coefficient per window and one pass per input row. The state's tensors are saved
    with ``save_for_backward`` (since 2026-12-06; before, a node attribute), so saved-tensor
    hooks see them: ``torch.utils.checkpoint`` drops them with the region's other activations
    and ``save_on_cpu`` offloads them. The backward writes a float32 or float64 input gradient
    over the state once it has unpacked it, so the state serves one backward: a second
    backward of a retained graph recomputes (``ctx.state_spent``)."""

    @staticmethod
    def forward(ctx, x, param, op, layout, validate, call=None):
        ctx.op, ctx.layout, ctx.call = op, layout, call
        # a parameter of another floating dtype (``param_tensor(cast=False)``) is cast here,
        # where autograd records nothing: its gradient comes back in float64 and the engine
        # casts it to the parameter's dtype (what a cast node would do, for less)
        p = param if param.dtype == torch.float64 else param.to(torch.float64)
        if call is not None:  # the C++ kernel serves this call (chosen by the caller)
            if ctx.needs_input_grad[0]:
                y, state = _native_forward_saved(op, x, p, layout, validate,
                                                 ctx.needs_input_grad[1])
            else:
                y, state = _native_forward(op, x, p, layout, validate), None
        elif ctx.needs_input_grad[0]:
            y, state = forward_saving(op, x, p, layout, validate, ctx.needs_input_grad[1])
        else:
            y, state = forward_impl(op, x, p, layout, validate), None
        ctx.state_spec, tensors = _flatten_state(state)
        ctx.state_spent = False
        ctx.cast = p is not param  # the parameter itself saved last (create_graph's formula)
        ctx.save_for_backward(x, p, *tensors, *((param,) if ctx.cast else ()))
        return y

    @staticmethod
    def backward(ctx, grad_y):
        # torch checks that none was modified in place before this unpacking
        x, param, *tensors = ctx.saved_tensors
        given = tensors.pop() if ctx.cast else param  # the parameter as the caller gave it
        need_x, need_param = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        state = None if ctx.state_spent else _unflatten_state(ctx.state_spec, tensors)
        ctx.state_spent = True  # written over below (a retained graph's next recomputes)
        if _is_legacy_batched(grad_y) or _is_wrapped(grad_y):
            # a batched grad_y (torch.autograd.grad(..., is_grads_batched=True),
            # jacobian(vectorize=True)) has no storage for the kernel to read: the custom op,
            # which vmap runs once per batch entry (legacy vmap's fallback) or by its rule
            gx, gp = torch.ops.ppverify.pool_backward(grad_y, x, param, ctx.op,
                                                      _layout.encode(ctx.layout), need_param)
        elif torch.is_grad_enabled():  # create_graph=True: the differentiable formula, of
            # the parameter as given (its cast recorded here, so second derivatives reach it)
            gx, gp = _torch_impl.backward(ctx.op, x, _float64(given), ctx.layout, grad_y,
                                          need_param)
            gp = gp.to(given.dtype) if need_param else None
        elif state is not None:
            # (a tiny input's gradient is a new tensor: see OVER_STATE_MIN_BYTES)
            over = x.numel() * x.element_size() >= OVER_STATE_MIN_BYTES
            gx, gp = _native_backward_saved(ctx.op, x, param, ctx.layout, grad_y, *state,
                                            need_param=need_param, over_state=over,
                                            call=ctx.call)
            gx, gp = gradients_within_range(ctx.op, x, param, ctx.layout, grad_y, gx, gp)
            if over:
                gx = _own_version(gx, tensors)
        else:
            gx, gp = backward_impl(ctx.op, x, param, ctx.layout, grad_y, need_param)
        return gx if need_x else None, gp if need_param else None, None, None, None, None


#: eager autograd's backward writes the input's gradient over the saved state (its peak memory
#: then no more than the forward's) for inputs of this many bytes or more; a smaller input's
#: gradient is a new tensor. Below it ``_own_version``'s ``set_`` (about 7 us in a loop of
#: (1, 1, 4, 4) forward+backward calls: 64 bytes) costs more than the kernel and saves almost
#: no memory. Kept small: the first ``set_`` of a process pages in about 1.3 MB of torch's code,
#: so a memory measurement whose warm-up input takes the other path counts that code (the
#: matrix's (1, 64, 56, 56) row: +2864 KB against +1528 KB with a bound of 64 KiB, its warm-up
#: (1, 64, 8, 8) then below it); at 256 bytes every matrix row's warm-up that keeps a state
#: takes the path of its measured call
OVER_STATE_MIN_BYTES = 256


#: ``_EagerPool``'s node made by the C++ ``apply`` that ``torch.autograd.Function.apply`` calls
#: where no torch.func transform is active and no operand is a dead functorch wrapper (it
#: then only unwraps such wrappers); ``_EagerPool.apply`` where a later torch lacks it
_eager_pool_apply = (torch._C._FunctionBase.__dict__["apply"].__get__(None, _EagerPool)
                     if "apply" in getattr(torch._C, "_FunctionBase", object).__dict__
                     else _EagerPool.apply)


def _own_version(gx: Tensor, saved: list) -> Tensor:
    """``gx``, or where it was written over a saved state tensor (the same storage), a tensor
    on that storage with a version counter of its own: the input's gradient (``x.grad``,
    which autograd may take as it is) can then be changed in place without torch finding a
    saved tensor modified when a retained graph's next backward unpacks the state (which it
    does not read again: ``ctx.state_spent``)."""
    at = gx.data_ptr()  # the state's buffers start where the gradient written over them does
    for t in saved:
        if t.data_ptr() == at:
            return gx.new_empty(0).set_(gx)  # (about 1 us)
    return gx


def _flatten_state(state: tuple | None) -> tuple[tuple | None, list]:
    """``(spec, tensors)``: a ``_native_forward_saved`` state (a tuple whose slots are None, a
    tensor or a tuple of tensors and Nones) as a flat list of its tensors and the spec that
    ``_unflatten_state`` rebuilds it from (None for no state)."""
    if state is None:
        return None, []
    if len(state) == 2:  # (dy/dx, dy/dparam or None): the common form, kept cheap
        return (True, state[1] is not None), ([state[0]] if state[1] is None else list(state))
    spec, tensors = [], []
    for slot in state:
        if isinstance(slot, tuple):
            spec.append(tuple(t is not None for t in slot))
            tensors.extend(t for t in slot if t is not None)
        else:
            spec.append(slot is not None)
            if slot is not None:
                tensors.append(slot)
    return tuple(spec), tensors


def _unflatten_state(spec: tuple | None, tensors: list) -> tuple | None:
    """``_flatten_state``'s inverse."""
    if spec is None:
        return None
    if len(spec) == 2 and spec[0] is True:  # ``_flatten_state``'s common form
        return (tensors[0], tensors[1] if spec[1] else None)
    it = iter(tensors)
    return tuple(tuple(next(it) if present else None for present in slot)
                 if isinstance(slot, tuple) else (next(it) if slot else None)
                 for slot in spec)


_is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
#: the batched tensors of ``torch.autograd.grad(..., is_grads_batched=True)`` (the legacy vmap)
_is_legacy_batched = torch._C._functorch.is_legacy_batchedtensor
_cpu_floats = _validate._cpu_floats  # ``cpu_float_param``'s dict (the shortcut reads it)


def _plain_eager(x: Tensor, param: Tensor | None) -> bool:
    """No torch.func transform wraps the operands, no forward-mode AD level is open, no torch
    dispatch mode is active and the operands have values (a meta tensor goes through the
    custom op to its fake implementation). ``param`` None: a parameter known to be a plain CPU
    tensor (``cpu_float_param``'s).

    Under a dispatch mode (FakeTensorMode: shape propagation, non-strict export, memory
    estimators; make_fx's tracing; FlopCounterMode; any TorchDispatchMode) the op goes through
    its custom op, which the mode sees: FakeTensorMode runs its fake implementation. Called
    straight, the kernel was handed FakeTensors, whose data pointers are null, and crashed the
    process (tests/ops/test_dispatch_modes.py)."""
    if x.is_meta or _is_wrapped(x) or is_in_torch_dispatch_mode():
        return False
    if param is not None and (param.is_meta or _is_wrapped(param)):
        return False
    return forward_ad._current_level < 0


# ------------------------------------------------------------------------------ entry point

_checked_shapes: dict = {}


def _check_shape(layout, spatial: tuple) -> None:
    """``out_spatial`` and ``check_windows`` of ``layout`` on ``spatial``, remembered for the
    concrete sizes that passed (they depend on nothing else). Symbolic sizes (make_fx's
    symbolic tracing: SymInts, which do not hash) are checked as far as they go and not
    remembered."""
    spatial = tuple(spatial)
    concrete = all(isinstance(s, int) for s in spatial)
    key = (id(layout), spatial)  # identity, as ``_native_call``; the entry holds the layout
    if concrete and _checked_shapes.get(key) is layout:
        return
    _layout.out_spatial(layout, spatial)
    if concrete:
        _layout.check_windows(layout, spatial)
        if len(_checked_shapes) > 1024:
            _checked_shapes.clear()
        _checked_shapes[key] = layout


class _EagerEntry:
    """What ``pool``'s shortcut needs of one kind of call that a full call served with the C++
    kernel (see ``_eager_calls``)."""

    __slots__ = ("call", "layout", "batched", "use_native", "available", "kernel", "out_like",
                 "out_fmt")

    def __init__(self, call: _NativeCall, layout, batched: bool):
        self.call = call
        self.layout = layout  # the key holds id(layout): this keeps the id taken (no other
        #                       object can have it while the entry lives)
        self.batched = batched
        # the backend choice it stands for: the functions that made it (tests replace them)
        self.use_native, self.available = _use_native, _native.available
        self.kernel = _native.forward_function()
        self.out_like, self.out_fmt = call._out_like, call._out_fmt


#: ``pool``'s shortcut: kinds of call that a full call (every check of rule 1, the backend
#: choice, ``check_windows``) served with the C++ kernel in plain eager mode without autograd,
#: with a Python float parameter, keyed by ``_eager_key``. An entry says nothing about values
#: (the kernel checks those at every call), only that an input of this operator, layout,
#: shape, strides and dtype passed every check that does not read it.
_eager_calls: dict = {}
_EAGER_CALLS_MAX = 1024


def _eager_key(op: str, layout, input: Tensor) -> tuple:
    """The shortcut's key: everything an entry stands for that ``pool`` does not test at each
    call (the operator, the layout's identity, the input's shape, strides and dtype; the
    device is tested: CPU only). Raises ``RuntimeError`` for a tensor without strides."""
    return (op, id(layout), input.shape, input.stride(), input.dtype)


def _remember_eager(op: str, layout, input: Tensor, call: _NativeCall) -> None:
    if len(_eager_calls) >= _EAGER_CALLS_MAX:
        _eager_calls.clear()
    _eager_calls[_eager_key(op, layout, input)] = _EagerEntry(call, layout,
                                                              input.dim() == layout.dims + 2)


#: ``pool``'s training shortcut: kinds of call that a full call served with ``_EagerPool`` and
#: the C++ kernel (the input or the parameter needing a gradient), keyed by ``_train_key``: as
#: ``_eager_calls``, with the parameter's kind in the key (a Python float that passed rule 1,
#: or a plain CPU tensor's dtype, shape and layout, handed to the node as it is:
#: ``param_tensor(cast=False)``)
_train_calls: dict = {}


def _train_key(op: str, layout, input: Tensor, param) -> tuple:
    """The training shortcut's key: ``_eager_key``'s fields and the parameter's kind (None for
    a Python float). Raises ``RuntimeError`` for a tensor without strides or sizes."""
    kind = None if type(param) is float else (param.dtype, param.shape, param.layout)
    return (op, id(layout), input.shape, input.stride(), input.dtype, kind)


class _TrainEntry:
    """What the training shortcut needs of one kind of call: the key of its ``_native_calls``
    entry (looked up at each call, so that a cleared or replaced cache of calls sends the
    shortcut to the full path, as it does the full path to a new call), whether the input is
    batched, and the backend choice it stands for (as ``_EagerEntry``)."""

    __slots__ = ("call_key", "layout", "batched", "use_native", "available")

    def __init__(self, call_key: tuple, layout, batched: bool):
        self.call_key, self.layout, self.batched = call_key, layout, batched
        self.use_native, self.available = _use_native, _native.available


def _remember_train(op: str, layout, input: Tensor, param, x: Tensor, param_t: Tensor) -> None:
    if len(_train_calls) >= _EAGER_CALLS_MAX:
        _train_calls.clear()
    _train_calls[_train_key(op, layout, input, param)] = _TrainEntry(
        (op, id(layout), x.shape, x.stride(), x.dtype, param_t.shape), layout,
        input.dim() == layout.dims + 2)


def _train_shortcut(op: str, input: Tensor, param, layout, validate) -> Tensor | None:
    """``pool``'s output by the training shortcut, or None where the full path must decide:
    a plain CPU input (exact type ``Tensor``), a parameter that is a Python float that passed
    rule 1 or a plain CPU tensor (exact type ``Tensor`` or ``Parameter``, strided), one of
    them needing a gradient (grad mode on: the caller's test), and a call of the same kind
    (``_train_key``) that the full path served with the C++ kernel under the same backend
    choice, with no compiler, tracer, dispatch mode, torch.func transform, forward-mode AD or
    Triton-on-CPU opt-in. Then ``_EagerPool`` is handed the kernel's call directly: the
    checks of rule 1 and the backend choice were made once for the kind."""
    if torch.compiler.is_compiling() or not (validate is True or validate is False):
        return None
    if type(param) is float:
        param_t = _cpu_floats.get(param)
        if param_t is None:
            return None
    elif (type(param) is Tensor or type(param) is torch.nn.Parameter) and param.is_cpu \
            and param.layout is torch.strided and not _is_wrapped(param):
        param_t = param
    else:
        return None
    if not (input.requires_grad or param_t.requires_grad):
        return None
    try:
        entry = _train_calls.get(_train_key(op, layout, input, param))
    except RuntimeError:  # no strides or sizes: the full path says what is wrong
        return None
    if (entry is None or not input.is_cpu or entry.use_native is not _use_native
            or entry.available is not _native.available or torch._C._is_tracing()
            or is_in_torch_dispatch_mode() or forward_ad._current_level >= 0
            or _is_wrapped(input) or _triton.cpu_opt_in()):
        return None
    call = _native_calls.get(entry.call_key)
    if call is None or call.layout is not layout:
        return None
    x = input if entry.batched else input.unsqueeze(0)
    if torch._C._are_functorch_transforms_active():  # (the inputs are not wrapped: tested)
        y = _EagerPool.apply(x, param_t, op, layout, validate, call)
    else:  # ``Function.apply``'s own path without a transform, less its Python (about 2 us)
        y = _eager_pool_apply(x, param_t, op, layout, validate, call)
    return y if entry.batched else y.squeeze(0)


def pool(op: str, input: Tensor, param, layout, validate: bool = True) -> Tensor:
    """Pool ``input`` (``(N, C, *spatial)`` or unbatched ``(C, *spatial)``) with ``op`` and its
    parameter over ``layout`` (a windowed or adaptive geometry).

    The shortcut first (about half the cost of a full call on a tiny input): a plain CPU tensor
    that needs no gradient here, a Python float parameter that passed rule 1 before
    (``cpu_float_param``), ``validate`` a bool, no compiler, tracer, torch.func transform,
    forward-mode AD or Triton-on-CPU opt-in, and a call of the same kind (``_eager_key``) that
    the full path below served with the C++ kernel under the same backend choice: then the
    kernel is called directly. Where a gradient is wanted, the training shortcut
    (``_train_shortcut``) likewise hands a call of a kind the full path served with the C++
    kernel to ``_EagerPool`` directly. Anything else takes the full path, which checks
    everything."""
    if (not torch.compiler.is_compiling() and type(input) is Tensor and type(param) is float
            and (validate is True or validate is False)):
        try:
            entry = _eager_calls.get(_eager_key(op, layout, input))
        except RuntimeError:  # no strides (a sparse tensor): the full path says what is wrong
            entry = None
        if (entry is not None and input.is_cpu
                and entry.use_native is _use_native and entry.available is _native.available
                and not torch._C._is_tracing() and not is_in_torch_dispatch_mode()
                and not (input.requires_grad and torch.is_grad_enabled())
                and forward_ad._current_level < 0 and not _is_wrapped(input)
                and not _triton.cpu_opt_in()):
            param_t = _cpu_floats.get(param)  # ``cpu_float_param``, inlined (param: a float)
            if param_t is not None:  # ``_eager_forward``, inlined (a call costs about 0.1 us)
                call = entry.call
                x = input if entry.batched else input.unsqueeze(0)
                xk = x.contiguous(memory_format=call.fmt) if call.copy else x
                y = (torch.empty_like(entry.out_like) if entry.out_fmt is None
                     else torch.empty_like(entry.out_like, memory_format=entry.out_fmt))
                code = entry.kernel(call.ptr, xk.data_ptr(), param_t.data_ptr(), y.data_ptr(),
                                    torch.get_num_threads())
                if code == _native._HAND_BACK:  # windows the power engine hands back
                    y = _torch_forward(op, x, param_t, layout, validate)
                elif code and _native.status(code) and validate:
                    diagnose(op, x, param_t, layout)
                return y if entry.batched else y.squeeze(0)
    if torch.is_grad_enabled() and type(input) is Tensor:
        y = _train_shortcut(op, input, param, layout, validate)
        if y is not None:
            return y
    return _pool(op, input, param, layout, validate)


def traced_pool(op: str, input: Tensor, param, layout: list[int], validate: bool) -> Tensor:
    """``pool`` with the layout in its integer form (``_layout.encode``): the function a
    ``torch.fx`` graph calls (its arguments must be values a graph can hold)."""
    return pool(op, input, param, _layout.decode(layout), validate)


def _pool(op: str, input: Tensor, param, layout, validate: bool) -> Tensor:
    """``pool``'s full path: every check of rule 1, the backend choice and the autograd route."""
    if isinstance(input, torch.fx.Proxy):  # torch.fx.symbolic_trace: one node, run when called
        return input.tracer.create_proxy("call_function", traced_pool,
                                         (op, input, param, _layout.encode(layout), validate), {})
    _validate.check_input(input)
    _validate.check_flag(validate, "validate")
    batched = input.dim() == layout.dims + 2 or _layout.check_rank(input.shape, layout.dims)
    x = input if batched else input.unsqueeze(0)
    if x.shape[1] == 0:  # as torch's pooling: only the batch axis may be empty
        raise ValueError(f"input has no channels (shape {tuple(input.shape)}, channel axis "
                         f"{1 if batched else 0}): pooling needs at least one channel; only the "
                         f"batch axis may be empty")
    compiling = torch.compiler.is_compiling()
    # a Python float that passed rule 1 before, on CPU in eager mode: its cached tensor (a
    # plain CPU tensor: no functorch wrapper, no gradient, not meta; not under a dispatch
    # mode, which wants its own tensors)
    param_t = (None if compiling or not x.is_cpu or is_in_torch_dispatch_mode()
               else _validate.cpu_float_param(param))
    plain_param = param_t is not None
    # torch._C._is_tracing() is torch.jit.is_tracing() without its is_scripting() test (this
    # function is never scripted): 50 ns instead of 190 ns
    tracing = compiling or torch._C._is_tracing()
    if param_t is None:  # (in eager mode a floating tensor keeps its dtype: see _EagerPool)
        param_t = _validate.param_tensor(param, OPERATORS[op], x.shape[1], x.device,
                                         cast=tracing)
    if tracing:
        if not compiling:  # the fake implementation checks under dynamo
            _check_shape(layout, x.shape[2:])
        # dynamo does not trace an autograd.Function with a jvp, and a TorchScript trace would
        # record it as an unsaveable Python op: the graph gets the op and its own autograd;
        # under torch.compile where the input needs a gradient, the op that saves the
        # kernel's state for its backward (``_compiled``)
        if compiling and _compiled.wants_state(x):
            y = torch.ops.ppverify.pool_saving(x, param_t, op, _layout.encode(layout), validate,
                                               param_t.requires_grad)[0]
        else:
            y = torch.ops.ppverify.pool(x, param_t, op, _layout.encode(layout), validate)
    elif _plain_eager(x, None if plain_param else param_t):
        if torch.is_grad_enabled() and (x.requires_grad or param_t.requires_grad):
            _check_shape(layout, x.shape[2:])
            call = None
            if _select(op, layout, x) is NATIVE:
                call = _native_call(op, layout, x, param_t)
                # (the kinds the training shortcut tests: a float, or a plain tensor as given)
                as_given = param_t is param and type(param) in (Tensor, torch.nn.Parameter)
                if type(input) is Tensor and (plain_param or as_given):
                    _remember_train(op, layout, input, param, x, param_t)
            y = _EagerPool.apply(x, param_t, op, layout, validate, call)
        else:
            param_t = _float64(param_t)
            backend = _select(op, layout, x)
            if backend is not NATIVE:  # its cached call plans stand for checked shapes
                _check_shape(layout, x.shape[2:])
            y = backend.forward(op, x, param_t, layout, validate)
            if backend is NATIVE and plain_param and type(input) is Tensor:
                _remember_eager(op, layout, input, _native_call(op, layout, x, param_t))
    else:
        _check_shape(layout, x.shape[2:])
        y = _PoolFunction.apply(x, _float64(param_t), op, _layout.encode(layout), validate)
    return y if batched else y.squeeze(0)


def _float64(param: Tensor) -> Tensor:
    """``param`` as float64 (a differentiable cast; the tensor itself if it is float64)."""
    return param if param.dtype == torch.float64 else param.to(torch.float64)


from . import _compiled  # noqa: E402  (registers the state-saving op pair, which uses the above)
