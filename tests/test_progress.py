"""Progress of long work: silent when short, a line now and then when long (issue 17)."""

from __future__ import annotations

import io
import time

from ppverify._progress import Progress


def test_short_work_prints_nothing():
    out = io.StringIO()
    p = Progress("ppverify check", "cases", stream=out, after=60.0, terminal=False)
    for i in range(100):
        p(i + 1, 100)
    p.close()
    assert out.getvalue() == ""


def test_long_work_prints_lines_with_what_is_left():
    out = io.StringIO()
    p = Progress("ppverify vectors", "cases", stream=out, after=0.0, every=0.0, terminal=False)
    p(1, 4)
    time.sleep(0.01)
    p(2, 4)
    p(3, None)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ppverify vectors: 1 of 4 cases, ") and "left" in lines[0]
    assert lines[1].startswith("ppverify vectors: 2 of 4 cases, ")
    assert lines[2].startswith("ppverify vectors: 3 cases, ") and "left" not in lines[2]
