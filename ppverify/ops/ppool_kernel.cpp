// Fast CPU kernel for P-pooling (float32 input/output, float64 arithmetic).
// Plain C++ with an extern "C" interface, compiled on first use by ppverify.ops._native
// and called through ctypes; the pure-torch implementation is the fallback.
//
// The mathematics and conventions are those of ppverify/ops/functional.py. Each window is
// evaluated relative to its dominant element R (max for alpha > 0, smallest positive element
// for alpha < 0):  y = R * sum(w r) / sum(w),  r = x / R,  w = exp(alpha ln r) <= 1.
// Inputs are float32, so r is at most 2^277 and nothing overflows in double.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include <omp.h>

namespace {

constexpr double LN2_HI = 6.93147180369123816490e-01;
constexpr double LN2_LO = 1.90821492927058770002e-10;
constexpr double LOG2E = 1.44269504088896338700e+00;
constexpr double SHIFT = 6755399441055744.0;  // 0x1.8p52
constexpr int BLK = 256;

inline double bits_to_double(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
inline uint64_t double_to_bits(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }

// ln(r) for a positive normal double r, ~1e-15 relative.
inline double fast_log(double r) {
  uint64_t b = double_to_bits(r);
  // exponent as a double without int64 -> double conversion: 2^52 + biased exponent
  double e = bits_to_double((b >> 52) | 0x4330000000000000ULL) - 4503599627370496.0 - 1023.0;
  double m = bits_to_double((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  bool big = m > 1.4142135623730951;
  m = big ? m * 0.5 : m;
  e = big ? e + 1.0 : e;
  double s = (m - 1.0) / (m + 1.0);
  double s2 = s * s;
  double p = 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  double ls = 2.0 * s + 2.0 * s * s2 * p;
  return e * LN2_HI + (ls + e * LN2_LO);
}

// exp(z) for z <= 0 (z may be -inf); results below e^-708 are flushed to 0.
inline double fast_exp_neg(double z) {
  bool tiny = !(z >= -708.0);
  double zc = tiny ? 0.0 : z;
  double t = zc * LOG2E + SHIFT;
  double n = t - SHIFT;
  double r = zc - n * LN2_HI;
  r = r - n * LN2_LO;
  double p = 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  uint64_t tb = double_to_bits(t);
  double scale = bits_to_double((tb + 1023ULL) << 52);
  double res = p * scale;
  return tiny ? 0.0 : res;
}

struct Geo {
  int64_t D, H, W, OD, OH, OW;
  int64_t kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw;
};

// The largest block of output positions evaluated together (see gather): R whole rows of
// OW outputs when a row fits in BLK, else BLK positions of one row.
inline int64_t block_size(const Geo& g) {
  const int64_t n = g.OW <= BLK ? (BLK / g.OW < g.OH ? BLK / g.OW : g.OH) * g.OW : BLK;
  return n > 0 ? n : 1;
}

// Per-thread scratch for one block of output positions along the last axis.
// Per kernel position k the block's entries start at k * stride, stride = the largest block
// (BLK, or fewer when the output plane is smaller: global pooling has one output and K = the
// whole plane, so K * BLK entries would be mostly unused megabytes).
struct Scratch {
  int64_t stride;
  std::vector<double> vals;   // K * stride window values (-1 marks padding)
  std::vector<double> lr, e;  // K * stride: ln(x/R) and exp(alpha ln(x/R))
  std::vector<double> ref, S, T, y, sumx, npos, nzero, nvalid;
  // per (window row k, output row r) slab: first flat input offset and interior [lo, hi)
  std::vector<int64_t> slab_start, slab_lo, slab_hi;
  Scratch(int64_t K, int64_t blk)
      : stride(blk), vals(K * blk), lr(K * blk), e(K * blk), ref(BLK), S(BLK), T(BLK),
        y(BLK), sumx(BLK), npos(BLK), nzero(BLK), nvalid(BLK), slab_start(K * blk),
        slab_lo(K * blk), slab_hi(K * blk) {}
};

// Gather the windows of a block of output positions of one plane: values (-1 marks padding),
// and each slab's interior (for the backward's scatter); with a Plane, also its E and L values
// (into s.e and s.lr). Returns K = kd * kh * kw (rows outside the input are all padding).
// A block is R consecutive output rows (oh0 .. oh0+R-1) of nw positions each (ow0 ..
// ow0+nw-1), flattened row-major into n = R * nw entries; R > 1 only when nw is a whole row.
inline int64_t gather(const float* plane, const Geo& g, int64_t od, int64_t oh0, int64_t R,
                      int64_t ow0, int64_t nw, Scratch& s, int* bad, const double* E = nullptr,
                      const double* L = nullptr) {
  int64_t k = 0;
  int badl = 0;
  for (int64_t a = 0; a < g.kd; ++a) {
    const int64_t id = od * g.sd - g.pd + a * g.dd;
    for (int64_t b = 0; b < g.kh; ++b) {
      for (int64_t c = 0; c < g.kw; ++c, ++k) {
        for (int64_t r = 0; r < R; ++r) {
          const int64_t ih = (oh0 + r) * g.sh - g.ph + b * g.dh;
          double* v = s.vals.data() + k * s.stride + r * nw;
          double* e = s.e.data() + k * s.stride + r * nw;
          double* l = s.lr.data() + k * s.stride + r * nw;
          const int64_t slab = k * R + r;
          if (id < 0 || id >= g.D || ih < 0 || ih >= g.H) {
            for (int64_t i = 0; i < nw; ++i) { v[i] = -1.0; e[i] = 0.0; l[i] = 0.0; }
            s.slab_start[slab] = s.slab_lo[slab] = s.slab_hi[slab] = 0;
            continue;
          }
          const int64_t rowoff = (id * g.H + ih) * g.W;
          const float* row = plane + rowoff;
          // interior [lo, hi): 0 <= (ow0 + i) * sw - pw + c * dw < W
          const int64_t base = ow0 * g.sw - g.pw + c * g.dw;
          int64_t lo = base >= 0 ? 0 : (-base + g.sw - 1) / g.sw;
          int64_t hi = base >= g.W ? 0 : (g.W - base + g.sw - 1) / g.sw;
          if (lo > nw) lo = nw;
          if (hi > nw) hi = nw;
          if (hi < lo) hi = lo;
          s.slab_start[slab] = rowoff + base;
          s.slab_lo[slab] = lo;
          s.slab_hi[slab] = hi;
          for (int64_t i = 0; i < lo; ++i) { v[i] = -1.0; e[i] = 0.0; l[i] = 0.0; }
          for (int64_t i = hi; i < nw; ++i) { v[i] = -1.0; e[i] = 0.0; l[i] = 0.0; }
          const int64_t sw = g.sw;
#pragma omp simd reduction(| : badl)
          for (int64_t i = lo; i < hi; ++i) {
            int64_t col = base + i * sw;
            float xv = row[col];
            badl |= !(xv >= 0.0f && xv <= 3.4028234663852886e38f);
            v[i] = xv;
          }
          if (E != nullptr && L != nullptr) {
#pragma omp simd
            for (int64_t i = lo; i < hi; ++i) {
              int64_t col = base + i * sw;
              e[i] = E[rowoff + col];
              l[i] = L[rowoff + col];
            }
          } else if (E != nullptr) {
#pragma omp simd
            for (int64_t i = lo; i < hi; ++i) e[i] = E[rowoff + base + i * sw];
          }
        }
      }
    }
  }
  if (badl) *bad = 1;
  return k;
}

// Window statistics and y for a gathered block. Fills s.lr / s.e when keep is true.
inline void evaluate(double alpha, int64_t K, int64_t n, Scratch& s) {
  double* ref = s.ref.data();
  double* S = s.S.data();
  double* T = s.T.data();
  double* sumx = s.sumx.data();
  double* npos = s.npos.data();
  double* nzero = s.nzero.data();
  double* nvalid = s.nvalid.data();
  for (int64_t i = 0; i < n; ++i) {
    ref[i] = alpha > 0 ? 0.0 : INFINITY;
    S[i] = T[i] = sumx[i] = npos[i] = nzero[i] = nvalid[i] = 0.0;
  }
  for (int64_t k = 0; k < K; ++k) {
    const double* v = s.vals.data() + k * s.stride;
    if (alpha > 0) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) ref[i] = v[i] > ref[i] ? v[i] : ref[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) ref[i] = (v[i] > 0 && v[i] < ref[i]) ? v[i] : ref[i];
    }
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      double x = v[i];
      sumx[i] += x > 0 ? x : 0.0;
      npos[i] += x > 0 ? 1.0 : 0.0;
      nzero[i] += x == 0 ? 1.0 : 0.0;
      nvalid[i] += x >= 0 ? 1.0 : 0.0;
    }
  }
  double inv[BLK];
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    double r = (ref[i] > 0 && ref[i] < INFINITY) ? ref[i] : 1.0;
    ref[i] = r;
    inv[i] = 1.0 / r;
  }
  if (alpha != 0) {
    for (int64_t k = 0; k < K; ++k) {
      const double* v = s.vals.data() + k * s.stride;
      double* lr = s.lr.data() + k * s.stride;
      double* e = s.e.data() + k * s.stride;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        double x = v[i];
        bool pos = x > 0;
        // x / R, not x * (1 / R): the division is monotone and exactly 1 at the dominant
        // element, so alpha * ln(r) <= 0 (a product could round r past 1, and a huge alpha
        // then overflowed exp into a NaN window)
        double r = pos ? x / ref[i] : 1.0;
        double l = fast_log(r);
        double w = fast_exp_neg(alpha * l);
        w = pos ? w : 0.0;
        lr[i] = pos ? l : 0.0;
        e[i] = w;
        S[i] += w;
        T[i] += w * r;
      }
    }
  } else {
    for (int64_t k = 0; k < K; ++k) {
      const double* v = s.vals.data() + k * s.stride;
      double* lr = s.lr.data() + k * s.stride;
      double* e = s.e.data() + k * s.stride;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        double x = v[i];
        bool pos = x > 0;
        double l = fast_log(pos ? x * inv[i] : 1.0);
        lr[i] = pos ? l : 0.0;
        e[i] = x >= 0 ? 1.0 : 0.0;
      }
    }
  }
  double* y = s.y.data();
  for (int64_t i = 0; i < n; ++i) {
    double yi;
    if (npos[i] == 0) {
      yi = 0.0;
    } else if (alpha == 0) {
      yi = sumx[i] / nvalid[i];
    } else if (alpha < 0 && nzero[i] > 0) {
      yi = 0.0;
    } else {
      yi = ref[i] * (T[i] / S[i]);
    }
    y[i] = yi;
  }
}


// Plane-level precomputation (the fast path): L_i = ln x_i and E_i = exp(alpha (L_i - Lc)), with
// Lc the plane's largest (alpha > 0) or smallest positive (alpha < 0) ln x, so E_i <= 1. Then a
// window's y = sum E x / sum E, with one log and one exp per input element instead of one per
// (element, window) pair. A window whose largest E is below 1e-250 (its elements are
// far below the plane's extreme) is re-evaluated relative to its own dominant element.
struct Plane {
  std::vector<double> L, E;
  explicit Plane(int64_t n) : L(n), E(n) {}
};

inline void precompute_plane(const float* x, int64_t n, double alpha, Plane& pl) {
  double* L = pl.L.data();
  double* E = pl.E.data();
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    bool pos = v > 0 && v <= 3.4028234663852886e38;
    L[i] = fast_log(pos ? v : 1.0);
  }
  double lc;
  if (alpha > 0) {
    double m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) m = (x[i] > 0 && L[i] > m) ? L[i] : m;
    lc = m;
  } else {
    double m = INFINITY;
#pragma omp simd reduction(min : m)
    for (int64_t i = 0; i < n; ++i) m = (x[i] > 0 && L[i] < m) ? L[i] : m;
    lc = m;
  }
  if (!(lc > -INFINITY && lc < INFINITY)) lc = 0.0;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    bool pos = v > 0;
    double w = fast_exp_neg(alpha * (L[i] - lc));
    E[i] = pos ? w : 0.0;
  }
}

// Like evaluate(), from the plane's E and L; returns false if some window needs the slow path.
// Without want_lr (the forward), s.lr is neither read nor written.
inline bool evaluate_fast(double alpha, int64_t K, int64_t n, Scratch& s, const Plane& pl,
                          double threshold = 1e-250, bool want_lr = true) {
  double* ref = s.ref.data();
  double* S = s.S.data();
  double* T = s.T.data();
  double* sumx = s.sumx.data();
  double* npos = s.npos.data();
  double* nzero = s.nzero.data();
  double* nvalid = s.nvalid.data();
  (void)pl;
  double emax[BLK], lref[BLK];
  for (int64_t i = 0; i < n; ++i) {
    S[i] = T[i] = emax[i] = 0.0;
    lref[i] = alpha > 0 ? -INFINITY : INFINITY;
  }
  for (int64_t k = 0; k < K; ++k) {
    const double* v = s.vals.data() + k * s.stride;
    const double* e = s.e.data() + k * s.stride;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      double x = v[i];
      double ei = x > 0 ? e[i] : 0.0;
      S[i] += ei;
      T[i] += ei * x;
      emax[i] = ei > emax[i] ? ei : emax[i];
    }
    if (want_lr) {
      const double* lr = s.lr.data() + k * s.stride;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        double li = lr[i];
        bool pos = v[i] > 0;
        lref[i] = pos ? (alpha > 0 ? (li > lref[i] ? li : lref[i])
                                   : (li < lref[i] ? li : lref[i])) : lref[i];
      }
    }
  }
  // Counts are needed only for windows with zeros that matter (alpha < 0), for the alpha = 1
  // gradient at zeros, and for windows with no positive weight; otherwise every window has a
  // positive element and no special case applies.
  bool need_counts = alpha < 0 || alpha == 1.0;
  for (int64_t i = 0; i < n && !need_counts; ++i) need_counts = !(S[i] > 0);
  if (need_counts) {
    for (int64_t i = 0; i < n; ++i) sumx[i] = npos[i] = nzero[i] = nvalid[i] = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      const double* v = s.vals.data() + k * s.stride;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        double x = v[i];
        sumx[i] += x > 0 ? x : 0.0;
        npos[i] += x > 0 ? 1.0 : 0.0;
        nzero[i] += x == 0 ? 1.0 : 0.0;
        nvalid[i] += x >= 0 ? 1.0 : 0.0;
      }
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      sumx[i] = 0.0;  // unused: alpha != 1
      npos[i] = 1.0;  // at least one positive element (S > 0)
      nzero[i] = 0.0;  // unused: alpha > 0 ignores zeros
      nvalid[i] = 1.0;  // unused: no all-zero window
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    bool general = npos[i] > 0 && !(alpha < 0 && nzero[i] > 0);
    if (general && !(emax[i] >= threshold)) return false;
  }
  for (int64_t k = 0; want_lr && k < K; ++k) {
    double* lr = s.lr.data() + k * s.stride;
    const double* e = s.e.data() + k * s.stride;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) lr[i] = e[i] > 0 ? lr[i] - lref[i] : 0.0;
  }
  double* y = s.y.data();
  for (int64_t i = 0; i < n; ++i) {
    double yi;
    if (npos[i] == 0 || (alpha < 0 && nzero[i] > 0)) {
      yi = 0.0;
    } else {
      yi = T[i] / S[i];
    }
    y[i] = yi;
    ref[i] = 1.0;
  }
  return true;
}

}  // namespace

extern "C" {

// x: P planes of D*H*W floats; alpha: P values (per plane); out: P planes of OD*OH*OW floats.
// Returns 1 if some window element is negative, NaN or infinite, else 0.
// With Esave (P planes of D*H*W floats) and ysave (P planes of OD*OH*OW doubles) non-null,
// also stores each plane's E (as float32) and the unrounded y for the backward.
int ppool_forward_f32(const float* x, const double* alpha, float* out, const int64_t* geo,
                      int64_t P, int nthreads, float* Esave, double* ysave) {
  Geo g;
  std::memcpy(&g, geo, sizeof(Geo));
  const int64_t K = g.kd * g.kh * g.kw;
  int bad = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : bad)
  {
    Scratch s(K, block_size(g));
    Plane pl(g.D * g.H * g.W);
#pragma omp for schedule(static)
    for (int64_t p = 0; p < P; ++p) {
      const float* plane = x + p * g.D * g.H * g.W;
      float* op = out + p * g.OD * g.OH * g.OW;
      const bool fast = alpha[p] != 0;
      if (fast) precompute_plane(plane, g.D * g.H * g.W, alpha[p], pl);
      if (Esave != nullptr) {
        float* es = Esave + p * g.D * g.H * g.W;
        const double* E = pl.E.data();
        const int64_t m = g.D * g.H * g.W;
        if (fast) {
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) es[i] = (float)E[i];
        } else {
          for (int64_t i = 0; i < m; ++i) es[i] = 0.0f;
        }
      }
      const int64_t rows = g.OW <= BLK ? BLK / g.OW : 1;
      for (int64_t od = 0; od < g.OD; ++od)
        for (int64_t oh = 0; oh < g.OH; oh += rows)
          for (int64_t ow0 = 0; ow0 < g.OW; ow0 += BLK) {
            const int64_t R = oh + rows <= g.OH ? rows : g.OH - oh;
            const int64_t nw = g.OW - ow0 < BLK ? g.OW - ow0 : BLK;
            const int64_t n = R * nw;
            int64_t k = gather(plane, g, od, oh, R, ow0, nw, s, &bad,
                               fast ? pl.E.data() : nullptr, nullptr);
            if (!fast || !evaluate_fast(alpha[p], k, n, s, pl, 1e-250, false)) {
              evaluate(alpha[p], k, n, s);
            }
            float* o = op + (od * g.OH + oh) * g.OW + ow0;
            for (int64_t i = 0; i < n; ++i) o[i] = (float)s.y[i];
            if (ysave != nullptr) {
              double* ys = ysave + p * g.OD * g.OH * g.OW + (od * g.OH + oh) * g.OW + ow0;
              for (int64_t i = 0; i < n; ++i) ys[i] = s.y[i];
            }
          }
    }
  }
  return bad;
}

// Backward: grad_in (P planes, float32, overwritten) and dalpha (P doubles, per plane sums).
// With Esave/ysave from the forward (may be null), the plane's exp() is not recomputed: E comes
// from Esave (windows whose float32 E underflow take the slow path) and ln(x/R) from
// ln(E/E_max)/alpha, computed only when need_alpha.
int ppool_backward_f32(const float* x, const double* alpha, const float* gout, float* gin,
                       double* dalpha, const int64_t* geo, int64_t P, int nthreads,
                       const float* Esave, const double* ysave, int need_alpha) {
  Geo g;
  std::memcpy(&g, geo, sizeof(Geo));
  const int64_t K = g.kd * g.kh * g.kw;
  const int64_t plane_size = g.D * g.H * g.W;
  int bad = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : bad)
  {
    Scratch s(K, block_size(g));
    Plane pl(plane_size);
    std::vector<double> acc(plane_size);
#pragma omp for schedule(static)
    for (int64_t p = 0; p < P; ++p) {
      const float* plane = x + p * plane_size;
      const float* gp = gout + p * g.OD * g.OH * g.OW;
      const double a = alpha[p];
      const bool fast = a != 0;
      const bool saved = fast && Esave != nullptr;
      if (saved) {
        const float* es = Esave + p * plane_size;
        double* E = pl.E.data();
        double* L = pl.L.data();
        const double inv_a = 1.0 / a;
#pragma omp simd
        for (int64_t i = 0; i < plane_size; ++i) E[i] = es[i];
        if (need_alpha) {
#pragma omp simd
          for (int64_t i = 0; i < plane_size; ++i) {
            double e = E[i];
            L[i] = e > 0 ? fast_log(e) * inv_a : 0.0;
          }
        } else {
          std::fill(pl.L.begin(), pl.L.end(), 0.0);
        }
      } else if (fast) {
        precompute_plane(plane, plane_size, a, pl);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double da = 0.0;
      const int64_t rows = g.OW <= BLK ? BLK / g.OW : 1;
      for (int64_t od = 0; od < g.OD; ++od)
        for (int64_t oh = 0; oh < g.OH; oh += rows)
          for (int64_t ow0 = 0; ow0 < g.OW; ow0 += BLK) {
            const int64_t R = oh + rows <= g.OH ? rows : g.OH - oh;
            const int64_t nw = g.OW - ow0 < BLK ? g.OW - ow0 : BLK;
            const int64_t n = R * nw;
            int64_t kk = gather(plane, g, od, oh, R, ow0, nw, s, &bad,
                                fast ? pl.E.data() : nullptr, fast ? pl.L.data() : nullptr);
            if (!fast || !evaluate_fast(a, kk, n, s, pl, saved ? 1e-30 : 1e-250)) {
              evaluate(a, kk, n, s);
            } else if (saved) {
              const double* ys = ysave + p * g.OD * g.OH * g.OW + (od * g.OH + oh) * g.OW + ow0;
              for (int64_t i = 0; i < n; ++i) s.y[i] = ys[i];  // the forward's unrounded y
            }
            const float* go = gp + (od * g.OH + oh) * g.OW + ow0;
            double gy[BLK], invS[BLK], gz[BLK], general[BLK];
            bool any_special = false;
            for (int64_t i = 0; i < n; ++i) {
              gy[i] = go[i];
              invS[i] = s.S[i] > 0 ? 1.0 / s.S[i] : 0.0;
              bool allzero = s.npos[i] == 0;
              bool negzero = a < 0 && s.nzero[i] > 0;
              general[i] = (allzero || negzero) ? 0.0 : 1.0;
              any_special = any_special || allzero || negzero;
              // gradient of a zero element in a general window (alpha > 0)
              gz[i] = (a == 1.0 && s.sumx[i] > 0) ? -s.y[i] / s.sumx[i] : 0.0;
            }
            for (int64_t k = 0; k < kk; ++k) {
              const double* v = s.vals.data() + k * s.stride;
              const double* lr = s.lr.data() + k * s.stride;
              const double* e = s.e.data() + k * s.stride;
              double gk[BLK];
              double dak = 0.0;
              if (a != 0) {
#pragma omp simd reduction(+ : dak)
                for (int64_t i = 0; i < n; ++i) {
                  double xv = v[i];
                  bool pos = xv > 0;
                  double xs = pos ? xv : 1.0;
                  double w = e[i] * invS[i];
                  double d = xv - s.y[i];
                  // dy/dx = w (1 + a (x - y)/x) = w ((1 + a) - a y/x): the first form while
                  // x is near y (no cancellation in x - y for large |a|), the second when y/x
                  // is far from 1 (1 + a (1 - y/x) would lose y/x, e.g. a = -1, y << x)
                  double ix = 1.0 / xs;  // one division for both forms
                  double t = d * ix;
                  bool near = t > -0.5 && t < 0.5;
                  double f = near ? 1.0 + a * t : (1.0 + a) - a * (s.y[i] * ix);
                  // w = 0 (the weight flushed below e^-708): the exact w f is below e^-680
                  // (|f| <= |a| y/x + |1 + a| with |a ln(x/R)| >= 708), while f itself
                  // can overflow to inf for a huge |a| (0 * inf would be NaN)
                  double gi = pos ? (w > 0 ? w * f : 0.0) : (xv == 0 ? gz[i] : 0.0);
                  gk[i] = gi * gy[i] * general[i];
                  dak += pos ? general[i] * gy[i] * w * lr[i] * d : 0.0;
                }
              } else {
#pragma omp simd reduction(+ : dak)
                for (int64_t i = 0; i < n; ++i) {
                  double xv = v[i];
                  double inv_n = s.nvalid[i] > 0 ? 1.0 / s.nvalid[i] : 0.0;
                  gk[i] = xv >= 0 ? gy[i] * inv_n : 0.0;
                  bool ok = xv > 0 && s.nzero[i] == 0;
                  dak += ok ? gy[i] * inv_n * lr[i] * (xv - s.y[i]) : 0.0;
                }
              }
              da += dak;
              // special windows: all-zero, or alpha < 0 with zeros
              for (int64_t i = 0; any_special && i < n; ++i) {
                if (general[i] == 0.0 && a != 0 && v[i] >= 0) {
                  double gi;
                  if (s.npos[i] == 0) {
                    gi = a > 0 ? 1.0 : (s.nvalid[i] == 1 ? 1.0 : 0.0);
                  } else if (v[i] == 0 && s.nzero[i] == 1) {
                    gi = a < -1 ? 1.0 : (a == -1 ? s.nvalid[i] : 0.0);
                  } else {
                    gi = 0.0;
                  }
                  gk[i] = gi * gy[i];
                }
              }
              // scatter: within a slab the offsets are start + i * sw, all distinct
              for (int64_t r = 0; r < R; ++r) {
                const int64_t slab = k * R + r;
                const int64_t start = s.slab_start[slab], sw = g.sw;
                const double* gr = gk + r * nw;
                double* accp = acc.data();
#pragma omp simd
                for (int64_t i = s.slab_lo[slab]; i < s.slab_hi[slab]; ++i)
                  accp[start + i * sw] += gr[i];
              }
            }
          }
      float* gi = gin + p * plane_size;
      for (int64_t i = 0; i < plane_size; ++i) gi[i] = (float)acc[i];
      dalpha[p] = da;
    }
  }
  return bad;
}

}  // extern "C"
