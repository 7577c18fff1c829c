"""A test case: one pooling call with its inputs, and the labels that say what it exercises.

A ``Case`` is framework-neutral data: the input values (float64 numbers exactly representable in
``dtype``), the parameter (already rounded to ``dtype``), the pooling arguments (a kernel with
stride, padding, dilation and ceil_mode for ``pooling="windowed"``; an ``output_size`` for
``"adaptive"``; nothing for ``"global"``, one window per plane), the upstream gradient and the
memory layout the target receives. ``expect_error`` marks *error inputs* (outside the
operator's domain or invalid pooling arguments): a conforming target raises, or, when
``nan_signals`` is set, returns a non-finite value there. ``input_min`` is a declared domain:
the target clamps its input below that value on purpose, and the oracle evaluates the clamped
operator.

Labels (the factors of ``coverage``), each derived from the case itself, so that a shrunk case
keeps honest labels: ``kind`` (the value kind it was drawn from, see ``values``; shrinking keeps
``values.kind_holds``), ``param_class`` (``ordinary``, ``negative`` or ``huge`` = ``|param| >=
16``; ``none`` without a parameter), ``feature`` (the pooling feature in play: ``plain``,
``stride``, ``padding``, ``dilation``, ``ceil_mode`` or ``mixed`` when several are; for adaptive
pooling ``divisible``, ``overlapping`` or ``upsampling``; ``global``), ``layout`` and
``batched``. This module imports no torch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..windows import make_adaptive_geometry, make_geometry, output_shape

DTYPES = ("float64", "float32", "float16", "bfloat16")
LAYOUTS = ("contiguous", "strided", "channels_last")
POOLINGS = ("windowed", "adaptive", "global")
WINDOW_FEATURES = ("stride", "padding", "dilation", "ceil_mode")
HUGE_PARAM = 16.0  # |param| at or above this is a "huge" parameter
SMALL_PARAM = 0.25  # 0 < |param| below this is a "small" parameter


def param_class(param: float | None) -> str:
    """``none``, ``huge`` (``|param| >= 16``), ``small`` (``0 < |param| < 1/4``),
    ``negative`` or ``ordinary``.

    Small parameters have their own class because they have their own failures: the power
    mean's and the Lp norm's ``(...)^(1/p)`` multiplies a relative error of the sum by
    ``1/|p|``, and a window's dy/dx ~ ``(R / x)^(1 - p)`` exceeds float64's range on windows
    spanning it (P-pooling's alpha likewise)."""
    if param is None:
        return "none"
    if abs(param) >= HUGE_PARAM:
        return "huge"
    if 0 < abs(param) < SMALL_PARAM:
        return "small"
    return "negative" if param < 0 else "ordinary"


@dataclass
class Case:
    """One call of a pooling function and everything needed to judge it."""

    op: str
    dims: int
    dtype: str
    input: np.ndarray
    param: float | None
    kernel_size: tuple[int, ...] = ()
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    ceil_mode: bool = False
    count_include_pad: bool = False
    grad_output: np.ndarray | None = None
    layout: str = "contiguous"
    kind: str = "random"
    passed_args: tuple[str, ...] = ()  # optional arguments given to the target explicitly
    expect_error: str | None = None
    nan_signals: bool = False
    id: str = ""
    notes: list[str] = field(default_factory=list)
    pooling: str = "windowed"
    output_size: tuple[int | None, ...] | None = None
    input_min: float | None = None  # declared clamp of the input (already in dtype)
    param_raw: float | None = None  # a module's stored value (before its declared map)
    # one exponent per channel (``--per-channel``): channel c's is ``channel_params[c]``, the
    # first is ``param`` (all of the class of ``param``); ``channel_params_raw`` as param_raw
    channel_params: tuple[float, ...] | None = None
    channel_params_raw: tuple[float, ...] | None = None
    # False (``--forward-only``): the target's output alone is computed and judged
    gradients: bool = True

    def __post_init__(self):
        self.input = np.asarray(self.input, dtype=np.float64)
        self.kernel_size = tuple(self.kernel_size)
        if not self.padding:
            self.padding = (0,) * self.dims
        if not self.dilation:
            self.dilation = (1,) * self.dims
        if self.pooling == "global" and self.output_size is None:
            self.output_size = (1,) * self.dims

    # ------------------------------------------------------------------ parameter
    @property
    def per_channel(self) -> bool:
        return self.channel_params is not None

    @property
    def oracle_param(self) -> float | list[float] | None:
        """The parameter as ``ppverify.oracle.reference`` takes it: a number, or one per
        channel."""
        return list(self.channel_params) if self.per_channel else self.param

    def channel_param(self, c: int) -> float | None:
        """The exponent of channel ``c``."""
        return self.channel_params[c] if self.per_channel else self.param

    def stored_params(self) -> float | tuple[float, ...] | None:
        """What a module stores (the raw values before a declared map, if any): a number, or
        one per channel."""
        if self.per_channel:
            return self.channel_params_raw if self.channel_params_raw is not None \
                else self.channel_params
        return self.param_raw if self.param_raw is not None else self.param

    @property
    def channels(self) -> int:
        """The input's channel count (the axis before the spatial ones; 1 for an error
        input of too few axes)."""
        shape = self.input.shape
        return int(shape[-self.dims - 1]) if len(shape) > self.dims else 1

    # ------------------------------------------------------------------ geometry
    @property
    def windowed(self) -> bool:
        return self.pooling == "windowed"

    @property
    def geometry_kwargs(self) -> dict:
        """Pooling arguments of ``ppverify.oracle.reference``."""
        if not self.windowed:
            return dict(output_size=self.output_size)
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, ceil_mode=self.ceil_mode)

    def geometry(self):
        """The ``ppverify.windows`` geometry (``ValueError`` if invalid)."""
        if not self.windowed:
            return make_adaptive_geometry(self.dims, self.output_size)
        return make_geometry(self.dims, self.kernel_size, self.stride, self.padding,
                             self.dilation, self.ceil_mode)

    def call_kwargs(self) -> dict:
        """Keyword arguments given to the target (only those in ``passed_args``)."""
        values = {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                  "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad}
        return {name: _compact(values[name]) for name in self.passed_args}

    def kernel_arg(self):
        return _compact(self.kernel_size)

    def output_size_arg(self):
        return _compact(self.output_size)

    def expected_shape(self) -> tuple[int, ...]:
        return output_shape(self.geometry(), self.input.shape)

    def flat_shape(self) -> tuple[int, ...] | None:
        """Global pooling's output with the spatial axes dropped (``(N, C)`` or ``(C,)``, one
        value per plane, as a classification head returns it); None for other pooling."""
        if self.pooling != "global":
            return None
        return tuple(self.input.shape[: self.input.ndim - self.dims])

    def windows(self) -> int:
        return int(np.prod(self.expected_shape()))

    def windows_or_zero(self) -> int:
        try:
            return self.windows()
        except ValueError:
            return 0

    def size(self) -> tuple:
        """A measure that shrinking decreases (elements, kernel, arguments)."""
        return (self.input.size, sum(self.kernel_size), self.windows_or_zero(),
                sum(self.padding) + sum(d - 1 for d in self.dilation), int(self.ceil_mode))

    # ------------------------------------------------------------------ labels
    @property
    def param_class(self) -> str:
        return param_class(self.param)

    @property
    def batched(self) -> bool:
        return self.input.ndim == self.dims + 2

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(self.input.shape[-self.dims:])

    @property
    def feature(self) -> str:
        """The pooling feature in play (see the module doc), derived from the arguments."""
        if self.pooling == "global":
            return "global"
        if self.pooling == "adaptive":
            return adaptive_feature(self.spatial, self.output_size)
        found = windowed_features(self.dims, self.kernel_size, self.stride, self.padding,
                                  self.dilation, self.ceil_mode, self.spatial)
        if not found:
            return "plain"
        return found[0] if len(found) == 1 else "mixed"

    def labels(self) -> dict:
        """The factor levels of this case (``coverage.FACTORS``)."""
        return {"dtype": self.dtype, "kind": self.kind, "param": self.param_class,
                "feature": self.feature, "layout": self.layout,
                "batched": "batched" if self.batched else "unbatched"}

    def describe(self) -> str:
        bits = [f"{self.op} {self.dims}-D {self.dtype}", f"input {tuple(self.input.shape)}"]
        if self.per_channel:
            values = ", ".join(f"{p:g}" for p in self.channel_params)
            bits.insert(1, f"param per channel ({values})")
        elif self.param is not None:
            bits.insert(1, f"param {self.param:g}")
        if self.pooling == "global":
            bits.append("global pooling")
        elif self.pooling == "adaptive":
            bits.append(f"output_size {self.output_size_arg()}")
        else:
            bits.append(f"kernel {self.kernel_size}")
            for name, value in self.call_kwargs().items():
                bits.append(f"{name}={value}")
        if self.layout != "contiguous":
            bits.append(self.layout)
        if self.input_min is not None:
            bits.append(f"input clamped below {self.input_min:g} (declared)")
        bits.append(f"values: {self.kind}")
        return ", ".join(bits)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        from .jsonio import encode_array, encode_float

        record = {
            "id": self.id, "op": self.op, "dims": self.dims, "dtype": self.dtype,
            "kind": self.kind, "layout": self.layout, "pooling": self.pooling,
            "input_shape": list(self.input.shape), "input": encode_array(self.input),
            "param": None if self.param is None else encode_float(self.param),
            "kernel_size": list(self.kernel_size),
            "stride": None if self.stride is None else list(self.stride),
            "padding": list(self.padding), "dilation": list(self.dilation),
            "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
            "output_size": None if self.output_size is None else list(self.output_size),
            "input_min": None if self.input_min is None else encode_float(self.input_min),
            "passed_args": list(self.passed_args),
            "grad_output": None if self.grad_output is None else encode_array(self.grad_output),
            "expect_error": self.expect_error, "nan_signals": self.nan_signals,
        }
        if self.per_channel:  # (absent otherwise: vector files keep their schema)
            record["channel_params"] = [encode_float(p) for p in self.channel_params]
        if not self.gradients:
            record["gradients"] = False
        if self.expect_error is None:
            with contextlib.suppress(ValueError):
                record["labels"] = self.labels()
        return record

    @classmethod
    def from_dict(cls, d: dict) -> Case:
        from .jsonio import decode_array, decode_float

        shape = tuple(d["input_shape"])
        x = decode_array(d["input"]).reshape(shape)
        g = d.get("grad_output")
        size = d.get("output_size")
        case = cls(
            op=d["op"], dims=int(d["dims"]), dtype=d["dtype"], input=x,
            param=None if d.get("param") is None else decode_float(d["param"]),
            kernel_size=tuple(d.get("kernel_size") or ()),
            stride=None if d.get("stride") is None else tuple(d["stride"]),
            padding=tuple(d.get("padding") or ()), dilation=tuple(d.get("dilation") or ()),
            ceil_mode=bool(d.get("ceil_mode", False)),
            count_include_pad=bool(d.get("count_include_pad", False)),
            grad_output=None if g is None else decode_array(g),
            layout=d.get("layout", "contiguous"), kind=d.get("kind", "random"),
            passed_args=tuple(d.get("passed_args", ())),
            expect_error=d.get("expect_error"), nan_signals=bool(d.get("nan_signals", False)),
            id=d.get("id", ""), pooling=d.get("pooling", "windowed"),
            output_size=None if size is None else tuple(size),
            input_min=None if d.get("input_min") is None else decode_float(d["input_min"]),
            channel_params=None if d.get("channel_params") is None
            else tuple(decode_float(p) for p in d["channel_params"]),
            gradients=bool(d.get("gradients", True)),
        )
        if case.grad_output is not None and case.expect_error is None:
            with contextlib.suppress(ValueError):  # stored flat, row-major
                case.grad_output = case.grad_output.reshape(case.expected_shape())
        return case


def _compact(value):
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def windowed_features(dims, kernel, stride, padding, dilation, ceil_mode, spatial) -> list[str]:
    """The windowed pooling features that change the result: a stride other than the kernel,
    padding, dilation, and ceil_mode when it adds a partial window."""
    found = []
    if stride is not None and tuple(stride) != tuple(kernel):
        found.append("stride")
    if any(padding):
        found.append("padding")
    if any(d > 1 for d in dilation):
        found.append("dilation")
    if ceil_mode:
        try:
            with_ceil = output_shape(make_geometry(dims, kernel, stride, padding, dilation, True),
                                     (1, 1, *spatial))
            without = output_shape(make_geometry(dims, kernel, stride, padding, dilation, False),
                                   (1, 1, *spatial))
        except ValueError:
            with_ceil = without = None
        if with_ceil != without:
            found.append("ceil_mode")
    return found


def adaptive_feature(spatial, output_size) -> str:
    """``upsampling`` (an output axis longer than the input's), ``overlapping`` (an axis whose
    length the output size does not divide: uneven, overlapping windows) or ``divisible``."""
    pairs = [(length, length if n is None else n) for length, n in zip(spatial, output_size)]
    if any(n > length for length, n in pairs):
        return "upsampling"
    if any(length % n for length, n in pairs):
        return "overlapping"
    return "divisible"


def with_values(case: Case, x: np.ndarray, **changes) -> Case:
    """A copy of ``case`` with new input values (and other fields), grad_output resized."""
    new = replace(case, input=np.asarray(x, dtype=np.float64), notes=[], **changes)
    if case.expect_error is None:
        try:
            shape = new.expected_shape()
        except ValueError:
            return new
        if case.grad_output is None or case.grad_output.shape != shape:
            new.grad_output = np.ones(shape)
    return new
