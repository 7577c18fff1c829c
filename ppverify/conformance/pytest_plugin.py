"""pytest plugin: check a pooling implementation against the oracle from a test suite.

Registered by the ``pytest11`` entry point ``ppverify``, so installing ppverify makes the
``assert_matches_oracle`` fixture available in every test suite::

    def test_my_pool(assert_matches_oracle):
        assert_matches_oracle(my_lp_pool2d, op="lp", dims=2)

    def test_my_gem(assert_matches_oracle):           # an nn.Module class, global pooling
        assert_matches_oracle(GeM, op="powermean", pooling="global", input_min=1e-6,
                              param_attr="raw_p", param_map=lambda v: F.softplus(v) + 1)

or, without the fixture::

    from ppverify.conformance.pytest_plugin import assert_matches_oracle
    assert_matches_oracle(my_p_pool1d, op="ppool", dims=1,
                          tolerances={"output.float32": 32}, dtypes=["float32"])

The helper runs ``ppverify.conformance.driver.check`` (by default a quick run of 40 cases per
dimension) and raises ``AssertionError`` with the summary table and a minimal reproducer for
each failing category; it returns the ``CheckReport`` when the target conforms. Command-line
options: ``--ppverify-thorough`` (5x more cases) and ``--ppverify-seed N``.

Loading this plugin imports neither torch nor the oracle: pytest loads plugins for every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest

_OPTIONS = {"thorough": False, "seed": 0}


def assert_matches_oracle(fn: Callable | str, op: str, dims: int | Iterable[int] = 2, *,
                          count: int | None = 40, thorough: bool | None = None,
                          seed: int | None = None,
                          tolerances: Mapping[str, float] | Iterable[str] | None = None,
                          **options):
    """Assert that ``fn`` (a callable or ``"module:callable"``) conforms for ``op``.

    ``tolerances`` overrides ULP tolerances: ``{"output.float32": 32,
    "grad_input.float16": 16}`` or ``["output.float32=32"]`` (a bare dtype is refused, see
    ``tolerances``). Other keyword arguments go to ``check``: ``dtypes``, ``kinds``,
    ``layouts``, ``pooling``, ``input_min``, ``param_range``, ``param_attr``, ``param_map``
    (an expression in ``v`` or a Python callable), ``param_fixed``, ``batched_only``,
    ``flat_output``, ``per_channel``, ``param_shape``, ``forward_only``, ``params``,
    ``include_errors``, ``shrink_failures``.
    """
    from .driver import check
    from .summary import format_report
    from .tolerances import Tolerances

    if isinstance(tolerances, Mapping):
        specs = [f"{k}={v}" for k, v in tolerances.items()]
    else:
        specs = list(tolerances or ())
    thorough = _OPTIONS["thorough"] if thorough is None else thorough
    if thorough and count == 40:
        count = None
    report = check(fn, op, dims, thorough=thorough,
                   seed=_OPTIONS["seed"] if seed is None else seed,
                   tolerances=Tolerances.parse(specs), count=count, **options)
    if not report.conforms:
        raise AssertionError(f"{report.target} does not match the oracle for op {op!r}\n\n"
                             + format_report(report))
    return report


def pytest_addoption(parser):
    group = parser.getgroup("ppverify", "ppverify conformance checks")
    group.addoption("--ppverify-thorough", action="store_true", default=False,
                    help="assert_matches_oracle: run 5x more cases")
    group.addoption("--ppverify-seed", type=int, default=0,
                    help="assert_matches_oracle: case generator seed")


def pytest_configure(config):
    _OPTIONS["thorough"] = bool(config.getoption("ppverify_thorough", False))
    _OPTIONS["seed"] = int(config.getoption("ppverify_seed", 0) or 0)


@pytest.fixture(name="assert_matches_oracle")
def assert_matches_oracle_fixture():
    """The ``assert_matches_oracle(fn, op=..., dims=...)`` helper (see module doc)."""
    return assert_matches_oracle
