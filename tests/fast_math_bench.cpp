#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <vector>
#include <algorithm>
#include <immintrin.h>
#include <x86intrin.h>
// the helpers before fast_math.inc (ppool_kernel.cpp at 79f6f5a), verbatim
namespace old {
inline double bits_to_double(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
inline uint64_t double_to_bits(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }
constexpr double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
constexpr double LOG2E = 1.44269504088896338700e+00, SHIFT = 6755399441055744.0;
inline double fast_log(double r) {
  uint64_t u = double_to_bits(r) - 0x3fe6a09e667f3bcdULL;
  double e = (double)((int64_t)u >> 52);
  double m = bits_to_double((u & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL);
  double f = m - 1.0; double s = f / (2.0 + f); double s2 = s * s;
  double p = 1.0 / 19.0; p = p * s2 + 1.0 / 17.0; p = p * s2 + 1.0 / 15.0; p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0; p = p * s2 + 1.0 / 9.0; p = p * s2 + 1.0 / 7.0; p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  double ls = 2.0 * s + 2.0 * s * s2 * p;
  return e * LN2_HI + (ls + e * LN2_LO);
}
inline double fast_exp(double z) {
  bool tiny = !(z >= -708.0);
  double zc = tiny ? 0.0 : (z > 709.0 ? 709.0 : z);
  double t = zc * LOG2E + SHIFT; double n = t - SHIFT;
  double r = zc - n * LN2_HI; r = r - n * LN2_LO;
  double p = 1.0 / 39916800.0; p = p * r + 1.0 / 3628800.0; p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0; p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0; p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5;
  p = p * r + 1.0; p = p * r + 1.0;
  uint64_t tb = double_to_bits(t);
  double scale = bits_to_double((tb + 1023ULL) << 52);
  double res = p * scale;
  return tiny ? 0.0 : res;
}
}
#include "SIMD8_INC"  // the 8-lane code on AVX-512, or emulated on AVX2
namespace nw {
#include "FAST_MATH_INC"
}
constexpr int L = 8;
// the kernel's compute_row before: one pass, log and exp per lane
__attribute__((noinline)) void row_old(const double* x, double* e, double* lgo, int64_t n, const double* a, const double* lc) {
  for (int64_t c = 0; c < n; ++c) {
    const double* xr = x + c * L; double* er = e + c * L;
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double xv = xr[l]; bool pos = xv > 0.0 && xv < INFINITY;
      double lg = old::fast_log(pos ? xv : 1.0) - lc[l];
      double ev = old::fast_exp(a[l] * lg);
      er[l] = pos ? ev : 0.0; lgo[c * L + l] = pos ? lg : 0.0;
    }
  }
}
template <bool SPLIT>
__attribute__((noinline)) void row_old2(const double* x, double* e, double* lgo, int64_t n, const double* a, const double* lc) {
  for (int64_t c = 0; c < n; ++c) {
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double xv = x[c*L+l]; bool pos = xv > 0.0 && xv < INFINITY;
      double lg = old::fast_log(pos ? xv : 1.0) - lc[l];
      e[c*L+l] = a[l] * lg; lgo[c * L + l] = pos ? lg : 0.0;
    }
  }
  for (int64_t c = 0; c < n; ++c) {
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double xv = x[c*L+l]; bool pos = xv > 0.0 && xv < INFINITY;
      double ev = old::fast_exp(e[c*L+l]);
      e[c*L+l] = pos ? ev : 0.0;
    }
  }
}
template <bool SPLIT, bool NARROW = false>
__attribute__((noinline)) void row_new(const double* x, double* e, double* lgo, int64_t n, const double* a, const double* lc) {
  const __m512d av = _mm512_loadu_pd(a), lcv = _mm512_loadu_pd(lc);
  if (SPLIT) {
    for (int64_t c = 0; c < n; ++c) {
      const __m512d xv = _mm512_loadu_pd(x + c * L);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, _mm512_setzero_pd(), _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
      const __m512d xp = _mm512_mask_blend_pd(pos, _mm512_set1_pd(1.0), xv);
      const __m512d lg = _mm512_sub_pd(NARROW ? nw::fast_log_narrow8(xp) : nw::fast_log8(xp), lcv);
      _mm512_storeu_pd(e + c * L, _mm512_mul_pd(av, lg));
      _mm512_storeu_pd(lgo + c * L, _mm512_maskz_mov_pd(pos, lg));
    }
    for (int64_t c = 0; c < n; ++c) {
      const __m512d xv = _mm512_loadu_pd(x + c * L);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, _mm512_setzero_pd(), _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
      const __m512d ev = _mm512_loadu_pd(e + c * L);
      _mm512_storeu_pd(e + c * L, _mm512_maskz_mov_pd(pos, NARROW ? nw::fast_exp_narrow8(ev) : nw::fast_exp8(ev)));
    }
  } else {
    for (int64_t c = 0; c < n; ++c) {
      const __m512d xv = _mm512_loadu_pd(x + c * L);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, _mm512_setzero_pd(), _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
      const __m512d lg = _mm512_sub_pd(nw::fast_log8(_mm512_mask_blend_pd(pos, _mm512_set1_pd(1.0), xv)), lcv);
      _mm512_storeu_pd(e + c * L, _mm512_maskz_mov_pd(pos, nw::fast_exp8(_mm512_mul_pd(av, lg))));
      _mm512_storeu_pd(lgo + c * L, _mm512_maskz_mov_pd(pos, lg));
    }
  }
}
// The kernel's forward (no lg kept): two passes (compute_row before weights_block8), and blocks
// of 8 columns whose 8 logs, then 8 exponentials, stay in registers (no E store and reload)
template <bool BLOCK>
__attribute__((noinline)) void row_fwd(const double* x, double* e, int64_t n, const double* a, const double* lc) {
  const __m512d av = _mm512_loadu_pd(a), lcv = _mm512_loadu_pd(lc);
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0), inf = _mm512_set1_pd(INFINITY);
  if (!BLOCK) {
    for (int64_t c = 0; c < n; ++c) {
      const __m512d xv = _mm512_loadu_pd(x + c * L);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, inf, _CMP_LT_OQ);
      const __m512d lg = _mm512_sub_pd(nw::fast_log_narrow8(_mm512_mask_blend_pd(pos, one, xv)), lcv);
      _mm512_storeu_pd(e + c * L, _mm512_mul_pd(av, lg));
    }
    for (int64_t c = 0; c < n; ++c) {
      const __m512d xv = _mm512_loadu_pd(x + c * L);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, inf, _CMP_LT_OQ);
      _mm512_storeu_pd(e + c * L, _mm512_maskz_mov_pd(pos, nw::fast_exp_narrow8(_mm512_loadu_pd(e + c * L))));
    }
  } else {
    for (int64_t c = 0; c + 8 <= n; c += 8) {
      __m512d z[8];
      __mmask8 pos[8];
      for (int i = 0; i < 8; ++i) {
        const __m512d xv = _mm512_loadu_pd(x + (c + i) * L);
        pos[i] = _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ) & _mm512_cmp_pd_mask(xv, inf, _CMP_LT_OQ);
        z[i] = _mm512_mul_pd(av, _mm512_sub_pd(nw::fast_log_narrow8(_mm512_mask_blend_pd(pos[i], one, xv)), lcv));
      }
      for (int i = 0; i < 8; ++i)
        _mm512_storeu_pd(e + (c + i) * L, _mm512_maskz_mov_pd(pos[i], nw::fast_exp_narrow8(z[i])));
    }
  }
}
int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? atol(argv[1]) : 2048;
  std::vector<double> x(n * L), e(n * L), lg(n * L);
  for (int64_t i = 0; i < n * L; ++i) x[i] = 0.01 + (double)((i * 2654435761u) % 1000003) / 1000003.0;
  double a[L], lc[L]; for (int l = 0; l < L; ++l) { a[l] = 2.0; lc[l] = 0.0; }
  const char* names[] = {"before (one pass, old helpers)", "old helpers, two passes", "new, one pass", "new, two passes",
                         "narrow forms, two passes", "forward (no lg), two passes",
                         "forward (no lg), blocks of 8"};
  double best[7] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
  for (int t = 0; t < 300; ++t) for (int v = 0; v < 7; ++v) {
    uint64_t t0 = __rdtsc();
    if (v == 0) row_old(x.data(), e.data(), lg.data(), n, a, lc);
    else if (v == 1) row_old2<true>(x.data(), e.data(), lg.data(), n, a, lc);
    else if (v == 2) row_new<false>(x.data(), e.data(), lg.data(), n, a, lc);
    else if (v == 3) row_new<true>(x.data(), e.data(), lg.data(), n, a, lc);
    else if (v == 4) row_new<true, true>(x.data(), e.data(), lg.data(), n, a, lc);
    else if (v == 5) row_fwd<false>(x.data(), e.data(), n, a, lc);
    else row_fwd<true>(x.data(), e.data(), n, a, lc);
    uint64_t t1 = __rdtsc();
    best[v] = std::min(best[v], (double)(t1 - t0) / n);
  }
  for (int v = 0; v < 7; ++v) std::printf("%-34s %5.1f TSC cycles per 8-lane vector\n", names[v], best[v]);
}
