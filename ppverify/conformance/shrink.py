"""Shrinking a failing case to a minimal one that still fails in the same group.

Greedy, in the spirit of hypothesis: repeatedly try simpler variants and keep the first for
which ``still_fails`` holds, until none does (or the attempt or time budget is spent).
``check`` passes a predicate that demands the same *signature* (``diagnosis``: category,
quantity, symptom, dtype, value kind, parameter class, pooling feature) and values that still
show their kind (``values.kind_holds``), so the minimal case is a reproducer of the group's
cause, not of another bug. Variants, in order: one batch entry and one channel (the plane of
the worst error first; with one exponent per channel, also one channel left out); half, or one
or two elements less at either end, of a spatial axis;
default stride, no padding, no dilation, no ceil_mode, a smaller kernel (windowed) or a
smaller output size (adaptive); contiguous memory; an all-ones upstream gradient; then, element
by element, simpler values (1, 2, a small integer, 3 significant bits). The dtype, the
operator and its parameter are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from .cases import Case, with_values
from .values import representable


def _planes(case: Case, index) -> Iterator[Case]:
    x = case.input
    if x.ndim == case.dims + 2:
        order = list(range(x.shape[0]))
        if index is not None and len(index) == x.ndim:
            order.sort(key=lambda b: b != index[0])
        if x.shape[0] > 1:
            for b in order:
                yield with_values(case, x[b:b + 1])
        corder = list(range(x.shape[1]))
        if index is not None and len(index) == x.ndim:
            corder.sort(key=lambda c: c != index[1])
        if x.shape[1] > 1:
            for c in corder:
                yield with_values(case, x[:, c:c + 1], **_channel(case, c))
        yield from _fewer_channels(case, 1)
    elif x.shape[0] > 1:
        for c in range(x.shape[0]):
            yield with_values(case, x[c:c + 1], **_channel(case, c))
        yield from _fewer_channels(case, 0)


def _fewer_channels(case: Case, axis: int) -> Iterator[Case]:
    """Per-channel cases of three or more channels: each with one channel left out (a defect
    between channels of different exponents needs two of them, not one)."""
    n = case.input.shape[axis]
    if not case.per_channel or n < 3:
        return
    for c in range(n):
        keep = [i for i in range(n) if i != c]
        yield with_values(case, np.take(case.input, keep, axis=axis),
                          **_channels(case, keep))


def _channel(case: Case, c: int) -> dict:
    """The parameter fields of channel ``c`` alone (per-channel cases), else nothing."""
    return _channels(case, [c]) if case.per_channel else {}


def _channels(case: Case, keep: list[int]) -> dict:
    """The parameter fields of a per-channel case reduced to the channels ``keep``."""
    raw = case.channel_params_raw
    params = tuple(case.channel_params[i] for i in keep)
    return dict(param=params[0], channel_params=params,
                param_raw=None if raw is None else raw[keep[0]],
                channel_params_raw=None if raw is None else tuple(raw[i] for i in keep))


def _crops(case: Case) -> Iterator[Case]:
    x = case.input
    for axis in range(x.ndim - case.dims, x.ndim):
        n = x.shape[axis]
        if n > 3:  # halve: keep the first half, then the second
            yield with_values(case, np.take(x, range((n + 1) // 2), axis=axis))
            yield with_values(case, np.take(x, range(n // 2, n), axis=axis))
        for k in (1, 2):  # one or two elements less at either end (strides change parity)
            if n > k:
                yield with_values(case, np.take(x, range(n - k), axis=axis))
                yield with_values(case, np.take(x, range(k, n), axis=axis))


def _geometry(case: Case) -> Iterator[Case]:
    d = case.dims
    if case.pooling == "adaptive":
        for axis in range(d):
            n = case.output_size[axis]
            if n is not None and n > 1:
                for smaller in dict.fromkeys((1, n - 1)):
                    size = list(case.output_size)
                    size[axis] = smaller
                    yield with_values(case, case.input, output_size=tuple(size))
    if not case.windowed:
        yield from _layout_and_gradient(case)
        return
    if case.stride is not None and tuple(case.stride) != tuple(case.kernel_size):
        yield with_values(case, case.input, stride=None)
        yield with_values(case, case.input, stride=(1,) * d)
    if any(case.padding):
        yield with_values(case, case.input, padding=(0,) * d)
    if any(v != 1 for v in case.dilation):
        yield with_values(case, case.input, dilation=(1,) * d)
    if case.ceil_mode:
        yield with_values(case, case.input, ceil_mode=False)
    for axis in range(d):
        if case.kernel_size[axis] > 1:
            k = list(case.kernel_size)
            k[axis] -= 1
            stride = case.stride
            if stride is not None:
                stride = tuple(min(s, kk) if i == axis else s
                               for i, (s, kk) in enumerate(zip(stride, k)))
            yield with_values(case, case.input, kernel_size=tuple(k), stride=stride)
    if len(set(case.kernel_size)) > 1:
        k = min(case.kernel_size)
        yield with_values(case, case.input, kernel_size=(k,) * d)
    yield from _layout_and_gradient(case)


def _layout_and_gradient(case: Case) -> Iterator[Case]:
    if case.layout != "contiguous":
        yield replace(case, layout="contiguous", notes=[])
    if case.grad_output is not None and not np.all(case.grad_output == 1):
        yield replace(case, grad_output=np.ones_like(case.grad_output), notes=[])


def _simple(v: float) -> bool:
    return v == 0 or (abs(v) <= 8 and float(v).is_integer())


def _values(case: Case) -> Iterator[Case]:
    flat = case.input.ravel()
    if flat.size > 96:
        return
    for i, v in enumerate(flat):
        if _simple(v):
            continue
        sign = -1.0 if v < 0 else 1.0
        m, e = np.frexp(abs(v))
        options = [sign * 1.0, sign * 2.0]
        if abs(np.round(v)) >= 1:
            options.append(float(np.round(v)))
        if e < 1000:
            options.append(float(np.ldexp(np.round(m * 8) / 8, e)))
        for option in dict.fromkeys(options):
            if option == v:
                continue
            new = flat.copy()
            new[i] = option
            new = representable(new, case.dtype)
            if new[i] != v:
                yield with_values(case, new.reshape(case.input.shape))


def shrink(case: Case, still_fails: Callable[[Case], bool], *, index=None,
           max_attempts: int = 200, time_budget: float = 5.0) -> Case:
    """The smallest variant of ``case`` found for which ``still_fails`` holds."""
    deadline = time.monotonic() + time_budget
    attempts = 0
    current = case
    stages = [lambda c: _planes(c, index), _crops, _geometry, _values]
    progress = True
    while progress:
        progress = False
        for stage in stages:
            for candidate in stage(current):
                if attempts >= max_attempts or time.monotonic() > deadline:
                    return current
                attempts += 1
                try:
                    candidate.expected_shape()
                except ValueError:
                    continue
                if still_fails(candidate):
                    current = candidate
                    progress = True
                    break
            if progress:
                break
    return current
