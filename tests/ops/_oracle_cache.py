"""``ppverify.oracle.reference``, remembered within a test process.

The oracle is a pure function of its arguments, and many tests here run one case through
several paths of the op (1 and 2 threads, the saving and the recomputing backward, the C++
kernel and the pure-torch path, contiguous and channels-last memory): each path is still run
and compared, but the oracle is asked once per distinct case (about 20% of the oracle's time in
``tests/ops``, measured 2026-12-07 by counting repeated calls). Keys are exact: every array
argument's dtype, shape and bytes, every scalar's ``repr``; an argument of any other kind
(an object array, a tensor) is not remembered, and neither is an error (it is raised again).
Each caller gets its own copy of the arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, OrderedDict

import numpy as np

from ppverify import oracle

REMEMBERED = 48  # results kept (least recently used dropped first)
_results: OrderedDict[tuple, oracle.OracleResult] = OrderedDict()


class _Unkeyable(Exception):
    pass


def _part(value) -> tuple:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise _Unkeyable
        data = np.ascontiguousarray(value)
        return ("array", data.dtype.str, data.shape, hashlib.sha256(data.tobytes()).digest())
    if isinstance(value, np.generic):
        return _part(np.asarray(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, repr(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_part(v) for v in value))
    raise _Unkeyable


def _copy(result: oracle.OracleResult) -> oracle.OracleResult:
    def copied(a):
        return None if a is None else np.array(a, copy=True)

    return dataclasses.replace(result, output=copied(result.output),
                               grad_input=copied(result.grad_input),
                               grad_param=copied(result.grad_param),
                               notes=Counter(result.notes))


def reference(*args, **kwargs) -> oracle.OracleResult:
    """``ppverify.oracle.reference(*args, **kwargs)``, from memory when this process has
    asked it the same before."""
    try:
        key = (_part(args), _part(sorted(kwargs.items())))
    except _Unkeyable:
        return oracle.reference(*args, **kwargs)
    result = _results.get(key)
    if result is None:
        result = oracle.reference(*args, **kwargs)
        _results[key] = result
        while len(_results) > REMEMBERED:
            _results.popitem(last=False)
    else:
        _results.move_to_end(key)
    return _copy(result)
