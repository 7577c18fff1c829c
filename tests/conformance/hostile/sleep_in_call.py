"""Imports fine, then never returns from a call."""
import time


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    time.sleep(3600)
