"""Triton kernels for P-pooling: forward, and backward for the input and for alpha.

Imported only by ``ppverify.ops._triton`` (which chooses compiled or interpreted kernels when it
imports this file, see there); this file holds the device code and nothing else.

Mathematics and conventions are those of ``ppverify.ops.functional`` and the oracle
(``ppverify/oracle/operators.py``); the formulation is the pure-torch backend's
(``ppverify.ops._torch_impl._PPool``), evaluated window by window in float64 whatever the input
dtype (the mixed arithmetic for float32 and narrower inputs, ``ppool_forward_mixed`` and the
backward's ``MIXED``, has its own section below):

* each window is taken relative to its dominant element ``R_d`` (its max for alpha >= 0, its
  smallest positive element for alpha < 0): ``w_i = exp(alpha ln(x_i / R_d)) <= 1``, so nothing
  overflows for alpha from -1e4 to 1e6 and any finite input;
* ``ln(x / R)`` is formed from the binary exponents and mantissas (``_ln_pieces``: ``k ln 2``
  exact plus an atanh series of the mantissa ratio), so it is accurate to a few ulp *absolute*
  even for x / R outside the float64 range and *relative* for x near R;
* for float64 inputs (``PRECISE``) the product ``alpha ln(x/R)`` is carried in double-double
  (Dekker's exact product), the numerator ``sum x^(alpha+1)`` has its own dominant element
  ``R_n`` when -1 < alpha < 0, and the window sums are compensated (TwoSum);
* ``x_i - y`` in the derivatives is never formed from the rounded y: with ``rho_j = x_j/R - 1``
  and ``D = sum_j w_j rho_j = y/R - 1``, ``(x_i - y)/x_i = (rho_i - D)/(x_i/R)``;
* zeros, ties, all-zero windows and padding follow the oracle's conventions exactly.

Only IEEE arithmetic, ``fma`` (where its rounding does not matter), comparisons and bit casts
are used: ``exp`` and ``ln`` are
written here as polynomials (``_exp``, ``_ln_pieces``) and the rounding to float16/bfloat16 is
done with integer operations (``_store``), so Triton's interpreter (``TRITON_INTERPRET=1``,
numpy on CPU) evaluates the same arithmetic as the GPU, without ``libdevice``, whose functions
the interpreter does not have.

Layout of the work: one program evaluates a ``[PPP * WB, BLOCK_K]`` tile: ``PPP`` planes
(batch, channel) times ``WB`` windows of each, times ``BLOCK_K`` window elements at a time
(``SINGLE``: the whole window in one tile; otherwise a loop over chunks, each pass reloading its
chunk). The input is read through its strides (any layout, channels_last included). The
backward scatters ``dy/dx_i * grad_y`` into the input gradient, with plain stores where no two
windows share an element (``OVERLAP`` 0) and atomic adds otherwise; dy/dalpha per window is
summed per (plane, program) as a mantissa sum times a power of two (``_scaled_partial``), so
that subnormal and huge terms are summed without underflow or overflow.
"""

from __future__ import annotations

import triton
import triton.language as tl

LN2_HI = tl.constexpr(6.93147180369123816490e-01)   # k * LN2_HI is exact for |k| < 2**20
LN2_LO = tl.constexpr(1.90821492927058770002e-10)
LOG2E = tl.constexpr(1.4426950408889634)
SQRT2 = tl.constexpr(1.4142135623730951)
TINY = tl.constexpr(2.2250738585072014e-308)         # smallest normal float64
INF = tl.constexpr(float("inf"))
# no NaN global: Triton checks at each launch that globals are unchanged (!=); nan != nan
NO_EXP = tl.constexpr(-4000)                         # the exponent of a zero term
SPLITTER = tl.constexpr(134217729.0)                 # 2**27 + 1, Dekker's split

# storage kinds (the `KIND` constexprs): how a tensor is read and written
F64, F32, F16, BF16 = 0, 1, 2, 3                     # BF16 tensors are passed as int16 views
# KIND + 4: the same storage loaded as float32 (``_load``; float32 and narrower storage only)

# integer arguments Triton must not specialise on (value 1, divisibility by 16): every pooling
# geometry and stride pattern then shares one compiled kernel per dtype and tile shape, which
# keeps the number of compilations (a few seconds each) small
_GEOMETRY = ["P", "C", "D", "H", "W", "OD", "OH", "OW", "KD", "KH", "KW", "SD", "SH", "SW",
             "PD", "PH", "PW", "DD", "DH", "DW", "K", "ADAPTIVE"]
_FORWARD_INTS = _GEOMETRY + ["sxn", "sxc", "sxd", "sxh", "sxw", "san", "sac", "syn", "syc",
                             "syd", "syh", "syw"]
_BACKWARD_INTS = _GEOMETRY + ["sxn", "sxc", "sxd", "sxh", "sxw", "san", "sac", "sgn", "sgc",
                              "sgd", "sgh", "sgw", "sin_", "sic", "sid", "sih", "siw", "OVERLAP",
                              "NEED_PARAM"]


# ------------------------------------------------------------------------ float64 building blocks
# tl.sum, tl.max, tl.zeros... are not used: they are @triton.jit functions of Triton's own library,
# compiled or interpreted according to TRITON_INTERPRET when triton was imported, whereas these
# kernels may be defined in the other mode. tl.reduce with the library's combine functions works
# in both, and the interpreter recognises those and reduces with numpy.
_SUM = tl.standard._sum_combine
_MAX = tl.standard._elementwise_max
_MIN = tl.standard._elementwise_min


@triton.jit
def _any(mask):
    """Whether some entry of ``mask`` is true (a scalar, for a branch taken by the program)."""
    return tl.reduce(mask.to(tl.int32), None, _MAX) > 0


@triton.jit
def _f64(v: tl.constexpr):
    """A float64 constant (Triton before 3.9 rounds a Python float to float32 when it meets a
    float64 tensor in a three-operand op such as ``tl.fma``)."""
    return tl.full([], v, tl.float64)


@triton.jit
def _pow2(k):
    """``2**k`` for integer ``k`` (int64) in [-2044, 2046], as two normal float64 factors."""
    k1 = k >> 1
    k2 = k - k1
    f1 = ((k1 + 1023) << 52).to(tl.float64, bitcast=True)
    f2 = ((k2 + 1023) << 52).to(tl.float64, bitcast=True)
    return f1, f2


@triton.jit
def _exp(z):
    """``e**z`` for float64 ``z`` to about one ulp: argument reduction by ln 2 (two-part
    constant) and a degree-13 Taylor polynomial on |r| <= ln(2)/2 (error < 5e-18); the result
    is scaled by two exact powers of two, so it underflows gradually and overflows to inf."""
    zc = tl.minimum(tl.maximum(z, -746.0), 710.0)
    n = tl.floor(zc * LOG2E + 0.5)
    r = zc - n * LN2_HI
    r = r - n * LN2_LO
    p = _f64(1.0 / 6227020800.0)
    p = tl.fma(p, r, _f64(1.0 / 479001600.0))
    p = tl.fma(p, r, _f64(1.0 / 39916800.0))
    p = tl.fma(p, r, _f64(1.0 / 3628800.0))
    p = tl.fma(p, r, _f64(1.0 / 362880.0))
    p = tl.fma(p, r, _f64(1.0 / 40320.0))
    p = tl.fma(p, r, _f64(1.0 / 5040.0))
    p = tl.fma(p, r, _f64(1.0 / 720.0))
    p = tl.fma(p, r, _f64(1.0 / 120.0))
    p = tl.fma(p, r, _f64(1.0 / 24.0))
    p = tl.fma(p, r, _f64(1.0 / 6.0))
    p = tl.fma(p, r, 0.5)
    p = tl.fma(p, r, 1.0)
    p = tl.fma(p, r, 1.0)
    f1, f2 = _pow2(n.to(tl.int64))
    return tl.where(z != z, z, (p * f1) * f2)


@triton.jit
def _split(v):
    """``v = m * 2**e`` for finite ``v > 0`` (subnormals included): ``m`` in [1/sqrt2, sqrt2),
    ``e`` an integer-valued float64."""
    sub = v < TINY
    vs = tl.where(sub, v * 18014398509481984.0, v)  # 2**54
    b = vs.to(tl.int64, bitcast=True)
    e = ((b >> 52) & 0x7FF) - 1023
    m = ((b & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000).to(tl.float64, bitcast=True)
    big = m > SQRT2
    m = tl.where(big, m * 0.5, m)
    e = e + tl.where(big, 1, 0) - tl.where(sub, 54, 0)
    return m, e.to(tl.float64)


@triton.jit
def _ln_pieces(xm, xe, rm, re):
    """``ln(x / r) = big + small`` from the splits of ``x`` and ``r`` (``_split``): ``big = k
    ln2_hi`` exact and ``small = k ln2_lo + ln(q)``, ``q`` the mantissa ratio brought into
    [1/sqrt2, sqrt2], ``ln q = 2 atanh(s)``, ``s = (xm - rm) / (xm + rm)`` with ``xm - rm``
    exact (Sterbenz), |s| <= 0.172: a series of 12 terms, relative error a few ulp."""
    up = xm > rm * SQRT2
    dn = xm * SQRT2 < rm
    rm2 = tl.where(up, rm * 2.0, tl.where(dn, rm * 0.5, rm))
    k = xe - re + tl.where(up, 1.0, tl.where(dn, -1.0, 0.0))
    s = (xm - rm2) / (xm + rm2)
    s2 = s * s
    p = _f64(1.0 / 23.0)
    p = tl.fma(p, s2, _f64(1.0 / 21.0))
    p = tl.fma(p, s2, _f64(1.0 / 19.0))
    p = tl.fma(p, s2, _f64(1.0 / 17.0))
    p = tl.fma(p, s2, _f64(1.0 / 15.0))
    p = tl.fma(p, s2, _f64(1.0 / 13.0))
    p = tl.fma(p, s2, _f64(1.0 / 11.0))
    p = tl.fma(p, s2, _f64(1.0 / 9.0))
    p = tl.fma(p, s2, _f64(1.0 / 7.0))
    p = tl.fma(p, s2, _f64(1.0 / 5.0))
    p = tl.fma(p, s2, _f64(1.0 / 3.0))
    f = 2.0 * s + (2.0 * s * s2) * p
    big = k * LN2_HI
    small = k * LN2_LO + f
    return big, small


@triton.jit
def _ln(v):
    """``ln v`` for finite ``v > 0``."""
    m, e = _split(v)
    big, small = _ln_pieces(m, e, m * 0.0 + 1.0, e * 0.0)
    return big + small


@triton.jit
def _two_prod(a, b):
    """``a b = p + e`` exactly (Dekker's product; ``e`` is 0 where the split overflows). Exact
    only without contraction into fma, so the float64 kernels are compiled with
    ``enable_fp_fusion=False`` (``_triton``); ``tl.fma`` would do it in one step on a GPU, but
    Triton's interpreter rounds its product before 3.9."""
    p = a * b
    ca = SPLITTER * a
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    cb = SPLITTER * b
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, tl.where(tl.abs(e) < INF, e, 0.0)


@triton.jit
def _exp_mul(a, big, small, PRECISE: tl.constexpr):
    """``exp(a (big + small))``; with ``PRECISE`` the product is carried in double-double
    (``a big`` split exactly, ``_two_prod``) and ``exp(hi + lo) = exp(hi) (1 + lo)``."""
    if PRECISE:
        p, e = _two_prod(a, big)
        q = e + a * small
        hi = p + q
        lo = q - (hi - p)
        eh = _exp(hi)
        w = tl.where((eh > 0.0) & (eh < INF), eh + eh * lo, eh)
    else:
        w = _exp(a * (big + small))
    return w


@triton.jit
def _two_sum(a_hi, a_lo, b_hi, b_lo):
    """Combine two unevaluated sums ``hi + lo`` (TwoSum of the high parts, errors kept)."""
    s = a_hi + b_hi
    bb = s - a_hi
    return s, (a_lo + b_lo) + ((a_hi - (s - bb)) + (b_hi - bb))


@triton.jit
def _row_sum(v, PRECISE: tl.constexpr):
    """Sum over axis 1 as ``(hi, lo)``: with ``PRECISE`` pairwise, each addition's exact error
    kept by TwoSum and the errors added at the end (about one rounding for the whole sum, as
    ``_numerics.csum``); else plain (lo = 0)."""
    lo = tl.full([v.shape[0]], 0.0, tl.float64)
    if PRECISE:
        t = v
        for _ in tl.static_range(14):  # BLOCK_K <= 2^14 (_triton.MAX_TILE)
            if t.shape[1] > 1:
                a, b = tl.split(tl.reshape(t, (t.shape[0], t.shape[1] // 2, 2)))
                s = a + b
                bb = s - a
                lo += tl.reduce((a - (s - bb)) + (b - bb), 1, _SUM)
                t = s
        hi = tl.reshape(t, (t.shape[0], ))
    else:
        hi = tl.reduce(v, 1, _SUM)
    return hi, lo


@triton.jit
def _value(hi, lo):
    """``hi + lo`` (``hi`` alone where TwoSum of infinities made ``lo`` NaN)."""
    s = hi + lo
    return tl.where(s == s, s, hi)


# ------------------------------------------------------------------------------ loads and stores


@triton.jit
def _load(ptr, off, mask, KIND: tl.constexpr):
    """Read as float64; bfloat16 from its int16 bits (exact, subnormals kept). ``KIND + 4``
    (float32 and narrower storage): read as float32 instead (exact too)."""
    if KIND == 3 or KIND == 7:
        b = tl.load(ptr + off, mask=mask, other=0).to(tl.int32)
        b = (b & 0xFFFF) << 16
        v = b.to(tl.float32, bitcast=True)
    else:
        v = tl.load(ptr + off, mask=mask, other=0.0)
    if KIND < 4:  # noqa: SIM108 - a constexpr branch (Triton), not a value
        v = v.to(tl.float64)
    else:
        v = v.to(tl.float32)
    return v


@triton.jit
def _round_odd_f32(v):
    """``v`` (float64) rounded to float32 *to odd*: a second rounding to 11 or 8 significant
    bits is then the correct rounding of ``v`` (no double-rounding error)."""
    r = v.to(tl.float32)
    back = r.to(tl.float64)
    bits = r.to(tl.int32, bitcast=True)
    mag = bits & 0x7FFFFFFF
    sign = bits - mag
    away = tl.abs(back) > tl.abs(v)
    mag = tl.where(away & (mag > 0), mag - 1, mag)
    mag = tl.where(back != v, mag | 1, mag)
    out = (sign | mag).to(tl.float32, bitcast=True)
    return tl.where(v != v, r, out)


@triton.jit
def _store(ptr, off, v, mask, KIND: tl.constexpr):
    """Write float64 ``v`` rounded once (to nearest, ties to even) to the tensor's dtype."""
    if KIND == 0:
        tl.store(ptr + off, v, mask=mask)
    elif KIND == 1:
        tl.store(ptr + off, v.to(tl.float32), mask=mask)
    elif KIND == 2:
        tl.store(ptr + off, _round_odd_f32(v).to(tl.float16), mask=mask)
    else:
        bits = _round_odd_f32(v).to(tl.int32, bitcast=True)
        mag = bits & 0x7FFFFFFF
        sign = (bits - mag) >> 16
        rounded = (mag + 0x7FFF + ((mag >> 16) & 1)) >> 16
        out = tl.where(v != v, 0x7FC0, sign | rounded)
        tl.store(ptr + off, out.to(tl.int16), mask=mask)


# ---------------------------------------------------------------------------------- the windows


@triton.jit
def _rows(a_ptr, P, C, OD, OH, OW, san, sac, WB: tl.constexpr, PPP: tl.constexpr):
    """This program's windows: plane, output position, validity, and alpha per row."""
    lane = tl.arange(0, PPP * WB)
    plane = tl.program_id(0) * PPP + lane // WB
    o = tl.program_id(1) * WB + lane % WB
    ok = (plane < P) & (o < OD * OH * OW)
    ow = o % OW
    t = o // OW
    oh = t % OH
    od = t // OH
    n = plane // C
    c = plane % C
    a = tl.load(a_ptr + n.to(tl.int64) * san + c.to(tl.int64) * sac, mask=ok, other=0.0)
    return plane, n, c, od, oh, ow, ok, a


@triton.jit
def _axis(o, k, L, OUT, S, PAD, DIL, ADAPTIVE):
    """Input coordinates ``[rows, BLOCK_K]`` of kernel offsets ``k`` along one axis, and
    whether they are inside the window and the input (padding and overhang are not)."""
    if ADAPTIVE != 0:
        start = (o * L) // OUT
        end = ((o + 1) * L + OUT - 1) // OUT
        i = start[:, None] + k[None, :]
        inside = i < end[:, None]
    else:
        i = (o * S - PAD)[:, None] + (k * DIL)[None, :]
        inside = (i >= 0) & (i < L)
    return i, inside


@triton.jit
def _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW,
           PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw,
           ADAPTIVE, KIND: tl.constexpr, BLOCK_K: tl.constexpr):
    """Window elements ``k0 .. k0 + BLOCK_K`` of every row: values (float64, 0 outside), the
    validity mask and the elements' coordinates ``(i_d, i_h, i_w)`` (for the scatter)."""
    kk = k0 + tl.arange(0, BLOCK_K)
    kw = kk % KW
    t = kk // KW
    kh = t % KH
    kd = t // KH
    i_d, in_d = _axis(od, kd, D, OD, SD, PD, DD, ADAPTIVE)
    i_h, in_h = _axis(oh, kh, H, OH, SH, PH, DH, ADAPTIVE)
    i_w, in_w = _axis(ow, kw, W, OW, SW, PW, DW, ADAPTIVE)
    valid = ok[:, None] & (kk < K)[None, :] & in_d & in_h & in_w
    base = n.to(tl.int64) * sxn + c.to(tl.int64) * sxc
    off = base[:, None] + i_d.to(tl.int64) * sxd + i_h.to(tl.int64) * sxh + \
        i_w.to(tl.int64) * sxw
    x = _load(x_ptr, tl.where(valid, off, 0), valid, KIND)
    return x, valid, (i_d, i_h, i_w)


@triton.jit
def _window_stats(x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW,
                  DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw, ADAPTIVE, KIND: tl.constexpr,
                  SINGLE: tl.constexpr, BLOCK_K: tl.constexpr, WB: tl.constexpr,
                  PPP: tl.constexpr):
    """Pass 1 of every kernel: per row, the element counts (valid, positive, zero), the largest
    and the smallest positive element and the count of bad elements (``_stats``; ``_stats32``
    for ``KIND + 4``, float32 loads), and, with ``SINGLE``, the window's tile ``(x, valid,
    at)`` for the later passes (``_chunk``); otherwise the window is read chunk by chunk and
    ``(x, valid, at)`` are placeholders that the callers do not use."""
    if SINGLE:
        x, valid, at = _chunk(x_ptr, n, c, od, oh, ow, ok, 0, D, H, W, OD, OH, OW, KH, KW, SD,
                              SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw, ADAPTIVE,
                              KIND, BLOCK_K)
        if KIND >= 4:
            n_valid, n_pos, n_zero, xmax, xmin, n_bad = _stats32(x, valid)
        else:
            n_valid, n_pos, n_zero, xmax, xmin, n_bad = _stats(x, valid)
    else:
        if KIND >= 4:
            n_valid = tl.full([PPP * WB], 0, tl.int32)
            n_pos = tl.full([PPP * WB], 0, tl.int32)
            n_zero = tl.full([PPP * WB], 0, tl.int32)
            xmax = tl.full([PPP * WB], 0.0, tl.float32)
            xmin = tl.full([PPP * WB], 0.0, tl.float32) + INF
        else:
            n_valid = tl.full([PPP * WB], 0.0, tl.float64)
            n_pos = tl.full([PPP * WB], 0.0, tl.float64)
            n_zero = tl.full([PPP * WB], 0.0, tl.float64)
            xmax = tl.full([PPP * WB], 0.0, tl.float64)
            xmin = tl.full([PPP * WB], 0.0, tl.float64) + INF
        n_bad = tl.full([PPP * WB], 0, tl.int32)
        for k0 in range(0, K, BLOCK_K):
            xc, vc, _u1 = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW,
                                 SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw,
                                 ADAPTIVE, KIND, BLOCK_K)
            if KIND >= 4:
                c_valid, c_pos, c_zero, c_max, c_min, c_bad = _stats32(xc, vc)
            else:
                c_valid, c_pos, c_zero, c_max, c_min, c_bad = _stats(xc, vc)
            n_valid += c_valid
            n_pos += c_pos
            n_zero += c_zero
            xmax = tl.maximum(xmax, c_max)
            xmin = tl.minimum(xmin, c_min)
            n_bad += c_bad
        x, valid, at = xmax, ok, (od, oh, ow)
    return x, valid, at, n_valid, n_pos, n_zero, xmax, xmin, n_bad


@triton.jit
def _stats(x, valid):
    """Per row: element counts (valid, positive, zero), max, smallest positive, and whether
    some element is negative, NaN or infinite."""
    pos = valid & (x > 0.0)
    zero = valid & (x == 0.0)
    bad = valid & ((x < 0.0) | (x != x) | (x == INF))
    n_valid = tl.reduce(valid.to(tl.float64), 1, _SUM)
    n_pos = tl.reduce(pos.to(tl.float64), 1, _SUM)
    n_zero = tl.reduce(zero.to(tl.float64), 1, _SUM)
    xmax = tl.reduce(tl.where(pos, x, 0.0), 1, _MAX)
    xmin = tl.reduce(tl.where(pos, x, INF), 1, _MIN)
    n_bad = tl.reduce(bad.to(tl.int32), 1, _SUM)
    return n_valid, n_pos, n_zero, xmax, xmin, n_bad


@triton.jit
def _refs(a, xmax, xmin, PRECISE: tl.constexpr):
    """The dominant elements: ``R_d`` for ``x^alpha``, ``R_n`` for ``x^(alpha+1)`` (R_d itself
    unless PRECISE: float32 and narrower inputs keep every ratio within float64's range)."""
    safe_max = tl.where(xmax > 0.0, xmax, 1.0)
    safe_min = tl.where(xmin < INF, xmin, 1.0)
    ref_d = tl.where(a >= 0.0, safe_max, safe_min)
    if PRECISE:  # noqa: SIM108 - a constexpr branch (Triton), not a value
        ref_n = tl.where(a + 1.0 >= 0.0, safe_max, safe_min)
    else:
        ref_n = ref_d
    return ref_d, ref_n


@triton.jit
def _terms(x, valid, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, PRECISE: tl.constexpr,
           MIXED: tl.constexpr):
    """Per element: positive mask, ``ln(x/R_d)`` (as big + small and summed), ``x^alpha /
    R_d^alpha`` and ``x^(alpha+1) / R_n^(alpha+1)`` (0 at zeros and outside the window).
    ``sep`` (per row): whether the numerator needs its own exponential (PRECISE, alpha < 0).
    ``MIXED`` (float32 and narrower inputs): the logarithm and the exponential in mixed
    precision (``_ln_ratio32``, ``_exp_weight``: relative errors about 2^-28 and 2^-23)."""
    pos = valid & (x > 0.0)
    xs = tl.where(pos, x, ref_d[:, None])
    ae = a[:, None]
    if MIXED:
        xm, xe = _split32(xs)
        rm, re = _split32(ref_d)
        lr = tl.where(pos, _ln_ratio32(xm, xe, rm[:, None], re[:, None]), 0.0)
        ed = tl.where(pos, _exp_weight(ae * lr), 0.0)
    else:
        xm, xe = _split(xs)
        big, small = _ln_pieces(xm, xe, rd_m[:, None], rd_e[:, None])
        lr = tl.where(pos, big + small, 0.0)
        ed = tl.where(pos, _exp_mul(ae, big, small, PRECISE), 0.0)
    if PRECISE:  # noqa: SIM108 - a constexpr branch (Triton), not a value
        en = ed * (xs / ref_d[:, None])
    else:  # a product per element, not a division: forward 105 against 110 us (k2 s2),
        # 477 against 489 (k3 s2 p1) on an H200 (bfloat16 (8, 64, 112, 112))
        en = ed * (xs * (1.0 / ref_d)[:, None])
    if PRECISE:  # noqa: SIM102 - compile-time branch around a run-time one (Triton)
        if _any(sep):
            nbig, nsmall = _ln_pieces(xm, xe, rn_m[:, None], rn_e[:, None])
            en_sep = _exp_mul(ae + 1.0, nbig, nsmall, PRECISE)
            en = tl.where(sep[:, None], en_sep, en)
    en = tl.where(pos, en, 0.0)
    return pos, xs, lr, ed, en


# --------------------------------------------------------------------------------------- forward


@triton.jit
def _chunked_sums(x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW,
                  PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw, a, rd_m, rd_e, ref_d,
                  rn_m, rn_e, sep, f1, f2, ADAPTIVE, KIND: tl.constexpr, BLOCK_K: tl.constexpr,
                  WB: tl.constexpr, PPP: tl.constexpr, PRECISE: tl.constexpr,
                  MIXED: tl.constexpr):
    """Pass 2 of a window longer than one block, chunk by chunk: the double-double sums of the
    weights relative to R_d (S), to R_n (T) and of the positive elements scaled by
    2^-e(R_d) (the mean's), as ``(s_hi, s_lo, t_hi, t_lo, m_hi, m_lo)``."""
    s_hi = tl.full([PPP * WB], 0.0, tl.float64)
    s_lo = tl.full([PPP * WB], 0.0, tl.float64)
    t_hi = tl.full([PPP * WB], 0.0, tl.float64)
    t_lo = tl.full([PPP * WB], 0.0, tl.float64)
    m_hi = tl.full([PPP * WB], 0.0, tl.float64)
    m_lo = tl.full([PPP * WB], 0.0, tl.float64)
    for k0 in range(0, K, BLOCK_K):
        xc, vc, _u1 = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW,
                           SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw,
                           ADAPTIVE, KIND, BLOCK_K)
        pc, _u2, _u3, edc, enc = _terms(xc, vc, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, PRECISE,
                                        MIXED)
        h, lo = _row_sum(edc, PRECISE)
        s_hi, s_lo = _two_sum(s_hi, s_lo, h, lo)
        h, lo = _row_sum(enc, PRECISE)
        t_hi, t_lo = _two_sum(t_hi, t_lo, h, lo)
        h, lo = _row_sum(tl.where(pc, (xc * f1[:, None]) * f2[:, None], 0.0), PRECISE)
        m_hi, m_lo = _two_sum(m_hi, m_lo, h, lo)
    return s_hi, s_lo, t_hi, t_lo, m_hi, m_lo


@triton.jit(do_not_specialize=_FORWARD_INTS)
def ppool_forward(x_ptr, a_ptr, y_ptr, flag_ptr,
                  P, C, D, H, W, OD, OH, OW, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW, K,
                  sxn, sxc, sxd, sxh, sxw, san, sac, syn, syc, syd, syh, syw, ADAPTIVE,
                  KIND: tl.constexpr, PRECISE: tl.constexpr,
                  SINGLE: tl.constexpr, BLOCK_K: tl.constexpr, WB: tl.constexpr,
                  PPP: tl.constexpr):
    """y for ``PPP * WB`` windows; windows with a bad element or a non-finite alpha get NaN
    and set ``flag`` to 1."""
    plane, n, c, od, oh, ow, ok, a = _rows(a_ptr, P, C, OD, OH, OW, san, sac, WB, PPP)
    # pass 1: counts and extremes
    x, valid, _u4, n_valid, n_pos, n_zero, xmax, xmin, n_bad = _window_stats(
        x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH,
        DW, K, sxn, sxc, sxd, sxh, sxw, ADAPTIVE, KIND, SINGLE, BLOCK_K, WB, PPP)
    ref_d, ref_n = _refs(a, xmax, xmin, PRECISE)
    rd_m, rd_e = _split(ref_d)
    rn_m, rn_e = _split(ref_n)
    sep = ok & (a < 0.0)
    f1, f2 = _pow2(-rd_e.to(tl.int64))    # exact scaling of the mean's sum (alpha = 0)
    # pass 2: the sums
    if SINGLE:
        pos, xs, lr, ed, en = _terms(x, valid, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, PRECISE,
                                     False)
        s_hi, s_lo = _row_sum(ed, PRECISE)
        t_hi, t_lo = _row_sum(en, PRECISE)
        m_hi, m_lo = _row_sum(tl.where(pos, (x * f1[:, None]) * f2[:, None], 0.0), PRECISE)
    else:
        s_hi, s_lo, t_hi, t_lo, m_hi, m_lo = _chunked_sums(
            x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW,
            DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, f1, f2,
            ADAPTIVE, KIND, BLOCK_K, WB, PPP, PRECISE, False)
    S = _value(s_hi, s_lo)
    T = _value(t_hi, t_lo)
    S = tl.where(S > 0.0, S, 1.0)
    T = tl.where(T > 0.0, T, 1.0)
    y = _ratio_y(a, ref_d, ref_n, rd_m, rd_e, rn_m, rn_e, S, T, PRECISE)
    g1, g2 = _pow2(rd_e.to(tl.int64))
    mean = ((_value(m_hi, m_lo) / n_valid) * g1) * g2
    y = tl.where(a == 0.0, mean, y)
    _store_windows(y_ptr, flag_ptr, y, a, ok, n_pos, n_zero, n_bad, n, c, od, oh, ow, syn, syc,
                   syd, syh, syw, KIND)


@triton.jit
def _store_windows(y_ptr, flag_ptr, y, a, ok, n_pos, n_zero, n_bad, n, c, od, oh, ow, syn, syc,
                   syd, syh, syw, KIND: tl.constexpr):
    """The forwards' last step: the conventions (0 for a window without a positive element, and
    for alpha < 0 with a zero in it), NaN and the flag for a window with a bad element or a
    non-finite alpha, one rounding to the output's dtype and the store."""
    y = tl.where((n_pos == 0) | ((a < 0.0) & (n_zero > 0)), 0.0, y)
    bad = ok & ((n_bad > 0) | (a != a) | (tl.abs(a) == INF))
    y = tl.where(bad, INF - INF, y)  # NaN
    out = n.to(tl.int64) * syn + c.to(tl.int64) * syc + od.to(tl.int64) * syd + \
        oh.to(tl.int64) * syh + ow.to(tl.int64) * syw
    _store(y_ptr, tl.where(ok, out, 0), y, ok, KIND)
    if _any(bad):
        tl.atomic_max(flag_ptr, 1)


@triton.jit
def _ratio_y(a, ref_d, ref_n, rd_m, rd_e, rn_m, rn_e, S, T, PRECISE: tl.constexpr):
    """``y = R_n (R_n / R_d)^alpha T / S`` (``R_d T / S`` when both references coincide)."""
    y = ref_d * (T / S)
    if PRECISE:
        big, small = _ln_pieces(rn_m, rn_e, rd_m, rd_e)
        fac = _exp_mul(a, big, small, PRECISE)
        y = tl.where(ref_n == ref_d, y, (ref_n * fac) * (T / S))
    return y


# ----------------------------------------- forward in mixed precision (float32 and narrower inputs)
# For float32, float16 and bfloat16 inputs: the per-element logarithm and exponential in float32,
# only alpha * ln(x/R), its reduction by ln 2 and the window sums in float64. Every float32
# input is exact in float64 (subnormals normalised), so the weights are exact float64 numbers
# w_i = e^(alpha ln(x_i/R)) <= 1 (R the dominant element: w_R = 1), the numerator is
# sum w_i x_i with exact products (24 x 24 bits), and y = sum w_i x_i / sum w_i needs no
# second reference R_n: no term of either sum overflows, and for -1 < alpha < 0 the weights of
# the largest elements are >= (2^-277)^1 (float32's range), far above float64's smallest normal.
#
# Error: with p_i = w_i / sum w, relative errors d_i of z_i = alpha ln(x_i/R) move y by
# sum_i p_i z_i d_i (x_i - y), and relative errors e_i of the weights by sum_i p_i e_i (x_i - y).
# |x_i - y| <= R, and E_p|z| = H(p) - ln(sum w) <= ln N (N the window's positive elements: the
# entropy H(p) <= ln N, and sum w >= w_R = 1), so the first moves y by at most d R ln N (d the
# largest d_i) and the second by at most e R / 2 (the mean absolute deviation of values in
# [0, R]). The growth with ln N is real: one element R and N - 1 equal elements t whose weights
# sum to about 1 put E_p|z| near ln N, and equal elements have equal errors (y then moves by
# about d ln N (R - t) / 4). So ln(x/R) needs a
# relative error well below float32's: k ln 2 + 2 atanh(s) with s = (m_x - m_R)/(m_x + m_R) of
# the float32 mantissas carried to about 2^-28 (``_ln_ratio32``; in plain float32, 2^-24, it
# moved y by up to 1.67 ULP on windows of 12544 elements, a 112 x 112 plane); alpha times it in
# float64 adds 2^-53. e^r on |r| <= ln(2)/2 in float32 (degree-7 Taylor, 2^-27.5) adds a few
# 2^-24 to each weight. y's float64 value is then rounded once to the output dtype (float16/
# bfloat16 through round-to-odd float32). Checked against the oracle by the adversarial survey
# (forward <= 2 ULP, ``python -m ppverify.ops.gpu_check``) and by the large-window test
# (``tests/ops/test_triton.py``, <= 1 ULP).
LN2_F64 = tl.constexpr(0.6931471805599453)
SQRT2_F32 = tl.constexpr(1.4142135)


@triton.jit
def _split32(v):
    """``v = m 2**e`` for a float64 ``v > 0`` that holds a float32 value (a float32 subnormal is
    normal in float64): ``m`` float32 in [1, 2) (exact: at most 24 significant bits), ``e``
    int32."""
    b = v.to(tl.int64, bitcast=True)
    e = (((b >> 52) & 0x7FF) - 1023).to(tl.int32)
    m = (((b >> 29) & 0x7FFFFF) | 0x3F800000).to(tl.int32).to(tl.float32, bitcast=True)
    return m, e


@triton.jit
def _ln_ratio32(xm, xe, rm, re):
    """``ln(x / r)`` as float64 from the float32 splits of ``x`` and ``r`` (``_split32``):
    ``k ln 2 + 2 atanh(s)``, the mantissa ratio brought into [1/sqrt2, sqrt2],
    ``s = (xm - rm2) / (xm + rm2)``, |s| <= 0.172, the series to s^9 (truncation 2^-29).

    ``s`` is carried as ``s_hi + s_lo``: ``d = xm - rm2`` is exact in float32 (Sterbenz), the sum
    ``xm + rm2`` exact in float64 (25 bits), ``s_hi = d / sum`` in float32 and the remainder
    ``d - s_hi sum`` exact in float64 (a 24 x 25-bit product, then a difference of two numbers
    within a factor 2), so ``s_lo`` = remainder / sum needs only a float32 division. The leading
    term ``2 s_hi`` and ``k ln 2`` are added in float64; only the corrections (``2 s_lo`` and
    the series' tail, below 2^-5.6 |2 s|) are float32. Relative error of the result: about
    2^-28. Both steps matter on a window of 12544 elements built to weigh this error most (the
    section's comment; ``tests/ops/test_triton.py``): the largest error of y, 1.67 float32 ULP
    with ``s`` and the sum ``2 s + tail`` both in float32, 1.44 with only the sum in float64,
    1.0 with only ``s_lo``, 0.6 with both."""
    up = xm > rm * SQRT2_F32
    dn = xm * SQRT2_F32 < rm
    rm2 = tl.where(up, rm * 2.0, tl.where(dn, rm * 0.5, rm))
    k = xe - re + tl.where(up, 1, tl.where(dn, -1, 0))
    d = xm - rm2
    den = xm.to(tl.float64) + rm2.to(tl.float64)
    den32 = den.to(tl.float32)
    s = d / den32
    rem = d.to(tl.float64) - s.to(tl.float64) * den
    s_lo = rem.to(tl.float32) / den32
    s2 = s * s
    p = s2 * (1.0 / 9.0) + (1.0 / 7.0)
    p = p * s2 + (1.0 / 5.0)
    p = p * s2 + (1.0 / 3.0)
    tail = 2.0 * s_lo + (2.0 * s * s2) * p
    return k.to(tl.float64) * LN2_F64 + (2.0 * s.to(tl.float64) + tail.to(tl.float64))


@triton.jit
def _exp_weight(z):
    """``e**z`` (float64) for float64 ``z <= 0`` (the weights): ``n = round(z / ln 2)`` and
    ``r = z - n ln 2`` in float64, ``e**r`` by a degree-7 Taylor polynomial in float32
    (|r| <= 0.347), times ``2**n`` exactly (two factors: gradual underflow, 0 below 2^-1075)."""
    zc = tl.maximum(z, -800.0)
    n = tl.floor(zc * LOG2E + 0.5)
    r = ((zc - n * LN2_HI) - n * LN2_LO).to(tl.float32)
    p = r * (1.0 / 5040.0) + (1.0 / 720.0)
    p = p * r + (1.0 / 120.0)
    p = p * r + (1.0 / 24.0)
    p = p * r + (1.0 / 6.0)
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    f1, f2 = _pow2(n.to(tl.int64))
    return (p.to(tl.float64) * f1) * f2


@triton.jit
def _stats32(x, valid):
    """``_stats`` of float32 values: counts (int32), max and smallest positive (float32), and
    how many elements are negative, NaN or infinite."""
    pos = valid & (x > 0.0)
    bad = valid & ((x < 0.0) | (x != x) | (x == INF))
    n_valid = tl.reduce(valid.to(tl.int32), 1, _SUM)
    n_pos = tl.reduce(pos.to(tl.int32), 1, _SUM)
    n_zero = tl.reduce((valid & (x == 0.0)).to(tl.int32), 1, _SUM)
    xmax = tl.reduce(tl.where(pos, x, 0.0), 1, _MAX)
    xmin = tl.reduce(tl.where(pos, x, INF), 1, _MIN)
    n_bad = tl.reduce(bad.to(tl.int32), 1, _SUM)
    return n_valid, n_pos, n_zero, xmax, xmin, n_bad


@triton.jit
def _mixed_sums(x, valid, a, ref, rm, re):
    """Per row: ``sum w``, ``sum w x`` and ``sum x`` (float64) over the positive elements of
    one tile of float32 values, ``w = e^(alpha ln(x / R))`` (``_ln_ratio32``,
    ``_exp_weight``)."""
    pos = valid & (x > 0.0)
    xs = tl.where(pos, x, ref[:, None]).to(tl.float64)  # exact, subnormals normalised
    xm, xe = _split32(xs)
    lr = _ln_ratio32(xm, xe, rm[:, None], re[:, None])
    w = tl.where(pos, _exp_weight(a[:, None] * lr), 0.0)
    S = tl.reduce(w, 1, _SUM)
    T = tl.reduce(w * xs, 1, _SUM)
    M = tl.reduce(tl.where(pos, xs, 0.0), 1, _SUM)
    return S, T, M


@triton.jit(do_not_specialize=_FORWARD_INTS)
def ppool_forward_mixed(x_ptr, a_ptr, y_ptr, flag_ptr,
                        P, C, D, H, W, OD, OH, OW, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH,
                        DW, K, sxn, sxc, sxd, sxh, sxw, san, sac, syn, syc, syd, syh, syw,
                        ADAPTIVE, KIND: tl.constexpr, SINGLE: tl.constexpr,
                        BLOCK_K: tl.constexpr, WB: tl.constexpr, PPP: tl.constexpr):
    """``ppool_forward`` for float32, float16 and bfloat16 inputs in mixed precision (see the
    section's comment): the same outputs, conventions and flag."""
    plane, n, c, od, oh, ow, ok, a = _rows(a_ptr, P, C, OD, OH, OW, san, sac, WB, PPP)
    # pass 1: counts and extremes (float32 loads)
    x, valid, _u1, n_valid, n_pos, n_zero, xmax, xmin, n_bad = _window_stats(
        x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH,
        DW, K, sxn, sxc, sxd, sxh, sxw, ADAPTIVE, KIND + 4, SINGLE, BLOCK_K, WB, PPP)
    ref, _u2 = _refs(a, xmax, xmin, False)
    rm, re = _split32(ref.to(tl.float64))
    # pass 2: the sums
    if SINGLE:
        S, T, M = _mixed_sums(x, valid, a, ref, rm, re)
    else:
        S = tl.full([PPP * WB], 0.0, tl.float64)
        T = tl.full([PPP * WB], 0.0, tl.float64)
        M = tl.full([PPP * WB], 0.0, tl.float64)
        for k0 in range(0, K, BLOCK_K):
            xc, vc, _u4 = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW,
                                 SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw,
                                 ADAPTIVE, KIND + 4, BLOCK_K)
            s_c, t_c, m_c = _mixed_sums(xc, vc, a, ref, rm, re)
            S += s_c
            T += t_c
            M += m_c
    y = T / tl.where(S > 0.0, S, 1.0)
    y = tl.where(a == 0.0, M / n_valid.to(tl.float64), y)
    _store_windows(y_ptr, flag_ptr, y, a, ok, n_pos, n_zero, n_bad, n, c, od, oh, ow, syn, syc,
                   syd, syh, syw, KIND)


# -------------------------------------------------------------------------------------- backward


@triton.jit
def _scaled_partial(v, ref, keep):
    """``sum(v * ref)`` over this program's windows of each plane, as ``(mantissa sum, E)``
    with the sum = mantissa sum * 2**E: every product is formed as (mantissa of v)(mantissa
    of ref) 2**(e - E), so subnormal and huge factors neither underflow nor overflow here."""
    nz = keep & (v != 0.0)
    av = tl.where(nz, tl.abs(v), 1.0)
    vm, ve = _split(tl.where(av == av, tl.where(av < INF, av, 1.0), 1.0))
    rm, re = _split(ref)
    e = tl.where(nz, (ve + re).to(tl.int64), NO_EXP)
    mant = tl.where(v < 0.0, -vm, vm) * rm
    mant = tl.where(nz & (tl.abs(v) < INF), mant, tl.where(nz, v, 0.0))  # keep inf and NaN
    return mant, e


@triton.jit(do_not_specialize=_BACKWARD_INTS)
def ppool_backward(x_ptr, a_ptr, g_ptr, gx_ptr, part_ptr, part_e_ptr,
                   P, C, D, H, W, OD, OH, OW, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW, K,
                   sxn, sxc, sxd, sxh, sxw, san, sac, sgn, sgc, sgd, sgh, sgw,
                   sin_, sic, sid, sih, siw, ADAPTIVE, OVERLAP, NEED_PARAM,
                   KIND: tl.constexpr, GKIND: tl.constexpr, GXKIND: tl.constexpr,
                   PRECISE: tl.constexpr, SINGLE: tl.constexpr, BLOCK_K: tl.constexpr,
                   WB: tl.constexpr, PPP: tl.constexpr, MIXED: tl.constexpr):
    """Scatter ``grad_y * dy/dx`` into ``gx`` and write this program's ``sum grad_y dy/dalpha``
    per plane to ``part`` (mantissa sums) and ``part_e`` (their exponents). ``MIXED``: the
    per-element logarithm and exponential in mixed precision (``_terms``)."""
    plane, n, c, od, oh, ow, ok, a = _rows(a_ptr, P, C, OD, OH, OW, san, sac, WB, PPP)
    gof = n.to(tl.int64) * sgn + c.to(tl.int64) * sgc + od.to(tl.int64) * sgd + \
        oh.to(tl.int64) * sgh + ow.to(tl.int64) * sgw
    gy = _load(g_ptr, tl.where(ok, gof, 0), ok, GKIND)
    # pass 1: counts and extremes (MIXED: float32 loads, exact, and int32 counts; the per-row
    # results in float64 for what follows)
    x, valid, at, n_valid, n_pos, n_zero, xmax, xmin, _u6 = _window_stats(
        x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH,
        DW, K, sxn, sxc, sxd, sxh, sxw, ADAPTIVE, KIND + 4 * MIXED, SINGLE, BLOCK_K, WB, PPP)
    if MIXED:
        n_valid = n_valid.to(tl.float64)
        n_pos = n_pos.to(tl.float64)
        n_zero = n_zero.to(tl.float64)
        xmax = xmax.to(tl.float64)
        xmin = xmin.to(tl.float64)
    ref_d, ref_n = _refs(a, xmax, xmin, PRECISE)
    rd_m, rd_e = _split(ref_d)
    rn_m, rn_e = _split(ref_n)
    sep = ok & (a < 0.0)
    f1, f2 = _pow2(-rd_e.to(tl.int64))
    # pass 2: the sums
    if SINGLE:
        pos, xs, lr, ed, en = _terms(x, valid, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, PRECISE,
                                     MIXED)
        s_hi, s_lo = _row_sum(ed, PRECISE)
        t_hi, t_lo = _row_sum(en, PRECISE)
        m_hi, m_lo = _row_sum(tl.where(pos, (x * f1[:, None]) * f2[:, None], 0.0), PRECISE)
    else:
        s_hi, s_lo, t_hi, t_lo, m_hi, m_lo = _chunked_sums(
            x_ptr, n, c, od, oh, ow, ok, D, H, W, OD, OH, OW, KH, KW, SD, SH, SW, PD, PH, PW,
            DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep, f1, f2,
            ADAPTIVE, KIND, BLOCK_K, WB, PPP, PRECISE, MIXED)
    S = _value(s_hi, s_lo)
    T = _value(t_hi, t_lo)
    S = tl.where(S > 0.0, S, 1.0)
    T = tl.where(T > 0.0, T, 1.0)
    y = _ratio_y(a, ref_d, ref_n, rd_m, rd_e, rn_m, rn_e, S, T, PRECISE)
    g1, g2 = _pow2(rd_e.to(tl.int64))
    sum_pos_scaled = _value(m_hi, m_lo)
    mean = ((sum_pos_scaled / n_valid) * g1) * g2
    y = tl.where(a == 0.0, mean, y)
    all_zero = n_pos == 0.0
    neg_zero = (a < 0.0) & (n_zero > 0.0)
    y = tl.where(all_zero | neg_zero, 0.0, y)
    # per-window quantities of the derivatives (see _torch_impl._PPool.derivatives)
    inv_n = 1.0 / n_valid
    same = ref_n == ref_d
    spread_big, spread_small = _ln_pieces(rn_m, rn_e, rd_m, rd_e)  # ln(R_n / R_d)
    spread = tl.where(same, 0.0, spread_big + spread_small)
    log_y_rel = _ln(T) - _ln(S) + (a + 1.0) * spread                 # ln(y / R_d)
    fac = _exp_mul(a + 1.0, spread_big, spread_small, PRECISE)
    y_rel = tl.where(same, 1.0, fac) * (T / S)                       # y / R_d
    ln_s = _ln(S)
    sum_pos_safe = tl.where(sum_pos_scaled > 0.0, sum_pos_scaled, 1.0)
    # -y / sum(x > 0), both scaled by 2**-e(R_d)
    g_zero_pos = tl.where(a == 1.0, -((y * f1) * f2) / sum_pos_safe, 0.0)
    g_zero_neg = tl.where(n_zero == 1.0, tl.where(a < -1.0, 1.0, tl.where(a == -1.0, n_valid,
                                                                           0.0)), 0.0)
    g_allzero = tl.where(a > 0.0, 1.0, tl.where(a == 0.0, inv_n,
                                                tl.where(n_valid == 1.0, 1.0, 0.0)))
    # pass 3: D = sum w rho = y / R_d - 1 (same-signed terms)
    if SINGLE:
        wt, rho, ratio = _wt_rho(pos, x, ed, a, S, inv_n, ref_d)
        d_hi, d_lo = _row_sum(wt * rho, PRECISE)
    else:
        d_hi = tl.full([PPP * WB], 0.0, tl.float64)
        d_lo = tl.full([PPP * WB], 0.0, tl.float64)
        for k0 in range(0, K, BLOCK_K):
            xc, vc, _u9 = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW,
                               SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh, sxw,
                               ADAPTIVE, KIND, BLOCK_K)
            pc, _u10, _u11, edc, _u12 = _terms(xc, vc, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep,
                                               PRECISE, MIXED)
            wtc, rhoc, _u13 = _wt_rho(pc, xc, edc, a, S, inv_n, ref_d)
            h, lo = _row_sum(wtc * rhoc, PRECISE)
            d_hi, d_lo = _two_sum(d_hi, d_lo, h, lo)
    Dsum = _value(d_hi, d_lo)
    # pass 4: dy/dx scattered, dy/dalpha summed
    if SINGLE:
        g, da_part = _grads(x, valid, pos, xs, lr, ed, a, S, inv_n, ref_d, Dsum, y,
                                       y_rel, log_y_rel, ln_s, all_zero, neg_zero, g_zero_pos,
                                       g_zero_neg, g_allzero, PRECISE, NEED_PARAM)
        _scatter(gx_ptr, at, valid, g * gy[:, None], n, c, sin_, sic, sid, sih, siw, GXKIND,
                 OVERLAP)
        da_hi, da_lo = _row_sum(da_part, PRECISE)
    else:
        da_hi = tl.full([PPP * WB], 0.0, tl.float64)
        da_lo = tl.full([PPP * WB], 0.0, tl.float64)
        for k0 in range(0, K, BLOCK_K):
            xc, vc, atc = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH, KW,
                                  SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd, sxh,
                                  sxw, ADAPTIVE, KIND, BLOCK_K)
            pc, xsc, lrc, edc, _u14 = _terms(xc, vc, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep,
                                          PRECISE, MIXED)
            gc, dac = _grads(xc, vc, pc, xsc, lrc, edc, a, S, inv_n, ref_d, Dsum, y, y_rel,
                                log_y_rel, ln_s, all_zero, neg_zero, g_zero_pos, g_zero_neg,
                                g_allzero, PRECISE, NEED_PARAM)
            _scatter(gx_ptr, atc, vc, gc * gy[:, None], n, c, sin_, sic, sid, sih, siw, GXKIND,
                     OVERLAP)
            h, lo = _row_sum(dac, PRECISE)
            da_hi, da_lo = _two_sum(da_hi, da_lo, h, lo)
    if NEED_PARAM != 0:
        da = _value(da_hi, da_lo)
        ref_da = ref_d
        # dy/dalpha / R_d overflows where R_d is a tiny minimum (alpha < 0) of a window that
        # spans the float64 range: there, dy/dalpha / M with M the window's largest element
        over = ok & (da == da) & (tl.abs(da) == INF) & ~(all_zero | neg_zero)
        if _any(over):
            M = tl.where(xmax > 0.0, xmax, 1.0)
            m_m, m_e = _split(M)
            dbig, dsmall = _ln_pieces(rd_m, rd_e, m_m, m_e)
            y_m = _exp(log_y_rel + (dbig + dsmall))
            if SINGLE:
                wt, _u15, _u16 = _wt_rho(pos, x, ed, a, S, inv_n, ref_d)
                o_hi, o_lo = _row_sum(tl.where(pos, wt * lr * (x / M[:, None] - y_m[:, None]),
                                               0.0), PRECISE)
            else:
                o_hi = tl.full([PPP * WB], 0.0, tl.float64)
                o_lo = tl.full([PPP * WB], 0.0, tl.float64)
                for k0 in range(0, K, BLOCK_K):
                    xc, vc, _u17 = _chunk(x_ptr, n, c, od, oh, ow, ok, k0, D, H, W, OD, OH, OW, KH,
                                       KW, SD, SH, SW, PD, PH, PW, DD, DH, DW, K, sxn, sxc, sxd,
                                       sxh, sxw, ADAPTIVE, KIND, BLOCK_K)
                    pc, _u18, lrc, edc, _u19 = _terms(xc, vc, a, rd_m, rd_e, ref_d, rn_m, rn_e, sep,
                                                PRECISE, MIXED)
                    wtc, _u20, _u21 = _wt_rho(pc, xc, edc, a, S, inv_n, ref_d)
                    h, lo = _row_sum(tl.where(pc, wtc * lrc * (xc / M[:, None] -
                                                               y_m[:, None]), 0.0), PRECISE)
                    o_hi, o_lo = _two_sum(o_hi, o_lo, h, lo)
            da = tl.where(over, _value(o_hi, o_lo), da)
            ref_da = tl.where(over, M, ref_d)
        jump = (a == 0.0) & (n_zero > 0.0)
        da = tl.where(jump | all_zero | neg_zero, 0.0, da)
        mant, e = _scaled_partial(da * gy, ref_da, ok)
        # per plane of this program: E = the largest exponent, sum of mantissas * 2**(e - E)
        mant2 = tl.reshape(mant, (PPP, WB))
        e2 = tl.reshape(e, (PPP, WB))
        top = tl.reduce(e2, 1, _MAX)
        s1, s2 = _pow2(tl.maximum(e2 - top[:, None], -2044))
        part = tl.reduce((mant2 * s1) * s2, 1, _SUM)
        rows = tl.program_id(0) * PPP + tl.arange(0, PPP)
        slot = rows.to(tl.int64) * tl.num_programs(1) + tl.program_id(1)
        tl.store(part_ptr + slot, part, mask=rows < P)
        tl.store(part_e_ptr + slot, top, mask=rows < P)


@triton.jit
def _wt_rho(pos, x, ed, a, S, inv_n, ref_d):
    """Weights ``w = x^alpha / sum x^alpha`` (1/N at alpha = 0), ``rho = x/R_d - 1`` and
    ``x / R_d`` (1 and 0 at zeros and outside the window). (Products by the window's
    reciprocals instead of these divisions, for float32 and narrower inputs, measured slower
    in the backward on an H200: 342 against 320 us for k2 s2, 1684 against 1503 for k3 s2 p1,
    bfloat16 (8, 64, 112, 112), ``python -m tests.gpu_profile``, 2026-12-04.)"""
    ae = a[:, None]
    wt = tl.where(ae == 0.0, tl.where(pos, inv_n[:, None], 0.0), ed / S[:, None])
    xv = tl.where(pos, x, ref_d[:, None])
    rho = (xv - ref_d[:, None]) / ref_d[:, None]
    ratio = xv / ref_d[:, None]
    return wt, rho, ratio


@triton.jit
def _grads(x, valid, pos, xs, lr, ed, a, S, inv_n, ref_d, Dsum, y, y_rel, log_y_rel, ln_s,
           all_zero, neg_zero, g_zero_pos, g_zero_neg, g_allzero, PRECISE: tl.constexpr,
           NEED_PARAM):
    """dy/dx of every element (0 outside the window) and the terms of dy/dalpha / R_d, with the
    conventions at zeros; the same formulas as ``_torch_impl._PPool.derivatives``."""
    ae = a[:, None]
    wt, rho, ratio = _wt_rho(pos, x, ed, a, S, inv_n, ref_d)
    Db = Dsum[:, None]
    ok = (Db == Db) & (tl.abs(Db) < INF) & (ratio < INF) & (tl.abs(rho) < INF)
    rel = tl.where(ok, (rho - tl.where(ok, Db, 0.0)) / tl.where(ok, ratio, 1.0),
                   (xs - y[:, None]) / xs)
    y_over_x = y_rel[:, None] / ratio
    normal = (y_over_x < INF) & (ratio >= TINY) & (ratio < INF)
    if _any(pos & ~normal):  # never for float32 and narrower inputs
        y_over_x = tl.where(normal, y_over_x, _exp(log_y_rel[:, None] - lr))
    far = wt * ((1.0 + ae) - ae * y_over_x)
    g = tl.where(tl.abs(rel) < 0.5, wt * (1.0 + ae * rel), far)
    # x/R_d subnormal (or 0), w underflowed, or w (1 + alpha rel) not finite: w(1 + alpha) -
    # alpha w y / x with w y / x = (x/R)^(alpha-1) (y/R) / S, in logarithms
    redo = pos & ((ratio < TINY) | (wt == 0.0) | ~(tl.abs(g) < INF))
    if _any(redo):
        scale = log_y_rel[:, None] - ln_s[:, None]
        second = _exp((ae - 1.0) * lr + scale)
        if PRECISE:
            xm, xe = _split(xs)
            rm, re = _split(ref_d)
            big, small = _ln_pieces(xm, xe, rm[:, None], re[:, None])
            split = _exp_mul(ae - 1.0, big, small, PRECISE) * _exp(scale)
            second = tl.where(tl.abs(split) < INF, split, second)
        g = tl.where(redo, wt * (1.0 + ae) - ae * second, g)
    zero = valid & (x == 0.0)
    g = tl.where(pos, g, tl.where(zero, g_zero_pos[:, None], 0.0))
    g_neg = tl.where(zero, g_zero_neg[:, None], 0.0)
    g = tl.where(ae == 0.0, inv_n[:, None], tl.where(neg_zero[:, None], g_neg, g))
    g = tl.where(all_zero[:, None], g_allzero[:, None], g)
    g = tl.where(valid, g, 0.0)
    if NEED_PARAM != 0:
        da = wt * lr * (rho - tl.where(ok, Db, 0.0))
        redo_da = pos & ~(ok & (tl.abs(da) < INF))
        if _any(redo_da):
            far_da = lr * rel * _exp((ae + 1.0) * lr - ln_s[:, None])
            da = tl.where(redo_da, far_da, da)
        da = tl.where(pos, da, 0.0)
    else:
        da = tl.full(g.shape, 0.0, tl.float64)
    return g, da


@triton.jit
def _scatter(gx_ptr, at, valid, v, n, c, sin_, sic, sid, sih, siw, GXKIND: tl.constexpr,
             OVERLAP):
    """Add ``v`` to the input gradient at the window elements ``at = (i_d, i_h, i_w)`` (through
    the gradient's own strides): atomic adds where windows share elements (``OVERLAP``), else
    one rounding to the gradient's dtype and a plain store."""
    i_d, i_h, i_w = at
    base = n.to(tl.int64) * sin_ + c.to(tl.int64) * sic
    off = base[:, None] + i_d.to(tl.int64) * sid + i_h.to(tl.int64) * sih + \
        i_w.to(tl.int64) * siw
    off = tl.where(valid, off, 0)
    if GXKIND == 3:  # BF16
        # bfloat16 travels as int16 bits, which have no atomic add; the host accumulates
        # overlapping windows of half inputs in float32, so a bfloat16 gradient is never
        # shared. Tested at compile time, or the GPU compiler rejects the atomic for int16.
        _store(gx_ptr, off, v, valid, GXKIND)
    elif OVERLAP != 0:
        tl.atomic_add(gx_ptr + off, v.to(gx_ptr.dtype.element_ty), mask=valid)
    else:
        _store(gx_ptr, off, v, valid, GXKIND)


# ------------------------------------------------------------------------- the alpha gradient


@triton.jit(do_not_specialize=["N", "C", "J"])
def ppool_param_grad(part_ptr, part_e_ptr, out_ptr, N, C, J, MODE: tl.constexpr,
                     BLOCK: tl.constexpr):
    """One entry of ``dL/dparam`` (float64) per program from the backward's partial sums,
    ``part[p, j] * 2**part_e[p, j]`` for plane ``p = n C + c`` and program column ``j``: summed
    over every plane (``MODE`` 0: a scalar parameter), the planes of channel ``c`` (1: one
    value per channel) or of plane ``p`` alone (2: one per plane). Each term is scaled by
    ``2**(e - E)``, ``E`` the largest exponent of the sum (exact power-of-two factors, clamped
    to [-2044, 2046]), and the sum by ``2**E`` at the end: nothing overflows or underflows
    before that."""
    o = tl.program_id(0)
    if MODE == 0:
        count = N * C * J
    elif MODE == 1:
        count = N * J
    else:
        count = J
    lane = tl.arange(0, BLOCK)
    top = tl.full([BLOCK], NO_EXP, tl.int64)
    for start in range(0, count, BLOCK):
        idx = start + lane
        at = _param_slot(idx, o, C, J, MODE)
        e = tl.load(part_e_ptr + at, mask=idx < count, other=NO_EXP)
        top = tl.maximum(top, e)
    big = tl.reduce(top, 0, _MAX)
    total = tl.full([BLOCK], 0.0, tl.float64)
    for start in range(0, count, BLOCK):
        idx = start + lane
        ok = idx < count
        at = _param_slot(idx, o, C, J, MODE)
        e = tl.load(part_e_ptr + at, mask=ok, other=NO_EXP)
        v = tl.load(part_ptr + at, mask=ok, other=0.0)
        s1, s2 = _pow2(tl.maximum(e - big, -2044))
        total += tl.where(ok, (v * s1) * s2, 0.0)
    f1, f2 = _pow2(tl.minimum(tl.maximum(big, -2044), 2046))
    tl.store(out_ptr + o, (tl.reduce(total, 0, _SUM) * f1) * f2)


@triton.jit
def _param_slot(idx, o, C, J, MODE: tl.constexpr):
    """The flat index into ``part`` of the ``idx``-th term of output ``o`` (``MODE`` as in
    ``ppool_param_grad``)."""
    if MODE == 0:
        at = idx
    elif MODE == 1:
        at = ((idx // J) * C + o) * J + idx % J
    else:
        at = o * J + idx
    return at.to(tl.int64)
