"""One record per operator: its name, parameter, padding meaning and window functions.

Adding an operator means adding a window function in ``operators.py`` and one ``OperatorInfo``
here; the array-level reference (``reference.py``), the CLI and the conformance layer read these
records instead of branching on operator names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from . import operators as ops
from .operators import WindowValues


@dataclass(frozen=True)
class OperatorInfo:
    """How the oracle evaluates one operator.

    ``window(xs, param, n_padding, count_include_pad, want_param_grad)`` evaluates one window;
    ``exact(xs, param, n_padding, count_include_pad)`` returns exact rational results (value and
    input derivatives) when the parameters make them rational, else ``None``.
    """

    name: str
    title: str
    formula: str
    param_name: str | None
    param_domain: str
    padding: str
    window: Callable[[Sequence[float], float | None, int, bool, bool], WindowValues]
    exact: Callable[[Sequence[float], float | None, int, bool], WindowValues | None]
    torch_functional: str | None = None

    @property
    def has_param(self) -> bool:
        return self.param_name is not None


def _with_padding(xs: Sequence[float], n_padding: int, include: bool) -> list[float]:
    return list(xs) + [0.0] * n_padding if include else list(xs)


def _ppool(xs, alpha, n_padding, include, want):
    values = _with_padding(xs, n_padding, include)
    result = ops.ppool_window(values, alpha, want)
    result.grad_inputs = result.grad_inputs[: len(xs)]
    if len(values) > len(xs) and not any(v == 0 for v in xs):
        # an infinite derivative at a padded zero is nobody's derivative: no note
        result.notes.discard(ops.INFINITE_DERIVATIVE)
    return result


def _ppool_exact(xs, alpha, n_padding, include):
    result = ops.ppool_exact(_with_padding(xs, n_padding, include), alpha)
    if result is not None:
        result.grad_inputs = result.grad_inputs[: len(xs)]
    return result


def _avg(xs, _param, n_padding, include, _want):
    return ops.avg_window(xs, n_padding if include else 0)


def _max(xs, _param, _n_padding, _include, _want):
    return ops.max_window(xs)


def _min(xs, _param, _n_padding, _include, _want):
    return ops.min_window(xs)


def _lp(xs, p, _n_padding, _include, want):
    return ops.lp_window(xs, p, want)


def _powermean(xs, p, n_padding, include, want):
    return ops.powermean_window(xs, p, n_padding if include else 0, want)


def _exact_always(window):
    def exact(xs, param, n_padding, include):
        return window(xs, param, n_padding, include, False)

    return exact


def _lp_exact(xs, p, _n_padding, _include):
    return ops.power_sum_exact(xs, p, None)


def _powermean_exact(xs, p, n_padding, include):
    values = list(xs) + [0.0] * (n_padding if include else 0)
    return ops.power_sum_exact(values, p, len(values), len(xs))


OPERATORS: dict[str, OperatorInfo] = {
    info.name: info
    for info in (
        OperatorInfo(
            "ppool",
            "P-pooling (Lehmer / counter-harmonic mean)",
            "y = sum x^(alpha+1) / sum x^alpha",
            "alpha",
            "any real alpha; x >= 0 unless alpha is an integer",
            "padded positions are excluded; with count_include_pad they are zeros",
            _ppool,
            _ppool_exact,
            None,
        ),
        OperatorInfo(
            "avg",
            "average pooling",
            "y = sum x / D",
            None,
            "any real x",
            "excluded from D by default; counted in D with count_include_pad (torch's default)",
            _avg,
            _exact_always(_avg),
            "avg_pool",
        ),
        OperatorInfo(
            "max",
            "max pooling",
            "y = max x",
            None,
            "any real x",
            "padded positions are -inf (never chosen)",
            _max,
            _exact_always(_max),
            "max_pool",
        ),
        OperatorInfo(
            "min",
            "min pooling",
            "y = min x",
            None,
            "any real x",
            "padded positions are +inf (never chosen)",
            _min,
            _exact_always(_min),
            None,
        ),
        OperatorInfo(
            "lp",
            "Lp-norm pooling (supplement Eq. 1)",
            "y = (sum x^p)^(1/p)",
            "p",
            "p != 0; x >= 0 unless p is an integer; x > 0 when p < 0",
            "padded positions are excluded (zeros would add nothing for p > 0)",
            _lp,
            _lp_exact,
            "lp_pool",
        ),
        OperatorInfo(
            "powermean",
            "power mean / generalized-mean (GeM) pooling",
            "y = ((1/D) sum x^p)^(1/p); p = 0 is the geometric mean",
            "p",
            "any real p; x >= 0 unless p is an integer; x > 0 when p < 0",
            "excluded from D by default; zeros counted in D with count_include_pad",
            _powermean,
            _powermean_exact,
            None,
        ),
    )
}


def _tie_variant(name: str, ties: str) -> OperatorInfo:
    """``max`` or ``min`` with another tie convention (``operators.TIE_CONVENTIONS``), named
    ``"max:split"``: what ``reference(..., ties=...)`` evaluates. Not listed in ``OPERATORS``."""
    window_fn = ops.max_window if name == "max" else ops.min_window

    def window(xs, _param, _n_padding, _include, _want):
        return window_fn(xs, ties)

    return replace(OPERATORS[name], name=f"{name}:{ties}", window=window,
                   exact=_exact_always(window))


TIE_VARIANTS: dict[str, OperatorInfo] = {
    f"{name}:{ties}": _tie_variant(name, ties)
    for name in ("max", "min") for ties in ops.TIE_CONVENTIONS if ties != "first"}


def get_operator(name: str) -> OperatorInfo:
    """Look up an operator record by name, with an error listing the known names (the tie
    variants ``TIE_VARIANTS`` are found too)."""
    try:
        return OPERATORS[name]
    except KeyError:
        if name in TIE_VARIANTS:
            return TIE_VARIANTS[name]
        raise ValueError(f"op must be one of {sorted(OPERATORS)}, got {name!r}") from None
