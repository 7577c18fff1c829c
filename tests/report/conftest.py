"""Shared fixtures: one quick render of the whole report per test session (per xdist worker)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """The report at reduced resolution, without running the claims (fast)."""
    from ppverify.report.driver import build_report

    out = tmp_path_factory.mktemp("quick_report")
    steps = []
    result = build_report(out, quick=True, claims=False,
                          progress=lambda d, k, n: steps.append((d, k, n)))
    return result, steps
