"""Time P-pooling and GeM on inputs with zeros (after a ReLU) against uniform ones.

    python -m tests.zero_windows_timing [ROUNDS]

(8, 64, 112, 112) float32, kernel 3 stride 2 padding 1, one thread; inputs ``rand + 0.01``,
``relu(randn)`` and ``relu(randn - 1)`` (a fifth of the 3x3 windows all zero). For each op
(``PPool2d`` at alpha = 1, 2, 0 and -1 with a learnable alpha; ``gem_pool2d`` at p = 3 with a
learnable p) the plain forward (no gradients) and one forward+backward, best of ROUNDS
(default 7), and ``max_pool2d``'s forward+backward on the same input. The figures behind the
README's "Zeros" paragraph (tests/ops/test_zero_windows.py holds the accuracy; this only
times)."""

from __future__ import annotations

import sys
import time


def best_ms(fn, rounds: int, warmups: int = 1) -> float:
    """The best of ``rounds`` timed calls of ``fn`` in ms, after ``warmups`` untimed ones."""
    for _ in range(warmups):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main(argv: list[str]) -> None:
    import torch
    import torch.nn.functional as F

    from ppverify.ops import PPool2d, gem_pool2d

    rounds = int(argv[0]) if argv else 7
    torch.set_num_threads(1)
    torch.manual_seed(0)
    shape = (8, 64, 112, 112)
    inputs = {"rand": torch.rand(shape) + 0.01, "relu(randn)": torch.relu(torch.randn(shape)),
              "relu(randn - 1)": torch.relu(torch.randn(shape) - 1)}
    ops = {f"PPool2d alpha {a:g}": PPool2d(3, 2, 1, alpha=a) for a in (1.0, 2.0, 0.0, -1.0)}
    p = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ops["gem_pool2d p 3"] = lambda x: gem_pool2d(x, p, 3, 2, 1)
    print(f"{'op':<20} {'input':<16} {'fwd ms':>8} {'fwd+bwd ms':>11} {'max_pool2d f+b':>15}")
    for name, op in ops.items():
        for label, x in inputs.items():
            def forward_backward(f=op, x=x):
                xg = x.detach().requires_grad_(True)
                f(xg).sum().backward()

            def max_pool(x=x):
                xg = x.detach().requires_grad_(True)
                F.max_pool2d(xg, 3, 2, 1).sum().backward()

            with torch.no_grad():
                fwd = best_ms(lambda f=op, x=x: f(x), rounds)
            print(f"{name:<20} {label:<16} {fwd:>8.1f} {best_ms(forward_backward, rounds):>11.1f} "
                  f"{best_ms(max_pool, rounds):>15.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
