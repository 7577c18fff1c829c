"""The messages between the checker and the worker process that runs a target.

The checker (the *parent*) never imports or calls the target; a worker process does (see
``isolation``). What crosses between them is kept to plain data that the parent validates on
arrival, so that nothing the target does in its process can reach the oracle's values or the
verdict in the parent:

* parent -> worker: ``pickle`` frames (the worker trusts the parent: cases, the target's source).
* worker -> parent: a JSON header and raw little-endian float64 arrays, never pickle (unpickling
  runs code chosen by whoever wrote the bytes). Every field is checked for its type and range,
  every array for its length against the declared shape; anything else is a ``ProtocolError``,
  which the parent reports as a failure of the target.

A frame is an 8-byte big-endian length and that many bytes. The parent reads and writes with a
deadline (``select``), so a worker that stops half-way through a frame costs a time limit, not a
hang; a frame longer than the caller's limit is refused before it is read.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import select
import time

import numpy as np

_LENGTH = 8
MAX_TEXT = 4000  # longest error message or note kept from the worker


class ProtocolError(Exception):
    """The worker sent something that is not a well-formed message (named in the text)."""


class Deadline(Exception):
    """The worker did not answer in time."""


# ------------------------------------------------------------------------------ framing


def write_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """Write one frame; with a ``deadline`` (``time.monotonic()``) never block past it
    (``Deadline``). ``BrokenPipeError`` when the reader has gone."""
    data = memoryview(len(payload).to_bytes(_LENGTH, "big") + payload)
    while data:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise Deadline("writing to the worker")
        n = os.write(fd, data[: 1 << 16] if deadline is not None else data)
        data = data[n:]


def read_frame(fd: int, max_bytes: int, deadline: float | None = None,
               drain=None) -> bytes:
    """Read one frame of at most ``max_bytes`` (``ProtocolError`` beyond, before reading it).

    ``EOFError`` when the writer closed the pipe before a whole frame; ``Deadline`` past the
    deadline. ``drain``: optional ``(fd, callback)`` read whenever it has data while waiting
    (the worker's stdout/stderr, forwarded as it comes).
    """
    head = _read_exact(fd, _LENGTH, deadline, drain)
    n = int.from_bytes(head, "big")
    if n > max_bytes:
        raise ProtocolError(f"a message of {n} bytes, more than the {max_bytes} allowed")
    return _read_exact(fd, n, deadline, drain)


def _read_exact(fd: int, n: int, deadline: float | None, drain) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < n:
        watch = [fd] + ([drain[0]] if drain is not None and drain[0] is not None else [])
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Deadline("waiting for the worker")
        ready = select.select(watch, [], [], left)[0]
        if not ready:
            raise Deadline("waiting for the worker")
        if drain is not None and drain[0] in ready:
            try:
                chunk = os.read(drain[0], 1 << 16)
            except OSError:
                chunk = b""
            drain[1](chunk)
            if fd not in ready:
                continue
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed its end")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_object(fd: int, obj, deadline: float | None = None) -> None:
    """parent -> worker (trusted direction): a pickled object."""
    write_frame(fd, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), deadline)


def receive_object(fd: int):
    """worker side: the parent's next object (``EOFError`` when the parent has gone)."""
    return pickle.loads(read_frame(fd, 1 << 40))


# ------------------------------------------------------------------ worker -> parent data


def pack(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """A JSON header and float64 arrays (their lengths go into the header's ``arrays``)."""
    arrays = arrays or {}
    header = dict(header)
    header["arrays"] = {k: int(np.asarray(v).size) for k, v in arrays.items()}
    text = json.dumps(header, allow_nan=False, default=_json_default).encode()
    body = b"".join(np.ascontiguousarray(v, dtype="<f8").tobytes() for v in arrays.values())
    return len(text).to_bytes(4, "big") + text + body


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not plain data")


def unpack(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The inverse of ``pack``, validating the layout (``ProtocolError``)."""
    if len(payload) < 4:
        raise ProtocolError("a message shorter than its header")
    n = int.from_bytes(payload[:4], "big")
    if n > len(payload) - 4:
        raise ProtocolError("a header longer than the message")
    try:
        header = json.loads(payload[4:4 + n], parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"a header that is not JSON ({type(err).__name__})") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not a JSON object")
    sizes = header.pop("arrays", {})
    if not isinstance(sizes, dict):
        raise ProtocolError("'arrays' is not an object")
    arrays: dict[str, np.ndarray] = {}
    offset = 4 + n
    for key, size in sizes.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError(f"array {key!r} has a bad length {size!r}")
        end = offset + 8 * size
        if end > len(payload):
            raise ProtocolError(f"array {key!r} is cut short")
        arrays[key] = np.frombuffer(payload, dtype="<f8", count=size, offset=offset) \
            .astype(np.float64)
        offset = end
    if offset != len(payload):
        raise ProtocolError("bytes left over after the arrays")
    return header, arrays


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# ------------------------------------------------------------------ field validation


def text(header: dict, key: str, *, optional: bool = True, limit: int = MAX_TEXT) -> str | None:
    value = header.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{key!r} must be a string, got {type(value).__name__}")
    return value[:limit]


def flag(header: dict, key: str, default: bool = False) -> bool:
    value = header.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{key!r} must be true or false")
    return value


def choice(header: dict, key: str, allowed, default=None):
    value = header.get(key, default)
    if value not in allowed:
        raise ProtocolError(f"{key!r} must be one of {', '.join(map(str, allowed))}, got "
                            f"{str(value)[:40]!r}")
    return value


def number(header: dict, key: str, *, optional: bool = True) -> float | None:
    """A float sent as a JSON number or as "inf", "-inf", "nan"."""
    value = header.get(key)
    if value is None and optional:
        return None
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"{key!r} must be a number")
    return float(value)


def encode_number(value: float | None):
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def shape(header: dict, key: str, *, optional: bool = True, max_rank: int = 16):
    value = header.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, list) or len(value) > max_rank or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 40 for v in value):
        raise ProtocolError(f"{key!r} must be a list of at most {max_rank} non-negative "
                            f"integers")
    return tuple(value)


def strings(header: dict, key: str, *, limit: int = 64) -> list[str]:
    value = header.get(key, [])
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(v, str) for v in value):
        raise ProtocolError(f"{key!r} must be a list of strings")
    return [v[:MAX_TEXT] for v in value]


# ------------------------------------------------------------------ outcomes


PHASES = ("setup", "forward", "backward", "constructing the module", "setting the parameter",
          "crash")


def outcome_message(outcome) -> bytes:
    """A ``runner.Outcome`` as a worker -> parent message."""
    header = {
        "kind": "outcome",
        "output_shape": None if outcome.output_shape is None else list(outcome.output_shape),
        "output_dtype": outcome.output_dtype,
        "grad_param": None if isinstance(outcome.grad_param, np.ndarray)
        else encode_number(outcome.grad_param),
        "error": outcome.error, "error_phase": outcome.error_phase,
        "input_grad_missing": bool(outcome.input_grad_missing),
        "param_mode": outcome.param_mode,
        "param_grad_missing": bool(outcome.param_grad_missing),
        "prepared": bool(outcome.prepared),
        "case_param": encode_number(outcome.case_param),
        "case_param_raw": encode_number(outcome.case_param_raw),
        "case_channel_params": _encode_numbers(outcome.case_channel_params),
        "case_channel_params_raw": _encode_numbers(outcome.case_channel_params_raw),
        "case_notes": list(outcome.case_notes),
    }
    arrays = {}
    if outcome.output is not None:
        arrays["output"] = np.asarray(outcome.output, dtype=np.float64).ravel()
    if outcome.grad_input is not None:
        arrays["grad_input"] = np.asarray(outcome.grad_input, dtype=np.float64).ravel()
    if isinstance(outcome.grad_param, np.ndarray):  # one per channel
        arrays["grad_param"] = np.asarray(outcome.grad_param, dtype=np.float64).ravel()
    return pack(header, arrays)


def _encode_numbers(values) -> list | None:
    return None if values is None else [encode_number(v) for v in values]


def numbers(header: dict, key: str, *, limit: int = 1 << 16) -> tuple[float, ...] | None:
    """An optional list of numbers (``encode_number``'s forms)."""
    value = header.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > limit:
        raise ProtocolError(f"{key!r} must be a list of at most {limit} numbers")
    return tuple(number({key: v}, key, optional=False) for v in value)


def outcome_from_message(payload: bytes, case):
    """The ``runner.Outcome`` in a worker's message about ``case``, validated field by field
    (``ProtocolError`` naming the first bad one)."""
    from .runner import Outcome

    header, arrays = unpack(payload)
    if header.get("kind") != "outcome":
        raise ProtocolError(f"expected an outcome, got {str(header.get('kind'))[:40]!r}")
    out = Outcome()
    out.error = text(header, "error")
    out.error_phase = choice(header, "error_phase", PHASES + (None,))
    if out.error is not None and out.error_phase is None:
        out.error_phase = "forward"
    out.output_dtype = text(header, "output_dtype", limit=40)
    out.output_shape = shape(header, "output_shape")
    output = arrays.get("output")
    if (output is None) != (out.output_shape is None):
        raise ProtocolError("'output' and 'output_shape' must come together")
    if output is not None:
        if output.size != math.prod(out.output_shape):
            raise ProtocolError(f"'output' has {output.size} values for the shape "
                                f"{out.output_shape}")
        out.output = output.reshape(out.output_shape)
    grad = arrays.get("grad_input")
    if grad is not None:
        if grad.size != case.input.size:
            raise ProtocolError(f"'grad_input' has {grad.size} values for an input of "
                                f"{case.input.size}")
        out.grad_input = grad.reshape(case.input.shape)
    unknown = set(arrays) - {"output", "grad_input", "grad_param"}
    if unknown:
        raise ProtocolError(f"unexpected arrays {sorted(unknown)}")
    out.grad_param = number(header, "grad_param")
    per_channel = arrays.get("grad_param")
    if per_channel is not None:
        if out.grad_param is not None or not case.per_channel:
            raise ProtocolError("'grad_param' per channel for a case with one parameter")
        out.grad_param = per_channel
    out.input_grad_missing = flag(header, "input_grad_missing")
    out.param_mode = choice(header, "param_mode", ("tensor", "float", "none"), "none")
    out.param_grad_missing = flag(header, "param_grad_missing")
    out.prepared = flag(header, "prepared")
    out.case_param = number(header, "case_param")
    out.case_param_raw = number(header, "case_param_raw")
    out.case_channel_params = numbers(header, "case_channel_params")
    out.case_channel_params_raw = numbers(header, "case_channel_params_raw")
    out.case_notes = strings(header, "case_notes")
    return out
