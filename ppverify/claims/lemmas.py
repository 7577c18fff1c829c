"""Reductions and limit lemmas shared by several checks, each recording its steps on a Proof.

The max reduction (alpha -> +inf). A window has k >= 1 elements equal to its maximum
x_max = m > 0 and n >= 0 others x_j = r_j m with 0 <= r_j <= rho < 1 (rho: the largest ratio).
Then, for alpha > 0,

    sum x^alpha = m^alpha (k + V),  sum x^(alpha+1) = m^(alpha+1) (k + U),
    U = sum r_j^(alpha+1),  V = sum r_j^alpha,  0 <= U <= V <= n rho^alpha,

and every limit below is the limit of an explicit bound in rho^alpha, taken by SymPy with
rho = 1/(1+t), t > 0 (any ratio in (0, 1)); zeros (r_j = 0) are covered because 0^alpha = 0
for alpha > 0. Nothing is set to 0 before a limit is taken.
"""

from __future__ import annotations

import sympy as sp

from .proof import Proof
from .sym import RATIO, U, V, ap, k, lehmer, m, t, xi

n = sp.Symbol("n", integer=True, nonnegative=True)  # elements below the maximum
R = sp.Symbol("R", nonnegative=True)                # rho^alpha
r = sp.Symbol("r", positive=True)                   # one ratio x_j / x_max (0 < r < 1)
rho = sp.Symbol("rho", positive=True)
Y = sp.Symbol("Y", positive=True)                   # y / x_max

SQUEEZE = "squeeze theorem"
SUM_SPLIT = "splitting a finite sum"
TERMWISE = "summing termwise bounds over finitely many terms"


def max_reduction(pf: Proof) -> None:
    """y = x_max (k + U)/(k + V) and 0 <= U <= V <= n rho^alpha (all N, ties and zeros)."""
    pf.rule(SUM_SPLIT, "sum x^alpha = m^alpha (k + V) and sum x^(alpha+1) = m^(alpha+1) (k + U) "
            "with U = sum r_j^(alpha+1), V = sum r_j^alpha over the n elements below the max")
    y = (k * m ** (ap + 1) + m ** (ap + 1) * U) / (k * m**ap + m**ap * V)
    pf.zero(y - m * (k + U) / (k + V), "y = x_max (k + U)/(k + V)")
    pf.inequality("0 <= r^(alpha+1) <= r^alpha for 0 < r < 1, alpha > 0",
                  sp.And(r ** (ap + 1) <= r**ap, r ** (ap + 1) >= 0), [r < 1],
                  sympy_form=RATIO**ap * (RATIO - 1), sympy_sign_of="<=0")
    pf.sympy(sp.Integer(0) ** (ap + 1) == 0 and sp.Integer(0) ** ap == 0,
             "a zero element contributes 0^alpha = 0^(alpha+1) = 0 (alpha > 0)")
    pf.inequality("r^alpha <= rho^alpha for 0 < r <= rho < 1, alpha > 0 (monotone power)",
                  r**ap <= rho**ap, [r <= rho, rho < 1])
    pf.rule(TERMWISE, "0 <= U <= V <= n rho^alpha")


def forward_limit(pf: Proof) -> None:
    """y / x_max -> 1 as alpha -> +inf, by the squeeze k/(k + n rho^alpha) <= y/x_max <= 1."""
    max_reduction(pf)
    pf.inequality("k/(k + n rho^alpha) <= (k + U)/(k + V) <= 1",
                  sp.And(k / (k + n * R) <= (k + U) / (k + V), (k + U) / (k + V) <= 1),
                  [U <= V, n * R >= V])
    pf.limit(k / (k + n * RATIO**ap), ap, sp.oo, 1,
             "k/(k + n rho^alpha) -> 1 as alpha -> +inf (rho = 1/(1+t))")
    pf.rule(SQUEEZE, "y / x_max -> 1")


def max_grad_limit(pf: Proof):
    """dy/dx_max -> 1/k for each of k tied maxima; returns the limit (1/k)."""
    max_reduction(pf)
    a_other = (k - 1) * m**ap + m**ap * V
    b_other = (k - 1) * m ** (ap + 1) + m ** (ap + 1) * U
    g = sp.diff(lehmer(xi, a_other, b_other, ap), xi).subs(xi, m)
    g_red = (1 + ap * (V - U) / (k + V)) / (k + V)
    pf.zero(sp.powsimp(sp.expand_power_base(g, force=True), force=True) - g_red,
            "dy/dx_max = (1 + alpha (V - U)/(k + V)) / (k + V)")
    pf.inequality("1/(k + n rho^alpha) <= dy/dx_max <= (1 + alpha n rho^alpha / k)/k",
                  sp.And(1 / (k + n * R) <= g_red, g_red <= (1 + ap * n * R / k) / k),
                  [U <= V, n * R >= V])
    pf.limit(1 / (k + n * RATIO**ap), ap, sp.oo, 1 / k, "1/(k + n rho^alpha) -> 1/k")
    pf.limit((1 + ap * n * RATIO**ap / k) / k, ap, sp.oo, 1 / k,
             "(1 + alpha n rho^alpha / k)/k -> 1/k")
    pf.rule(SQUEEZE, "dy/dx_max -> 1/k")
    return 1 / k


def grad_as_weight(pf: Proof) -> None:
    """dy/dx_i = w_i ((alpha+1) - alpha y / x_i), w_i = x_i^alpha / sum x^alpha (x_i > 0)."""
    A_, B_ = sp.symbols("A B", nonnegative=True)
    y = lehmer(xi, A_, B_, ap)
    pf.zero(sp.diff(y, xi) - xi**ap / (xi**ap + A_) * ((ap + 1) - ap * y / xi),
            "dy/dx_i = w_i ((alpha+1) - alpha y/x_i), w_i = x_i^alpha / sum x^alpha")


def nonmax_grad_limit(pf: Proof) -> None:
    """dy/dx_k -> 0 for every element below the maximum (x_k > 0 and x_k = 0)."""
    grad_as_weight(pf)
    max_reduction(pf)
    pf.uses("T.bounds", text="0 < y <= x_max, i.e. 0 < Y = y/x_max <= 1")
    w = r**ap / (k + V)
    g = w * ((ap + 1) - ap * Y / r)
    bound = r**ap * ((ap + 1) + ap / r)
    pf.inequality("|dy/dx_k| <= r^alpha ((alpha+1) + alpha/r) with x_k = r x_max, 0 < r < 1 "
                  "(w_k = r^alpha/(k + V) <= r^alpha)",
                  sp.And(g <= bound, -bound <= g), [r < 1, Y <= 1])
    pf.limit(RATIO**ap * ((ap + 1) + ap / RATIO), ap, sp.oo, 0,
             "r^alpha ((alpha+1) + alpha/r) -> 0 (r = 1/(1+t))")
    pf.rule(SQUEEZE, "dy/dx_k -> 0 for 0 < x_k < x_max")
    zero_input_derivative(pf, 1 + sp.Symbol("s", positive=True), 0,
                          "for alpha > 1 the derivative at a zero input is 0, so it is 0 for "
                          "every alpha > 1 and its limit is 0 (x_k = 0)")


def zero_input_derivative(pf: Proof, alpha, want, text: str) -> None:
    """The one-sided derivative of y at a zero input, from the difference quotient
    (y(h) - y(0))/h, h -> 0+, where the other elements give A = sum x_j^alpha > 0 and
    B = sum x_j^(alpha+1) > 0 (alpha > 0, so 0^alpha = 0 at h = 0)."""
    hh = sp.Symbol("h", positive=True)
    A_, B_ = sp.symbols("A B", positive=True)
    P = sp.Symbol("P", positive=True)  # h^alpha; h^(alpha+1) = h P, h^(alpha-1) = P/h
    quotient = ((hh * P + B_) / (P + A_) - B_ / A_) / hh
    simple = (A_ * P - B_ * P / hh) / (A_ * (P + A_))
    pf.zero(quotient - simple, "(y(h) - y(0))/h = (A h^a - B h^(a-1)) / (A (h^a + A))")
    simple = simple.subs(P, hh**alpha)
    pf.limit(simple, hh, 0, want, text)


__all__ = ["R", "SQUEEZE", "Y", "forward_limit", "grad_as_weight", "max_grad_limit",
           "max_reduction", "n", "nonmax_grad_limit", "r", "rho", "t", "zero_input_derivative"]
