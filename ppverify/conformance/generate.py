"""Case generation with a coverage guarantee, and the error inputs.

``generate_cases`` turns the rows of a pairwise covering array (``coverage.plan_rows``: every
pair of levels of dtype, value kind, parameter class, pooling feature, memory layout and
batched/unbatched occurs in the first ~66 rows) into valid cases: for each row it draws a
geometry whose derived feature is the row's (``cases.Case.feature``), an input of the row's
kind, dtype, layout and batching, and a parameter of the row's class. Everything else (kernel
sizes 1-4, or 5 with ``thorough``; strides; padding up to half the kernel; odd input sizes;
channels; the upstream gradient) is random. Deterministic given the seed; a new seed gives new
rows and new values.

Parameters (``PARAM_POOLS``) by class: ordinary, negative, huge (``|param| >= 16``, which
stresses overflow and underflow) and small (``0 < |param| < 1/4``: ``1/p`` amplifies the sum's
rounding, and dy/dx ~ ``(R / x)^(1 - p)`` exceeds float64's range on wide windows;
``cases.param_class``). A declared parameter range or an explicit list of values
(``params``) restricts the pools, and a class with no value left drops out of the coverage
table.

``error_cases`` lists the inputs a conforming target must reject. This module imports no torch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..windows import iter_windows, make_geometry, output_shape
from .cases import DTYPES, LAYOUTS, POOLINGS, WINDOW_FEATURES, Case, param_class
from .coverage import Factors, factor_levels, iter_plan_rows
from .targets import CONVENTIONS, OPTIONAL_ARGS
from .values import VALUE_KINDS, check_kinds, draw_grad_output, draw_values, representable

PARAM_POOLS = {
    "ppool": {"ordinary": (2.0, 0.0, 1.0, 2.5, 0.5, 3.0, 8.0),
              "negative": (-1.0, -2.5, -0.5, -3.0),
              "huge": (100.0, 1000.0, -100.0, 40.0),
              "small": (0.05, -0.05, 0.01)},
    "lp": {"ordinary": (2.0, 1.0, 3.0, 1.5, 4.0, 2.5),
           "negative": (-1.0, -2.0),
           "huge": (16.0, 32.0),
           "small": (0.05, 0.1, -0.1)},
    "powermean": {"ordinary": (3.0, 1.0, 2.0, 0.5, 4.0, 1.5),
                  "negative": (-1.0, -2.0, -0.5),
                  "huge": (32.0, 64.0),
                  "small": (0.05, 0.1, -0.1)},
}
PARAM_CLASSES = ("ordinary", "negative", "huge", "small")


@dataclass(frozen=True)
class Plan:
    """What a run draws from: the factors (for the coverage table) and the parameter pools."""

    factors: Factors
    pools: dict[str, tuple[float, ...]]
    #: the pools for inputs with zeros: their values >= 0 where zeros are outside the domain
    #: of a negative exponent (the power mean and Lp without a declared clamp)
    zero_pools: dict[str, tuple[float, ...]] | None = None
    #: one exponent per channel, each drawn from the row's class (``--per-channel``)
    per_channel: bool = False


def check_params(op: str, params) -> tuple[float, ...] | None:
    """``params`` (the values a restricted target supports) as floats, or ``None``.

    Raises ``ValueError`` for an operator without a parameter, a non-finite value, or a value
    outside the operator's domain (p = 0 for ``lp``, where 1/p is undefined).
    """
    if params is None:
        return None
    values = [params] if isinstance(params, (int, float)) else list(params)
    if not values:
        return None
    if not CONVENTIONS[op].has_param:
        raise ValueError(f"op {op!r} takes no parameter, but params={params!r} were given")
    out = []
    for v in values:
        if isinstance(v, (bool, str, bytes)):
            raise ValueError(f"params must be real numbers, got {v!r}")
        f = float(v)
        if not np.isfinite(f):
            raise ValueError(f"params must be finite, got {f}")
        if op == "lp" and f == 0:
            raise ValueError("params: p = 0 is outside the Lp norm's domain (1/p is undefined)")
        out.append(f)
    return tuple(out)


def check_param_range(param_range) -> tuple[float, float] | None:
    """``(low, high)`` with ``low <= high`` (either may be infinite), or ``None``."""
    if param_range is None:
        return None
    try:
        low, high = (float(v) for v in param_range)
    except (TypeError, ValueError):
        raise ValueError(f"param_range must be (low, high), got {param_range!r}") from None
    if math.isnan(low) or math.isnan(high) or low > high:
        raise ValueError(f"param_range must have low <= high, got {param_range!r}")
    return low, high


def selection(name: str, values, allowed) -> tuple[str, ...]:
    """``values`` (a sequence of names, or one name) as a tuple, or ``ValueError`` naming the
    argument and every entry that is not in ``allowed``."""
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        got = ", ".join(repr(v) for v in bad) if bad else "nothing"
        raise ValueError(f"{name} must be a non-empty selection of {', '.join(allowed)}; "
                         f"got {got}")
    return values


def make_plan(op: str, pooling: str, accepts, *, dtypes=DTYPES, kinds=VALUE_KINDS,
              layouts=LAYOUTS, params=None, param_range=None, input_min=None,
              batched_only: bool = False, per_channel: bool = False) -> Plan:
    """The factors and parameter pools of a run (validates every selection); with
    ``batched_only`` every case is batched, with ``per_channel`` each channel of a case has
    its own exponent (drawn from the pool of the case's parameter class)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    dtypes = selection("dtypes", dtypes, DTYPES)
    layouts = selection("layouts", layouts, LAYOUTS)
    kinds = check_kinds(selection("kinds", kinds, VALUE_KINDS))
    conv = CONVENTIONS[op]
    if per_channel and not conv.has_param:
        raise ValueError(f"per_channel (--per-channel) gives each channel its own exponent, "
                         f"but op {op!r} takes no parameter")
    params = check_params(op, params)
    low, high = check_param_range(param_range) or (-math.inf, math.inf)
    pools: dict[str, tuple[float, ...]] = {}
    if not conv.has_param:
        if param_range is not None:
            raise ValueError(f"op {op!r} takes no parameter, but a parameter range was given")
        pools["none"] = (math.nan,)
    else:
        candidates = params or tuple(v for c in PARAM_CLASSES for v in PARAM_POOLS[op][c])
        for c in PARAM_CLASSES:
            chosen = tuple(v for v in candidates if param_class(v) == c and low <= v <= high)
            if chosen:
                pools[c] = chosen
        if not pools:
            raise ValueError(f"no parameter value is left: params {params or 'default'} and "
                             f"the declared range [{low:g}, {high:g}] exclude each other")
    zeros_ok = op == "ppool" or (input_min is not None and input_min > 0)
    zero_pools = {c: v if zeros_ok or not conv.has_param else tuple(p for p in v if p >= 0)
                  for c, v in pools.items()}
    factors = factor_levels(op, pooling, accepts, dtypes=dtypes, kinds=kinds, layouts=layouts,
                            param_classes=tuple(pools), batched_only=batched_only,
                            classes_without_zeros=tuple(c for c, v in zero_pools.items()
                                                        if not v))
    return Plan(factors, pools, zero_pools, per_channel)


# ----------------------------------------------------------------------------- geometry


def _windowed(rng, dims: int, accepts, feature: str, max_kernel: int, max_windows: int,
              empty_ok: bool = False):
    """Kernel, stride, padding, dilation, ceil_mode and a spatial size whose derived feature is
    ``feature`` (``plain``, one of ``WINDOW_FEATURES`` or ``mixed``). A window of padding only
    (dilation with padding) is drawn only when ``empty_ok`` (max and min define it)."""
    from .cases import windowed_features

    options = [f for f in WINDOW_FEATURES if f in accepts]
    for _ in range(400):
        if feature == "mixed":
            k = int(rng.integers(2, len(options) + 1))
            want = set(rng.choice(options, size=k, replace=False).tolist())
        else:
            want = set() if feature == "plain" else {feature}
        cubic = rng.random() < 0.7  # mostly cubic kernels, as most users write them
        axes = []
        for _axis in range(1 if cubic else dims):
            low = 2 if want & {"padding", "dilation"} else 1
            k = int(rng.integers(low, max(low, max_kernel) + 1))
            s = k
            if "stride" in want:
                s = int(rng.integers(1, k + 2))
                while s == k:
                    s = int(rng.integers(1, k + 2))
            p = int(rng.integers(1, k // 2 + 1)) if "padding" in want else 0
            d = 2 if "dilation" in want else 1
            axes.append((k, s, p, d))
        if cubic:
            axes = axes * dims
        ceil = "ceil_mode" in want
        spatial = []
        for k, s, p, d in axes:
            span = d * (k - 1) + 1
            least = max(1, span - 2 * p)
            length = least + int(rng.integers(0, 4 if dims == 3 else 7))
            if ceil and (length + 2 * p - span) % s == 0:
                length += 1  # leave a partial window for ceil_mode to create
            spatial.append(length)
        kernel = tuple(a[0] for a in axes)
        stride = tuple(a[1] for a in axes)
        stride = None if stride == kernel and "stride" not in accepts else stride
        if stride == kernel and rng.random() < 0.5:
            stride = None
        padding = tuple(a[2] for a in axes)
        dilation = tuple(a[3] for a in axes)
        try:
            geometry = make_geometry(dims, kernel, stride, padding, dilation, ceil)
            shape = output_shape(geometry, (1, 1, *spatial))
        except ValueError:
            continue
        found = windowed_features(dims, kernel, stride, padding, dilation, ceil, spatial)
        if set(found) != want or int(np.prod(shape)) > max_windows:
            continue
        if not empty_ok and not all(w.positions for w in iter_windows(geometry, spatial)):
            continue
        return kernel, stride, padding, dilation, ceil, tuple(spatial)
    raise RuntimeError(f"no {dims}-D geometry with feature {feature!r} found")  # pragma: no cover


def _adaptive(rng, dims: int, feature: str, max_windows: int):
    """Input spatial size and output_size whose derived feature is ``feature``."""
    from .cases import adaptive_feature

    top = 5 if dims == 3 else 8
    for _ in range(400):
        spatial = tuple(int(rng.integers(1, top + 1)) for _ in range(dims))
        out = []
        for length in spatial:
            if feature == "upsampling":
                n = int(rng.integers(1, length + 4))
            elif feature == "overlapping":
                n = int(rng.integers(1, length + 1))
            else:
                n = int(rng.choice([d for d in range(1, length + 1) if length % d == 0]))
            out.append(n)
        out = tuple(out)
        if all(n == 1 for n in out) or adaptive_feature(spatial, out) != feature:
            continue
        if int(np.prod(out)) <= max_windows and int(np.prod(spatial)) <= 4 * max_windows:
            return spatial, out
    raise RuntimeError(f"no adaptive geometry {feature!r} found")  # pragma: no cover


def _global(rng, dims: int, max_elements: int):
    top = {1: 12, 2: 8, 3: 4}[dims]
    while True:
        spatial = tuple(int(rng.integers(1, top + 1)) for _ in range(dims))
        if int(np.prod(spatial)) <= max_elements:
            return spatial


# ----------------------------------------------------------------------------- generation


def generate_cases(op: str, dims: int, accepts, *, count: int, seed: int = 0,
                   dtypes=DTYPES, kinds=VALUE_KINDS, layouts=LAYOUTS, max_kernel: int = 4,
                   max_windows: int = 60, params=None, pooling: str = "windowed",
                   param_range=None, input_min: float | None = None,
                   plan: Plan | None = None) -> list[Case]:
    """``count`` valid cases for ``op`` in ``dims`` dimensions (deterministic in ``seed``).

    The first rows of the covering array (``coverage.plan_rows``) hold every required pair of
    factor levels, so any ``count`` at least the array's size (about 66 for a windowed target
    accepting every argument) covers them all; ``tally`` on the result says so.
    ``iter_cases`` gives the same cases one at a time (a long run never holds them all).
    """
    return list(iter_cases(op, dims, accepts, count=count, seed=seed, dtypes=dtypes,
                           kinds=kinds, layouts=layouts, max_kernel=max_kernel,
                           max_windows=max_windows, params=params, pooling=pooling,
                           param_range=param_range, input_min=input_min, plan=plan))


def iter_cases(op: str, dims: int, accepts, *, count: int, seed: int = 0,
               dtypes=DTYPES, kinds=VALUE_KINDS, layouts=LAYOUTS, max_kernel: int = 4,
               max_windows: int = 60, params=None, pooling: str = "windowed",
               param_range=None, input_min: float | None = None, plan: Plan | None = None):
    """The cases of ``generate_cases``, generated as they are taken. The arguments are
    checked (``ValueError``) when this is called, not when the first case is taken."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    accepts = frozenset(accepts)
    plan = plan or make_plan(op, pooling, accepts, dtypes=dtypes, kinds=kinds, layouts=layouts,
                             params=params, param_range=param_range, input_min=input_min)
    rows = iter_plan_rows(plan.factors, seed)
    first = next(rows, None) if count else None
    if count and first is None:
        raise ValueError("no case can be generated: every combination of the selected value "
                         "kinds and parameters is outside the operator's domain "
                         f"({'; '.join(plan.factors.excluded.values())})")
    return _cases_from_rows(op, dims, accepts, itertools.islice(
        itertools.chain([first], rows), int(count)), seed=seed, max_kernel=max_kernel,
        max_windows=max_windows, pooling=pooling, input_min=input_min, plan=plan)


def _cases_from_rows(op, dims, accepts, rows, *, seed, max_kernel, max_windows, pooling,
                     input_min, plan):
    conv = CONVENTIONS[op]
    rng = np.random.default_rng([seed, dims, 7])
    signed = op in ("avg", "max", "min")
    for i, row in enumerate(rows):
        dtype, kind = row["dtype"], row["kind"]
        pools = plan.zero_pools if kind == "zeros" and plan.zero_pools else plan.pools
        param = _draw_param(rng, pools[row["param"]], dtype)
        geometry = dict(kernel_size=(), stride=None, padding=(), dilation=(), ceil_mode=False)
        output_size = None
        if pooling == "windowed":
            kernel, stride, padding, dilation, ceil, spatial = _windowed(
                rng, dims, accepts, row["feature"], max_kernel, max_windows,
                empty_ok=op in ("max", "min"))
            geometry = dict(kernel_size=kernel, stride=stride, padding=padding,
                            dilation=dilation, ceil_mode=ceil)
        elif pooling == "adaptive":
            spatial, output_size = _adaptive(rng, dims, row["feature"], max_windows)
        else:
            spatial = _global(rng, dims, max_windows)
        batched = row["batched"] == "batched"
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        shape = ((n, c) if batched else (c,)) + spatial
        channel_params = None
        if plan.per_channel and param is not None:  # (drawn after c: other runs keep theirs)
            channel_params = (param, *(_draw_param(rng, pools[row["param"]], dtype)
                                       for _ in range(c - 1)))
        lowest = param if channel_params is None else min(channel_params)
        allow_zero = not (op in ("lp", "powermean") and lowest is not None and lowest <= 0
                          and input_min is None)
        x = draw_values(rng, kind, shape, dtype, signed, allow_zero, dims)
        include = conv.default_count_include_pad
        if "count_include_pad" in accepts and pooling == "windowed":
            include = bool(rng.random() < 0.5)
        passed = []
        if pooling == "windowed":  # every optional argument the target accepts, explicitly
            passed = [a for a in OPTIONAL_ARGS if a in accepts]
            if geometry["stride"] is None and "stride" in passed and rng.random() < 0.5:
                passed.remove("stride")  # exercise the stride=None default too
        case = Case(op, dims, dtype, x, param, **geometry, count_include_pad=include,
                    layout=row["layout"], kind=kind, passed_args=tuple(passed),
                    id=f"{op}{dims}d-{i:04d}", pooling=pooling, output_size=output_size,
                    input_min=None if input_min is None else _in_dtype(input_min, dtype),
                    channel_params=channel_params)
        case.grad_output = draw_grad_output(rng, case.expected_shape())
        yield case


def _draw_param(rng, pool: tuple[float, ...], dtype: str) -> float | None:
    if len(pool) == 1 and math.isnan(pool[0]):
        return None
    # the first value of each pool is the typical one (GeM's p = 3, alpha = 2, p = 2)
    p = float(pool[0] if rng.random() < 0.4 else rng.choice(pool))
    return float(representable(np.array([p]), dtype)[0])


def _in_dtype(value: float, dtype: str) -> float:
    return float(representable(np.array([value]), dtype)[0])


def error_cases(op: str, dims: int, accepts, *, seed: int = 0, pooling: str = "windowed",
                input_min: float | None = None, params=None,
                param_range=None) -> list[Case]:
    """Inputs a conforming target must reject (raise), or flag with NaN/Inf where noted.

    With a declared ``input_min`` the target clamps its input, so a negative input is inside
    its domain and is not an error input; a non-integer exponent is taken from ``params`` or
    the declared range (no negative-input case when every allowed value is an integer).
    """
    conv = CONVENTIONS[op]
    accepts = frozenset(accepts)
    rng = np.random.default_rng(seed + 7919)
    base_spatial = (5,) * dims
    k = (3,) * dims if pooling == "windowed" else ()
    passed = tuple(a for a in OPTIONAL_ARGS if a in accepts) if pooling == "windowed" else ()
    low, high = check_param_range(param_range) or (-math.inf, math.inf)
    allowed = [v for v in (params or ()) if low <= v <= high] if params else None
    default_param = None
    if conv.has_param:
        default_param = next((v for v in (2.0, 3.0, 1.5, 4.0)
                              if low <= v <= high and (allowed is None or v in allowed)),
                             (allowed or [min(max(2.0, low), high)])[0])
    out: list[Case] = []

    def make(label, x, param=None, nan_signals=False, **geometry):
        values = dict(kernel_size=k, stride=None, padding=(0,) * dims,
                      dilation=(1,) * dims, ceil_mode=False)
        values.update(geometry)
        extra = tuple(name for name in ("padding", "stride") if name in geometry)
        out.append(Case(
            op, dims, "float64", x, param if conv.has_param else None, values["kernel_size"],
            values["stride"], values["padding"], values["dilation"], values["ceil_mode"],
            conv.default_count_include_pad, None, "contiguous", "error",
            tuple(dict.fromkeys(passed + extra)) if pooling == "windowed" else (),
            expect_error=label, nan_signals=nan_signals, id=f"{op}{dims}d-error-{len(out):02d}",
            pooling=pooling, output_size=(2,) * dims if pooling == "adaptive" else None,
            input_min=input_min))

    good = rng.uniform(0.5, 2.0, (1, 2) + base_spatial)
    if conv.has_param and input_min is None:
        name = "alpha" if op == "ppool" else "p"
        wanted = (0.5, 2.5, 1.5, 3.5) if op == "ppool" else (2.5, 1.5, 0.5, 3.5)
        choice = next((v for v in (allowed or wanted) if not float(v).is_integer()
                       and low <= v <= high), None)
        if choice is not None:
            neg = good.copy()
            neg.flat[1] = -1.5
            make(f"negative input with non-integer {name} = {choice:g}", neg, param=choice,
                 nan_signals=True)
    nan = good.copy()
    nan.flat[1] = math.nan
    make("NaN input", nan, param=default_param, nan_signals=True)
    make(f"wrong rank ({dims + 3}-D input)", good.reshape((1,) + good.shape), param=default_param)
    if dims > 1:
        make(f"wrong rank ({dims}-D input)", good[0, 0], param=default_param)
    if pooling == "windowed":
        make("kernel larger than the input", good, param=default_param, kernel_size=(7,) * dims)
        if "padding" in accepts:
            make("padding > kernel_size / 2", good, param=default_param, padding=(2,) * dims)
            make("negative padding", good, param=default_param, padding=(-1,) * dims)
        if "stride" in accepts:
            make("stride 0", good, param=default_param, stride=(0,) * dims)
    if op == "lp" and (allowed is None or 0.0 in allowed) and low <= 0 <= high:
        make("p = 0", good, param=0.0, nan_signals=True)
    return out
