"""Floats in JSON, exactly, and atomic file writes.

A finite float is written as a JSON number with Python's shortest round-trip ``repr`` (so
reading it as an IEEE double gives the same value, which is exactly representable in the case's
dtype); ``inf``, ``-inf`` and ``nan`` are written as the strings ``"inf"``, ``"-inf"`` and
``"nan"``. Arrays are flat lists in row-major (C) order; their shape is stored beside them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .._files import write_atomic as atomic_write_bytes

_SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "+inf": math.inf}


def encode_float(v: float) -> float | str:
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def decode_float(v) -> float:
    if isinstance(v, str):
        try:
            return _SPECIAL[v.strip().lower()]
        except KeyError:
            return float.fromhex(v) if "0x" in v.lower() else float(v)
    return float(v)


def encode_array(a) -> list:
    return [encode_float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def decode_array(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(np.float64).ravel()
    if not isinstance(values, list):
        values = [values]
    return np.array([decode_float(v) for v in values], dtype=np.float64)


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode())


def atomic_write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez_compressed`` to a temporary file, then ``os.replace``."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
