"""Implementations to check the checker with: one careful P-pooling and deliberately broken ones.

``make_ppool(**bugs)`` returns a ``p_pool(input, alpha, kernel_size, stride, padding,
dilation, ceil_mode)`` callable for any dimension (the dimension is read from the input's rank
relative to ``dims``). Without bugs it is a careful implementation: windows gathered from
torch's layout, padding excluded, the stable form ``w_i = (x_i / max)^alpha``, autograd for the
gradients, invalid inputs rejected, float16/bfloat16 computed in float32. Each keyword turns on
one bug.
"""

from __future__ import annotations

import itertools

import torch

from ppverify.windows import make_geometry, output_spatial_shape, split_batch_channel


def _gather_index(geometry, spatial, shift=0, ignore_dilation=False, floor_mode=False):
    """(W, K) flat indices into a plane and a validity mask, for every window."""
    dims = geometry.dims
    ceil = geometry.ceil_mode and not floor_mode
    g = make_geometry(dims, geometry.kernel_size, geometry.stride, geometry.padding,
                      geometry.dilation, ceil)
    out = output_spatial_shape(g, spatial)
    strides = [1] * dims
    for a in range(dims - 2, -1, -1):
        strides[a] = strides[a + 1] * spatial[a + 1]
    rows, masks = [], []
    for o in itertools.product(*(range(n) for n in out)):
        per_axis = []
        for a in range(dims):
            d = 1 if ignore_dilation else g.dilation[a]
            start = o[a] * g.stride[a] - g.padding[a] + shift
            per_axis.append([start + j * d for j in range(g.kernel_size[a])])
        idx, mask = [], []
        for pos in itertools.product(*per_axis):
            inside = all(0 <= p < n for p, n in zip(pos, spatial))
            idx.append(sum(p * s for p, s in zip(pos, strides)) if inside else 0)
            mask.append(inside)
        rows.append(idx)
        masks.append(mask)
    return torch.tensor(rows), torch.tensor(masks), out


def make_ppool(dims: int, *, wrong_gradient=False, naive=False, shift=0, half=False,
               detach_alpha=False, floor_mode=False, accept_negative=False,
               nan_at_zero=False, ignore_dilation=False):
    def p_pool(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        geometry = make_geometry(dims, kernel_size, stride, padding, dilation, ceil_mode)
        spatial = split_batch_channel(tuple(input.shape), dims)
        a = alpha if isinstance(alpha, torch.Tensor) else torch.tensor(float(alpha))
        if detach_alpha:
            a = a.detach()
        x = input
        if accept_negative:
            x = x.abs().nan_to_num(0.0)
        elif torch.isnan(x).any() or (x < 0).any():
            raise ValueError("input must be non-negative and not NaN")
        dtype = x.dtype
        if half:
            x, a = x.half(), a.half()
        elif dtype in (torch.float16, torch.bfloat16):  # careful: half types in float32
            x, a = x.float(), a.float()
        else:
            a = a.to(dtype)
        idx, mask, out_spatial = _gather_index(geometry, spatial, shift, ignore_dilation,
                                               floor_mode)
        lead = x.shape[: x.ndim - dims]
        flat = x.reshape(*lead, -1)
        windows = flat[..., idx]  # (*lead, W, K)
        zero = torch.zeros((), dtype=x.dtype)
        if naive:
            num = torch.where(mask, windows ** (a + 1), zero).sum(-1)
            den = torch.where(mask, windows ** a, zero).sum(-1)
            y = num / den
        else:
            one = torch.ones((), dtype=x.dtype)
            # normalise by the largest element (alpha >= 0) or the smallest positive one
            big = torch.where(mask, windows, -one).amax(-1, keepdim=True)
            inf = torch.full((), float("inf"), dtype=x.dtype)
            small = torch.where(mask & (windows > 0), windows, inf).amin(-1, keepdim=True)
            m = torch.where(a.detach() >= 0, big, small).detach()
            m = torch.where((m > 0) & (m < inf), m, one)
            positive = mask & (windows > 0)
            r = windows / m
            if nan_at_zero:
                w = torch.where(mask, torch.exp(a * torch.log(r)), zero)
            else:
                # r = x / max in (0, 1]; where it underflows, ln r = ln x - ln max
                safe_r = torch.where(positive & (r > 0), r, one)
                safe_x = torch.where(positive, windows, one)
                log_r = torch.where(r > 0, torch.log(safe_r), torch.log(safe_x) - torch.log(m))
                w = torch.where(positive, torch.exp(a * log_r), zero)
            y = m.squeeze(-1) * ((w * r).sum(-1) / w.sum(-1))
        if wrong_gradient:
            y = y.detach() + (1.01 * y - (1.01 * y).detach())
        return y.reshape(*lead, *out_spatial).to(dtype)

    p_pool.__qualname__ = f"p_pool{dims}d"
    return p_pool
