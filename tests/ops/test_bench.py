"""ppverify bench: runs (tiny shape) and reports ratios for both configurations."""

from __future__ import annotations

import json

from ppverify.cli import main
from ppverify.ops import bench


def test_measure_returns_ratios():
    records = bench.measure((1, 2, 16, 16), 2.0, repeats=1)
    assert [r["config"] for r in records] == bench.CONFIGS
    for r in records:
        for base in ("max_pool2d", "avg_pool2d"):
            ratios = r[f"ratios_vs_{base}"]
            assert set(ratios) == {"forward", "forward_backward", "peak_memory"}
            assert all(v > 0 for v in ratios.values())


def test_cli_json(capsys):
    assert main(["bench", "--shape", "1", "2", "8", "8", "--repeats", "1", "--json"]) == 0
    out = capsys.readouterr().out
    records = json.loads(out[out.index("["):])
    assert len(records) == 2 and records[0]["shape"] == [1, 2, 8, 8]
