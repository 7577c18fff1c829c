"""What the shortcut tests share: whether a call was served without ``pool``'s full path."""

from __future__ import annotations

from ppverify.ops import _dispatch


def served_by_shortcut(monkeypatch, call) -> bool:
    """Whether ``call()`` (made twice before, so that its entry is stored) is served without
    the full path (``_dispatch._pool`` not called)."""
    call()
    call()
    full = []
    original = _dispatch._pool
    monkeypatch.setattr(_dispatch, "_pool", lambda *a: full.append(1) or original(*a))
    call()
    monkeypatch.setattr(_dispatch, "_pool", original)
    return not full
