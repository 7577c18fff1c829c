"""ppverify.strategies: valid, representable, adversarial, and shrinking to simple examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from ppverify.conformance.values import representable
from ppverify.oracle import reference
from ppverify.strategies import (
    adversarial_floats,
    parameters,
    pool_geometries,
    pooling_cases,
    pooling_inputs,
    spatial_sizes,
)
from ppverify.windows import make_geometry, output_shape

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.sampled_from(["float64", "float32", "float16", "bfloat16"]).flatmap(
    lambda d: st.tuples(st.just(d), adversarial_floats(d))))
def test_adversarial_floats_are_exact_in_their_dtype(pair):
    dtype, v = pair
    assert np.isfinite(v)
    assert representable(np.array([v]), dtype)[0] == v


@FAST
@given(st.integers(1, 3).flatmap(lambda d: pool_geometries(d).flatmap(
    lambda g: st.tuples(st.just(d), st.just(g), spatial_sizes(g)))))
def test_geometries_and_sizes_are_valid(args):
    dims, geometry, spatial = args
    shape = output_shape(make_geometry(dims, **geometry), (1, 1, *spatial))
    assert min(shape) >= 1
    assert all(p <= k // 2 for k, p in zip(geometry["kernel_size"], geometry["padding"]))


@FAST
@given(st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
    lambda s: st.tuples(st.just(s), pool_geometries(2, spatial=s))))
def test_geometries_for_a_given_input_size(args):
    spatial, geometry = args
    shape = output_shape(make_geometry(2, **geometry), (1, *spatial))
    assert min(shape[1:]) >= 1


@FAST
@given(pooling_cases("ppool", dims=1, dtypes=["float32"]))
def test_cases_are_in_the_oracles_domain(case):
    r = reference(case.op, case.input, case.param, dims=case.dims, dtype=case.dtype,
                  gradients=False, **case.geometry_kwargs)
    assert r.output.shape == case.expected_shape()
    assert (case.input >= 0).all()


@pytest.mark.parametrize("op", ["lp", "powermean"])
@FAST
@given(data=st.data())
def test_no_zero_with_nonpositive_power(op, data):
    case = data.draw(pooling_cases(op, dims=1))
    if op == "lp":
        # lp's p is drawn positive (parameters(allow_nonpositive=None)); the branch below
        # never runs for lp, so this is what keeps 0**p finite there
        assert case.param > 0
    if case.param <= 0:
        assert (case.input > 0).all()


def test_nonpositive_power_means_are_drawn_and_have_no_zero():
    # the branch of the property above is reached for powermean (not vacuous)
    case = find(pooling_cases("powermean", dims=1), lambda c: c.param <= 0,
                settings=settings(max_examples=200, database=None))
    assert (case.input > 0).all()


def test_inputs_have_ties_and_zeros_often():
    ties = find(pooling_inputs((6,), "float32"),
                lambda a: len(set(a.tolist())) < a.size and 0.0 in a and a.max() > 1)
    assert ties.size == 6


def test_shrinks_to_a_minimal_example():
    # a failing property shrinks to the smallest kernel, sizes and simplest values. Shrinking is
    # a heuristic search: from about 1 random seed in 10 it stops in a local minimum (two
    # channels, the 2.0 last), so the search is derandomized to make this test deterministic.
    case = find(pooling_cases("ppool", dims=2, dtypes=["float32"]),
                lambda c: c.input.max() >= 2.0,
                settings=settings(max_examples=500, database=None, derandomize=True))
    assert case.input.size == 1
    assert case.kernel_size == (1, 1) and case.stride is None
    assert case.input.ravel().tolist() == [2.0]


def test_parameters_respect_domains():
    p = find(parameters("lp", "float16"), lambda v: v > 10)
    assert 10 < p <= 64
    assert find(parameters("max"), lambda v: True) is None


def test_unknown_op_or_dims_raise_value_error_naming_them():
    import ppverify.strategies as strategies

    with pytest.raises(ValueError, match="op must be one of"):
        strategies.parameters("foo")
    with pytest.raises(ValueError, match="op must be one of"):
        strategies.pooling_cases("foo").example()
    with pytest.raises(ValueError, match="dims must be 1, 2 or 3"):
        strategies.pool_geometries(4).example()


@pytest.mark.parametrize("pooling", ["adaptive", "global"])
@FAST
@given(data=st.data())
def test_adaptive_and_global_cases_are_in_the_oracles_domain(pooling, data):
    case = data.draw(pooling_cases("ppool", dims=2, dtypes=["float32"], pooling=pooling))
    r = reference(case.op, case.input, case.param, dims=case.dims, dtype=case.dtype,
                  gradients=False, **case.geometry_kwargs)
    assert r.output.shape == case.expected_shape() and case.pooling == pooling
    assert not case.windowed and case.kernel_size == ()
    if pooling == "global":
        assert case.output_size == (1, 1) and r.output.shape[-2:] == (1, 1)
    else:
        assert all(1 <= n <= s + 1 for n, s in zip(case.output_size, case.spatial))


def test_adaptive_cases_reach_outputs_larger_than_the_input():
    case = find(pooling_cases("avg", dims=1, pooling="adaptive"),
                lambda c: c.output_size[0] > c.spatial[0],
                settings=settings(max_examples=300, database=None))
    assert case.expected_shape()[-1] == case.spatial[0] + 1


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(pooling_cases("powermean", dims=2, dtypes=["float64", "float32"], pooling="global"))
def test_an_independent_global_power_mean_matches_the_oracle_on_drawn_cases(case):
    # derandomized: the same 60 cases in every run (1,500 random ones passed once, 2026-12-05)
    # the strategies as a user's property test would use them, on the tests' careful GeM
    # (whose domain is |p| >= 0.01: tests/conformance/_careful.py)
    assume(abs(case.param) >= 1e-2)
    _assert_global_gem_conforms("tests.conformance._gem_impls:power_mean_global", case)


def _assert_global_gem_conforms(spec: str, case) -> None:
    """``spec`` (a global power mean written for the tests) judged on ``case`` as
    ``ppverify check`` judges it: passed, or skipped by the oracle."""
    pytest.importorskip("torch")
    from ppverify.conformance.driver import evaluate
    from ppverify.conformance.targets import resolve
    from ppverify.conformance.tolerances import Tolerances

    target = resolve(spec, "powermean", 2, pooling="global")
    result = evaluate(target, case, Tolerances())
    assert result.skipped or not result.findings, [f.message for f in result.findings]


def test_pooling_must_be_known():
    with pytest.raises(ValueError, match="pooling must be one of windowed, adaptive, global"):
        find(pooling_cases("avg", dims=1, pooling="spatial"), lambda c: True)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(pooling_cases("powermean", dims=2, dtypes=["float64", "float32"], pooling="global",
                     max_channels=3, per_channel=True))
def test_per_channel_cases_drive_an_independent_per_channel_layer(case):
    # one exponent per channel, all in the domain of the inputs drawn for them
    assert len(case.channel_params) == case.input.shape[1]
    assert case.param == case.channel_params[0]
    if min(case.channel_params) <= 0:
        assert (case.input > 0).all()
    assume(min(abs(p) for p in case.channel_params) >= 1e-2)  # the careful layer's domain
    _assert_global_gem_conforms("tests.conformance._channel_impls:gem_per_channel", case)


def test_per_channel_needs_a_parameter():
    with pytest.raises(ValueError, match="takes no parameter"):
        find(pooling_cases("max", dims=1, per_channel=True), lambda c: True)


@pytest.mark.parametrize("pooling", ["windowed", "global"])
@FAST
@given(data=st.data())
def test_unbatched_cases_when_asked(pooling, data):
    batched = data.draw(st.sampled_from([False, None]))
    case = data.draw(pooling_cases("powermean", dims=2, dtypes=["float32"], pooling=pooling,
                                   batched=batched, per_channel=True))
    if batched is False:
        assert not case.batched and case.input.ndim == 3
    assert len(case.channel_params) == case.input.shape[case.input.ndim - 3]
    r = reference(case.op, case.input, case.oracle_param, dims=2, dtype=case.dtype,
                  gradients=False, **case.geometry_kwargs)
    assert r.output.shape == case.expected_shape()


def test_either_batching_is_drawn():
    for want in (True, False):
        find(pooling_cases("ppool", dims=1, batched=None), lambda c, w=want: c.batched == w,
             settings=settings(max_examples=200, database=None))
