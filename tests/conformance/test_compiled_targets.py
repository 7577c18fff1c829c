"""A torch.compile'd target is checked compiled in every case: the worker raises dynamo's
recompile limits (past 8 recompilations dynamo would run the rest in eager mode, or with
fullgraph=True raise), and the report says so."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ppverify.conformance.driver import check  # noqa: E402

TARGET = "tests.conformance._compiled_impls:avg_pool2d"


def test_a_compiled_target_runs_compiled_in_every_case():
    report = check(TARGET, "avg", 2, count=24, kinds=("random", "integers"),
                   dtypes=("float64", "float32"), shrink_failures=False)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert report.cases_run == 24
    assert any("raised dynamo's recompile limits" in n for n in report.notes)


def test_without_the_raised_limit_fullgraph_fails_after_eight_recompilations():
    # what the worker prevents, shown in this process: dtypes, ranks and grad modes as a
    # check varies them; the ninth recompilation raises
    import torch._dynamo

    from tests.conformance._compiled_impls import avg_pool2d

    torch._dynamo.reset()
    calls = 0
    with torch._dynamo.config.patch(recompile_limit=8), pytest.raises(
            Exception, match="recompile_limit|RecompileLimit|fullgraph=True"):
        for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            for shape in ((1, 1, 4, 4), (1, 4, 4)):
                for grad in (False, True):
                    avg_pool2d(torch.ones(shape, dtype=dtype, requires_grad=grad), 2)
                    calls += 1
    torch._dynamo.reset()
    assert calls == 8


def test_a_check_in_this_process_runs_compiled_and_restores_the_limits():
    # isolate=False: the cases' variety made a fullgraph target raise FailOnRecompileLimitHit
    # from the ninth case on, reported as the target's "exception on valid input" (20 cases:
    # 12 such failures); now the limits are raised while the check runs, then restored
    import torch._dynamo

    torch._dynamo.reset()
    before = torch._dynamo.config.recompile_limit
    with torch._dynamo.config.patch(recompile_limit=8):
        report = check(TARGET, "avg", 2, count=24, kinds=("random", "integers"),
                       dtypes=("float64", "float32", "float16", "bfloat16"),
                       shrink_failures=False, isolate=False)
        assert torch._dynamo.config.recompile_limit == 8  # restored after the check
    torch._dynamo.reset()
    assert torch._dynamo.config.recompile_limit == before
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert report.cases_run == 24
    assert any("restoring them after" in n for n in report.notes)
