"""Correct results, but a child process forked at import sleeps on (holding every inherited
descriptor: a harness waiting for the checker's output to close would wait for it)."""
import os
import time

import torch.nn.functional as F

if os.fork() == 0:
    time.sleep(3600)
    os._exit(0)

avg_pool2d = F.avg_pool2d


def sleepy_avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                      count_include_pad=True):
    """Forks and sleeps in every call, then returns the right answer."""
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
    return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)
