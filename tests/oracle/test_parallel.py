"""reference(jobs=N) spreads planes over processes and must give bit-identical results."""

import numpy as np
import pytest

from ppverify.oracle import reference


@pytest.mark.parametrize("param", [2.5, np.array([0.5, -1.5, 7.0])])
def test_jobs_give_identical_results(param):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 4.0, size=(2, 3, 9, 8))
    x[0, 0, :3, :3] = 0.0  # zeros exercise the exact (Fraction) terms in the partial sums
    g = rng.normal(size=(2, 3, 5, 4))
    serial = reference("ppool", x, param, 3, 2, 1, dims=2, grad_output=g, dtype="float32")
    parallel = reference("ppool", x, param, 3, 2, 1, dims=2, grad_output=g, dtype="float32",
                         jobs=2)
    np.testing.assert_array_equal(serial.output, parallel.output)
    np.testing.assert_array_equal(serial.grad_input, parallel.grad_input)
    np.testing.assert_array_equal(serial.grad_param, parallel.grad_param)
    assert serial.grad_param.shape == np.shape(param)
    assert serial.notes == parallel.notes


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="jobs"):
        reference("avg", np.ones((1, 4)), None, 2, dims=1, jobs=0)


def test_digits_mode_gives_requested_accuracy():
    import mpmath

    x = np.array([[[0.1, 3.0, 7.5, 2.0]]])
    r = reference("ppool", x, 1.7, 4, dims=1, digits=60)
    with mpmath.workdps(120):
        xs = [mpmath.mpf(v) for v in x.ravel()]
        a = mpmath.mpf(1.7)
        exact = mpmath.fsum(v ** (a + 1) for v in xs) / mpmath.fsum(v**a for v in xs)
        assert abs(r.output.ravel()[0] - exact) <= abs(exact) * mpmath.mpf(10) ** -59


def test_input_gradient_alone_for_negative_inputs_with_integer_alpha():
    from fractions import Fraction

    from ppverify.oracle import OracleDomainError

    x = np.array([[[-1.0, 2.0, 3.0]]])
    with pytest.raises(OracleDomainError, match="ln"):
        reference("ppool", x, 2.0, 3, dims=1)
    r = reference("ppool", x, 2.0, 3, dims=1, param_gradient=False)
    assert r.grad_param is None
    # y = (-1 + 8 + 27) / (1 + 4 + 9) = 17/7; dy/dx_0 = (3 x^2 S - 2 x T) / S^2 at x = -1
    s, t = Fraction(14), Fraction(34)
    assert r.output.ravel()[0] == float(t / s)
    assert r.grad_input.ravel()[0] == float((3 * s + 2 * t) / s**2)


def test_boolean_parameter_is_rejected():
    with pytest.raises(TypeError, match="alpha"):
        reference("ppool", np.ones((1, 4)), True, 2, dims=1)
