"""PPool1d/2d/3d: alpha options, constraints, training, and agreement with the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import PPool1d, PPool2d, PPool3d
from ppverify.oracle import reference, ulp_distance


def test_shared_learnable_alpha_matches_oracle_and_trains():
    m = PPool2d(3, 2, 1, alpha=2.0)
    assert isinstance(m.raw_alpha, torch.nn.Parameter) and m.alpha.dim() == 0
    x = torch.rand(2, 3, 6, 6)
    y = m(x)
    ref = reference("ppool", x.numpy(), 2.0, 3, 2, 1, dims=2, dtype="float32",
                    grad_output=np.ones((2, 3, 3, 3)))
    assert ulp_distance(y.detach().numpy(), ref.output, "float32").max() <= 8
    y.sum().backward()
    assert np.isclose(m.raw_alpha.grad.item(), float(ref.grad_param), rtol=1e-4, atol=1e-6)


def test_per_channel_fixed_alpha():
    m = PPool1d(2, alpha=-1.0, learnable=False, num_channels=3)
    assert "raw_alpha" in dict(m.named_buffers()) and not list(m.parameters())
    x = torch.rand(1, 3, 8, dtype=torch.float64)
    ref = reference("ppool", x.numpy(), [-1.0] * 3, 2, dims=1, gradients=False)
    assert ulp_distance(m(x).numpy(), ref.output, "float64").max() <= 8


def test_softplus_keeps_alpha_positive_and_starts_at_the_initial_value():
    m = PPool3d(2, alpha=0.75, constraint="softplus", num_channels=2)
    assert torch.allclose(m.alpha, torch.tensor([0.75, 0.75], dtype=torch.float64))
    with torch.no_grad():
        m.raw_alpha.fill_(-50.0)
    assert (m.alpha > 0).all()
    big = PPool2d(2, alpha=1e6, constraint="softplus")
    assert big.alpha.item() == pytest.approx(1e6)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        PPool2d(2, alpha=0.0, constraint="softplus")


def test_clamp_constraint():
    m = PPool2d(2, alpha=-3.0, constraint="clamp")
    assert m.alpha.item() == 0.0
    x = torch.rand(1, 1, 4, 4)
    ref = reference("ppool", x.numpy(), 0.0, 2, dims=2, dtype="float32", gradients=False)
    assert ulp_distance(m(x).detach().numpy(), ref.output, "float32").max() <= 8


def test_a_few_sgd_steps_reduce_a_loss():
    torch.manual_seed(0)
    m = PPool2d(2, alpha=0.5, constraint="softplus")
    x = torch.rand(4, 2, 8, 8)
    target = torch.nn.functional.max_pool2d(x, 2)
    opt = torch.optim.SGD(m.parameters(), lr=50.0)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_bad_options():
    with pytest.raises(ValueError, match="constraint"):
        PPool2d(2, constraint="relu")
    with pytest.raises(ValueError, match="num_channels"):
        PPool2d(2, num_channels=0)
    with pytest.raises(ValueError, match="padding should be at most"):
        PPool2d(2, padding=2)
    with pytest.raises(ValueError, match="alpha must be finite"):
        PPool2d(2, alpha=float("inf"))


def test_state_dict_round_trip_and_repr():
    m = PPool2d(3, 2, 1, alpha=1.5, num_channels=2)
    m2 = PPool2d(3, 2, 1, alpha=0.0, num_channels=2)
    m2.load_state_dict(m.state_dict())
    assert torch.equal(m2.alpha, m.alpha)
    assert "constraint='none'" in repr(m)


@pytest.mark.parametrize("alpha", ["x", "2", True, None, [1.0]])
def test_module_alpha_must_be_a_real_number(alpha):
    from ppverify.ops import PPool2d

    with pytest.raises(TypeError, match="alpha must be a real number"):
        PPool2d(2, alpha=alpha)
