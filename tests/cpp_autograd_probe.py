"""What a C++ autograd function would cost per call: the floor under the layer's per-call line.

    python -m tests.cpp_autograd_probe

``ppverify bench --matrix``'s per-call line "layer forward+backward" (a ``PPool2d`` on a
(1, 1, 4, 4) input, learnable alpha, ``y.sum().backward()``) read about 3.5x ``nn.MaxPool2d``'s
against a target of 3x until 2026-12-07's training shortcut and the parameter's cast inside the
node (2.8x since, on the AMD EPYC machine: the README's per-call paragraph). This dev tool
(not collected by pytest) separates the autograd mechanism from the code around the kernel: it
builds (``torch.utils.cpp_extension.load_inline``, about 30 s, needs a C++ compiler and ninja) a
``torch::autograd::Function`` whose forward writes a 2x2 average and whose backward returns
zeros, and times forward+backward per call of it, of the same body as a Python
``torch.autograd.Function``, of ``max_pool2d``, and of ppverify's ``p_pool2d`` (a learnable
float64 alpha) and ``PPool2d``, in interleaved rounds on one thread (medians of 7 rounds of 500
calls). The C++ function's figure is what a C++ autograd path could
reach at best; the Python function's, what the mechanism alone costs in Python."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

SOURCE = r'''
#include <torch/extension.h>
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
struct Pool : public torch::autograd::Function<Pool> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor a) {
    ctx->save_for_backward({x, a});
    auto xc = x.contiguous();
    const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    auto y = torch::empty({x.size(0), x.size(1), H / 2, W / 2}, x.options());
    const float* xp = xc.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    for (int64_t p = 0; p < P; ++p)
      for (int64_t i = 0; i < H / 2; ++i)
        for (int64_t j = 0; j < W / 2; ++j) {
          const float* b = xp + p * H * W + 2 * i * W + 2 * j;
          yp[(p * (H / 2) + i) * (W / 2) + j] = (b[0] + b[1] + b[W] + b[W + 1]) * 0.25f;
        }
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    return {torch::zeros_like(saved[0]), torch::zeros_like(saved[1])};
  }
};
torch::Tensor pool(torch::Tensor x, torch::Tensor a) { return Pool::apply(x, a); }
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("pool", &pool); }
'''


class _PythonPool(torch.autograd.Function):
    """The same body in Python: a 2x2 average forward, zero gradients."""

    @staticmethod
    def forward(ctx, x, a):
        ctx.save_for_backward(x, a)
        return F.avg_pool2d(x, 2)

    @staticmethod
    def backward(ctx, grad):
        x, a = ctx.saved_tensors
        return torch.zeros_like(x), torch.zeros_like(a)


def main() -> int:
    from torch.utils.cpp_extension import load_inline

    import ppverify.ops as P

    start = time.time()
    ext = load_inline("ppverify_autograd_probe", cpp_sources=SOURCE, extra_cflags=["-O2"])
    print(f"built the probe in {time.time() - start:.0f} s")
    torch.set_num_threads(1)
    x = torch.rand(1, 1, 4, 4)
    a32 = torch.tensor(2.0, requires_grad=True)
    a64 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    layer = P.PPool2d(2)
    cases = {
        "max_pool2d": lambda t: F.max_pool2d(t, 2),
        "C++ autograd function": lambda t: ext.pool(t, a32),
        "Python autograd function": lambda t: _PythonPool.apply(t, a32),
        "p_pool2d, float64 alpha": lambda t: P.p_pool2d(t, a64, 2),
        "PPool2d layer": layer,
    }

    def step(fn):
        xg = x.detach().requires_grad_(True)
        fn(xg).sum().backward()

    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(7):
        for name, fn in cases.items():
            for _ in range(50):
                step(fn)
            t0 = time.perf_counter()
            for _ in range(500):
                step(fn)
            times[name].append((time.perf_counter() - t0) / 500 * 1e6)
    base = sorted(times["max_pool2d"])[3]
    for name, values in times.items():
        median = sorted(values)[3]
        print(f"{name:<26} {median:7.1f} us per forward+backward  {median / base:5.2f}x max_pool2d")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
