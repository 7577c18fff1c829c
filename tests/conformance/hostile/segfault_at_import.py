"""Crashes the process that imports it with SIGSEGV."""
import ctypes

ctypes.string_at(0)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):  # pragma: no cover - never reached
    raise AssertionError
