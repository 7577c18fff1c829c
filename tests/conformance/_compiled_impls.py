"""A target compiled with torch.compile(fullgraph=True) (dynamo's "eager" backend: tracing
without code generation, so that a test stays quick): average pooling in torch's functional
convention. Every new shape, dtype, kernel size or grad mode recompiles it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True):
    return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


avg_pool2d = torch.compile(_avg_pool2d, backend="eager", fullgraph=True)
