"""Coverage guarantee: a default run meets every pair of factor levels (and every dtype x value
kind with an ordinary parameter), for every operator, pooling mode and dimension; --seed
changes the cases; a short run says what it misses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ppverify.conformance.coverage import FACTORS, format_coverage, tally
from ppverify.conformance.generate import generate_cases, make_plan
from ppverify.conformance.targets import CONVENTIONS, OPTIONAL_ARGS

OPS = sorted(CONVENTIONS)


def _accepts(op, pooling):
    return frozenset(CONVENTIONS[op].optional_args) if pooling == "windowed" else frozenset()


def _default_run(op, dims, pooling, seed=0, count=100):
    accepts = _accepts(op, pooling)
    plan = make_plan(op, pooling, accepts)
    cases = generate_cases(op, dims, accepts, count=count, seed=seed, pooling=pooling,
                           plan=plan)
    return plan, cases


@pytest.mark.parametrize("pooling", ["windowed", "adaptive", "global"])
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("op", OPS)
def test_default_run_covers_every_pair(op, dims, pooling):
    plan, cases = _default_run(op, dims, pooling)
    assert len(cases) == 100
    table = tally([c.labels() for c in cases], plan.factors)
    # count the pairs here, independently of CoverageTable.missing
    seen = set()
    for c in cases:
        labels = c.labels()
        for f1, f2 in itertools.combinations(FACTORS, 2):
            seen.add(((f1, labels[f1]), (f2, labels[f2])))
    required = plan.factors.required_pairs()
    missing = [p for p in required if p not in seen]
    assert not missing, missing[:10]
    assert table.complete, table.missing[:10]
    # every level of every factor is there, and each dtype meets each kind (the old
    # generator met 8 of 40 (dtype, kind) pairs and never made all-equal or wide values)
    assert {c.kind for c in cases} == set(plan.factors.levels["kind"])
    if CONVENTIONS[op].has_param:
        assert {c.param_class for c in cases} == {"ordinary", "negative", "huge", "small"}
        ordinary = {(c.dtype, c.kind) for c in cases if c.param_class == "ordinary"}
        assert len(ordinary) == 4 * 11
    # the labels are derived from the case: the feature is really there
    for c in cases:
        if c.feature == "padding":
            assert any(c.padding)
        if c.feature == "ceil_mode":
            assert c.ceil_mode
        if c.feature == "upsampling":
            assert any(n > L for n, L in zip(c.output_size, c.spatial))


def test_seed_changes_the_cases():
    _, a = _default_run("ppool", 2, "windowed", seed=0)
    _, b = _default_run("ppool", 2, "windowed", seed=1)
    rows = lambda cases: [tuple(c.labels().values()) for c in cases]  # noqa: E731
    assert rows(a) != rows(b)
    assert not all(np.array_equal(x.input, y.input) for x, y in zip(a, b))
    _, again = _default_run("ppool", 2, "windowed", seed=0)
    assert all(np.array_equal(x.input, y.input) for x, y in zip(a, again))


def test_short_run_names_what_it_misses():
    plan, cases = _default_run("powermean", 2, "windowed", count=12)
    table = tally([c.labels() for c in cases], plan.factors)
    assert not table.complete
    text = "\n".join(format_coverage(table))
    assert "MISSING" in text and "of 44" in text


def test_selection_restricts_levels_and_negative_zeros_is_excluded():
    plan = make_plan("lp", "windowed", {"stride"}, dtypes=("float32",), kinds=("zeros", "tiny"))
    assert plan.factors.levels["dtype"] == ("float32",)
    assert plan.factors.levels["feature"] == ("plain", "stride")
    assert (("kind", "zeros"), ("param", "negative")) in plan.factors.excluded
    # with a declared clamp, zeros become eps: the pair is back
    plan = make_plan("lp", "windowed", {"stride"}, input_min=1e-6)
    assert not plan.factors.excluded
    # a declared range leaves out the classes it excludes
    plan = make_plan("powermean", "global", (), param_range=(1.0, 10.0))
    assert plan.factors.levels["param"] == ("ordinary",)
    with pytest.raises(ValueError, match="kinds must be"):
        make_plan("ppool", "windowed", OPTIONAL_ARGS, kinds=("nonsense",))
    with pytest.raises(ValueError, match="dtypes must be"):
        make_plan("ppool", "windowed", OPTIONAL_ARGS, dtypes=("float8",))


def test_check_reports_its_coverage_and_the_cli_prints_it(capsys):
    pytest.importorskip("torch")
    from ppverify.cli import main

    code = main(["check", "torch.nn.functional:max_pool1d", "--op", "max", "--coverage",
                 "--kinds", "random", "ties", "--dtypes", "float64", "float32",
                 "--no-shrink"])
    out = capsys.readouterr().out
    assert "coverage (1-D):" in out and "dtype x values:" in out
    assert "cases per value kind and dtype" in out
    assert code in (0, 1)
