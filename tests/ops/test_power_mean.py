"""ppverify.ops.power_mean (gem_pool*, lp_pool*, gem) and the GeM / PowerMean / LPPool layers:
conformance against the oracle, and the inputs where torch's lp_pool and the usual GeM formula
overflow, underflow or return NaN (the README's findings) give the oracle's values here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ppverify.conformance.cases import Case
from ppverify.conformance.driver import check, evaluate
from ppverify.conformance.targets import resolve
from ppverify.conformance.tolerances import Tolerances
from ppverify.ops import (
    GeM,
    LPPool1d,
    LPPool2d,
    PowerMean2d,
    gem,
    gem_pool1d,
    gem_pool2d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
)
from ppverify.oracle import ulp_distance

from ._oracle_cache import reference


def _failures(report):
    return {c: report.categories[c].minimal_finding.message for c in report.failed_categories}


@pytest.mark.parametrize("op, target", [("powermean", "ppverify.ops:gem_pool{d}d"),
                                        ("lp", "ppverify.ops:lp_pool{d}d")])
def test_conforms_in_every_dimension(op, target):
    report = check(target, op, (1, 2, 3), count=40)
    assert report.conforms, _failures(report)
    assert report.error_cases_run >= 15


# every form a user meets: functions and layers, windowed, adaptive and global
FORMS = [
    ("ppverify.ops:adaptive_p_pool{d}d", "ppool", dict(pooling="adaptive")),
    ("ppverify.ops:adaptive_gem_pool{d}d", "powermean", dict(pooling="adaptive")),
    ("ppverify.ops:gem", "powermean", dict(pooling="global", dims=2)),
    ("ppverify.ops:PPool{d}d", "ppool", dict(param_attr="raw_alpha")),
    ("ppverify.ops:AdaptivePPool{d}d", "ppool", dict(pooling="adaptive",
                                                      param_attr="raw_alpha")),
    ("ppverify.ops:PowerMean{d}d", "powermean", dict(param_attr="raw_p")),
    ("ppverify.ops:GeM", "powermean", dict(pooling="global", param_attr="raw_p", dims=2)),
    ("ppverify.ops:LPPool{d}d", "lp", dict(param_fixed=True)),
]


@pytest.mark.parametrize("target, op, options", FORMS, ids=[f[0].split(":")[1] for f in FORMS])
def test_every_form_conforms(target, op, options):
    options = dict(options)
    dims = options.pop("dims", (1, 2, 3))
    report = check(target, op, dims, count=12, **options)
    assert report.conforms, _failures(report)
    assert report.cases_run >= 12


def _case(op, dims, x, param, kernel=2, dtype="float64", **kwargs):
    x = np.asarray(x, dtype=np.float64)
    passed = tuple(kwargs) + (("stride",) if "stride" not in kwargs else ())
    case = Case(op, dims, dtype, x, param, (kernel,) * dims, kwargs.pop("stride", None),
                passed_args=passed, **kwargs)
    case.grad_output = np.ones(case.expected_shape())
    return case


def _findings(target, op, case, dims):
    result = evaluate(resolve(target, op, dims), case, Tolerances())
    return {f.category: f for f in result.findings}


# each: the case, and the category torch's lp_pool gets wrong (README "What it finds")
LP_FINDINGS = [
    (_case("lp", 1, [[[1.0, 1.0, 1.0]]], 2.0, ceil_mode=True), 1, "wrong-value"),
    (_case("lp", 1, [[[1e-200, 1e-200]]], 2.0), 1, "wrong-value"),
    (_case("lp", 1, [[[300.0, 1.0]]], 2.0, dtype="float16"), 1, "nonfinite"),
    (_case("lp", 1, [[[4.631683569492601e78]]], 3.0, kernel=1), 1, "wrong-value"),
    (_case("lp", 2, np.zeros((1, 1, 2, 2)), 2.0), 2, "wrong-gradient"),
    (_case("lp", 1, np.array([[[2.6e37, 1.0, 1.0, 1.0]]], dtype=np.float32), 1.0, kernel=4,
           dtype="float32"), 1, "nonfinite"),
    (_case("lp", 3, np.ones((1, 1, 2, 2, 2)), 2.0, dtype="float16"), 3, "exception"),
]


@pytest.mark.parametrize("k", range(len(LP_FINDINGS)))
def test_torch_lp_pool_findings_are_fixed(k):
    case, dims, category = LP_FINDINGS[k]
    torch_fn = getattr(F, f"lp_pool{dims}d")
    ours = {1: lp_pool1d, 2: lp_pool2d, 3: lp_pool3d}[dims]
    assert category in _findings(torch_fn, "lp", case, dims)  # torch still has it
    assert _findings(ours, "lp", case, dims) == {}


def _usual_gem1d(eps=1e-6):
    """The GeM code many libraries ship: avg_pool(x.clamp(min=eps).pow(p)).pow(1/p)."""
    def gem_pool1d(input, p, kernel_size, stride=None, padding=0, ceil_mode=False):
        x = input.clamp(min=eps) if eps else input
        s = F.avg_pool1d(x.pow(p), kernel_size, stride, padding, ceil_mode,
                         count_include_pad=False)
        return s.pow(1.0 / p)

    return gem_pool1d


GEM_FINDINGS = [
    # float16 overflow of x.pow(p) on ordinary values (300^2 > 65504)
    (_usual_gem1d(), _case("powermean", 1, [[[300.0, 200.0]]], 2.0, dtype="float16"),
     "nonfinite"),
    # the eps clamp: a window of small inputs is raised to eps
    (_usual_gem1d(), _case("powermean", 1, [[[1e-9, 2e-9]]], 3.0), "wrong-value"),
    # without the clamp, a dead (all-zero) window makes dy/dp NaN
    (_usual_gem1d(eps=None), _case("powermean", 1, [[[0.0, 0.0, 1.0, 2.0]]], 3.0),
     "nonfinite"),
    # float32 x.pow(p) underflows: 1e-20^3 = 1e-60 is 0 in float32
    (_usual_gem1d(eps=None), _case("powermean", 1, np.array([[[1e-20, 3e-20]]],
                                                            dtype=np.float32), 3.0,
                                   dtype="float32"), "wrong-value"),
]


@pytest.mark.parametrize("k", range(len(GEM_FINDINGS)))
def test_usual_gem_formula_findings_are_fixed(k):
    usual, case, category = GEM_FINDINGS[k]
    assert category in _findings(usual, "powermean", case, 1)
    assert _findings(gem_pool1d, "powermean", case, 1) == {}


def test_global_gem_of_a_dead_channel_has_finite_gradients():
    x = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    x[:, 1] = 0.0
    p = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    xg = x.clone().requires_grad_(True)
    y = gem(xg, p)
    y.sum().backward()
    assert torch.isfinite(p.grad) and torch.isfinite(xg.grad).all()
    ref = reference("powermean", x.numpy(), 3.0, (5, 5), dims=2)
    assert ulp_distance(y.detach().numpy(), ref.output, "float64").max() <= 8
    assert np.allclose(p.grad.numpy(), ref.grad_param, rtol=1e-13)
    assert np.allclose(xg.grad.numpy(), ref.grad_input, rtol=1e-13, atol=1e-300)


def test_gem_layer_per_channel_learnable_p_trains():
    torch.manual_seed(0)
    m = GeM(p=2.0, num_channels=3, constraint="softplus+1")
    assert torch.allclose(m.p, torch.full((3,), 2.0, dtype=torch.float64))
    x = torch.rand(4, 3, 6, 6)
    target = F.adaptive_max_pool2d(x, 1)
    opt = torch.optim.SGD(m.parameters(), lr=20.0)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] and (m.p > 2.0).all() and (m.p > 1).all()
    ref = reference("powermean", x.numpy(), m.p.detach().double().numpy(), (6, 6), dims=2,
                    dtype="float32", gradients=False)
    assert ulp_distance(m(x).detach().numpy(), ref.output, "float32").max() <= 2


def test_lp_pool_layer_is_torchs_on_ordinary_inputs():
    x = torch.rand(2, 3, 8, 9, dtype=torch.float64) + 0.1
    for p, k, s in [(2.0, 2, None), (3.0, 3, 2), (1.5, (2, 3), 1)]:
        assert torch.allclose(LPPool2d(p, k, s)(x), torch.nn.LPPool2d(p, k, s)(x),
                              rtol=1e-13)
    assert not list(LPPool1d(2.0, 3).parameters())
    assert list(LPPool1d(2.0, 3, learnable=True).parameters())


def test_power_mean_layer_and_bad_options():
    m = PowerMean2d(3, 2, 1, p=4.0, num_channels=2)
    x = torch.rand(1, 2, 7, 7, dtype=torch.float64)
    ref = reference("powermean", x.numpy(), [4.0, 4.0], 3, 2, 1, dims=2, gradients=False)
    assert ulp_distance(m.double()(x).detach().numpy(), ref.output, "float64").max() <= 8
    with pytest.raises(ValueError, match="p = 0 is outside the domain of the Lp norm"):
        LPPool2d(0.0, 2)
    with pytest.raises(ValueError, match="p = 0 is outside the domain of the Lp norm"):
        lp_pool2d(x, 0.0, 2)
    with pytest.raises(ValueError, match="p must be > 1 with constraint='softplus\\+1'"):
        GeM(p=1.0, constraint="softplus+1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpha'"):
        PowerMean2d(2, alpha=3.0)
    with pytest.raises(ValueError, match="p must be finite"):
        gem_pool2d(x, float("inf"), 2)
    with pytest.raises(ValueError, match="negative"):
        gem(-x, 2.0)
    assert "p=per channel (2)" in repr(m) and "kernel_size=(3, 3)" in repr(m)
    assert "p=3" in repr(GeM())


def test_geometric_mean_and_its_derivatives():
    """p = 0: the geometric mean, dy/dx = y / (n x), dy/dp = y Var(ln x) / 2 (oracle)."""
    x = torch.tensor([[[0.5, 2.0, 8.0, 1e-30, 1e30, 3.0]]], dtype=torch.float64)
    p = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    xg = x.clone().requires_grad_(True)
    y = gem_pool1d(xg, p, 3)
    y.sum().backward()
    ref = reference("powermean", x.numpy(), 0.0, 3, dims=1)
    assert ulp_distance(y.detach().numpy(), ref.output, "float64").max() <= 2
    assert ulp_distance(xg.grad.numpy(), ref.grad_input, "float64").max() <= 8
    assert ulp_distance(p.grad.numpy(), ref.grad_param, "float64").max() <= 16
