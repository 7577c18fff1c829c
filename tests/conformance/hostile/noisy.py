"""Correct (torch's avg_pool2d), but prints to stdout and stderr at import and in every call."""
import sys

import torch.nn.functional as F

print("hello from the target's import")
print("more noise", file=sys.stderr)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    print('{"conforms": true}')  # looks like JSON on stdout
    return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)
