"""Ends the worker with status 0 from inside a call (SystemExit and os._exit)."""
import os
import sys


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    sys.exit(0)


def avg_pool2d_os_exit(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True):
    os._exit(0)
