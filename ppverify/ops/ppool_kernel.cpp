// The compiled CPU kernel of ppverify.ops: P-pooling (and the power mean / Lp norm) over any
// pooling layout, float32 / bfloat16 / float16 / float64, contiguous or channels-last memory.
//
// Plain C++17 with an extern "C" interface and OpenMP, no torch headers: ppverify.ops._native
// compiles it on first use with g++ and calls it through ctypes. The mathematics and the
// conventions at zeros are those of ppverify/ops/functional.py and ppverify/ops/power_mean.py
// (the oracle's); the pure-torch implementation (_torch_impl.py) is the reference.
//
// Layout of the work
// ------------------
// A *group* is 8 planes processed together, one per SIMD lane (8 doubles): 8 consecutive
// (batch, channel) planes of a contiguous tensor, or 8 consecutive channels of one batch entry
// of a channels-last tensor. Every window of a group has the same geometry in every lane, so
// all arithmetic is vectorised over lanes with no gathers, whatever the window size or layout.
// Windows are given per axis (D, H, W) by tables: output index o reads input indices
// start[o] + j * step, j < count[o] (padding excluded, so windowed, ceil_mode, adaptive and
// global layouts are all the same thing here).
// Channels-last memory: a pixel's 8 channels of a group are one converting vector load or store,
// and since a batch entry's groups share every pixel's cache lines, the forwards and the overlap
// state's backward sweep its plane in bands of rows, all its groups band by band, and threads
// take contiguous blocks of groups (see cl_band_rows and thread_groups). At an integer alpha
// of 0-4 with whole groups of 8 channels, the plain forward and the integer-alpha window
// state's saving forward sum each window straight from memory instead, up to 32 channels a
// pass, with the same terms in the same order (cl_direct_forward).
//
// Few planes: with fewer planes than lanes x threads (one 1-D signal, a (1, 3, H, W) image, a
// small batch of volumes) each plane is cut along its outermost axis with more than one
// output into segments of consecutive outputs that act as planes: each lane (and thread) takes
// one segment at its own base offset. A segment owns a run of inputs and its outputs, writes
// only those, and recomputes the windows it shares with the previous segment for their
// gradients only, so no element is written twice or loses a contribution. Interior segments
// of a windowed layout share one plan; the edges (padding, ceil_mode) get their own. See
// Segments (the driver) for the details.
//
// Two engines
// -----------
// * fast (float32, bfloat16, float16 inputs): each input element's weight
//   E = exp(a (ln x - Lc)) is computed once, relative to the plane's dominant element Lc (or
//   to 1 when |a| is small enough that nothing can overflow), in double (fast_log_narrow /
//   fast_exp_narrow of fast_math.inc: table-driven, division-free, ln within 1.6 ULP + 4e-17,
//   exp within 2e-14 + 3.5e-17 |z| relative, cheaper than the 1.6 / 1.1 ULP double forms and
//   far more than the narrow outputs need (fast_math.inc, "the narrow dtypes' cheaper forms");
//   on AVX-512 builds 8 lanes at a time, a row's logs in one pass and its exponentials in a
//   second; where every lane's a is 0, 1, 2, 3 or 4 and Lc = 0, E = x^a by multiplication,
//   exact or within 2^-53, no exponential, and no logarithm unless dy/da wants it:
//   FastLanes::int_a); a window is then a
//   few sums: y = sum E x / sum E. The W axis is worked in column tiles (at most TILE_COLS
//   input columns at a time; a wider window is summed in chunks), and input row segments are
//   cached (a direct-mapped row cache within CACHE_BYTES), so overlapping windows reuse them.
//   The forward sums all the rows of an output row's windows in one pass (sum_rows: windows of
//   at most FUSE_ROWS rows, one chunk, the rows held together by the row cache; the per-window
//   accumulators stay in registers), else row by row (sum_row); both add the same terms in the
//   same order, so they give the same bits. On AVX-512 builds the loads convert 8 elements to
//   doubles in one instruction and transpose 8 x 8 blocks of a contiguous group's planes into
//   lanes in registers (load_row), and the per-window flags and y = T / S are 8-lane vector
//   operations. A row is loaded straight into compute_row's logarithm pass (load_weights_row).
//   (perf, (8,64,112,112) k3 s2 p1 forward, one thread, 2026-12-02 12:47: the loads and
//   weights 58% of the kernel's time, 2.2 of 3.8 TSC cycles per element, of which the ln and
//   exp 1.9 (tests/fast_math_bench.py); the window sums 28%, the per-window work 10%.) The
//   backward recomputes the window sums and scatters two per-window coefficients, then one
//   pass per element:
//       dy/dx_i = sum_w (g_w / S_w) E_i ((1 + a) - a y_w / x_i).
//   Where windows share no element, a saving forward (ppv_forward_saved) writes each element's
//   dy/dx and each window's dy/da instead (on AVX-512 builds, for contiguous groups, each input
//   row's dy/dx in one pass straight into the planes: jac_store_row), and the backward
//   (ppv_backward_saved) is one pass over memory. The power mean / Lp engine (power_kernel.inc) saves the same state (float
//   dy/dx, double dy/dp) and shares that backward; where its windows share elements (float32)
//   it saves each element's E / x and each window's y / S and dy/dp instead
//   (ppv_forward_power_overlap_saved; power_kernel.inc, "the overlap state"). Where windows share elements, a saving
//   forward (ppv_forward_overlap_saved) writes each element's weight E as a float (4 bytes
//   per input element; a bfloat16 for bfloat16 and float16 inputs), each window's dy/da as a
//   float and each plane's Lc, and its backward (ppv_backward_overlap_saved) is the
//   recomputing backward without a log or an exp: the window sums again from the stored
//   weights, the scatter and the pass per element, on contiguous memory writing the input
//   gradient over the weights (see "backward from the overlap state").
//   A window whose weights underflow relative to the plane (its largest E below 1e-250) is
//   evaluated by the exact engine. Zeros at a = 0 are the fast engine's (a zero weighs 1,
//   its dy/dx is 1/S; dy/da is 0 in a window holding one: jump_a). Below 0 a window holding
//   a zero (y = 0, dy/da = 0, dy/dx only at a single zero) is taken from the forward's zero
//   count in a plain forward and in the overlap state's saving forward (its backward counts
//   the window's zeros again and adds that dy/dx as a third coefficient, at zeros alone);
//   elsewhere (the disjoint state, the recomputing backward) by a scan of its elements
//   (zeros_below_zero_lanes). Zeros at
//   a > 0 are the fast engine's: at a = 1 a zero's dy/dx is the limit -e^(-Lc) Q
//   (FastLanes::z1), and a window of zeros alone (common after a ReLU) is y = 0,
//   dy/dx = 1, dy/da = 0, found by S = 0 where no positive weight can underflow to 0
//   (zero_fast), else by reading its elements (zero_window_lanes); the overlap state keeps
//   them (its backward scatters their g as a third coefficient, overlap_coef_row).
// * exact (float64 inputs, and the fast engine's special windows): each window relative to
//   its own dominant element R, with a ln(x/R) carried in double-double (the exponents' part
//   k ln 2 exact), rho = (x - R) / R exact near R, y = R (1 + D) with D = sum w rho, and the
//   input gradients w (1 + a (rho - D) / (1 + rho)), so float64 keeps its error bound.
//   A window's elements are gathered once into a lane-interleaved buffer (8 doubles per
//   element; a window above GATHER_ELEMS elements in runs of that many, again in each pass)
//   that the three passes read as whole vectors; pass 1's extrema and counts and pass 2's
//   compensated sums stay in vector registers (GCC vector extensions). Pass 2's double-double
//   log and exp per element and window was most of the cost (k3 s2 p1: about 60% of the
//   forward; perf record, 2026-12-02); float64 lanes with |a| <= 16 (and windows spanning 1/16
//   or more) now form each element's ln x and x^a once per element instead (the new path, see
//   FASTLOG_MAX_A for the mathematics and the bound), the others keep the per-window terms.
//   Pass 2 (the window sums) keeps each element's exp(a ln(x/R)) and ln(x/R) of the window
//   (a per-thread cache, windows up to EXACT_CACHE_ELEMS elements) and pass 3 (gradients)
//   reads them: one double-double log and exp per element and window, vectorised over lanes
//   (exact_grad_lanes); the log-domain form only in the lanes that need it. Where windows share
//   no element, the saving forward writes each element's dy/dx in double (the recomputing
//   backward's own, so gy * dy/dx is its gradient bit for bit) and each window's dy/da.
//
// Robustness: no C++ exception leaves an OpenMP region (allocation failures are caught and
// reported as status 2); the fast engine's scratch is bounded by TILE_COLS and CACHE_BYTES,
// whatever the row length or window size (except the backward's per-window coefficients of
// one column tile's output rows, and a lazily allocated plane buffer for special windows);
// the exact engine sums float64 gradients in place; one thread is used when the work is small.
// No SVE code from GCC on ARM64: with -mcpu=native on an SVE CPU (Graviton 3, Grace: Neoverse
// V1 / V2) GCC 12.2's SVE autovectorisation computed wrong values here (zero input gradients
// in 268 of tests/arm64_check's 1,953 runs of the vector code, wrong outputs in the one-lane
// forms; under qemu-aarch64 -cpu max, any vector length), where the same build with +nosve and
// clang 14's SVE build agree with x86 bit for bit. A GCC bug, not undefined behaviour here: the
// sum of fast_group's backward `omp simd reduction(+ : n_slow)` was read before it was stored
// (a partial-vector load the scheduler moved above the store), so windows for the exact engine
// were skipped; tests/sve_repro.cpp reproduces it (GCC 11.3's build agrees with x86). Before
// every function (the headers' too): an inlined function must not target more than its caller.
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("+nosve")
#endif
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <new>
#include <numeric>
#include <type_traits>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>  // madvise (advise_huge_pages)
#endif
#if defined(_OPENMP)
#include <omp.h>
#else
// A compiler without OpenMP (Apple's clang; _native builds without -fopenmp when the compiler
// rejects it): every `#pragma omp` is ignored and each parallel region's body runs once, as
// thread 0 of 1, which is the whole of its work (the bodies are written for (thread, threads)).
inline int omp_get_thread_num() { return 0; }
inline int omp_get_num_threads() { return 1; }
#endif
#if defined(__F16C__) || defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "simd8.inc"  // PPV_AVX512: the 8-lane vector code (AVX-512, or emulated on AVX2 / NEON)

// keeps the double v rounded where it stands: the compiler may not contract it (a product) into
// the next addition's fma (GCC's C++ contracts a * b + c by default, -ffp-contract=fast)
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PPV_KEEP(v) __asm__("" : "+x"(v))
#elif defined(__GNUC__) && defined(__aarch64__)
#define PPV_KEEP(v) __asm__("" : "+w"(v))
#else
#define PPV_KEEP(v) ((void)0)
#endif

#ifndef PPV_SOURCE_HASH
#define PPV_SOURCE_HASH "unknown"
#endif

// The build in parts (_native.build where the machine has several cores): this file compiled
// once per part, the parts at once, then linked into one library. PPV_PART 0: the entry points
// that take no dtype, the mutable state every part shares (PPV_SHARED: the tests' knobs and
// counters, a scratch buffer) and, for each entry point that takes a plan (PPV_PLAN_ENTRIES),
// a forwarder to the part of the plan's dtype; PPV_PART 1-4: those entry points for float32,
// float64, bfloat16 and float16 alone (ppv_forward_part1, ...; dispatch instantiates the one
// dtype). The kernels' code is the same in either build (no kernel calls across parts). Without
// PPV_PART: one translation unit that defines everything under the public names.
#if defined(PPV_PART)
#define PPV_SPLIT 1
#define PPV_PART_MAIN (PPV_PART == 0)
#define PPV_PART_DTYPES (PPV_PART == 0 ? 0 : 1 << (PPV_PART - 1))  // bit DT_*: DT_* + 1 = part
#else
#define PPV_SPLIT 0
#define PPV_PART_MAIN 1
#define PPV_PART_DTYPES 15
#endif
// a symbol the parts share but the library does not export
#define PPV_HIDDEN __attribute__((visibility("hidden")))
#define PPV_CAT2(a, b) a##b
#define PPV_CAT(a, b) PPV_CAT2(a, b)
#if PPV_SPLIT
#define PPV_ENTRY(name) PPV_CAT(name##_part, PPV_PART)
#else
#define PPV_ENTRY(name) name
#endif
// A mutable namespace-scope variable every part sees as one: `type name dims init;` in the
// anonymous namespace of a single translation unit; in a build in parts, defined by part 0 (a
// hidden symbol of the library) and declared extern by the others. Used at the anonymous
// namespace's scope.
#if !PPV_SPLIT
#define PPV_SHARED(type, name, dims, init) type name dims init;
#else
#if PPV_PART_MAIN
#define PPV_SHARED_DEFINE(type, name, dims, init) type name dims init;
#else
#define PPV_SHARED_DEFINE(type, name, dims, init) extern type name dims;
#endif
#define PPV_SHARED(type, name, dims, init)                                      \
  }                                                                             \
  _Pragma("GCC visibility push(hidden)") namespace ppv_shared {                 \
    PPV_SHARED_DEFINE(type, name, dims, init)                                   \
  }                                                                             \
  _Pragma("GCC visibility pop") namespace {                                     \
    using ppv_shared::name;
#endif

namespace {

constexpr int L = 8;  // lanes (planes) per group
constexpr int64_t ABI_VERSION = 6;

// ------------------------------------------------------------------------------------ bits

inline double bits_to_double(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
inline uint64_t double_to_bits(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }
inline float bits_to_float(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
inline uint32_t float_to_bits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }

constexpr double LN2_HI = 6.93147180369123816490e-01;  // k * LN2_HI exact for |k| < 2^21
constexpr double LN2_LO = 1.90821492927058770002e-10;
constexpr double LOG2E = 1.44269504088896338700e+00;
constexpr double SHIFT = 6755399441055744.0;  // 0x1.8p52: round to integer
constexpr double SQRT2 = 1.41421356237309504880;
constexpr double SQRT_HALF = 0.70710678118654752440;
constexpr double TINY_WEIGHT = 1e-250;  // the fast engine's underflow threshold
// Above this |a| the fast engine's input gradient E ((1 + a) P - a Q / x) cancels catastrophically
// (its rounding error is about |a| 2^-52 of the largest gradient, and 1 + a loses the 1): the
// backward of such a lane runs in the exact engine, whose w (1 + a (rho - D) / (1 + rho)) has no
// cancellation at the dominant element. 2^20 keeps the fast form's error below 2^-32 relative.
constexpr double FAST_GRAD_MAX_A = 1048576.0;

// ------------------------------------------------------------------------- element types
// bf16 and f16 are stored as uint16_t; the tag types select the conversions.
struct bf16_t { uint16_t v; };
struct f16_t { uint16_t v; };

inline double half_to_double(uint16_t h) {
#if defined(__F16C__)
  return (double)_cvtsh_ss(h);
#else
  const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0) v = m * 5.9604644775390625e-08;
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = std::ldexp((double)(1024 + m), (int)e - 25);
  return (h & 0x8000) ? -v : v;
#endif
}

inline uint16_t float_to_half_rne(float f) {
#if defined(__F16C__)
  return _cvtss_sh(f, 0);
#else
  uint32_t b = float_to_bits(f);
  uint32_t sign = (b >> 16) & 0x8000;
  b &= 0x7fffffff;
  if (b >= 0x7f800000) return sign | 0x7c00 | (b > 0x7f800000 ? 0x200 : 0);
  if (b >= 0x477ff000) return sign | 0x7c00;  // rounds to inf
  if (b < 0x33000001) return sign;            // below half the smallest subnormal
  int e = (int)(b >> 23);
  uint32_t m = (b & 0x7fffff) | 0x800000;
  int shift = e < 113 ? 126 - e : 13;  // subnormal halves keep fewer bits
  uint32_t hm = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (hm & 1))) ++hm;
  if (e < 113) return sign | hm;
  return sign | (uint16_t)((((uint32_t)(e - 112)) << 10) + (hm - 0x400));
#endif
}

// Round to odd: a float that is exact or has its last bit set, so that a second rounding to a
// narrower format (bfloat16, float16) is the correct rounding of the double.
inline float round_to_odd(double d) {
  float f = (float)d;
  double back = f;
  if (back != d) {
    uint32_t b = float_to_bits(f);
    if (std::fabs(back) > std::fabs(d)) b -= 1;
    f = bits_to_float(b | 1u);
  }
  return f;
}

template <class T> inline double to_double(T v);
template <> inline double to_double<float>(float v) { return v; }
template <> inline double to_double<double>(double v) { return v; }
template <> inline double to_double<bf16_t>(bf16_t v) {
  return (double)bits_to_float(((uint32_t)v.v) << 16);
}
template <> inline double to_double<f16_t>(f16_t v) { return half_to_double(v.v); }

template <class T> inline T from_double(double d);
template <> inline float from_double<float>(double d) { return (float)d; }
template <> inline double from_double<double>(double d) { return d; }
template <> inline bf16_t from_double<bf16_t>(double d) {
  uint32_t u = float_to_bits(round_to_odd(d));
  if ((u & 0x7fffffff) > 0x7f800000) return bf16_t{(uint16_t)((u >> 16) | 0x40)};  // NaN
  u += 0x7fff + ((u >> 16) & 1);
  return bf16_t{(uint16_t)(u >> 16)};
}
template <> inline f16_t from_double<f16_t>(double d) {
  return f16_t{float_to_half_rne(round_to_odd(d))};
}

// ln|x| range of a format: the fast engine needs no reference when |a| * range is small.
template <class T> constexpr double log_range();
template <> constexpr double log_range<float>() { return 103.28; }
template <> constexpr double log_range<bf16_t>() { return 103.28; }
template <> constexpr double log_range<f16_t>() { return 16.64; }
template <> constexpr double log_range<double>() { return 745.2; }

// ------------------------------------------------------------------------------ elementary

// fast_log / fast_exp (and, on AVX-512 builds, their 8-lane forms fast_log8 / fast_exp8): ln and
// exp in double, within 1.6 and 1.1 ULP; fast_log_narrow / fast_exp_narrow (and ...8): the
// fast engine's weights (float32 / bfloat16 / float16 only), fewer operations, ln within
// 1.6 ULP + 4e-17 absolute, exp within 2e-14 + 3.5e-17 |z| relative (bounds, design, the error
// analysis and measurements in the file)
#include "fast_math.inc"

// The exact engine's per-element steps are forced inline: called out of line from a simd loop
// they run lane by lane (GCC stopped inlining exp_dd once the passes read gathered runs).
#define PPV_ALWAYS_INLINE inline __attribute__((always_inline))

// exp(hi + lo) for |lo| <= ulp(hi), accurate to about one ulp; 0 below e^-745.
PPV_ALWAYS_INLINE double exp_dd(double hi, double lo) {
  if (!(hi >= -745.5)) return 0.0;
  double hc = hi > 709.7 ? 709.7 : hi;
  double t = hc * LOG2E + SHIFT;
  double n = t - SHIFT;
  double r = (hc - n * LN2_HI) - n * LN2_LO + lo;
  double p = 1.0 / 6227020800.0;
  p = std::fma(p, r, 1.0 / 479001600.0);
  p = std::fma(p, r, 1.0 / 39916800.0);
  p = std::fma(p, r, 1.0 / 3628800.0);
  p = std::fma(p, r, 1.0 / 362880.0);
  p = std::fma(p, r, 1.0 / 40320.0);
  p = std::fma(p, r, 1.0 / 5040.0);
  p = std::fma(p, r, 1.0 / 720.0);
  p = std::fma(p, r, 1.0 / 120.0);
  p = std::fma(p, r, 1.0 / 24.0);
  p = std::fma(p, r, 1.0 / 6.0);
  p = std::fma(p, r, 0.5);
  // 1 + r + r^2 p without rounding 1 + r first
  double q = std::fma(r * r, p, r);
  double e = 1.0 + q;
  int64_t k = (int64_t)n;
  if (k >= -1021) return e * bits_to_double((uint64_t)(k + 1023) << 52);
  // subnormal result: two exact-as-possible scalings
  return (e * bits_to_double((uint64_t)(k + 600 + 1023) << 52)) * 0x1p-600;
}

// r[l] = 1 / v[l] for the 8 lanes, within 2 ulp (AVX-512: the 14-bit estimate and two Newton
// steps, about 4x the throughput of a division; else divisions, correctly rounded). v positive
// and normal.
#if defined(PPV_AVX512)
// 1 / x per lane: the 14-bit estimate and two Newton steps (recip_lanes on a register); on the
// emulated builds (AVX2, NEON), whose rcp14 stand-in is already the correctly rounded 1 / x,
// that division alone (the Newton steps cost 8 fused multiply-adds per call and could only
// move the result off the correctly rounded one)
PPV_VEC_INLINE __m512d recip8(__m512d x) {
  const __m512d one = _mm512_set1_pd(1.0);
#if defined(PPV_AVX512_EMULATED)
  return _mm512_div_pd(one, x);
#else
  __m512d y = _mm512_rcp14_pd(x);
  y = _mm512_fmadd_pd(y, _mm512_fnmadd_pd(x, y, one), y);
  return _mm512_fmadd_pd(y, _mm512_fnmadd_pd(x, y, one), y);
#endif
}
#endif

inline void recip_lanes(const double* v, double* r) {
#if defined(PPV_AVX512)
  static_assert(L == 8, "one zmm register of doubles per group");
  _mm512_storeu_pd(r, recip8(_mm512_loadu_pd(v)));
#else
  for (int l = 0; l < L; ++l) r[l] = 1.0 / v[l];
#endif
}

// 2^k for -1022 <= k <= 1023 (a normal double), by its bits: no libm call.
inline double pow2(int64_t k) { return bits_to_double((uint64_t)(k + 1023) << 52); }

// v * 2^k with one rounding, as std::ldexp: a product with an exact power of two where 2^k is a
// normal double (the product then rounds once, exactly as ldexp does), else ldexp itself. The
// exact engine calls this per lane and window, where a libm call per lane cost as much as a
// window's arithmetic.
inline double scale2k(double v, int64_t k) {
  return (k >= -1022 && k <= 1023) ? v * pow2(k) : std::ldexp(v, (int)k);
}

// std::frexp (m in [1/2, 1), v = m 2^e) by the bits for a normal v, else std::frexp itself:
// the same result without a libm call in the common case.
inline double frexp2(double v, int* e) {
  const uint64_t b = double_to_bits(v);
  const int ex = (int)((b >> 52) & 0x7ff);
  if (ex == 0 || ex == 0x7ff) return std::frexp(v, e);
  *e = ex - 1022;
  return bits_to_double((b & 0x800fffffffffffffULL) | 0x3fe0000000000000ULL);
}

// A positive finite double as m * 2^e, m in [1, 2).
struct Split { double m, e; };
PPV_ALWAYS_INLINE Split split(double x) {
  uint64_t b = double_to_bits(x);
  int64_t ex = (int64_t)((b >> 52) & 0x7ff);
  if (ex == 0) {  // subnormal
    b = double_to_bits(x * 0x1p54);
    ex = (int64_t)((b >> 52) & 0x7ff) - 54;
  }
  return {bits_to_double((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL),
          (double)(ex - 1023)};
}

// ln(x / R) as an unevaluated double-double (hi exact: k ln2_hi), from the splits of x and R.
// The mantissa ratio's logarithm is log1p of an exactly formed difference, so it is accurate
// relative to itself when x is near R.
PPV_ALWAYS_INLINE void log_ratio_dd(Split x, Split R, double& hi, double& lo) {
  double k = x.e - R.e;
  double num, den;
  if (x.m < R.m * SQRT_HALF) {         // 2 x.m in [R.m, sqrt2 R.m): exact difference
    num = 2.0 * x.m - R.m; den = R.m; k -= 1.0;
  } else if (x.m > R.m * SQRT2) {      // x.m / (2 R.m) in (1/sqrt2, 1)
    num = x.m - 2.0 * R.m; den = 2.0 * R.m; k += 1.0;
  } else {
    num = x.m - R.m; den = R.m;
  }
  double d = num / den;                // in [-0.293, 0.415]
  double s = d / (2.0 + d);            // ln(1 + d) = 2 atanh(s), |s| <= 0.1716
  double s2 = s * s;
  double p = 1.0 / 25.0;
  p = std::fma(p, s2, 1.0 / 23.0);
  p = std::fma(p, s2, 1.0 / 21.0);
  p = std::fma(p, s2, 1.0 / 19.0);
  p = std::fma(p, s2, 1.0 / 17.0);
  p = std::fma(p, s2, 1.0 / 15.0);
  p = std::fma(p, s2, 1.0 / 13.0);
  p = std::fma(p, s2, 1.0 / 11.0);
  p = std::fma(p, s2, 1.0 / 9.0);
  p = std::fma(p, s2, 1.0 / 7.0);
  p = std::fma(p, s2, 1.0 / 5.0);
  p = std::fma(p, s2, 1.0 / 3.0);
  double l1p = std::fma(2.0 * s * s2, p, 2.0 * s);
  double big = k * LN2_HI;
  double small = std::fma(k, LN2_LO, l1p);
  hi = big + small;
  lo = small - (hi - big);
}

// ln x as an unevaluated double-double H + Lo, for the exact engine's new path (float64
// inputs, lanes with |a| <= FASTLOG_MAX_A: x^a = exp(a ln x), ln(x / R) = ln x - ln R; see
// FASTLOG_MAX_A).
// fast_log's reduction (fast_math.inc) with every step carried: x = 2^k z (a subnormal x scaled
// by 2^54 first), z in [0.703125, 1.40625), invc ~ 1/c from the 16-entry table, and
//   r = z invc - 1 = rh + rl exactly (z invc = p + pe by fma, rh = p - 1 exact by Sterbenz),
//   ln x = k ln2_hi + logc + rh + [rh^2 q(rh) + rl (1 - rh) + k ln2_lo + logc_lo],
// q(r) = (log1p(r) - r) / r^2 of degree 9 (Taylor, truncation below |r|^12 / 12 < 2^-63.5 for
// |r| <= 2^-5); the first three terms summed exactly (two two-sums), the bracket (below 2^-10)
// to one rounding. Absolute error below 2^-61.5 (the bracket's rounding errors, 3 x 2^-64, the
// truncation 2^-63.5, rl rh^2 / ... below 2^-64, k ln2_lo and logc_lo below 2^-75), so
// ln(x / R) as a difference of two of these is within 2^-60.5 absolute. At x = 1
// (k = 0, invc = 1, logc = 0) it is rh + bracket, accurate relative to itself; ln x = ln R
// exactly when x = R (the same function of the same bits), so ln(R / R) = 0 as before.
// x positive and finite. Two forms with the same operations (so the same bits): one double, and
// 8 lanes (AVX-512 builds; the tables read by vpermt2pd).
PPV_ALWAYS_INLINE void ln_dd(double x, double& H, double& Lo) {
  const bool sub = x < 2.2250738585072014e-308;
  const double xs = sub ? x * 0x1p54 : x;
  const uint64_t ix = double_to_bits(xs);
  const uint64_t tmp = ix - FAST_LOG_OFF;
  const uint64_t i = (tmp >> 48) & 15;
  const double k = (double)((int64_t)tmp >> 52) + (sub ? -54.0 : 0.0);
  const double z = bits_to_double(ix - (tmp & (0xfffULL << 52)));
  const double invc = FAST_LOG_INVC[i];
  double p = z * invc;
  PPV_KEEP(p);  // p rounded: rh = p - 1 must not be contracted into one fma
  const double pe = std::fma(z, invc, -p);
  const double rh = p - 1.0;
  const double q = PPV_FAST_LOG_Q(fast_fma, rh, fast_const);
  const double c1 = std::fma(k, FAST_LN2_LO, FAST_LOG_LOGC_LO[i]);
  const double c2 = std::fma(-rh, pe, pe) + c1;
  const double tail = std::fma(rh * rh, q, c2);
  const double big = k * FAST_LN2_HI, logc = FAST_LOG_LOGC[i];
  const double s = big + logc;
  const double b1 = s - big;
  const double e1 = (big - (s - b1)) + (logc - b1);
  const double h = s + rh;
  const double b2 = h - s;
  const double e2 = (s - (h - b2)) + (rh - b2);
  const double lo = e1 + (e2 + tail);
  H = h + lo;
  Lo = lo - (H - h);
}
#if defined(PPV_AVX512)
PPV_ALWAYS_INLINE void ln_dd8(__m512d x, __m512d& H, __m512d& Lo) {
  const __mmask8 sub = _mm512_cmp_pd_mask(x, _mm512_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
  const __m512d xs = _mm512_mask_mul_pd(x, sub, x, _mm512_set1_pd(0x1p54));
  const __m512i ix = _mm512_castpd_si512(xs);
  const __m512i tmp = _mm512_sub_epi64(ix, _mm512_set1_epi64((long long)FAST_LOG_OFF));
  const __m512i i = _mm512_srli_epi64(tmp, 48);  // vpermt2pd reads its low 4 bits
  const __m512d k = _mm512_add_pd(fast_exponent8(tmp),
                                  _mm512_maskz_mov_pd(sub, _mm512_set1_pd(-54.0)));
  const __m512d z = _mm512_castsi512_pd(_mm512_sub_epi64(
      ix, _mm512_and_si512(tmp, _mm512_set1_epi64((long long)(0xfffULL << 52)))));
  __m512d invc, logc, logc_lo;
  fast_log_tables8(i, invc, logc, logc_lo);
  __m512d p = _mm512_mul_pd(z, invc);
  PPV_KEEP8(p);  // p rounded: rh = p - 1 must not be contracted into one fma
  const __m512d pe = _mm512_fmsub_pd(z, invc, p);
  const __m512d rh = _mm512_sub_pd(p, _mm512_set1_pd(1.0));
  const __m512d q = PPV_FAST_LOG_Q(fast_fma8, rh, fast_const8);
  const __m512d c1 = _mm512_fmadd_pd(k, _mm512_set1_pd(FAST_LN2_LO), logc_lo);
  const __m512d c2 = _mm512_add_pd(_mm512_fnmadd_pd(rh, pe, pe), c1);
  const __m512d tail = _mm512_fmadd_pd(_mm512_mul_pd(rh, rh), q, c2);
  const __m512d big = _mm512_mul_pd(k, _mm512_set1_pd(FAST_LN2_HI));
  const __m512d s = _mm512_add_pd(big, logc);
  const __m512d b1 = _mm512_sub_pd(s, big);
  const __m512d e1 = _mm512_add_pd(_mm512_sub_pd(big, _mm512_sub_pd(s, b1)),
                                   _mm512_sub_pd(logc, b1));
  const __m512d h = _mm512_add_pd(s, rh);
  const __m512d b2 = _mm512_sub_pd(h, s);
  const __m512d e2 = _mm512_add_pd(_mm512_sub_pd(s, _mm512_sub_pd(h, b2)),
                                   _mm512_sub_pd(rh, b2));
  const __m512d lo = _mm512_add_pd(e1, _mm512_add_pd(e2, tail));
  H = _mm512_add_pd(h, lo);
  Lo = _mm512_sub_pd(lo, _mm512_sub_pd(H, h));
}
#endif
// ln_dd of 8 lanes in memory
PPV_ALWAYS_INLINE void ln_dd_lanes(const double* x, double* H, double* Lo) {
#if defined(PPV_AVX512)
  __m512d h, lo;
  ln_dd8(_mm512_loadu_pd(x), h, lo);
  _mm512_storeu_pd(H, h);
  _mm512_storeu_pd(Lo, lo);
#else
  for (int l = 0; l < L; ++l) ln_dd(x[l], H[l], Lo[l]);
#endif
}

// exp(th + tl) for the lanes of ln_dd (|tl| <= ulp(th)), table-driven: fast_exp's reduction
// (k = round(16 th / ln2), r = th - k ln2/16 + tl, |r| <= ln2/32 + ulp, the first step exact),
// exp(r) - 1 = r + r^2 p(r) of degree 7 (Taylor, truncation below 2^-59.5 relative) and
// 2^(j/16) = tab_j (1 + EXP_TAB_TAIL_j) carried to about 2^-106:
//   exp(th + tl) = 2^m tab_j (1 + em1 + tail_j (1 + em1)), one rounding at the end.
// e within 0.5 ULP + 2^-57 relative (the final rounding; r's rounding, em1's and tmp's, each
// below 2^-59.5, the truncation 2^-59.5), and e + elo (elo: e's rounding error) within 2^-56
// relative (measured 2^-57.0 and 0.53 ULP, test_pair_log.py), against exp_dd's about 1 ULP;
// 0 below e^-745.5 (and for NaN), as exp_dd;
// a result below 2^-1021 (th < -707) is formed 2^600 larger and scaled back (two roundings, as
// exp_dd's subnormal results); th above 709 is taken as 709 (the exact engine's weights are
// at most about 1: R is the dominant element). Scalar and 8-lane forms, the same operations.
alignas(64) constexpr double EXP_TAB_TAIL[16] = {  // 2^(j/16) / tab_j - 1, from mpmath
    0x0.0p+0, 0x1.79aa65d837b6dp-54, -0x1.01b15eaa59348p-55, 0x1.68efde3a8a894p-54,
    0x1.34d754db0abb6p-55, 0x1.59f48a72a4c6dp-55, 0x1.690cebb7aafb0p-56, 0x1.063e1e21c5409p-54,
    -0x1.3b3efbf5e2228p-54, -0x1.b32dcb94da51dp-56, 0x1.db72fc1f0eab4p-55, 0x1.1affc2b91ce27p-56,
    0x1.c1a7792cb3387p-55, 0x1.36eae30af0cb3p-56, 0x1.4a385a63d07a7p-56, -0x1.ff7128fd391f0p-55,
};
PPV_ALWAYS_INLINE double exp_dd_tab(double th, double tl, double& elo) {
  const double zc = th < 709.0 ? th : 709.0;
  const bool tiny = zc < -707.0;
  const double kd0 = std::fma(zc, FAST_16_LOG2E, FAST_SHIFT);
  const uint64_t ki = double_to_bits(kd0);
  const double kd = kd0 - FAST_SHIFT;
  const double r = std::fma(-kd, FAST_LN2_LO / 16.0, std::fma(-kd, FAST_LN2_HI / 16.0, zc)) + tl;
  const double pp = PPV_FAST_EXP_P(fast_fma, r, fast_const);
  const double em1 = std::fma(r * r, pp, r);
  const double t = EXP_TAB_TAIL[ki & 15];
  const double tmp = em1 + std::fma(t, em1, t);
  const double scale = bits_to_double(FAST_EXP_TAB[ki & 15] + ((ki + (tiny ? 9600 : 0)) << 48));
  const double e = std::fma(scale, tmp, scale);
  const double res = tiny ? e * 0x1p-600 : e;
  // the rounding error of e (scale - e exact: e / scale in [0.95, 1.05]), so that e + elo is
  // scale (1 + tmp) to about 2^-106; 0 for results formed 2^600 larger, and below e^-745.5
  const double lo = std::fma(scale, tmp, scale - e);
  elo = (th >= -745.5 && !tiny) ? lo : 0.0;
  return th >= -745.5 ? res : 0.0;
}
#if defined(PPV_AVX512)
// exp_dd_tab8's two look-ups per lane, entry (ki mod 16) of FAST_EXP_TAB (bits) and of
// EXP_TAB_TAIL. On the AVX2 emulation (not on ARM64) both tables as one row of 4 doubles per
// entry, one 256-bit load per lane and a transpose (fast_rows8), in place of 16 scalar loads:
// the float64 forward's kernel 0.93-0.94x (`python -m tests.kernel_ab`, 2026-12-04); the
// same entries.
#if defined(PPV_AVX512_EMULATED) && !defined(PPV_AVX2_ON_NEON)
struct ExpDdRows { alignas(32) double v[16][4]; };
inline ExpDdRows exp_dd_rows() {
  ExpDdRows r{};
  for (int i = 0; i < 16; ++i) {
    std::memcpy(&r.v[i][0], &FAST_EXP_TAB[i], sizeof(double));
    r.v[i][1] = EXP_TAB_TAIL[i];
  }
  return r;
}
const ExpDdRows EXP_DD_ROWS = exp_dd_rows();  // (initialised when the library loads)
#endif
PPV_ALWAYS_INLINE void exp_dd_tables8(__m512i ki, __m512i& tab, __m512d& tail) {
#if defined(PPV_AVX512_EMULATED) && !defined(PPV_AVX2_ON_NEON)
  __m512d bits, unused;
  fast_rows8(EXP_DD_ROWS.v, ki, bits, tail, unused);
  tab = {_mm256_castpd_si256(bits.lo), _mm256_castpd_si256(bits.hi)};
#else
  tail = fast_table8_pd(EXP_TAB_TAIL, ki);
  tab = fast_table8(FAST_EXP_TAB, ki);
#endif
}

PPV_ALWAYS_INLINE __m512d exp_dd_tab8(__m512d th, __m512d tl, __m512d& elo) {
  const __m512d zc = _mm512_min_pd(th, _mm512_set1_pd(709.0));
  const __mmask8 tiny = _mm512_cmp_pd_mask(zc, _mm512_set1_pd(-707.0), _CMP_LT_OQ);
  const __mmask8 ok = _mm512_cmp_pd_mask(th, _mm512_set1_pd(-745.5), _CMP_GE_OQ);
  const __m512d kd0 = _mm512_fmadd_pd(zc, _mm512_set1_pd(FAST_16_LOG2E),
                                      _mm512_set1_pd(FAST_SHIFT));
  const __m512i ki = _mm512_castpd_si512(kd0);
  const __m512d kd = _mm512_sub_pd(kd0, _mm512_set1_pd(FAST_SHIFT));
  const __m512d r = _mm512_add_pd(
      _mm512_fnmadd_pd(kd, _mm512_set1_pd(FAST_LN2_LO / 16.0),
                       _mm512_fnmadd_pd(kd, _mm512_set1_pd(FAST_LN2_HI / 16.0), zc)),
      tl);
  const __m512d pp = PPV_FAST_EXP_P(fast_fma8, r, fast_const8);
  const __m512d em1 = _mm512_fmadd_pd(_mm512_mul_pd(r, r), pp, r);
  __m512i tab;
  __m512d t;
  exp_dd_tables8(ki, tab, t);
  const __m512d tmp = _mm512_add_pd(em1, _mm512_fmadd_pd(t, em1, t));
  const __m512i kk = _mm512_mask_add_epi64(ki, tiny, ki, _mm512_set1_epi64(9600));
  const __m512d scale = _mm512_castsi512_pd(_mm512_add_epi64(tab, _mm512_slli_epi64(kk, 48)));
  const __m512d e = _mm512_fmadd_pd(scale, tmp, scale);
  const __m512d res = _mm512_mask_mul_pd(e, tiny, e, _mm512_set1_pd(0x1p-600));
  const __m512d lo = _mm512_fmadd_pd(scale, tmp, _mm512_sub_pd(scale, e));
  elo = _mm512_maskz_mov_pd(ok & (__mmask8)~tiny, lo);
  return _mm512_maskz_mov_pd(ok, res);
}

// the double-double helpers on 8 lanes (the same operations as sub_dd and mul_dd)
PPV_ALWAYS_INLINE void sub_dd8(__m512d xh, __m512d xl, __m512d rh, __m512d rl, __m512d& hi,
                               __m512d& lo) {
  const __m512d s = _mm512_sub_pd(xh, rh);
  const __m512d bb = _mm512_sub_pd(s, xh);
  const __m512d e = _mm512_add_pd(_mm512_sub_pd(xh, _mm512_sub_pd(s, bb)),
                                  _mm512_sub_pd(_mm512_setzero_pd(), _mm512_add_pd(rh, bb)));
  const __m512d t = _mm512_add_pd(e, _mm512_sub_pd(xl, rl));
  hi = _mm512_add_pd(s, t);
  lo = _mm512_sub_pd(t, _mm512_sub_pd(hi, s));
}
PPV_ALWAYS_INLINE void mul_dd8(__m512d a, __m512d hi, __m512d lo, __m512d& th, __m512d& tl) {
  __m512d p = _mm512_mul_pd(a, hi);
  PPV_KEEP8(p);  // rounded, as mul_dd's
  const __m512d pe = _mm512_fmsub_pd(a, hi, p);
  const __m512d q = _mm512_fmadd_pd(a, lo, pe);
  th = _mm512_add_pd(p, q);
  tl = _mm512_sub_pd(q, _mm512_sub_pd(th, p));
}
#endif

// (xh + xl) - (rh + rl) as a normalised double-double (two-sum of the heads, the tails added)
PPV_ALWAYS_INLINE void sub_dd(double xh, double xl, double rh, double rl, double& hi,
                              double& lo) {
  const double s = xh - rh;
  const double bb = s - xh;
  const double e = (xh - (s - bb)) + (0.0 - (rh + bb));  // -rh - bb, exactly
  const double t = e + (xl - rl);
  hi = s + t;
  lo = t - (hi - s);
}

// a * (hi + lo) as a double-double (Dekker's product by fma)
PPV_ALWAYS_INLINE void mul_dd(double a, double hi, double lo, double& th, double& tl) {
  double p = a * hi;
  double pe = std::fma(a, hi, -p);
  double q = std::fma(a, lo, pe);
  th = p + q;
  tl = q - (th - p);
}

// (th + tl) - (hi + lo) + c as a normalised double-double (Knuth's two-sum twice): the
// exponent of w y / x = exp(a ln(x/R) - ln S + ln(y/R) - ln(x/R)), which may be hundreds in
// magnitude, so rounding it to one double before exp would cost hundreds of ulps.
inline void sub_add_dd(double th, double tl, double hi, double lo, double c, double& rh,
                       double& rl) {
  double s = th - hi;
  double bb = s - th;
  double err = (th - (s - bb)) + (-hi - bb);
  double s2 = s + c;
  double bb2 = s2 - s;
  double err2 = (s - (s2 - bb2)) + (c - bb2);
  double low = (err + err2) + (tl - lo);
  rh = s2 + low;
  rl = low - (rh - s2);
}

// f * exp(hi + lo) with no intermediate overflow: exp's argument may exceed 709.78 while the
// product is finite (|f| < 1). 2^k is applied as two exact factors; branch-free for simd.
inline double mul_exp_dd(double f, double hi, double lo) {
  double k = hi > 700.0 ? std::nearbyint(hi * LOG2E) : 0.0;
  k = k > 2000.0 ? 2000.0 : k;
  const double r = exp_dd(hi - k * LN2_HI, lo - k * LN2_LO);
  const int64_t k1 = (int64_t)k / 2, k2 = (int64_t)k - k1;
  return ((f * r) * bits_to_double((uint64_t)(k1 + 1023) << 52)) *
         bits_to_double((uint64_t)(k2 + 1023) << 52);
}

// (1 + a) (hi + lo) as a double-double: 1 + a itself is inexact for tiny |a|, which would cost
// |a| ulp(1) |hi| (hundreds of ulps when |hi| is hundreds).
inline void mul1p_dd(double a, double hi, double lo, double& th, double& tl) {
  double ph, pl;
  mul_dd(a, hi, lo, ph, pl);
  sub_add_dd(ph, pl, -hi, -lo, 0.0, th, tl);
}

// Neumaier's compensated sum
struct CSum {
  double s = 0.0, c = 0.0;
  inline void add(double v) {
    double t = s + v;
    c += std::fabs(s) >= std::fabs(v) ? (s - t) + v : (v - t) + s;
    s = t;
  }
  inline double value() const { return s + c; }
};

// A sum of terms of any magnitude (float64 parameter gradients): value = m * 2^e.
struct ScaledSum {
  double m = 0.0;
  int e = 0;
  inline void add(double v, int ve) {  // v * 2^ve, v finite
    if (v == 0.0) return;
    int ev;
    double fv = frexp2(v, &ev);
    ve += ev;
    if (m == 0.0) { m = fv; e = ve; return; }
    if (ve > e) { m = scale2k(m, e - ve) + fv; e = ve; }
    else { m += scale2k(fv, ve - e); }
    int em;
    m = frexp2(m, &em);
    e += em;
  }
};

// ---------------------------------------------------------------------------- geometry

// One of an axis's two window tables, start[o] or count[o] per output o: read from an array
// (the plan's, or a segment's), or, for a regular axis of a compact plan (windowed pooling),
// computed from the geometry: output o's window is first + j d, j < k, first = o s - p, less
// the positions outside [0, in) (padding, ceil_mode's overhang), exactly as _native._fill_axis
// fills a table. Indexing is the same either way (start[o], count[o]).
struct WinTable {
  const int64_t* t = nullptr;  // the array, or null: computed
  int64_t k = 1, s = 1, p = 0, d = 1, in = 1;
  bool is_count = false;
  WinTable& operator=(const int64_t* q) { t = q; return *this; }
  __attribute__((always_inline)) int64_t operator[](int64_t o) const {
    return t ? t[o] : regular(o);
  }
  __attribute__((always_inline)) int64_t regular(int64_t o) const {
    const int64_t first = o * s - p;
    if (first >= 0 && first + (k - 1) * d < in) return is_count ? k : first;  // inside
    const int64_t jlo = first < 0 ? (-first + d - 1) / d : 0;
    const int64_t jhi = std::min<int64_t>(k, in > first ? (in - first + d - 1) / d : 0);
    return is_count ? std::max<int64_t>(jhi - jlo, 0) : first + jlo * d;
  }
  // [lo, hi): outputs whose windows lie wholly inside the input (start o s - p, count k,
  // starts s apart), known without reading them; empty for a table. The scans over every
  // output (threads_for, monotone_windows, make_segments) visit only the others.
  void interior(int64_t out, int64_t& lo, int64_t& hi) const {
    if (t) { lo = hi = 0; return; }
    const int64_t last = in - 1 + p - (k - 1) * d;  // o s <= last: the window ends inside
    lo = std::min(out, (p + s - 1) / s);
    hi = last < 0 ? lo : std::max(lo, std::min(out, last / s + 1));
  }
};

// Calls f(o) for every o in [from, out) outside [skip_lo, skip_hi).
template <class F>
inline void outside(int64_t from, int64_t out, int64_t skip_lo, int64_t skip_hi, F&& f) {
  for (int64_t o = from; o < std::min(out, std::max(from, skip_lo)); ++o) f(o);
  for (int64_t o = std::max(from, skip_hi); o < out; ++o) f(o);
}

struct Axis {
  int64_t in = 1, out = 1, step = 1;
  WinTable start, count;
  // inverse: outputs whose window holds input index i: inv[inv_off[i] .. inv_off[i + 1])
  std::vector<int64_t> inv_off, inv;
  void build_inverse() {
    inv_off.assign(in + 1, 0);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t j = 0; j < count[o]; ++j) ++inv_off[start[o] + j * step + 1];
    for (int64_t i = 0; i < in; ++i) inv_off[i + 1] += inv_off[i];
    inv.assign(inv_off[in], 0);
    std::vector<int64_t> fill(inv_off.begin(), inv_off.end() - 1);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t j = 0; j < count[o]; ++j) inv[fill[start[o] + j * step]++] = o;
  }
};

enum { DT_F32 = 0, DT_F64 = 1, DT_BF16 = 2, DT_F16 = 3 };
constexpr int64_t PLAN_HEAD = 28;  // the plan's header (_native.make_plan); tables follow
enum { OP_PPOOL = 0, OP_POWERMEAN = 1, OP_LP = 2 };
enum { ST_OK = 0, ST_BAD = 1, ST_NOMEM = 2, ST_ARGS = 3 };
// ppv_forward_saved: the saved Jacobian is not usable (an element's dy/dx is beyond float's
// range, or a window is bad); the caller's backward must recompute
constexpr int ST_UNSAVED = 4;


// The engines' status where a plane cut into lane slices (Plan::xlane) has a window that the
// exact engine must evaluate (it reads one lane's elements): run / run_power then run the call
// again without the slices. Internal: never returned to the caller.
constexpr int ST_XLANE_REDO = 64;

// The power engine hands the call back: the caller runs it whole on the pure-torch path
// (_torch_power.py, which serves every window); what was written is not used. Two causes:
//   * float64 inputs with a window its fast form cannot hold to float64's bound (an exponent
//     below 1/16, a plane whose weights leave the normal range, a coefficient that overflows)
//     and that is not a window of zeros alone or outside the domain (the exact engine here is
//     the float32-class transcription: not float64's);
//   * a backward (any dtype) in which the exact engine meets a term beyond float64's range:
//     the Lp norm's y ~ n^(1/p) overflows it for p below ln(n) / 709, and its dy/dx and dy/dp
//     with it; such terms of opposite signs, summed as they came, gave NaN where the exact sum
//     is 0 or +-inf (the pure-torch path sums them as m 2^k: ScaledTerms, scaled_sum).
constexpr int ST_HAND_BACK = 128;

// Lane slices in parts (both engines; run, run_power). A plane of a global window cut into L
// lane slices (Plan::xlane) is one group, so with fewer planes than threads the other threads
// had nothing to do ((1, 1, 2048, 2048) gem forward: 7.1 ms on one thread, 7.5 on two;
// P-pooling's 5.5 on either), and planes that do not share out evenly left threads idle for
// part of the call (three planes on two threads). Each slice's rows are then cut into parts,
// a unit of work being one part of one group (its plan: the slices' plan with the H axis's
// window on the part's rows; xlane_part_plans), and the call runs in two steps: XP_SUMS, each
// unit's window sums combined over its lanes and stored at `sums` (the engine's blocks: the
// power mean's S, M, U, A; P-pooling's S, T, M, U, V, Z); the driver adds the parts' sums (M,
// the largest weight: their largest) in the parts' order (xlane_parts_combine); XP_FINISH,
// each unit's engine from the plane's sums at `sums`: y, dy/dp or dy/da and (a saving forward)
// the dy/dx of its own rows, y and the parameter's gradient written by the owner part alone.
// What the parts cannot do alone (the power engine's dy/dp wanting a second pass over the
// window's elements) sends the call back to the driver, which runs it again with whole slices
// (ST_XPART_REDO). A plain forward's parts after the owner have nothing to finish. The
// recomputing backward takes parts too, each part plan owning its rows alone
// (xlane_part_owners), so that each part writes its own rows' input gradients; not the
// backward from a saved state (a pass over memory).
enum { XP_SUMS = 1, XP_FINISH = 2 };
constexpr int ST_XPART_REDO = 256;
struct XParts {
  int mode;
  double* sums;   // the engine's blocks of L doubles
  bool owner;     // the part that writes y and the parameter's gradient
  double terms;   // the power engine's pow_dp_fast n: the sums' terms (the slices' elements,
                  // L, the parts)
  double parts;   // the parts of the plane (added plainly by the driver: pow_dp_fast's bound)
};

// The reference scans (both engines): each lane's largest (mx) and smallest (mn) positive
// finite value over n lane-interleaved columns of a row, folded into mx and mn. On the vector
// builds in registers, four columns at a time in four accumulators (the largest and smallest
// do not depend on the order); the loop over lanes below, which GCC compiled to masked stores
// into mx / mn and loads back per column, was half of run_power<double>'s own samples.
inline void lane_extremes(const double* row, int64_t n, double* mx, double* mn) {
  int64_t c = 0;
#if defined(PPV_FAST_VECTOR)
  const __m512d zero = _mm512_setzero_pd(), inf = _mm512_set1_pd(INFINITY);
  __m512d hi[4], lo[4];
  for (int k = 0; k < 4; ++k) {
    hi[k] = _mm512_loadu_pd(mx);
    lo[k] = _mm512_loadu_pd(mn);
  }
  for (; c + 4 <= n; c += 4)
    for (int k = 0; k < 4; ++k) {
      const __m512d u = _mm512_loadu_pd(row + (c + k) * L);
      const __mmask8 ok = _mm512_cmp_pd_mask(u, zero, _CMP_GT_OQ) &
                          _mm512_cmp_pd_mask(u, inf, _CMP_LT_OQ);
      hi[k] = _mm512_mask_blend_pd(_mm512_mask_cmp_pd_mask(ok, u, hi[k], _CMP_GT_OQ), hi[k], u);
      lo[k] = _mm512_mask_blend_pd(_mm512_mask_cmp_pd_mask(ok, u, lo[k], _CMP_LT_OQ), lo[k], u);
    }
  for (int k = 1; k < 4; ++k) {
    hi[0] = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(hi[k], hi[0], _CMP_GT_OQ), hi[0], hi[k]);
    lo[0] = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(lo[k], lo[0], _CMP_LT_OQ), lo[0], lo[k]);
  }
  _mm512_storeu_pd(mx, hi[0]);
  _mm512_storeu_pd(mn, lo[0]);
#endif
  for (; c < n; ++c)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const double u = row[c * L + l];
      const bool ok = u > 0.0 && u < INFINITY;
      mx[l] = ok && u > mx[l] ? u : mx[l];
      mn[l] = ok && u < mn[l] ? u : mn[l];
    }
}

// Plan::xlane: the lanes' partial sums of one window combined, every lane then holding the
// window's (a sum in lane order, or the largest)
inline void xlane_sum(double* v) {
  double t = 0.0;
  for (int l = 0; l < L; ++l) t += v[l];
  for (int l = 0; l < L; ++l) v[l] = t;
}
inline void xlane_max(double* v) {
  double m = v[0];
  for (int l = 1; l < L; ++l) m = v[l] > m ? v[l] : m;
  for (int l = 0; l < L; ++l) v[l] = m;
}
inline void xlane_min(double* v) {
  double m = v[0];
  for (int l = 1; l < L; ++l) m = v[l] < m ? v[l] : m;
  for (int l = 0; l < L; ++l) v[l] = m;
}
// Plan::xlane: one reference for the whole plane, from the lanes' largest (mx) and smallest
// positive (mn) elements of their slices
inline void xlane_reference(double* mx, double* mn) {
  xlane_max(mx);
  xlane_min(mn);
}

// Plan::xlane_short, xlane_part: a slice's last row, for the lanes [0, k) whose slices hold
// one row fewer, is the next lane's first row, and for lane k (with xlane_part > 0 columns
// borrowed) its last xlane_part columns are the next lane's first elements: read, so that
// every lane reads the same rows, and left out of the lane's window sums. sum(limit) adds the
// row's terms of columns [0, limit) to acc (blocks of q = L doubles: one window), in every
// lane; here lanes [0, k) keep their sums from before the row, lane k gets the terms of its
// columns [0, W - xlane_part) (the row summed again to that column) and the others all of it.
// The largest and the reference do not change by an element seen twice, and every lane's
// dy/dx of one element is the same double (the lanes share the window's sums, y and
// reference): both lanes write it.
constexpr int BORROW_MAX_BLOCKS = 13;  // (the power engine's 13: U's compensation)
template <class Sum>
inline void sum_borrowed_row(int64_t k, int64_t part, int64_t W, double* acc, int blocks,
                             Sum sum) {
  double before[BORROW_MAX_BLOCKS * L], after[BORROW_MAX_BLOCKS * L];
  std::memcpy(before, acc, (size_t)(blocks * L) * sizeof(double));
  sum(W);
  if (part > 0) {
    std::memcpy(after, acc, (size_t)(blocks * L) * sizeof(double));
    for (int b = 0; b < blocks; ++b) acc[b * L + k] = before[b * L + k];
    sum(W - part);
    for (int b = 0; b < blocks; ++b)
      for (int64_t l = 0; l < L; ++l)
        if (l != k) acc[b * L + l] = after[b * L + l];
  }
  for (int b = 0; b < blocks; ++b)
    for (int64_t l = 0; l < k; ++l) acc[b * L + l] = before[b * L + l];
}

// The plan: what Python passes (one int64 array, see _native.py).
struct Plan {
  int64_t dtype, layout, N, C, op, param_mode;
  Axis ax[3];  // D, H, W
  int64_t plane_in, plane_out, groups;
  // A segment plan (see Segments) covers a slab of each plane along axis `split` and owns
  // input indices [own_in_lo, own_in_hi) and outputs [own_out_lo, own_out_hi) of that axis
  // (local indices): it writes only those, and counts only its own outputs in dy/da. Its
  // other outputs (the windows of the previous segment that reach into its input) are
  // computed for their gradients. split = -1: a whole plane, everything owned.
  int split = -1;
  int64_t own_in_lo = 0, own_in_hi = 0, own_out_lo = 0, own_out_hi = 0;
  // P-pooling: some plane's |a| is within the exact engine's new path (16), so float64's
  // overlap state is worth keeping (set by run; see exact_group)
  bool new_alpha = true;
  // Lane slices (both engines): the 8 lanes of a group are 8 slices of one plane's global
  // window (run, run_power: xlane_serves), whose sums the engine combines across lanes. Each
  // slice is read as ax[1].in rows of ax[2].in; where the plane is not 8 such slices, the
  // first lanes hold less, and the last row read for them is partly or wholly the next
  // lane's (slice_plan; sum_borrowed_row: left out of their sums, its dy/dx the next lane's)
  bool xlane = false;
  // lanes [0, xlane_short) read the next lane's first row as their last; lane xlane_short
  // reads the next lane's first xlane_part elements as its last row's last columns
  // (sum_borrowed_row); xlane_n: the plane's elements
  int64_t xlane_short = 0, xlane_part = 0, xlane_n = 0;
  bool xlane_borrows() const { return xlane_short > 0 || xlane_part > 0; }
  // the row ih of a slice is, for some lanes, another lane's
  bool xlane_borrowed_row(int64_t ih) const { return xlane_borrows() && ih == ax[1].in - 1; }
  // Channels-last memory whose channels are not a multiple of the lanes: a group's lanes are 8
  // consecutive planes (n, c) in n * C + c order, as on contiguous memory, each at its own base
  // with the element stride C (make_lanes), rather than 8 channels of one batch entry and a
  // last group of C % 8 (C = 3: 3 of 8 lanes busy, the overlap state padded to 8 lanes per
  // pixel, 8 / 3 of the input, which _overlap_state_fits refused: the backward recomputed;
  // C = 17: 17 of 24). Their loads and stores are per lane, and they take no bands.
  bool packed() const { return layout == 1 && C % L != 0; }
  // a group's lanes are 8 consecutive planes (contiguous memory, packed planes), else 8
  // channels of one batch entry
  bool lanes_are_planes() const { return layout == 0 || packed(); }
  // elements between a plane's consecutive elements: 1 (contiguous) or C (channels-last)
  int64_t element_stride() const { return layout == 0 ? 1 : C; }
  bool owns_in_row(int64_t id, int64_t ih) const {
    const int64_t i = split == 0 ? id : ih;
    return split < 0 || split == 2 || (i >= own_in_lo && i < own_in_hi);
  }
  bool owns_out_row(int64_t od, int64_t oh) const {
    const int64_t o = split == 0 ? od : oh;
    return split < 0 || split == 2 || (o >= own_out_lo && o < own_out_hi);
  }
  bool owns_out(int64_t od, int64_t oh, int64_t ow) const {
    return owns_out_row(od, oh) && (split != 2 || (ow >= own_out_lo && ow < own_out_hi));
  }
  // the owned input elements of a plane as a range of flat positions (split is the outermost
  // axis with more than one element, so its slabs are contiguous)
  int64_t own_flat_lo() const {
    return split < 0 ? 0 : own_in_lo * (split == 0 ? ax[1].in * ax[2].in
                                                   : (split == 1 ? ax[2].in : 1));
  }
  int64_t own_flat_hi() const {
    return split < 0 ? plane_in : own_in_hi * (split == 0 ? ax[1].in * ax[2].in
                                                          : (split == 1 ? ax[2].in : 1));
  }
  bool parse(const int64_t* p) {
    if (p[0] != ABI_VERSION) return false;
    dtype = p[1]; layout = p[2]; N = p[3]; C = p[4]; op = p[5]; param_mode = p[6];
    // no planes: the thread split divides by the plane count (an empty batch stopped the
    // process with SIGFPE); the caller serves empty tensors without the kernel
    if (N < 1 || C < 1) return false;
    for (int a = 0; a < 3; ++a) {
      ax[a].in = p[7 + a]; ax[a].out = p[10 + a]; ax[a].step = p[13 + a];
    }
    // per axis p[16 + a]: 0 tables follow the header (start[out], count[out]), 1 regular
    // (compact): kernel p[19 + a], stride p[22 + a], padding p[25 + a], dilation = step
    const int64_t* t = p + PLAN_HEAD;
    for (int a = 0; a < 3; ++a) {
      const int64_t form = p[16 + a];
      if (form == 0) {
        ax[a].start = t; t += ax[a].out;
        ax[a].count = t; t += ax[a].out;
      } else if (form == 1) {
        const int64_t k = p[19 + a], s = p[22 + a], pad = p[25 + a];
        if (k < 1 || s < 1 || pad < 0 || ax[a].step < 1) return false;
        for (WinTable* w : {&ax[a].start, &ax[a].count}) {
          w->t = nullptr;
          w->k = k; w->s = s; w->p = pad; w->d = ax[a].step; w->in = ax[a].in;
        }
        ax[a].count.is_count = true;
      } else {
        return false;
      }
    }
    plane_in = ax[0].in * ax[1].in * ax[2].in;
    plane_out = ax[0].out * ax[1].out * ax[2].out;
    groups = lanes_are_planes() ? (N * C + L - 1) / L : N * ((C + L - 1) / L);
    if (op < OP_PPOOL || op > OP_LP || dtype < 0 || dtype > 3 || layout < 0 || layout > 1)
      return false;
    return true;
  }
};

// Bytes per element of a plan's input (float64 8, float32 4, the half types 2).
inline int64_t elem_bytes(const Plan& P) {
  return P.dtype == DT_F64 ? 8 : (P.dtype == DT_F32 ? 4 : 2);
}

// Lanes of one group: where each lane's plane starts (input and output), its parameter and
// whether it exists (the last group may be partial).
struct Lanes {
  int64_t in_base[L], out_base[L], plane[L];
  int64_t slot[L];  // where the lane's dy/da goes: the plane, or its segment (see Segments)
  int64_t es_in, es_out;  // element strides: 1 (contiguous) or C (channels-last)
  double a[L];
  bool active[L];
  int n_active;
};

// The parameter's entries (param_mode 0: one, 1: one per channel, 2: one per plane) and the
// entry of a plane's.
inline int64_t param_count(const Plan& P) {
  return P.param_mode == 0 ? 1 : (P.param_mode == 1 ? P.C : P.N * P.C);
}
inline int64_t param_index(const Plan& P, int64_t plane) {
  return P.param_mode == 0 ? 0 : (P.param_mode == 1 ? plane % P.C : plane);
}

inline double param_of(const Plan& P, const double* param, int64_t plane) {
  return param[param_index(P, plane)];
}

// Where plane p = n * C + c starts, input and output: contiguous p * plane, channels-last
// n * plane * C + c (with the element stride C).
inline int64_t plane_in_base(const Plan& P, int64_t p) {
  return P.layout == 0 ? p * P.plane_in : (p / P.C) * P.plane_in * P.C + p % P.C;
}
inline int64_t plane_out_base(const Plan& P, int64_t p) {
  return P.layout == 0 ? p * P.plane_out : (p / P.C) * P.plane_out * P.C + p % P.C;
}

inline void make_lanes(const Plan& P, const double* param, int64_t g, Lanes& ln) {
  ln.n_active = 0;
  ln.es_in = ln.es_out = P.element_stride();
  if (P.lanes_are_planes()) {  // 8 consecutive planes
    for (int l = 0; l < L; ++l) {
      int64_t p = g * L + l;
      ln.active[l] = p < P.N * P.C;
      int64_t pc = ln.active[l] ? p : g * L;
      ln.plane[l] = pc;
      ln.in_base[l] = plane_in_base(P, pc);
      ln.out_base[l] = plane_out_base(P, pc);
    }
  } else {
    const int64_t blocks = (P.C + L - 1) / L;
    const int64_t n = g / blocks, c0 = (g % blocks) * L;
    for (int l = 0; l < L; ++l) {
      int64_t c = c0 + l;
      ln.active[l] = c < P.C;
      int64_t cc = ln.active[l] ? c : c0;
      ln.plane[l] = n * P.C + cc;
      ln.in_base[l] = plane_in_base(P, ln.plane[l]);
      ln.out_base[l] = plane_out_base(P, ln.plane[l]);
    }
  }
  for (int l = 0; l < L; ++l) {
    ln.a[l] = ln.active[l] ? param_of(P, param, ln.plane[l]) : 0.0;
    ln.n_active += ln.active[l];
    ln.slot[l] = ln.plane[l];
  }
}

#ifdef PPV_PROFILE
#define PPV_LOADSTORE __attribute__((noinline))
#else
#define PPV_LOADSTORE inline
#endif

#if defined(PPV_FAST_VECTOR)
// 8 consecutive elements as 8 doubles (exact: every float, bfloat16 and float16 is a double)
template <class T> PPV_VEC_INLINE __m512d load8_pd(const T* p);
template <> PPV_VEC_INLINE __m512d load8_pd<float>(const float* p) {
  return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
template <> PPV_VEC_INLINE __m512d load8_pd<double>(const double* p) { return _mm512_loadu_pd(p); }
template <> PPV_VEC_INLINE __m512d load8_pd<bf16_t>(const bf16_t* p) {  // the top half of a float
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p));
  return _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
}
template <> PPV_VEC_INLINE __m512d load8_pd<f16_t>(const f16_t* p) {
  return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)));
}

// 8 doubles stored as 8 consecutive elements, each rounded as from_double<T> rounds it (float:
// one vector conversion, round to nearest even as the scalar cast; bfloat16 / float16: the
// scalar conversion per lane, round to odd then to nearest even, vectorised by the compiler)
template <class T> PPV_VEC_INLINE void store8_pd(T* p, __m512d v) {
  alignas(64) double d[L];
  _mm512_store_pd(d, v);
#pragma omp simd
  for (int l = 0; l < L; ++l) p[l] = from_double<T>(d[l]);
}
template <> PPV_VEC_INLINE void store8_pd<float>(float* p, __m512d v) {
  _mm256_storeu_ps(p, _mm512_cvtpd_ps(v));
}
template <> PPV_VEC_INLINE void store8_pd<double>(double* p, __m512d v) { _mm512_storeu_pd(p, v); }

// In-register transpose of an 8 x 8 block of doubles: r[i][j] -> r[j][i].
PPV_VEC_INLINE void transpose8_pd(__m512d* r) {
  __m512d t[8], u[8];
  for (int i = 0; i < 4; ++i) {  // pairs: t[2i] = (r[2i][j], r[2i+1][j]) for even j, t[2i+1] odd j
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  // quads: rows 0-3 (t0..t3) and 4-7 (t4..t7), columns {0,4}, {2,6}, {1,5}, {3,7}
  const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
  const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  for (int h = 0; h < 2; ++h) {
    const __m512d *a = t + 4 * h;
    u[4 * h + 0] = _mm512_permutex2var_pd(a[0], lo, a[2]);  // columns 0 | 4
    u[4 * h + 1] = _mm512_permutex2var_pd(a[0], hi, a[2]);  // columns 2 | 6
    u[4 * h + 2] = _mm512_permutex2var_pd(a[1], lo, a[3]);  // columns 1 | 5
    u[4 * h + 3] = _mm512_permutex2var_pd(a[1], hi, a[3]);  // columns 3 | 7
  }
  r[0] = _mm512_shuffle_f64x2(u[0], u[4], 0x44);
  r[4] = _mm512_shuffle_f64x2(u[0], u[4], 0xee);
  r[2] = _mm512_shuffle_f64x2(u[1], u[5], 0x44);
  r[6] = _mm512_shuffle_f64x2(u[1], u[5], 0xee);
  r[1] = _mm512_shuffle_f64x2(u[2], u[6], 0x44);
  r[5] = _mm512_shuffle_f64x2(u[2], u[6], 0xee);
  r[3] = _mm512_shuffle_f64x2(u[3], u[7], 0x44);
  r[7] = _mm512_shuffle_f64x2(u[3], u[7], 0xee);
}

// In-register transpose of an 8 x 8 block of floats: r[i][j] -> r[j][i] (256-bit shuffles,
// 24 for the block, where transpose8_pd's 24 are 512-bit: moving floats rather than doubles
// halves the shuffles' work)
inline void transpose8_ps(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    const __m256* a = t + 4 * h;
    u[4 * h + 0] = _mm256_shuffle_ps(a[0], a[2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(a[0], a[2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(a[1], a[3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(a[1], a[3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

// 8 consecutive elements as 8 floats (exact, as load8_pd)
template <class T> inline __m256 load8_ps(const T* p);
template <> inline __m256 load8_ps<float>(const float* p) { return _mm256_loadu_ps(p); }
template <> inline __m256 load8_ps<bf16_t>(const bf16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
template <> inline __m256 load8_ps<f16_t>(const f16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p));
}
#endif

// Load columns [cb, ce) of input row (id, ih) of a group into lane-interleaved doubles:
// out[(col - cb) * L + l].
template <class T>
PPV_LOADSTORE void load_row(const T* x, const Plan& P, const Lanes& ln, int64_t id, int64_t ih,
                            int64_t cb, int64_t ce, double* out) {
  const int64_t n = ce - cb;
  const int64_t row = (id * P.ax[1].in + ih) * P.ax[2].in + cb;
  if (P.layout == 1) {
    const T* base = x + ln.in_base[0] + row * ln.es_in;
    if (ln.n_active == L && !P.packed()) {
      // the next input row's same columns, prefetched (a channels-last column is 8 channels
      // of a pixel C elements apart from the next: a strided stream of one load per cache
      // line that stalled on every line: ...)
      const T* next = ih + 1 < P.ax[1].in ? base + P.ax[2].in * ln.es_in : nullptr;
      for (int64_t c = 0; c < n; ++c) {
        const T* v = base + c * ln.es_in;
#if defined(PPV_FAST_VECTOR)
        if (next) _mm_prefetch((const char*)(next + c * ln.es_in), _MM_HINT_T0);
        _mm512_storeu_pd(out + c * L, load8_pd<T>(v));
#else
#pragma omp simd
        for (int l = 0; l < L; ++l) out[c * L + l] = to_double<T>(v[l]);
#endif
      }
    } else {  // the last block's channels, or packed planes: each lane at its own base
      for (int64_t c = 0; c < n; ++c)
        for (int l = 0; l < L; ++l)
          out[c * L + l] =
              ln.active[l] ? to_double<T>(x[ln.in_base[l] + (row + c) * ln.es_in]) : 1.0;
    }
  } else {
    // 8 x 8 tiles: contiguous reads per plane, transposed into lanes
    const T* v[L];
    for (int l = 0; l < L; ++l) v[l] = x + ln.in_base[l] + row;
    int64_t c0 = 0;
    if (ln.n_active == L) {
#if defined(PPV_FAST_VECTOR)
      for (; c0 + L <= n; c0 += L) {
        __m512d r[L];
        for (int l = 0; l < L; ++l) r[l] = load8_pd<T>(v[l] + c0);
        transpose8_pd(r);
        for (int cc = 0; cc < L; ++cc) _mm512_storeu_pd(out + (c0 + cc) * L, r[cc]);
      }
#endif
      for (; c0 + L <= n; c0 += L) {
        double tile[L][L];
        for (int l = 0; l < L; ++l)
#pragma omp simd
          for (int cc = 0; cc < L; ++cc) tile[l][cc] = to_double<T>(v[l][c0 + cc]);
        for (int cc = 0; cc < L; ++cc)
#pragma omp simd
          for (int l = 0; l < L; ++l) out[(c0 + cc) * L + l] = tile[l][cc];
      }
    }
    for (; c0 < n; ++c0)
      for (int l = 0; l < L; ++l)
        out[c0 * L + l] = ln.active[l] ? to_double<T>(v[l][c0]) : 1.0;
  }
}

// Columns [0, n - n % L) of lane-interleaved doubles (in[c * L + l]) stored into the 8 planes
// v[l][c] as 8 x 8 tiles transposed from lanes into planes (per lane, a strided read of every
// eighth double costs several times the transposed store); returns the first column left.
template <class T>
inline int64_t store_tiles(T* const* v, int64_t n, const double* in) {
  int64_t c0 = 0;
#if defined(PPV_FAST_VECTOR)
  // in registers (through a tile in memory: the transpose's 128 scalar moves were most of the
  // saving forward's dy/dx stores on short rows): float converts each column first and moves
  // floats (transpose8_ps); the half types and double move doubles, then round as from_double
  if constexpr (std::is_same<T, float>::value) {
    for (; c0 + L <= n; c0 += L) {
      __m256 r[L];
      for (int cc = 0; cc < L; ++cc) r[cc] = _mm512_cvtpd_ps(_mm512_loadu_pd(in + (c0 + cc) * L));
      transpose8_ps(r);
      for (int l = 0; l < L; ++l) _mm256_storeu_ps(v[l] + c0, r[l]);
    }
  } else {
    for (; c0 + L <= n; c0 += L) {
      __m512d r[L];
      for (int cc = 0; cc < L; ++cc) r[cc] = _mm512_loadu_pd(in + (c0 + cc) * L);
      transpose8_pd(r);
      for (int l = 0; l < L; ++l) store8_pd<T>(v[l] + c0, r[l]);
    }
  }
#endif
  for (; c0 + L <= n; c0 += L) {
    double tile[L][L];
    for (int cc = 0; cc < L; ++cc)
#pragma omp simd
      for (int l = 0; l < L; ++l) tile[l][cc] = in[(c0 + cc) * L + l];
    for (int l = 0; l < L; ++l)
#pragma omp simd
      for (int cc = 0; cc < L; ++cc) v[l][c0 + cc] = from_double<T>(tile[l][cc]);
  }
  return c0;
}

// Store lane-interleaved doubles (in[(col - cb) * L + l]) as columns [cb, ce) of input row
// (id, ih) of a group.
template <class T>
PPV_LOADSTORE void store_row_body(T* g, const Plan& P, const Lanes& ln, int64_t id, int64_t ih,
                                  int64_t cb, int64_t ce, const double* in) {
  const int64_t n = ce - cb;
  const int64_t row = (id * P.ax[1].in + ih) * P.ax[2].in + cb;
  if (P.layout == 1) {
    T* base = g + ln.in_base[0] + row * ln.es_in;
    if (ln.n_active == L && !P.packed()) {  // the 8 channels of a column: one converting store
      for (int64_t c = 0; c < n; ++c) {
        T* v = base + c * ln.es_in;
#if defined(PPV_FAST_VECTOR)
        store8_pd<T>(v, _mm512_loadu_pd(in + c * L));
#else
#pragma omp simd
        for (int l = 0; l < L; ++l) v[l] = from_double<T>(in[c * L + l]);
#endif
      }
      return;
    }
    for (int64_t c = 0; c < n; ++c)  // per lane (the last block's channels, packed planes)
      for (int l = 0; l < L; ++l)
        if (ln.active[l])
          g[ln.in_base[l] + (row + c) * ln.es_in] = from_double<T>(in[c * L + l]);
  } else {
    T* v[L];
    for (int l = 0; l < L; ++l) v[l] = g + ln.in_base[l] + row;
    int64_t c0 = ln.n_active == L ? store_tiles(v, n, in) : 0;
    for (; c0 < n; ++c0)
      for (int l = 0; l < L; ++l)
        if (ln.active[l]) v[l][c0] = from_double<T>(in[c0 * L + l]);
  }
}

// store_row_body, kept out of line for float16: inlined into the overlap state's backward, GCC
// compiled float16's round-to-odd conversions there to scalar code (backward 36.6 against
// 21.9 ms on (8,64,112,112) k3 s2 p1); float, double and bfloat16 are faster inlined
__attribute__((noinline)) inline void store_row_f16(f16_t* g, const Plan& P, const Lanes& ln,
                                                    int64_t id, int64_t ih, int64_t cb,
                                                    int64_t ce, const double* in) {
  store_row_body<f16_t>(g, P, ln, id, ih, cb, ce, in);
}

template <class T>
inline void store_row(T* g, const Plan& P, const Lanes& ln, int64_t id, int64_t ih, int64_t cb,
                      int64_t ce, const double* in) {
  if constexpr (std::is_same<T, f16_t>::value)
    store_row_f16(g, P, ln, id, ih, cb, ce, in);
  else
    store_row_body<T>(g, P, ln, id, ih, cb, ce, in);
}

// Output element (od, oh, ow) of lane l
inline int64_t out_index(const Plan& P, const Lanes& ln, int l, int64_t od, int64_t oh,
                         int64_t ow) {
  return ln.out_base[l] + ((od * P.ax[1].out + oh) * P.ax[2].out + ow) * ln.es_out;
}

// ------------------------------------------------------------------------ exact engine

// 8 lanes of doubles as one value (GCC vector extensions): the exact engine keeps its per-lane
// running sums and extrema in these, in registers (as arrays under `omp simd` they went through
// memory on every element, and a masked store stalled the next element's load).
// A condition (v8l, from a comparison: all ones or all zeros per lane) picks lanes by
// v8_select(c, a, b) (c ? a : b); v8_to_double / v8_to_int convert lane by lane.
static_assert(L == 8, "one vector of 8 doubles per element");
#if defined(PPV_AVX512_EMULATED)
// On AVX2 (simd8.inc's emulated builds) a 64-byte generic vector has no register: GCC expanded
// every operation on it piecewise (most lane by lane through the stack; float64 pooling ran
// 7-12x torch's). Here v8d / v8l are pairs of 32-byte vectors (lanes 0-3 in lo, 4-7 in hi)
// with the operators the engine uses, each the same IEEE / integer operation per lane, so the
// same bits; v8_select is a blend (the condition must be a lane mask, as comparisons give), and
// the int64 <-> double conversions, which AVX2 lacks, are exact for the engine's integers
// (|k| < 2^51, see v8_to_double / v8_to_int).
typedef double v4d __attribute__((vector_size(4 * sizeof(double))));
typedef int64_t v4l __attribute__((vector_size(4 * sizeof(int64_t))));
#define PPV_V8 inline __attribute__((always_inline))
struct v8l {
  v4l lo, hi;
  PPV_V8 int64_t operator[](int l) const { return l < 4 ? lo[l] : hi[l - 4]; }
  PPV_V8 v8l& operator&=(v8l o) { lo &= o.lo; hi &= o.hi; return *this; }
  PPV_V8 v8l& operator&=(int64_t o) { lo &= o; hi &= o; return *this; }
};
struct v8d {
  v4d lo, hi;
  PPV_V8 double operator[](int l) const { return l < 4 ? lo[l] : hi[l - 4]; }
  PPV_V8 v8d& operator+=(v8d o) { lo += o.lo; hi += o.hi; return *this; }
};
// with a scalar operand: the scalar in every lane, as for GCC's vectors
#define PPV_V8D_BIN(op)                                                                    \
  PPV_V8 v8d operator op(v8d a, v8d b) { return {a.lo op b.lo, a.hi op b.hi}; }           \
  PPV_V8 v8d operator op(v8d a, double b) { return {a.lo op b, a.hi op b}; }              \
  PPV_V8 v8d operator op(double a, v8d b) { return {a op b.lo, a op b.hi}; }
PPV_V8D_BIN(+)
PPV_V8D_BIN(-)
PPV_V8D_BIN(*)
PPV_V8D_BIN(/)
#undef PPV_V8D_BIN
PPV_V8 v8d operator-(v8d a) { return {-a.lo, -a.hi}; }
// (on ARM64 by 16-byte halves, PPV_CMP4: GCC compares a 32-byte vector there in scalar code)
#if defined(PPV_AVX2_ON_NEON)
#define PPV_V4_CMP(a, b, op) ((v4l)PPV_CMP4(a, b, op))
#else
#define PPV_V4_CMP(a, b, op) ((a) op (b))
#endif
// comparisons of v8d (with a double) and of v8l (with an int64_t): lane masks
#define PPV_V8_CMP(T, S, op)                                                               \
  PPV_V8 v8l operator op(T a, T b) {                                                       \
    return {PPV_V4_CMP(a.lo, b.lo, op), PPV_V4_CMP(a.hi, b.hi, op)};                       \
  }                                                                                        \
  PPV_V8 v8l operator op(T a, S b) { return {PPV_V4_CMP(a.lo, b, op), PPV_V4_CMP(a.hi, b, op)}; }
#define PPV_V8D_CMP(op) PPV_V8_CMP(v8d, double, op)
PPV_V8D_CMP(<)
PPV_V8D_CMP(<=)
PPV_V8D_CMP(>)
PPV_V8D_CMP(>=)
PPV_V8D_CMP(==)
PPV_V8D_CMP(!=)
#undef PPV_V8D_CMP
#define PPV_V8L_BIN(op)                                                                    \
  PPV_V8 v8l operator op(v8l a, v8l b) { return {a.lo op b.lo, a.hi op b.hi}; }           \
  PPV_V8 v8l operator op(v8l a, int64_t b) { return {a.lo op b, a.hi op b}; }
PPV_V8L_BIN(+)
PPV_V8L_BIN(-)
PPV_V8L_BIN(&)
PPV_V8L_BIN(|)
PPV_V8L_BIN(^)
#undef PPV_V8L_BIN
#define PPV_V8L_CMP(op) PPV_V8_CMP(v8l, int64_t, op)
PPV_V8L_CMP(==)
PPV_V8L_CMP(!=)
PPV_V8L_CMP(<)
PPV_V8L_CMP(<=)
PPV_V8L_CMP(>)
PPV_V8L_CMP(>=)
#undef PPV_V8L_CMP
#undef PPV_V8_CMP
#undef PPV_V4_CMP
PPV_V8 v8l operator-(v8l a) { return {-a.lo, -a.hi}; }
PPV_V8 v8l operator~(v8l a) { return {~a.lo, ~a.hi}; }
// shifts: >> is arithmetic, as int64_t's (GCC forms vpsraq's lanes from 32-bit shifts on AVX2)
PPV_V8 v8l operator<<(v8l a, int n) { return {a.lo << n, a.hi << n}; }
PPV_V8 v8l operator>>(v8l a, int n) { return {a.lo >> n, a.hi >> n}; }
// by halves: a copy of the whole struct went through the stack in 16-byte pieces, and the
// 32-byte loads that read them back waited on store forwarding
PPV_V8 v8d v8_load(const double* p) {
  v8d v;
  std::memcpy(&v.lo, p, sizeof v.lo);
  std::memcpy(&v.hi, p + 4, sizeof v.hi);
  return v;
}
PPV_V8 void v8_store(double* p, v8d v) {
  std::memcpy(p, &v.lo, sizeof v.lo);
  std::memcpy(p + 4, &v.hi, sizeof v.hi);
}
// 8 doubles from src to dst by halves (v8_load / v8_store): a 64-byte memcpy compiled to four
// 16-byte moves here, and the 32-byte loads that read the copy back waited on store forwarding
// (a load spanning two stores does not forward on Zen 3)
PPV_V8 void copy8(double* dst, const double* src) { v8_store(dst, v8_load(src)); }
PPV_V8 v8l v8_bits(v8d v) { return {(v4l)v.lo, (v4l)v.hi}; }
PPV_V8 v8d v8_from_bits(v8l b) { return {(v4d)b.lo, (v4d)b.hi}; }
PPV_V8 v8d v8_abs(v8d v) {  // |v| bit for bit as std::fabs (the sign bit cleared)
  return v8_from_bits(v8_bits(v) & (int64_t)0x7fffffffffffffffLL);
}
PPV_V8 bool v8_any(v8l m) {  // some lane's mask (all ones) set
  const __m256i o = (__m256i)(m.lo | m.hi);
  return !_mm256_testz_si256(o, o);
}
// c ? a : b by c's sign bits (c: all ones or all zeros per lane)
PPV_V8 v8d v8_select(v8l c, v8d a, v8d b) {
  return {(v4d)_mm256_blendv_pd((__m256d)b.lo, (__m256d)a.lo, (__m256d)c.lo),
          (v4d)_mm256_blendv_pd((__m256d)b.hi, (__m256d)a.hi, (__m256d)c.hi)};
}
PPV_V8 v8l v8_select(v8l c, v8l a, v8l b) {
  return v8_bits(v8_select(c, v8_from_bits(a), v8_from_bits(b)));
}
// k as a double, exactly, for -2^51 <= k < 2^51 (the engine's: exponents, |k| <= 1077):
// 2^52 + 2^51 + k has k + 2^51 as its significand bits, and the subtraction is exact
PPV_V8 v8d v8_to_double(v8l k) {
  return v8_from_bits(k + (int64_t)0x4338000000000000LL) - 0x1.8p52;
}
// v as an int64_t, for v an integer with |v| < 2^51 (the engine's: split8's exponents); as
// __builtin_convertvector (truncation) there: v + 2^52 + 2^51 is exact, v's bits its low ones
PPV_V8 v8l v8_to_int(v8d v) {
  return v8_bits(v + 0x1.8p52) - (int64_t)0x4338000000000000LL;
}
#undef PPV_V8
#else
typedef double v8d __attribute__((vector_size(8 * sizeof(double))));
typedef int64_t v8l __attribute__((vector_size(8 * sizeof(int64_t))));
inline v8d v8_load(const double* p) { v8d v; std::memcpy(&v, p, sizeof v); return v; }
inline void v8_store(double* p, v8d v) { std::memcpy(p, &v, sizeof v); }
inline v8d v8_abs(v8d v) {  // |v| bit for bit as std::fabs (the sign bit cleared)
  v8l b;
  std::memcpy(&b, &v, sizeof b);
  b &= (int64_t)0x7fffffffffffffffLL;
  std::memcpy(&v, &b, sizeof v);
  return v;
}
inline v8l v8_bits(v8d v) { v8l b; std::memcpy(&b, &v, sizeof b); return b; }
inline v8d v8_from_bits(v8l b) { v8d v; std::memcpy(&v, &b, sizeof v); return v; }
inline bool v8_any(v8l m) {  // some lane's mask (all ones) set
#if defined(PPV_AVX512)
  __m512i b;
  std::memcpy(&b, &m, sizeof b);
  return _mm512_test_epi64_mask(b, b) != 0;
#else
  int64_t r = 0;
  for (int l = 0; l < L; ++l) r |= m[l];
  return r != 0;
#endif
}
// macros, not functions: the AVX-512 (and scalar) build compiles the very expressions it did
// before the AVX2 form above (as inline functions GCC chose other instructions for some)
#define v8_select(c, a, b) ((c) ? (a) : (b))
#define copy8(dst, src) std::memcpy((dst), (src), L * sizeof(double))
#define v8_to_double(k) __builtin_convertvector((k), v8d)
#define v8_to_int(v) __builtin_convertvector((v), v8l)
#endif
// pow2 in 8 lanes: 2^k by its bits, for -1022 <= k <= 1023 (other lanes: garbage to select away)
inline v8d pow2_8(v8l k) { return v8_from_bits((k + 1023) << 52); }
// split in 8 lanes, the same bits as split lane by lane: x = m 2^e, m in [1, 2), for x > 0
// finite (a subnormal x through x 2^54, as split); x = 0 gives split's m = 1, e = -1077 and
// x = inf its m = 1, e = 1024, values that only special lanes carry.
PPV_ALWAYS_INLINE void split8(v8d x, v8d& m, v8d& e) {
  v8l b = v8_bits(x);
  v8l ex = (b >> 52) & 0x7ff;  // the sign bit is 0: the arithmetic shift is the logical one
  const v8l bs = v8_bits(x * 0x1p54);
  const v8l sub = ex == 0;
  b = v8_select(sub, bs, b);
  ex = v8_select(sub, ((bs >> 52) & 0x7ff) - 54, ex);
  m = v8_from_bits((b & (int64_t)0x000fffffffffffffLL) | (int64_t)0x3ff0000000000000LL);
  e = v8_to_double(ex - 1023);
}

// frexp2 in 8 lanes by the bits, for the lanes where v is normal (the others: garbage, and
// `normal` false there): v = m 2^e, m in [1/2, 1)
PPV_ALWAYS_INLINE void frexp8(v8d v, v8d& m, v8l& e, v8l& normal) {
  const v8l b = v8_bits(v), ex = (b >> 52) & 0x7ff;
  normal = (ex != 0) & (ex != 0x7ff);
  m = v8_from_bits((b & (int64_t)0x800fffffffffffffLL) | (int64_t)0x3fe0000000000000LL);
  e = ex - 1022;
}

// Where the exact engine puts input-gradient contributions.
// Either a lane-interleaved buffer of one plane-group (buf[pos * L + l], the fast engine's
// special windows) or, for float64 inputs, the input gradient itself (lane[l][pos * es]).
// In the second form only the positions [lo, hi) are kept (a segment's own elements).
struct GradSink {
  double* buf = nullptr;
  double* lane[L] = {};
  int64_t es = 1;
  int64_t lo = 0, hi = INT64_MAX;
  inline void add(int64_t pos, int l, double v) {
    if (buf) {
      buf[pos * L + l] += v;
    } else if (pos >= lo && pos < hi) {
      // float64's gradient: v (the caller's product gy * dy/dx) rounded before the sum however
      // the caller is inlined. GCC contracts a * b + c into an fma by default
      // (-ffp-contract=fast) and did so in some callers and not others as the exact engine
      // changed (an ulp in a sum of two windows' contributions); this keeps main's sums.
      PPV_KEEP(v);
      lane[l][pos * es] += v;
    }
  }
  // add(pos, l, v[l]) for every lane l not in skip: one position's range check for all lanes
  inline void add_lanes(int64_t pos, const double* v, const bool* skip) {
    if (buf) {
      for (int l = 0; l < L; ++l)
        if (!skip[l]) buf[pos * L + l] += v[l];
      return;
    }
    if (pos < lo || pos >= hi) return;
    for (int l = 0; l < L; ++l) {
      if (skip[l]) continue;
      double t = v[l];
      PPV_KEEP(t);  // the product rounded before the sum, as add
      lane[l][pos * es] += t;
    }
  }
};

// Results of one window in every lane.
struct WindowOut {
  double y[L];
  bool bad[L];
  double xmax[L];  // the window's largest element (0 if none is positive)
  // the float64 overlap state (want_state): S, y's low part and whether the lane's window
  // may use the state (ov64_window_ok)
  bool want_state = false;
  double s[L], ylo[L];
  bool ok[L];
  double dwm[L];  // dy/da = dwm 2^dwe (want_state)
  int dwe[L];
};

// A window's elements: (id, ih, iw) enumerated over the three axis ranges.
struct WindowRange {
  int64_t d0, dn, ds, h0, hn, hs, w0, wn, ws;
  int64_t count() const { return dn * hn * wn; }
};

inline WindowRange window_range(const Plan& P, int64_t od, int64_t oh, int64_t ow) {
  const Axis &A = P.ax[0], &B = P.ax[1], &Cx = P.ax[2];
  return {A.start[od], A.count[od], A.step, B.start[oh], B.count[oh], B.step,
          Cx.start[ow], Cx.count[ow], Cx.step};
}

template <class F>
inline void for_each_element(const Plan& P, const WindowRange& w, F&& f) {
  const int64_t H = P.ax[1].in, W = P.ax[2].in;
  for (int64_t jd = 0; jd < w.dn; ++jd) {
    const int64_t id = w.d0 + jd * w.ds;
    for (int64_t jh = 0; jh < w.hn; ++jh) {
      const int64_t ih = w.h0 + jh * w.hs;
      const int64_t rowpos = (id * H + ih) * W;
      for (int64_t jw = 0; jw < w.wn; ++jw) f(rowpos + w.w0 + jw * w.ws);
    }
  }
}

template <class T>
inline void load_lanes(const T* x, const Lanes& ln, int64_t pos, double* v) {
  for (int l = 0; l < L; ++l)
    v[l] = ln.active[l] ? to_double<T>(x[ln.in_base[l] + pos * ln.es_in]) : 1.0;
}

// Doubles of 8 lanes (lane l's element at pos: x[base[l] + pos * es]) for every position in
// [p0, p1), lane-interleaved into v (v[(pos - p0) * L + l]); lanes not active get `fill`.
// With every lane active, by vectors: lanes adjacent in memory (channels-last planes) one
// 8-double copy per position; planes of stride 1 four positions of each lane at a time,
// transposed in registers (a 4x4 transpose per 4 lanes), in place of 32 scalar loads and
// stores. Pure data movement: the same values whichever way.
typedef double lanes_d4 __attribute__((vector_size(4 * sizeof(double))));
typedef int64_t lanes_i4 __attribute__((vector_size(4 * sizeof(int64_t))));
// lanes i0 .. i3 of the 8 of a and b side by side (GCC's __builtin_shuffle, clang's
// __builtin_shufflevector: the same selection)
#if defined(__clang__)
#define PPV_SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define PPV_SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, (lanes_i4){i0, i1, i2, i3})
#endif
PPV_ALWAYS_INLINE void transpose4(lanes_d4 a, lanes_d4 b, lanes_d4 c, lanes_d4 d, lanes_d4& q0,
                                  lanes_d4& q1, lanes_d4& q2, lanes_d4& q3) {
  const lanes_d4 ab0 = PPV_SHUFFLE4(a, b, 0, 4, 2, 6);  // a0 b0 a2 b2
  const lanes_d4 ab1 = PPV_SHUFFLE4(a, b, 1, 5, 3, 7);  // a1 b1 a3 b3
  const lanes_d4 cd0 = PPV_SHUFFLE4(c, d, 0, 4, 2, 6);
  const lanes_d4 cd1 = PPV_SHUFFLE4(c, d, 1, 5, 3, 7);
  q0 = PPV_SHUFFLE4(ab0, cd0, 0, 1, 4, 5);  // a0 b0 c0 d0
  q1 = PPV_SHUFFLE4(ab1, cd1, 0, 1, 4, 5);
  q2 = PPV_SHUFFLE4(ab0, cd0, 2, 3, 6, 7);
  q3 = PPV_SHUFFLE4(ab1, cd1, 2, 3, 6, 7);
}
inline bool lanes_adjacent(const Lanes& ln, const int64_t* base) {
  bool adjacent = ln.n_active == L;
  for (int l = 1; l < L; ++l) adjacent = adjacent && base[l] == base[0] + l;
  return adjacent;
}
PPV_ALWAYS_INLINE void gather_lanes_range(const double* x, const Lanes& ln, const int64_t* base,
                                          int64_t es, int64_t p0, int64_t p1, double* v,
                                          double fill) {
  int64_t pos = p0;
  if (lanes_adjacent(ln, base)) {
    for (; pos < p1; ++pos) copy8(v + (pos - p0) * L, x + base[0] + pos * es);
    return;
  }
  if (ln.n_active == L && es == 1) {
    for (; pos + 4 <= p1; pos += 4) {
      double* out = v + (pos - p0) * L;
      for (int h = 0; h < 2; ++h) {
        lanes_d4 a, b, c, d, q0, q1, q2, q3;  // lanes 4h .. 4h + 3, positions pos .. pos + 3
        std::memcpy(&a, x + base[4 * h] + pos, sizeof a);
        std::memcpy(&b, x + base[4 * h + 1] + pos, sizeof b);
        std::memcpy(&c, x + base[4 * h + 2] + pos, sizeof c);
        std::memcpy(&d, x + base[4 * h + 3] + pos, sizeof d);
        transpose4(a, b, c, d, q0, q1, q2, q3);
        std::memcpy(out + 4 * h, &q0, sizeof q0);
        std::memcpy(out + L + 4 * h, &q1, sizeof q1);
        std::memcpy(out + 2 * L + 4 * h, &q2, sizeof q2);
        std::memcpy(out + 3 * L + 4 * h, &q3, sizeof q3);
      }
    }
  }
  for (; pos < p1; ++pos)
    for (int l = 0; l < L; ++l)
      v[(pos - p0) * L + l] = ln.active[l] ? x[base[l] + pos * es] : fill;
}
// gather_lanes_range's inverse for the active lanes: v's lane l at pos into x[base[l] + pos * es]
inline void scatter_lanes_range(double* x, const Lanes& ln, const int64_t* base, int64_t es,
                                int64_t p0, int64_t p1, const double* v) {
  int64_t pos = p0;
  if (lanes_adjacent(ln, base)) {
    for (; pos < p1; ++pos) copy8(x + base[0] + pos * es, v + (pos - p0) * L);
    return;
  }
  if (ln.n_active == L && es == 1) {
    for (; pos + 4 <= p1; pos += 4) {
      const double* in = v + (pos - p0) * L;
      for (int h = 0; h < 2; ++h) {
        lanes_d4 a, b, c, d, q0, q1, q2, q3;  // positions pos .. pos + 3, lanes 4h .. 4h + 3
        std::memcpy(&a, in + 4 * h, sizeof a);
        std::memcpy(&b, in + L + 4 * h, sizeof b);
        std::memcpy(&c, in + 2 * L + 4 * h, sizeof c);
        std::memcpy(&d, in + 3 * L + 4 * h, sizeof d);
        transpose4(a, b, c, d, q0, q1, q2, q3);
        std::memcpy(x + base[4 * h] + pos, &q0, sizeof q0);
        std::memcpy(x + base[4 * h + 1] + pos, &q1, sizeof q1);
        std::memcpy(x + base[4 * h + 2] + pos, &q2, sizeof q2);
        std::memcpy(x + base[4 * h + 3] + pos, &q3, sizeof q3);
      }
    }
  }
  for (; pos < p1; ++pos)
    for (int l = 0; l < L; ++l)
      if (ln.active[l]) x[base[l] + pos * es] = v[(pos - p0) * L + l];
}

// load_lanes for every position in [p0, p1) into v (lane-interleaved: v[(pos - p0) * L + l]),
// the same values: float64 by gather_lanes_range.
template <class T>
inline void load_lanes_range(const T* x, const Lanes& ln, int64_t p0, int64_t p1, double* v) {
  if constexpr (std::is_same<T, double>::value) {
    gather_lanes_range(x, ln, ln.in_base, ln.es_in, p0, p1, v, 1.0);
  } else {
    for (int64_t pos = p0; pos < p1; ++pos) load_lanes<T>(x, ln, pos, v + (pos - p0) * L);
  }
}

// A window's elements in all 8 lanes, gathered into a lane-interleaved buffer (v[k * L + l],
// pos[k]) that the exact engine's passes read as whole vectors. A window of up to
// GATHER_ELEMS elements is gathered once for all its passes (8 scalar loads per element once,
// not once per pass; and a pass no longer loads a vector right after the 8 scalar stores that
// wrote it, which stalls store-to-load forwarding); a larger one chunk by chunk, again in
// each pass. The values are load_lanes' (1 in inactive lanes), so the arithmetic is unchanged.
constexpr int64_t GATHER_ELEMS = 2048;  // 144 KiB per thread
struct Gathered {
  double* v = nullptr;
  int64_t* pos = nullptr;
  int64_t n = 0;
  bool whole = false;  // every element is in v (n <= GATHER_ELEMS)
};
template <class T>
inline void gather_some(const T* x, const Lanes& ln, const int64_t* pos, int64_t cnt,
                        double* v, const double* xl = nullptr) {
  if (xl) {  // a lane-interleaved copy of the group's input (ElemCache::X): one vector each
    for (int64_t j = 0; j < cnt; ++j) copy8(v + j * L, xl + pos[j] * L);
    return;
  }
  for (int64_t j = 0; j < cnt; ++j) load_lanes<T>(x, ln, pos[j], v + j * L);
}
template <class T>
inline Gathered gather_window(const T* x, const Plan& P, const Lanes& ln, const WindowRange& w,
                              const double* xl = nullptr) {
  static thread_local std::vector<double> vmem;
  static thread_local std::vector<int64_t> pmem;
  Gathered g;
  g.n = w.count();
  g.whole = g.n <= GATHER_ELEMS;
  const int64_t cap = std::min(g.n, GATHER_ELEMS);
  if (vmem.size() < (size_t)(cap * L)) vmem.resize((size_t)(cap * L));
  if (pmem.size() < (size_t)cap) pmem.resize((size_t)cap);
  g.v = vmem.data();
  g.pos = pmem.data();
  if (g.whole) {
    int64_t k = 0;
    for_each_element(P, w, [&](int64_t pos) { g.pos[k++] = pos; });
    gather_some<T>(x, ln, g.pos, g.n, g.v, xl);
  }
  return g;
}
// Makes g hold the run of elements k0 .. k0 + (returned count) - 1 (v and pos indexed from 0
// within the run), in for_each_element's order; nothing to do when the window is whole. The
// passes are plain loops over runs: a lambda per pass was not inlined, and out of line its
// simd loop ran lane by lane.
template <class T>
inline int64_t load_run(const T* x, const Plan& P, const Lanes& ln, const WindowRange& w,
                        const Gathered& g, int64_t k0, const double* xl = nullptr) {
  const int64_t cnt = std::min(GATHER_ELEMS, g.n - k0);
  if (g.whole) return cnt;
  const int64_t H = P.ax[1].in, W = P.ax[2].in;
  int64_t jw = k0 % w.wn, jh = (k0 / w.wn) % w.hn, jd = k0 / (w.wn * w.hn);
  for (int64_t j = 0; j < cnt; ++j) {
    g.pos[j] = ((w.d0 + jd * w.ds) * H + w.h0 + jh * w.hs) * W + w.w0 + jw * w.ws;
    if (++jw == w.wn) {
      jw = 0;
      if (++jh == w.hn) { jh = 0; ++jd; }
    }
  }
  gather_some<T>(x, ln, g.pos, cnt, g.v, xl);
  return cnt;
}

// The lanes of want whose window holds zeros alone and whose a is positive and finite: there
// y = 0, dy/da = 0 and dy/dx = 1 at each element (the
// oracle's conventions, exact_lane's all-zero case), which the fast engine gives without the
// exact engine (a window of zeros after a ReLU is common: the exact engine's per-window work
// made (8,64,112,112) k3 s2 p1 on relu(randn - 1), a fifth of its windows all zero, 2.5x
// slower forward and refused the overlap state).
// The candidates: zw = want and a positive and finite; returns whether any.
inline bool zero_window_candidates(const Lanes& ln, const bool* want, bool* zw) {
  bool any = false;
  for (int l = 0; l < L; ++l) {
    zw[l] = want[l] && ln.a[l] > 0 && std::isfinite(ln.a[l]);
    any = any || zw[l];
  }
  return any;
}

// Per lane, the nonzero elements (NaN included) among the cn columns c, c + cs, ... of a
// lane-interleaved row (x from column c) added to nz: the row cache's form of the test.
inline void count_nonzero(const double* x, int64_t cn, int64_t cs, double* nz) {
  for (int64_t j = 0; j < cn; ++j)
#pragma omp simd
    for (int l = 0; l < L; ++l) nz[l] += x[j * cs * L + l] != 0.0 ? 1.0 : 0.0;
}

// zw (the candidates) keeps the lanes whose window, read from x's memory, holds zeros alone;
// returns whether any.
template <class T>
inline bool zero_window_lanes(const T* x, const Plan& P, const Lanes& ln, const WindowRange& w,
                              bool* zw) {
  for_each_element(P, w, [&](int64_t pos) {
    for (int l = 0; l < L; ++l)
      if (zw[l] && to_double<T>(x[ln.in_base[l] + pos * ln.es_in]) != 0.0) zw[l] = false;
  });
  bool any = false;
  for (int l = 0; l < L; ++l) any = any || zw[l];
  return any;
}

// dy/dx at the one zero of a window of n elements at a < 0 (y = 0 there; every other
// element's dy/dx is 0, and a window of two zeros or more has none): 1 below a = -1 and in a
// window of that one element, n at a = -1 (the harmonic mean), else 0 (+inf for -1 < a < 0,
// returned as 0: the oracle's conventions)
inline double single_zero_dydx(double a, double n) {
  return (a < -1 || n == 1.0) ? 1.0 : (a == -1 ? n : 0.0);
}

// The lanes of want whose a is negative and finite and whose window holds a zero and no bad
// element (negative, NaN, infinite), into zn (returns whether any): there y = 0, dy/da = 0
// and dy/dx is 0 except at a window's one zero when it holds only one (1 below a = -1, the
// window's count at -1, and 1 in a window of that one element: exact_lane's conventions);
// one[l]: the window holds one zero alone.
// Read from memory.
template <class T>
inline bool zeros_below_zero_lanes(const T* x, const Plan& P, const Lanes& ln,
                                   const WindowRange& w, const bool* want, bool* zn,
                                   bool* one) {
  bool any = false;
  for (int l = 0; l < L; ++l) {
    zn[l] = want[l] && ln.a[l] < 0 && std::isfinite(ln.a[l]);
    any = any || zn[l];
  }
  if (!any) return false;
  int64_t nzero[L] = {}, nbad[L] = {};
  for_each_element(P, w, [&](int64_t pos) {
    for (int l = 0; l < L; ++l) {
      if (!zn[l]) continue;
      const double v = to_double<T>(x[ln.in_base[l] + pos * ln.es_in]);
      nzero[l] += v == 0.0;
      nbad[l] += !(v >= 0.0) || v == INFINITY;
    }
  });
  any = false;
  for (int l = 0; l < L; ++l) {
    zn[l] = zn[l] && nbad[l] == 0 && nzero[l] > 0;
    one[l] = zn[l] && nzero[l] == 1;
    any = any || zn[l];
  }
  return any;
}

// One lane of one window, every case the vectorised path leaves out (all zero, zeros with
// a < 0, bad elements, spans beyond 2^1000 with a < 0), in logarithms where needed.
// Returns y; with gy (not NaN) adds gy * dy/dx to sink and returns gy * dy/da as (m, e) in da.
template <class T>
double exact_lane(const T* x, const Plan& P, const Lanes& ln, int l, const WindowRange& w,
                  double a, bool backward, double gy, GradSink* sink, ScaledSum* da,
                  bool* bad) {
  const int64_t n = w.count();
  double xmax = 0.0, xmin = INFINITY;
  int64_t npos = 0, nzero = 0, nbad = 0;
  for_each_element(P, w, [&](int64_t pos) {
    double v = to_double<T>(x[ln.in_base[l] + pos * ln.es_in]);
    if (!(v >= 0.0) || v == INFINITY) { ++nbad; return; }
    if (v == 0.0) { ++nzero; return; }
    ++npos;
    xmax = v > xmax ? v : xmax;
    xmin = v < xmin ? v : xmin;
  });
  if (nbad > 0 || !std::isfinite(a)) { *bad = true; return NAN; }
  if (npos == 0) {  // all zero
    if (backward) {
      double gi = a > 0 ? 1.0 : (a == 0 ? 1.0 / n : (n == 1 ? 1.0 : 0.0));
      for_each_element(P, w, [&](int64_t pos) { sink->add(pos, l, gy * gi); });
    }
    return 0.0;
  }
  if (a < 0 && nzero > 0) {
    if (backward && nzero == 1) {
      const double gz = single_zero_dydx(a, (double)n);
      for_each_element(P, w, [&](int64_t pos) {
        double v = to_double<T>(x[ln.in_base[l] + pos * ln.es_in]);
        if (v == 0.0) sink->add(pos, l, gy * gz);
      });
    }
    return 0.0;
  }
  // general window in logarithms: R_d the dominant element of x^a, R_n of x^(a+1)
  const double Rd = a >= 0 ? xmax : xmin;
  const double Rn = a + 1 >= 0 ? xmax : xmin;
  const Split sd = split(Rd), sn = split(Rn);
  CSum S, Tn;
  double sx = 0.0;  // sum of x / M over positive elements (a = 1's zeros)
  for_each_element(P, w, [&](int64_t pos) {
    double v = to_double<T>(x[ln.in_base[l] + pos * ln.es_in]);
    if (v > 0.0) {
      double hi, lo, th, tl;
      Split sv = split(v);
      log_ratio_dd(sv, sd, hi, lo);
      mul_dd(a, hi, lo, th, tl);
      S.add(exp_dd(th, tl));
      log_ratio_dd(sv, sn, hi, lo);
      mul_dd(a + 1.0, hi, lo, th, tl);
      Tn.add(exp_dd(th, tl));
      sx += v / xmax;
    } else if (a == 0) {
      S.add(1.0);
    }
  });
  const double s = S.value(), t = Tn.value();
  // ln(y / R_d) = ln(T / S) + (a + 1) ln(R_n / R_d) (kept apart: see lyr below)
  double shi, slo;
  log_ratio_dd(sn, sd, shi, slo);
  double fh, fl;
  mul1p_dd(a, shi, slo, fh, fl);
  double y;
  {
    // y = R_d * exp(log_y_rel), formed as a scaled product so that no step overflows
    double n2 = std::nearbyint((fh + fl) * LOG2E);
    double rest = exp_dd(fh - n2 * LN2_HI, fl - n2 * LN2_LO) * (t / s);
    y = std::ldexp(sd.m * rest, (int)(sd.e + n2));
  }
  if (!backward) return y;
  // input gradients: w ((1 + a) - a y / x) with y / x in logarithms; the near form
  // w (1 + a rel), rel = (x - y) / x = -expm1(ln(y / x)), while |rel| < 1/2
  const double log_s = std::log(s);
  // dy/da = sum w ln(x / y) (x - y): terms of one sign, in units of M = xmax
  const Split sm = split(xmax);
  double acc = 0.0;
  // ln(y / R_d) = (fh + fl) + ln(t / s) in double-double: with a span of 2^1000 it is
  // hundreds, and ln(y / M), ln(y / x) below are small differences of such terms
  double lyr_h, lyr_l;
  sub_add_dd(fh, fl, 0.0, 0.0, std::log(t / s), lyr_h, lyr_l);
  double lrm_hi, lrm_lo;
  log_ratio_dd(sd, sm, lrm_hi, lrm_lo);           // ln(R_d / M)
  double lym_h, lym_l;
  sub_add_dd(lyr_h, lyr_l, -lrm_hi, -lrm_lo, 0.0, lym_h, lym_l);
  const double ln_y_m = lym_h + lym_l;            // ln(y / M)
  for_each_element(P, w, [&](int64_t pos) {
    double v = to_double<T>(x[ln.in_base[l] + pos * ln.es_in]);
    double gi = 0.0;
    if (v > 0.0) {
      double hi, lo, th, tl;
      Split sv = split(v);
      log_ratio_dd(sv, sd, hi, lo);
      mul_dd(a, hi, lo, th, tl);
      const double wt = exp_dd(th - log_s, tl);
      double lyx_h, lyx_l;
      sub_add_dd(lyr_h, lyr_l, hi, lo, 0.0, lyx_h, lyx_l);
      const double lyx = lyx_h + lyx_l;  // ln(y / x)
      const double rel = -std::expm1(lyx);
      if (a == 0) {
        gi = wt;  // exactly the weight (a * inf below would be NaN)
      } else if (std::fabs(rel) < 0.5) {
        gi = wt * (1.0 + a * rel);
      } else {
        // w (1 + a) - a w y / x, with w y / x = exp(a lr - ln S + lyx)
        // exponent (a - 1) ln(x/R_d) + ln(y/R_d) - ln S with ln(y/R_d) = (fh + fl) + ln(t/s)
        // kept in double-double (it reaches hundreds when the window spans 2^1000)
        double sh, sl;
        sub_add_dd(th, tl, hi, lo, lyr_h, sh, sl);
        sub_add_dd(sh, sl, 0.0, 0.0, lyr_l - log_s, sh, sl);
        gi = wt * (1.0 + a) - mul_exp_dd(a, sh, sl);
      }
      // dy/da term / M: w (lr - ln(y/R_d)) (x - y) / M = w (-lyx) (x/M) rel
      double xm_hi, xm_lo;
      log_ratio_dd(sv, sm, xm_hi, xm_lo);
      const double x_over_m = exp_dd(xm_hi, xm_lo);
      // (x - y) / M: x/M rel while near, else x/M - y/M (x/M rel would be 0 * inf when x/M
      // underflows and y/x overflows)
      const double dxy = std::fabs(rel) < 0.5 ? x_over_m * rel : x_over_m - std::exp(ln_y_m);
      acc += wt * (-lyx) * dxy;
    } else if (a == 0) {
      gi = 1.0 / n;
    } else if (a == 1) {
      gi = -std::exp(ln_y_m) / sx;  // -y / sum_{x > 0} x
    }
    sink->add(pos, l, gy * gi);
  });
  if (nzero > 0 && a == 0) acc = 0.0;  // the jump at a = 0
  int em;
  double mm = std::frexp(xmax, &em);
  if (da) da->add(gy * acc * mm, em);
  return y;
}

// Pass 2's per-element exp(a ln(x/R)) and ln(x/R) of one window, kept for pass 3 (the
// gradients) so that the backward computes the double-double log and exp once per element and
// window, not twice. Per thread, grown to the largest window seen (2 doubles per lane per
// element); windows above EXACT_CACHE_ELEMS elements recompute them in pass 3 instead.
constexpr int64_t EXACT_CACHE_ELEMS = 1 << 16;  // 8 MiB per thread at most
struct WindowCache {
  bool on = false;
  double *e = nullptr, *lr = nullptr;
};
// The thread's buffer of window_cache, one for every dtype (in a build in parts as well: part
// 0 defines the function, the others call it; a thread_local variable shared that way would
// not link with clang, which calls its initialisation function even where it has none).
#if PPV_SPLIT
}  // namespace
namespace ppv_shared {
PPV_HIDDEN std::vector<double>& window_cache_buffer()
#if PPV_PART_MAIN
{
  static thread_local std::vector<double> mem;
  return mem;
}
#else
;
#endif
}  // namespace ppv_shared
namespace {
using ppv_shared::window_cache_buffer;
#else
inline std::vector<double>& window_cache_buffer() {
  static thread_local std::vector<double> mem;
  return mem;
}
#endif
inline WindowCache window_cache(bool backward, int64_t n) {
  WindowCache wc;
  if (!backward || n > EXACT_CACHE_ELEMS) return wc;
  std::vector<double>& mem = window_cache_buffer();
  if (mem.size() < (size_t)(2 * n * L)) mem.resize((size_t)(2 * n * L));
  wc.on = true;
  wc.e = mem.data();
  wc.lr = mem.data() + n * L;
  return wc;
}

// The new path of float64 windows (exact_group only: the fast engine's special windows keep
// the per-window path below, so the narrow dtypes' bits are unchanged). Before, every element
// of every window formed ln(x/R) (log_ratio_dd: an atanh series, two divisions) and
// e = exp(a ln(x/R)) (exp_dd), 163 instructions per element and window, 2.25 windows per
// element for k3 s2. Now, in a lane (window x plane) with
//   |a| <= FASTLOG_MAX_A = 16, xmin <= (1 - FASTLOG_MIN_SPREAD) xmax (a span of 1/16 or more),
//   |a| ln|x| <= FASTLOG_MAX_EXP = 600 for every positive element (by the extremes' exponents),
// each element's terms are formed once per element (elem_terms_lanes, cached per group in an
// ElemCache): ln x = H + Lo (ln_dd) and E = x^a = exp(a (H + Lo)) = E_hi + E_lo (exp_dd_tab),
// a normal double within [e^-600, e^600]. The window then uses E in place of e (the factor
// R^a cancels in every weight w = E / S), y = R (1 + D) with D = sum E rho / sum E, the sums
// S, sum E rho and sum E x / 2^e(R) Neumaier-compensated with E_lo and the products' rounding
// errors (fma) in the compensations (so E enters them to about 2^-100), the gradients
// w (1 + a (rho - D) / (1 + rho)) as before, and ln(x/R) = (H + Lo) - ln_dd(R) (sub_dd) only
// for pass 3's dy/da terms. The log-domain redo of pass 3 uses ln(S / R^a) (S / E(R): both
// within 2^-56 relative, so its ln within 2^-55 absolute).
// The bound. ln_dd's absolute error is below 2^-61.5 (measured 2^-63.1, test_pair_log.py), so
// a ln x is within |a| 2^-61.5 <= 2^-57.5 of itself, and exp_dd_tab's E_hi + E_lo is within
// 2^-56 relative of exp of its argument (measured 2^-57.0): each weight E_i is within
// d = 2^-57.5 + 2^-56 < 2^-55.4 (0.19 u, u = 2^-53) relative of x_i^a, the same factor for the
// whole window up to d. With E_i (1 + d_i), |d_i| <= d, y = sum E x / sum E moves by
// sum_i w_i d_i (x_i - y) / (1 + ...) , at most 2 d y / (1 - d) (sum_i w_i |x_i - y| <= 2 y for
// x >= 0): below 0.38 u of y, where exp_dd's weights (about 1 u each) allowed about 2 u. So
// the new path is at least as accurate in the forward (ulp_survey float64, seeds 1-7: max 2
// ULP as before, 131 cases at 2 ULP against main's 234). dy/da's terms
// w (ln(x/R) - ln(y/R)) (x - y) / R move by at most 2^-60.5 sum w |x - y| / R <= 2^-59.5 y / R
// (absolute); lanes whose elements are all within 1/16 of each other have terms so small
// that this would be large relative to them, so they keep log_ratio_dd (relative-accurate
// near R), as do lanes with |a| > 16 (the survey's alpha reaches 1e6, the edge tests 1.7e308:
// the error grows with |a|) and elements with |a ln x| > 600 (E would over- or underflow).
// The saving forward (jac64) and the recomputing backward both come here with the same
// arithmetic (E, ln x are pure functions of x and a: cached or per pair, the same bits), so
// their gradients are still the same bits.
constexpr double FASTLOG_MAX_A = 16.0;
constexpr double FASTLOG_MIN_SPREAD = 1.0 / 16.0;
constexpr double FASTLOG_MAX_EXP = 600.0;  // |a ln x| of every element of a new-path window
enum PairMode { PAIR_OLD = 0, PAIR_NEW = 1, PAIR_MIXED = 2 };
// Windows (of 8 lanes) whose float64 pass 2 took each mode since the last ppv_pair_log_paths
// call (tests assert which path their cases take): counted per thread, added once per group.
// Also (out[3]) the float64 lanes whose y = q 2^e(R) took ldexp (e(R) outside [-1022, 1023]:
// a subnormal R, so a subnormal y) in exact_window's vector epilogue.
// (pair_mode_local is each part's own in a build in parts: a call counts and flushes in the
// part of its dtype)
PPV_SHARED(std::atomic<int64_t>, pair_mode_count, [4], )
thread_local int64_t pair_mode_local[4];
inline void count_pair_mode(int mode) { ++pair_mode_local[mode]; }
inline void flush_pair_modes() {
  for (int m = 0; m < 4; ++m)
    if (pair_mode_local[m]) { pair_mode_count[m] += pair_mode_local[m]; pair_mode_local[m] = 0; }
}
constexpr int LDEXP_Y = 3;  // pair_mode_local's slot for those lanes

// Each element's own terms in 8 lanes, for the new path: ln x as ln_dd's H + Lo and
// E = exp(a ln x) = x^a by exp_dd_tab of the double-double a (H + Lo) (in a new-path window
// |a ln x| <= FASTLOG_MAX_EXP, so E is a normal double and a window's sum of them cannot
// overflow). A pure function of x and a: computed once per element into a group's ElemCache,
// or again per pair where there is none, the same bits either way. x <= 0 (and the other
// elements a window treats apart) give values nothing reads.
PPV_ALWAYS_INLINE void elem_terms_lanes(const double* v, const double* a, double* E, double* El,
                                        double* H, double* Lo) {
#if defined(PPV_AVX512)
  const __m512d u = _mm512_loadu_pd(v);
  const __mmask8 pos = _mm512_cmp_pd_mask(u, _mm512_setzero_pd(), _CMP_GT_OQ);
  __m512d h, lo, th, tl;
  ln_dd8(_mm512_mask_mov_pd(_mm512_set1_pd(1.0), pos, u), h, lo);
  mul_dd8(_mm512_loadu_pd(a), h, lo, th, tl);
  __m512d el;
  _mm512_storeu_pd(E, exp_dd_tab8(th, tl, el));
  _mm512_storeu_pd(El, el);
  _mm512_storeu_pd(H, h);
  _mm512_storeu_pd(Lo, lo);
#else
  for (int l = 0; l < L; ++l) {
    double h, lo;
    ln_dd(v[l] > 0.0 ? v[l] : 1.0, h, lo);
    double th, tl;
    mul_dd(a[l], h, lo, th, tl);  // mul_dd8's operations (-std=c++17: no contraction)
    E[l] = exp_dd_tab(th, tl, El[l]);
    H[l] = h;
    Lo[l] = lo;
  }
#endif
}

// ln x = H + Lo in 8 lanes, the same bits as elem_terms_lanes' H and Lo (x <= 0: ln 1), without
// its x^a: a backward's per-window ln R (R^a is wanted only by pass 3's rare log-domain redo)
PPV_ALWAYS_INLINE void elem_log_lanes(const double* v, double* H, double* Lo) {
#if defined(PPV_AVX512)
  const __m512d u = _mm512_loadu_pd(v);
  const __mmask8 pos = _mm512_cmp_pd_mask(u, _mm512_setzero_pd(), _CMP_GT_OQ);
  __m512d h, lo;
  ln_dd8(_mm512_mask_mov_pd(_mm512_set1_pd(1.0), pos, u), h, lo);
  _mm512_storeu_pd(H, h);
  _mm512_storeu_pd(Lo, lo);
#else
  for (int l = 0; l < L; ++l) ln_dd(v[l] > 0.0 ? v[l] : 1.0, H[l], Lo[l]);
#endif
}

// A group's elem_terms_lanes for every input position of its plan (lane-interleaved:
// E[pos * L + l]), for float64 groups whose planes have at most ELEM_CACHE_ELEMS positions
constexpr int64_t ELEM_CACHE_ELEMS = 1 << 15;  // 6 MiB per thread at most
struct ElemCache {
  const double *X = nullptr;  // the input itself, lane-interleaved (load_lanes' values)
  const double *E = nullptr, *El = nullptr, *H = nullptr, *Lo = nullptr;
};

struct PairLog {
  int mode = PAIR_OLD;
  bool need_lr = true;            // ln(x/R) wanted (a backward: pass 3's dy/dalpha terms)
  const ElemCache* ec = nullptr;  // the group's, or null: elem_terms_lanes per pair
  double lRh[L], lRl[L];  // ln_dd(R) per lane (a backward's, by elem_log_lanes)
  // R^a by elem_terms_lanes (new lanes: S / R^a is the old path's S), formed only in a window
  // whose pass 3 takes the log-domain form (ln(S / R^a))
  double ER[L], ERl[L];
  double newl[L];         // 1 where the lane uses the new path (PAIR_MIXED)
};
// The new path's E and ln(x/R) of one element in 8 lanes (x <= 0: values nothing reads)
PPV_ALWAYS_INLINE void pair_new_lanes(const double* v, int64_t pos, const double* a,
                                      const PairLog& pl, double* ee, double* el, double* lr) {
  double h[L], lo[L];
  const double *hp = h, *lp = lo;
  if (pl.ec) {
    copy8(ee, pl.ec->E + pos * L);
    copy8(el, pl.ec->El + pos * L);
    hp = pl.ec->H + pos * L;
    lp = pl.ec->Lo + pos * L;
  } else {
    elem_terms_lanes(v, a, ee, el, h, lo);
  }
  if (!pl.need_lr) return;  // a forward: no dy/dalpha terms
#if defined(PPV_AVX512)
  __m512d hi8, lo8;
  sub_dd8(_mm512_loadu_pd(hp), _mm512_loadu_pd(lp), _mm512_loadu_pd(pl.lRh),
          _mm512_loadu_pd(pl.lRl), hi8, lo8);
  _mm512_storeu_pd(lr, _mm512_add_pd(hi8, lo8));
#else
  for (int l = 0; l < L; ++l) {
    double hi, lw;
    sub_dd(hp[l], lp[l], pl.lRh[l], pl.lRl[l], hi, lw);
    lr[l] = hi + lw;
  }
#endif
}
// exp(a ln(x/R)) (old lanes) or x^a (new lanes) and ln(x/R) of one element in all 8 lanes
// (x <= 0: of R in old lanes), by mode M
template <int M>
PPV_ALWAYS_INLINE void pair_terms(const double* __restrict v, int64_t pos,
                                  const double* __restrict R, const Split* __restrict sR,
                                  const double* __restrict a, const PairLog& pl,
                                  double* __restrict ee, double* __restrict el,
                                  double* __restrict lr) {
  if (M != PAIR_NEW) {
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const double u = v[l];
      const double us = u > 0.0 ? u : R[l];
      double hi, lo, th, tl;
      log_ratio_dd(split(us), sR[l], hi, lo);
      mul_dd(a[l], hi, lo, th, tl);
      ee[l] = exp_dd(th, tl);
      el[l] = 0.0;
      lr[l] = hi + lo;
    }
  }
  if (M == PAIR_NEW) pair_new_lanes(v, pos, a, pl, ee, el, lr);
  if (M == PAIR_MIXED) {
    double ne[L], nel[L], nlr[L];
    pair_new_lanes(v, pos, a, pl, ne, nel, nlr);
    for (int l = 0; l < L; ++l)
      if (pl.newl[l] != 0.0) { ee[l] = ne[l]; el[l] = nel[l]; lr[l] = nlr[l]; }
  }
}
PPV_ALWAYS_INLINE void pair_terms_any(const double* v, int64_t pos, const double* R,
                                      const Split* sR, const double* a, const PairLog& pl,
                                      double* ee, double* el, double* lr) {
  switch (pl.mode) {
    case PAIR_NEW: pair_terms<PAIR_NEW>(v, pos, R, sR, a, pl, ee, el, lr); break;
    case PAIR_MIXED: pair_terms<PAIR_MIXED>(v, pos, R, sR, a, pl, ee, el, lr); break;
    default: pair_terms<PAIR_OLD>(v, pos, R, sR, a, pl, ee, el, lr); break;
  }
}

// Pass 3 of the exact engine for one element in all 8 lanes (v: x; ev, lrv: exp(a ln(x/R))
// and ln(x/R), of R where x <= 0): gi = dy/dx (except in lanes flagged in redo, which need
// the log-domain form), wts = the weight w, and acc += the dy/da term. A function of plain
// arrays so that GCC vectorises it (as a lambda's body it stayed scalar: 4 divisions per lane).
struct GradConst {
  double R[L], a[L], inv_s[L], YR[L], D[L], near_r[L], gz[L], g0[L];
};
inline void exact_grad_lanes(const double* __restrict v, const double* __restrict ev,
                             const double* __restrict lrv, const GradConst& c,
                             double* __restrict gi, double* __restrict wts,
                             double* __restrict redo_l, double* __restrict acc,
                             double* __restrict accc) {
#pragma omp simd
  for (int l = 0; l < L; ++l) {
    double u = v[l];
    bool p = u > 0.0;
    double us = p ? u : c.R[l];
    double e = ev[l];
    double wt = (c.a[l] == 0 ? 1.0 : e) * c.inv_s[l];
    double rho = (us - c.R[l]) / c.R[l];
    double ratio = us / c.R[l];  // x / R (not 1 + rho: that loses a tiny x)
    double yx = c.YR[l] / ratio;  // y / x
    double rel = c.near_r[l] != 0.0 ? (rho - c.D[l]) / ratio : 1.0 - yx;
    double near = wt * (1.0 + c.a[l] * rel);
    double far = wt * (1.0 + c.a[l]) - c.a[l] * (wt * yx);
    double g = std::fabs(rel) < 0.5 ? near : far;
    // x / R subnormal, w underflowed, or w y / x out of range: in logarithms (below,
    // for the lanes that need it)
    bool redo = !(ratio >= 2.2250738585072014e-308) || wt == 0.0 || !std::isfinite(g);
    redo_l[l] = (p && redo && c.a[l] != 0) ? 1.0 : 0.0;
    wts[l] = wt;
    g = c.a[l] == 0 ? wt : g;  // exactly the weight (a * inf above would be NaN)
    double zero_g = c.a[l] == 0 ? wt : c.gz[l];
    gi[l] = p ? g : (u == 0.0 ? zero_g : 0.0);
    // (x - y) / R: rho - D near R, else x / R - y / R (rel * ratio would be inf * 0
    // when x / R underflows)
    double dxy = c.near_r[l] != 0.0 ? rho - c.D[l] : ratio - c.YR[l];
    double term = wt * (lrv[l] - c.g0[l]) * dxy;
    // Neumaier's sum (acc + accc): a window of N elements summed plainly loses up to N eps
    // (5e-13 relative at N = 12544: one element 1 and 12543 equal ones)
    const double t = p && std::isfinite(term) ? term : 0.0;
    const double s = acc[l] + t;
    accc[l] += std::fabs(acc[l]) >= std::fabs(t) ? (acc[l] - s) + t : (t - s) + acc[l];
    acc[l] = s;
  }
}

// a b + c with one rounding per lane (std::fma's bits): in registers where the target has a
// vector fma (AVX-512; the AVX2 emulation's halves), else lane by lane through memory
PPV_ALWAYS_INLINE v8d fma8(v8d a, v8d b, v8d c) {
#if defined(PPV_AVX512_EMULATED) && !defined(PPV_AVX2_ON_NEON)
  return {(v4d)_mm256_fmadd_pd((__m256d)a.lo, (__m256d)b.lo, (__m256d)c.lo),
          (v4d)_mm256_fmadd_pd((__m256d)a.hi, (__m256d)b.hi, (__m256d)c.hi)};
#elif defined(PPV_AVX512) && !defined(PPV_AVX512_EMULATED)
  return (v8d)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#else
  double A[L], B[L], C[L], R[L];
  v8_store(A, a);
  v8_store(B, b);
  v8_store(C, c);
#pragma omp simd
  for (int l = 0; l < L; ++l) R[l] = std::fma(A[l], B[l], C[l]);
  return v8_load(R);
#endif
}

// The exact engine's window steps shared by exact_window and forward_window64 (the same
// operations either way: their bits agree, tests/ops/test_forward64.py).
// Pass 1 in 8 lanes: each lane's largest and smallest positive element and its counts of
// positive, zero and bad (negative, NaN, inf) elements (in vector registers: as arrays with
// `omp simd`, each element's update was a masked store that the next element's load waited
// for)
struct WindowStats {
  v8d vmax, vmin, vpos, vzero, vbad;
  WindowStats() {
    const v8d zero = {};
    vmax = vpos = vzero = vbad = zero;
    vmin = zero + INFINITY;
  }
  PPV_ALWAYS_INLINE void add(v8d u) {
    const v8d zero = {}, one = zero + 1.0, inf = zero + INFINITY;
    const auto ok = (u >= zero) & (u < inf);
    vbad += v8_select(ok, zero, one);
    vzero += v8_select(u == zero, one, zero);
    const auto p = ok & (u > zero);
    vpos += v8_select(p, one, zero);
    vmax = v8_select(p & (u > vmax), u, vmax);
    vmin = v8_select(p & (u < vmin), u, vmin);
  }
};
// The lanes exact_lane finishes whatever is wanted: bad elements, no positive one, zeros with
// a < 0, a span beyond 2^1000 with a < 0, a not finite (mxe, mne: the exponents of the
// extremes, split8's)
PPV_ALWAYS_INLINE v8l special_lanes(const WindowStats& st, v8d va, v8d mxe, v8d mne) {
  const v8d zero = {}, inf = zero + INFINITY;
  const v8l neg = va < zero;
  const v8l extreme = neg & (st.vpos > zero) & (mxe - mne >= 1000.0);
  return (st.vbad > zero) | (st.vpos == zero) | (neg & (st.vzero > zero)) | extreme |
         ~(v8_abs(va) < inf);
}
// The new path's lanes among those not in spec: |a| <= 16, a span of 1/16 or more, |a ln x|
// <= 600 for every positive x (|ln x| < (|e| + 1) ln 2 for x = m 2^e, m in [1, 2))
PPV_ALWAYS_INLINE v8l new_path_lanes(const WindowStats& st, v8d va, v8d mxe, v8d mne, v8l spec) {
  const v8d ae = v8_abs(mxe), ie = v8_abs(mne);
  const v8d emax = v8_select(ae < ie, ie, ae);  // std::max(|e(xmax)|, |e(xmin)|)
  const v8d aa = v8_abs(va);
  return ~spec & (aa <= FASTLOG_MAX_A) & (st.vmin <= (1.0 - FASTLOG_MIN_SPREAD) * st.vmax) &
         (aa * ((emax + 1.0) * 0.6931471805599453) <= FASTLOG_MAX_EXP);
}
// 2^-e(R) as two factors (x scale) scale2 (2^1074 alone overflows): e1 = -e(R) / 2
// (truncated, as C's division) and -e(R) - e1 are within [-538, 538]
PPV_ALWAYS_INLINE void exponent_scales(v8l eR, v8d& scale, v8d& scale2) {
  const v8l ne = -eR;
  const v8l e1 = (ne - (ne >> 63)) >> 1;
  scale = pow2_8(e1);
  scale2 = pow2_8(ne - e1);
}
// Neumaier's step: the sum s and its compensation c take t (neumaier_pos: sums of
// same-signed terms, |s| is s)
PPV_ALWAYS_INLINE void neumaier_pos(v8d& s, v8d& c, v8d t) {
  const v8d u = s + t;
  c += v8_select(s >= t, (s - u) + t, (t - u) + s);
  s = u;
}
PPV_ALWAYS_INLINE void neumaier(v8d& s, v8d& c, v8d t) {
  const v8d u = s + t;
  c += v8_select(v8_abs(s) >= v8_abs(t), (s - u) + t, (t - u) + s);
  s = u;
}
// The float64 overlap state's values of a window (want_state): out's s, ok, dwm, dwe and ylo
// from pass 2's sums (S + Sc, TR + TRc, DN + DNc, LR + LRc, LS + LSc; q = TR / S). ok: the
// lanes whose window the state may serve, among `lanes` (general new-path lanes with a
// normal y): normal positive elements spanning at most 2^500 (and zeros only at a > 0, a != 1,
// where their weight and dy/dx are 0), in which every weight x^a / S >= (xmin / xmax)^|a| / n
// stays above 2^-900 (|a| (e(xmax) - e(xmin) + 1) <= 890) and S lies within [2^-400,
// 2^400]: there the backward's g / S, (g / S)(x - y) / x (at most |g| 2^900) and
// E (P + a C) neither overflow nor lose a weight (run_overlap64_backward, which also takes
// |g| within [2^-400, 2^100]); it evaluates the other windows again (exact_window, their
// lanes alone). dy/da = sum_i w_i (ln x_i - ln y)(x_i - y) = R sum_i w_i ln(x_i/c)
// (rho_i - D) for any c (as sum_i w_i (rho_i - D) = 0): R (LR - D LS) / S, no pass 3.
PPV_ALWAYS_INLINE void state_outputs(WindowOut& out, v8l lanes, const WindowStats& st, v8d va,
                                     v8d span, v8d vR, v8d p2, v8d vS, v8d vSc, v8d vTR,
                                     v8d vTRc, v8d vq, v8d vDN, v8d vDNc, v8d vLR, v8d vLRc,
                                     v8d vLS, v8d vLSc) {
  const v8d zero = {}, one = zero + 1.0;
  const v8d vSv = vS + vSc;
  const v8l ok = lanes & ((st.vzero == zero) | ((va > zero) & (va != one))) &
                 (st.vmin >= 2.2250738585072014e-308) & (span <= 500.0) &
                 (v8_abs(va) * (span + 1.0) <= 890.0) & (vSv >= 0x1p-400) & (vSv <= 0x1p400);
  v8_store(out.s, vSv);
  const v8d core = ((vLR + vLRc) - ((vDN + vDNc) / vSv) * (vLS + vLSc)) / vSv;
  // dy/da = core R = (core m) 2^e with R = m 2^e, m in [1/2, 1) (frexp2: by the bits where R
  // is normal, else lane by lane below)
  v8d rm;
  v8l rex, rnormal;
  frexp8(vR, rm, rex, rnormal);
  v8_store(out.dwm, core * rm);
  double re[L];
  v8_store(re, v8_to_double(rex));
  for (int l = 0; l < L; ++l) {
    out.ok[l] = ok[l] != 0;
    out.dwe[l] = (int)re[l];
  }
  if (v8_any(~rnormal)) {
    double c[L], R[L];
    v8_store(c, core);
    v8_store(R, vR);
    for (int l = 0; l < L; ++l)
      if (rnormal[l] == 0) out.dwm[l] = c[l] * frexp2(R[l], &out.dwe[l]);
  }
  // y / 2^e(R) = (T + Tc) / (S + Sc) = q + r / (S + Sc), r = T + Tc - q (S + Sc): the
  // residual with q S exact by fma, to about 2^-100 of y; its last step (- q Sc) fused too,
  // as GCC contracted the lane-by-lane form this replaced (C++ compiles with
  // -ffp-contract=fast by default): the same bits, now written out
  const v8d r = fma8(-vq, vSc, fma8(-vq, vS, vTR) + vTRc);
  v8_store(out.ylo, v8_select(ok, (r / vSv) * p2, zero));
}

// The vectorised exact engine: one window in all 8 lanes. Lanes whose window is special
// (see exact_lane) are finished by exact_lane. With backward, adds gy * dy/dx to sink and
// gy * dy/da to da.
template <class T>
void exact_window(const T* x, const Plan& P, const Lanes& ln, const WindowRange& w,
                  const bool* want, bool backward, const double* gy, GradSink* sink,
                  ScaledSum* da, double* dplain, WindowOut& out, bool fastlog = false,
                  const ElemCache* ec = nullptr) {
  // pass 1 (WindowStats)
  const v8d zero = {}, one = zero + 1.0;
  WindowStats st;
  const double* xl = ec ? ec->X : nullptr;  // float64 groups with an ElemCache
  const Gathered g = gather_window<T>(x, P, ln, w, xl);
  for (int64_t k0 = 0; k0 < g.n; k0 += GATHER_ELEMS) {
    const int64_t cnt = load_run<T>(x, P, ln, w, g, k0, xl);
    for (int64_t j = 0; j < cnt; ++j) {
#if defined(PPV_AVX512_EMULATED)
      const v8d u = v8_load(g.v + j * L);  // by halves (see v8_load)
#else  // (v8_load here too compiles to other instructions on AVX-512 builds: kept as it was)
      v8d u;
      std::memcpy(&u, g.v + j * L, sizeof u);
#endif
      st.add(u);
    }
  }
  const v8d vmax = st.vmax, vmin = st.vmin, vzero = st.vzero;
  // the window's lanes, in vectors (lane by lane, these per-window flags, splits and scales
  // were a third of a k2 s2 forward's time: scalar stores read back lane by lane). special:
  // the lanes exact_lane finishes (not wanted, bad elements, no positive one, zeros with
  // a < 0, a span beyond 2^1000 with a < 0, a not finite); R = xmax (a >= 0) or xmin (a < 0)
  const v8d va = v8_load(ln.a);
  double wantd[L];
  for (int l = 0; l < L; ++l) wantd[l] = want[l] ? 1.0 : 0.0;
  v8d mxm, mxe, mnm, mne;
  split8(vmax, mxm, mxe);
  split8(vmin, mnm, mne);
  const v8l spec = (v8_load(wantd) == zero) | special_lanes(st, va, mxe, mne);
  const v8d vR = v8_select(spec, one, v8_select(va >= zero, vmax, vmin));
  v8d Rm, Re;
  split8(vR, Rm, Re);
  bool special[L];
  for (int l = 0; l < L; ++l) special[l] = spec[l] != 0;
  const bool any_general = v8_any(~spec);
  std::memset(out.bad, 0, sizeof out.bad);
  v8_store(out.y, zero);
  v8_store(out.xmax, vmax);
  if (out.want_state)
    for (int l = 0; l < L; ++l) out.ok[l] = false;
  double R[L], a[L], nzero[L];
  v8_store(R, vR);
  v8_store(a, va);
  v8_store(nzero, vzero);
  PairLog pl;
  if (fastlog && any_general) {
    const v8l nw = new_path_lanes(st, va, mxe, mne, spec);
    v8_store(pl.newl, v8_select(nw, one, zero));
    const bool any_new = v8_any(nw), any_old = v8_any(~spec & ~nw);
    pl.mode = any_new ? (any_old ? PAIR_MIXED : PAIR_NEW) : PAIR_OLD;
    pl.ec = ec;
    pl.need_lr = backward;
    // ln R: for pass 3 only (ln(x/R) = ln x - ln R in dy/da's terms); R^a (ln(S / R^a) in
    // pass 3's log-domain redo) only in a window that redoes a lane
    if (any_new && backward) elem_log_lanes(R, pl.lRh, pl.lRl);
    count_pair_mode(pl.mode);
  }
  // R's split per lane: the old path's log_ratio_dd and pass 3's redo read it
  Split sR[L];
  if (pl.mode != PAIR_NEW || backward) {
    double rm[L], re[L];
    v8_store(rm, Rm);
    v8_store(re, Re);
    for (int l = 0; l < L; ++l) sR[l] = Split{rm[l], re[l]};
  }
  if (any_general) {
    // pass 2: S = sum E, TR = sum E x / 2^e(R) (y = 2^e(R) TR / S: same-signed terms, exact
    // scaling), DN = sum E rho
    // (D = y / R - 1, accurate when small: same-signed terms too), SX = sum x / R (for a = 1's
    // zeros); compensated sums
    // x / 2^e(R) as (x scale) scale2 (exponent_scales)
    double scale[L], scale2[L];
    const v8l eR = v8_to_int(Re);
    {
      v8d sc, sc2;
      exponent_scales(eR, sc, sc2);
      v8_store(scale, sc);
      v8_store(scale2, sc2);
    }
    // with backward, each element's exp(a ln(x/R)) and ln(x/R) are kept for pass 3 (the
    // window's cache, or a stack buffer that nothing reads when the cache is off)
    WindowCache wc = window_cache(backward, w.count());
    double dump_e[L], dump_lr[L];
    v8d vS = {}, vSc = {}, vDN = {}, vDNc = {}, vTR = {}, vTRc = {}, vSX = {};
    // the overlap state's dy/da sums (want_state, from the element cache's ln x = H + Lo):
    // LR = sum E ln(x/c) rho, LS = sum E ln(x/c), c the window's first element (ln R where
    // that is not positive): any c gives the same dy/da (below), one within the window's
    // span keeps ln(x/c)'s rounding (u |ln(x/c)|) at the scale of the terms
    v8d vLR = {}, vLRc = {}, vLS = {}, vLSc = {};
    const bool lsums = out.want_state && ec != nullptr && ec->H != nullptr;
    v8d vch = {}, vcl = {};
    if (lsums) {
      const int64_t f = ((w.d0 * P.ax[1].in + w.h0) * P.ax[2].in + w.w0) * L;
      const v8d xf = v8_load(ec->X + f);
      vch = v8_load(ec->H + f);
      vcl = v8_load(ec->Lo + f);
      if (v8_any(~(xf > zero))) {
        double rh[L], rl[L];
        elem_log_lanes(R, rh, rl);
        vch = v8_select(xf > zero, vch, v8_load(rh));
        vcl = v8_select(xf > zero, vcl, v8_load(rl));
      }
    }
    for (int64_t k0 = 0; k0 < g.n; k0 += GATHER_ELEMS) {
     const int64_t cnt = load_run<T>(x, P, ln, w, g, k0, xl);
     for (int64_t j = 0; j < cnt; ++j) {
      const int64_t k = k0 + j;
      const double* v = g.v + j * L;
      double* ce = wc.on ? wc.e + k * L : dump_e;
      double* clr = wc.on ? wc.lr + k * L : dump_lr;
      double eb[L], erb[L], etb[L], rb[L], rhob[L];  // this element's terms
      double elb[L], elrb[L], eltb[L];      // the new path's corrections (e's low part)
      double cel[L];
      pair_terms_any(v, g.pos[j], R, sR, a, pl, ce, cel, clr);
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        double u = v[l];
        bool p = u > 0.0;
        double us = p ? u : R[l];
        const double ee = ce[l];
        double e = p ? ee : (a[l] == 0 ? 1.0 : 0.0);
        const double elo = p ? cel[l] : 0.0;
        double rho = p ? (us - R[l]) / R[l] : -1.0;
        double r = p ? (us * scale[l]) * scale2[l] : 0.0;  // x / 2^e(R): exact
        eb[l] = e;
        rhob[l] = rho;
        erb[l] = e * rho;
        etb[l] = e * r;
        rb[l] = r;
        // new lanes: the products' rounding errors too (e rho and e r exact to ~2^-106)
        const bool nl = pl.mode != PAIR_OLD && pl.newl[l] != 0.0;
        elb[l] = elo;
        elrb[l] = nl ? std::fma(elo, rho, std::fma(e, rho, -erb[l])) : 0.0;
        eltb[l] = nl ? std::fma(elo, r, std::fma(e, r, -etb[l])) : 0.0;
      }
      // Neumaier sums (S >= 0: its |S| is S)
      neumaier_pos(vS, vSc, v8_load(eb));
      neumaier(vDN, vDNc, v8_load(erb));
      neumaier_pos(vTR, vTRc, v8_load(etb));
      vSX += v8_load(rb);
      if (pl.mode != PAIR_OLD) {  // e's low part (0 in old lanes) into the compensations
        vSc += v8_load(elb);
        vDNc += v8_load(elrb);
        vTRc += v8_load(eltb);
      }
      if (lsums) {
        const int64_t pk = g.pos[j] * L;
        const v8d lam = (v8_load(ec->H + pk) - vch) + (v8_load(ec->Lo + pk) - vcl);
        const v8d el = v8_load(eb) * lam;  // E ln(x/c) (0 at x <= 0: e = 0)
        neumaier(vLS, vLSc, el);
        neumaier(vLR, vLRc, el * v8_load(rhob));
      }
     }
    }
    // y = 2^e(R) q, q = TR / S, with one rounding (as scale2k: a product with 2^e(R) where
    // that is a normal double, else ldexp: a subnormal y); not in special lanes
    const v8d vSv = vS + vSc;
    const v8d vq = (vTR + vTRc) / vSv;  // y / 2^e(R)
    const v8l inr = (eR >= -1022) & (eR <= 1023);
    v8_store(out.y, v8_select(spec | ~inr, zero, vq * pow2_8(eR)));
    if (v8_any(~spec & ~inr))
      for (int l = 0; l < L; ++l)
        if (!special[l] && !inr[l]) {
          out.y[l] = std::ldexp(vq[l], (int)eR[l]);
          if (fastlog) ++pair_mode_local[LDEXP_Y];
        }
    if (out.want_state)  // the float64 overlap state (state_outputs)
      state_outputs(out, ~spec & inr & (v8_load(pl.newl) != zero), st, va, mxe - mne, vR,
                    v8_select(inr, pow2_8(eR), one), vS, vSc, vTR, vTRc, vq, vDN, vDNc, vLR,
                    vLRc, vLS, vLSc);
    if (backward) {
      // pass 3: gradients. rel = (x - y) / x: (rho - D) / (x / R) while y is near R (|D| <=
      // 1/2: both accurate relative to themselves, so no cancellation for large |a|), else
      // 1 - (y / R) / (x / R); dy/da terms w (ln(x/R) - ln(y/R)) (x - y) / R >= 0, times R.
      // the window's constants in vectors: D = DN / S, y / R = q / m(R), sum x / R, 1 / S, and
      // a = 1's zeros' gradient -(y / R) / (sum x / R); ln(y / R) by libm per general lane
      GradConst gc;
      double acc[L], accc[L], gyl[L], Sv[L];
      const v8d vD = (vDN + vDNc) / vSv, vYR = vq / Rm, vSX1 = vSX / Rm;
      const v8l nr = v8_abs(vD) <= 0.5;
      v8_store(gc.R, vR);
      v8_store(gc.a, va);
      v8_store(gc.D, vD);
      v8_store(gc.YR, vYR);
      v8_store(gc.near_r, v8_select(nr, one, zero));
      v8_store(gc.inv_s, one / vSv);
      v8_store(gc.gz, v8_select((va == 1.0) & (vSX1 > zero), -vYR / vSX1, zero));
      v8_store(acc, zero);
      v8_store(accc, zero);
      v8_store(gyl, v8_select(spec, zero, v8_load(gy)));
      v8_store(Sv, vSv);
      for (int l = 0; l < L; ++l)  // ln(y / R); special lanes' terms are not used
        gc.g0[l] = special[l] ? 0.0 : nr[l] ? std::log1p(gc.D[l]) : std::log(gc.YR[l]);
      double ln_s[L];
      bool have_ln_s = false;
      for (int64_t k0 = 0; k0 < g.n; k0 += GATHER_ELEMS) {
       const int64_t cnt = load_run<T>(x, P, ln, w, g, k0, xl);
       for (int64_t j = 0; j < cnt; ++j) {
        const int64_t k = k0 + j, pos = g.pos[j];
        const double* v = g.v + j * L;
        // exp(a ln(x/R)) and ln(x/R) (at x <= 0: of R) from pass 2's cache, else again
        double ev[L], lrv[L];
        if (wc.on) {
          copy8(ev, wc.e + k * L);
          copy8(lrv, wc.lr + k * L);
        } else {
          double evl[L];
          pair_terms_any(v, pos, R, sR, a, pl, ev, evl, lrv);
        }
        double gi[L], wts[L], redo_l[L];
        exact_grad_lanes(v, ev, lrv, gc, gi, wts, redo_l, acc, accc);
        if (v8_any(v8_load(redo_l) != zero)) {
          if (!have_ln_s) {
            // ln of the window's sum relative to R^a (the new path's weights are x^a): formed
            // once, in the first element that redoes a lane (rare: a logarithm per lane)
            if (pl.mode != PAIR_OLD) {
              double h[L], lo[L];
              elem_terms_lanes(R, a, pl.ER, pl.ERl, h, lo);
            }
            for (int l = 0; l < L; ++l)
              ln_s[l] = std::log(pl.mode != PAIR_OLD && pl.newl[l] != 0.0 ? Sv[l] / pl.ER[l]
                                                                          : Sv[l]);
            have_ln_s = true;
          }
          for (int l = 0; l < L; ++l) {
            if (redo_l[l] == 0.0) continue;
            // w (1 + a) - a w y / x with w y / x = exp(a lr - ln S + ln(y/R) - lr)
            double hi, lo, th, tl, sh, sl;
            log_ratio_dd(split(v[l]), sR[l], hi, lo);
            mul_dd(a[l], hi, lo, th, tl);
            sub_add_dd(th, tl, hi, lo, gc.g0[l] - ln_s[l], sh, sl);
            gi[l] = wts[l] * (1.0 + a[l]) - mul_exp_dd(a[l], sh, sl);
          }
        }
        double gg[L];
        for (int l = 0; l < L; ++l) gg[l] = gyl[l] * gi[l];
        sink->add_lanes(pos, gg, special);
       }
      }
      for (int l = 0; l < L; ++l) {
        if (special[l]) continue;
        double dl = (a[l] == 0 && nzero[l] > 0) ? 0.0 : acc[l] + accc[l];
        if (da) {
          int em;
          double mm = frexp2(R[l], &em);
          da[l].add(gyl[l] * dl * mm, em);
        } else {
          dplain[l] += gyl[l] * dl * R[l];
        }
      }
    }
  }
  for (int l = 0; l < L; ++l) {
    if (!want[l] || !ln.active[l]) continue;
    if (!special[l]) continue;
    bool b = false;
    ScaledSum tmp;
    double yl = exact_lane<T>(x, P, ln, l, w, a[l], backward, backward ? gy[l] : 0.0, sink,
                              &tmp, &b);
    out.y[l] = yl;
    out.bad[l] = b;
    if (backward && !b) {
      if (da) da[l].add(tmp.m, tmp.e);
      else dplain[l] += std::ldexp(tmp.m, tmp.e);
    }
  }
}

// ------------------------------------------------------------------------- fast engine

// The fast engine's stages are kept out of line in every build, not only in PPV_PROFILE builds:
// inlined into fast_group they made the backward about 2x slower (k3 s2 p1, (8,64,112,112),
// one thread: 98 ms inlined, 46 ms out of line; the forward the same either way).
#define PPV_STAGE __attribute__((noinline))

// Per-lane constants of the fast engine for one group.
struct FastLanes {
  double a[L], lc[L];
  // a = 1's input gradient at a zero: dy/dx_i = -y / sum_{x > 0} x there (the oracle's
  // limit; x^(a - 1) -> 1), which is E_i / x_i (= x_i^(a - 1) e^(-a Lc)) -> e^(-Lc) times
  // the Q = sum g y / S of grad_row (S = e^(-Lc) sum x at a = 1): z1 = e^(-Lc) where a = 1,
  // else 0 (set_zero_weights)
  double z1[L];
  bool need_zero;  // each window's zeros counted (Z): in the forwards, some lane has a <= 0
                   // (a < 0: y = 0; a = 0: dy/da = 0); in the overlap backward, a < 0
  // every lane's a is 0, 1, 2, 3 or 4 and its Lc is 0 (no plane reference): E = x^a by
  // multiplication (int_weights), no logarithm or exponential; the logarithm lg is formed only
  // where the sums for dy/da or the backward read it (RowData::lg)
  bool int_a;
};

// The weight E = x^a of a positive x at an integer a of 0-4, by multiplication: x, x^2 exact
// (x has at most 24 significant bits: a float32, bfloat16 or float16 input), x^3 = x^2 x and
// x^4 = x^2 x^2 one rounding each (2^-53 relative), where exp(a ln x) is within 2e-14 (fast_exp_
// narrow). No overflow or underflow for such inputs: x^4 lies within [2^-600, 2^512].
inline double int_weight(double a, double x) {
  const double x2 = x * x;
  return a == 0.0 ? 1.0 : a == 1.0 ? x : a == 2.0 ? x2 : a == 3.0 ? x2 * x : x2 * x2;
}

// fl.z1 and fl.int_a from fl.a and fl.lc (once both are final)
inline void set_zero_weights(FastLanes& fl) {
  fl.int_a = true;
  for (int l = 0; l < L; ++l) {
    fl.z1[l] = fl.a[l] == 1.0 ? std::exp(-fl.lc[l]) : 0.0;
    const double a = fl.a[l];
    fl.int_a = fl.int_a && fl.lc[l] == 0.0 &&
               (a == 0.0 || a == 1.0 || a == 2.0 || a == 3.0 || a == 4.0);
  }
}

// One cached row segment, lane-interleaved (n * L doubles each): x, its weight
// E = exp(a (ln x - Lc)) (0 at zeros, except 1 for a = 0; NaN at a bad element) and, for the
// backward, lg = ln x - Lc.
struct RowData {
  double *x, *e, *lg;
  RowData from_col(int64_t c) const {  // the same segment from its column c on
    return RowData{x + c * L, e + c * L, lg ? lg + c * L : nullptr};
  }
};

// Scratch budgets of the fast engine, per thread. A tile of output columns reads at most
// TILE_COLS input columns at a time (a window wider than that is summed in chunks of TILE_COLS
// columns), and the row cache holds at most CACHE_BYTES, so no buffer grows with the row length
// or the window size. Two remain that grow with the plane: the recomputing backward's
// per-window coefficients c1, c2 (2 doubles per lane per output, for the output rows of one
// column tile; the overlap state's backward keeps only the rows one input row reads:
// overlap_coef_slots) and, lazily, the exact engine's gradients of special windows (extra,
// plane_in * L).
constexpr int64_t TILE_COLS = 2048;
constexpr int64_t CACHE_BYTES = 12 << 20;
// the fast engine's row cache per thread, CACHE_BYTES unless a test sets it (ppv_cache_bytes)
PPV_SHARED(std::atomic<int64_t>, fast_cache_bytes, , {CACHE_BYTES})

// The most a recomputing backward's row cache may take per thread to hold more than the rows
// of a window span (the whole plane, so that its second pass reuses every weight): `budget`
// (the engine's CACHE_BYTES or POW_CACHE_BYTES), and for a small call no more than
// CACHE_PER_INPUT_BYTE bytes per byte of its input over its threads, at least
// CACHE_SMALL_CALL_BYTES. A call of few planes cached 8 lanes of 3 doubles per element of a
// plane that held 1 or 2 of them: (1, 2, 16, 64, 64) k3 s2 p1, p_pool3d and gem_pool3d
// forward+backward, peak RSS growth 13.7 MB for an input of 0.5 MB (27x max_pool3d's), and
// the time was no better than with a cache of 0.5-2 MB (the same within 10% or faster on 2-D
// and 3-D inputs of 1 to 3 planes, 2026-12-07, a `/tmp` script: budgets 12 MiB / 2 MiB /
// 512 KiB / one row, interleaved); calls of many planes (8 x 64 planes of 112 x 112) keep
// the whole budget.
constexpr int64_t CACHE_PER_INPUT_BYTE = 2;
constexpr int64_t CACHE_SMALL_CALL_BYTES = 256 << 10;
inline int64_t backward_cache_bytes(int64_t budget, const Plan& P, int threads) {
  const int64_t es = elem_bytes(P);
  const int64_t input = P.N * P.C * P.plane_in * es;
  return std::min(budget, std::max(CACHE_SMALL_CALL_BYTES,
                                   CACHE_PER_INPUT_BYTE * input / std::max(threads, 1)));
}

// A global window's saving forward reads every row again for dy/dx: from the row cache where it
// holds the plane's rows, else from the weights it kept in the state between its passes
// (keep_between_passes: keeps_weights, pow_keeps_weights). Where the plane's rows would take
// more than KEEP_PLANE_FROM (the L2 cache of a core here) the kept weights are faster than the
// cache, and take no scratch: (4, 8, 224, 224) global, two threads, saving forward P-pooling at
// alpha 2.5 2.57 -> 1.69 ms, GeM 2.83 -> 2.40; (8, 64, 112, 112) 8.20 -> 7.15 and 8.39 -> 8.12
// (`python -m tests.kernel_ab BASE.so 9 --saved --rows global`, 2026-12-06); below it the
// cache was faster ((8, 64, 80, 80), 1.2 MB of rows: GeM 3.65 -> 4.01 ms, measured with a
// switch in one build: docs/performance-history.md). Only where every group's 8 lanes are
// planes (or a plane's slices) on contiguous memory in a float dtype of a vector build, which
// keep their weights (else the rows would be weighed again).
constexpr int64_t KEEP_PLANE_FROM = 2 << 20;
template <class T>
inline bool keeps_plane_weights(const Plan& Q, int64_t plane_bytes) {
#if defined(PPV_FAST_VECTOR)
  return !std::is_same<T, double>::value && Q.layout == 0 &&
         (Q.xlane || (Q.N * Q.C) % L == 0) && plane_bytes > KEEP_PLANE_FROM;
#else
  (void)Q, (void)plane_bytes;
  return false;
#endif
}

// Direct-mapped cache of row segments: key k lives in slot k % ns. With fewer slots than a
// window's rows (the budget is smaller than a large window) rows evict each other and are
// recomputed, which is still correct; a global window reads each row once anyway.
struct RowCache {
  int64_t ns = 0, wl = 0;
  int nq = 0;
  std::vector<double> mem;
  std::vector<int64_t> tag;
  void init(int64_t slots, int64_t cols, int quantities) {
    if (slots != ns || cols * L != wl || quantities != nq) {
      ns = slots; wl = cols * L; nq = quantities;
      mem.assign((size_t)(ns * wl * nq), 0.0);
      tag.assign((size_t)ns, -1);
    }
  }
  void invalidate() { std::fill(tag.begin(), tag.end(), -1); }
  RowData slot(int64_t s) {
    double* b = mem.data() + s * wl * nq;
    return RowData{b, b + wl, nq > 2 ? b + 2 * wl : nullptr};
  }
};

#if defined(PPV_FAST_VECTOR)
// compute_row's first pass on column c of r, its x given: a lg (lg = ln x - Lc) stored in
// r.e, where the second pass forms E from it, and with r.lg, lg (0 off the positives) stored
// there too (for the sums U, V and the backward; the two agree on the positives, the only
// lanes whose exponential is kept).
// (With fl.int_a the second pass forms E from x: log_col8 is called only where r.lg is wanted,
// and a lg is not stored: int_a.)
// lg = ln x - lc of 8 elements (pos: the lanes whose x is positive and finite; the others'
// lg is ln 1 - lc), as every path forms it (log_col8, cl_direct_forward's direct_log8)
PPV_VEC_INLINE __m512d log_lc8(__m512d x, __m512d lc, __mmask8& pos) {
  pos = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_GT_OQ) &
        _mm512_cmp_pd_mask(x, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
  return _mm512_sub_pd(fast_log_narrow8(_mm512_mask_blend_pd(pos, _mm512_set1_pd(1.0), x)), lc);
}

PPV_VEC_INLINE void log_col8(__m512d a, __m512d lc, __m512d x, RowData r, int64_t c,
                             bool int_a = false) {
  __mmask8 pos;
  const __m512d lg = log_lc8(x, lc, pos);
  if (r.lg) _mm512_storeu_pd(r.lg + c * L, _mm512_maskz_mov_pd(pos, lg));
  if (!int_a) _mm512_storeu_pd(r.e + c * L, _mm512_mul_pd(a, lg));
}

// Whether compute_row's first pass (log_col8) runs on a row: always, unless E = x^a is formed
// by multiplication (fl.int_a) and no lg is wanted (a plain forward)
inline bool wants_logs(const FastLanes& fl, RowData r) { return !fl.int_a || r.lg != nullptr; }

// The second pass's weight of column c of r (x loaded into x): E = exp(a lg) at a positive x
// (a lg from log_col8's store), or with fl.int_a x^a by multiplication (int_weight's operations,
// lane by lane), at a zero 1 for a = 0 and else 0, anything else NaN.
struct ExpCol {
  __m512d zero, one, inf, nan;
  __mmask8 a0, a1, a2, a3, a4;
  bool int_a;
  explicit ExpCol(const FastLanes& fl)
      : zero(_mm512_setzero_pd()), one(_mm512_set1_pd(1.0)), inf(_mm512_set1_pd(INFINITY)),
        nan(_mm512_set1_pd(NAN)),
        a0(_mm512_cmp_pd_mask(_mm512_loadu_pd(fl.a), zero, _CMP_EQ_OQ)),
        a1(_mm512_cmp_pd_mask(_mm512_loadu_pd(fl.a), one, _CMP_EQ_OQ)),
        a2(_mm512_cmp_pd_mask(_mm512_loadu_pd(fl.a), _mm512_set1_pd(2.0), _CMP_EQ_OQ)),
        a3(_mm512_cmp_pd_mask(_mm512_loadu_pd(fl.a), _mm512_set1_pd(3.0), _CMP_EQ_OQ)),
        a4(_mm512_cmp_pd_mask(_mm512_loadu_pd(fl.a), _mm512_set1_pd(4.0), _CMP_EQ_OQ)),
        int_a(fl.int_a) {}
  // x: the column's, loaded here (for the window sums of exp_sum_pass)
  PPV_ALWAYS_INLINE __m512d operator()(RowData r, int64_t c, __m512d& x) const {
    x = _mm512_loadu_pd(r.x + c * L);
    const __mmask8 pos = _mm512_cmp_pd_mask(x, zero, _CMP_GT_OQ) &
                         _mm512_cmp_pd_mask(x, inf, _CMP_LT_OQ);
    const __mmask8 z0 = _mm512_cmp_pd_mask(x, zero, _CMP_EQ_OQ);
    const __m512d special = _mm512_mask_blend_pd(z0, nan, _mm512_mask_blend_pd(a0, zero, one));
    __m512d e;
    if (int_a) {
      const __m512d x2 = _mm512_mul_pd(x, x);
      e = _mm512_mask_blend_pd(a1, one, x);
      e = _mm512_mask_blend_pd(a2, e, x2);
      e = _mm512_mask_mul_pd(e, a3, x2, x);
      e = _mm512_mask_mul_pd(e, a4, x2, x2);
    } else {
      e = fast_exp_narrow8(_mm512_loadu_pd(r.e + c * L));
    }
    return _mm512_mask_blend_pd(pos, special, e);
  }
};

// compute_row's second pass over columns [0, n) of r: er = E (ExpCol)
inline void exp_pass(const FastLanes& fl, int64_t n, RowData r) {
  const ExpCol ec(fl);
  for (int64_t c = 0; c < n; ++c) {
    __m512d x;
    _mm512_storeu_pd(r.e + c * L, ec(r, c, x));
  }
}
#endif

// The reference c of a window's dy/da sums, U = sum E x (lg - c) and V = sum E (lg - c), with
// dy/da = (U - y V) / S for any constant c (sum E (x - y) = 0). Their terms are of the size of
// E x |lg - c|: with c = 0 (lg = ln x) a window of nearly equal values far from 1 lost dy/da to
// their cancellation (1024 values near 1e30 within 1e-6: the sign wrong;
// tests/ops/test_dalpha_reference.py). c is kept at `slot` (8 lanes: the accumulators' C),
// which the output row's reset sets to +inf where a >= -1, to -inf where a < -1, to 0 where
// the lane has a plane reference Lc (its lg = ln x - Lc is already relative to the plane's
// dominant element) and, for lane slices (whose lanes' sums are added), to one value for the
// plane. At the window's first row, whichever path sums it, an infinite c becomes, from that
// row's n elements of the window (their lg at lg, stride st):
// * where those lg lie closer to each other than to 0 (all on one side of 1), and within 1 of
//   each other, their midpoint: the terms lg - c of nearly equal values take both signs, and
//   the sums' rounding grows less (the largest instead: a 112 x 112 window within 1e-6, 18 ULP;
//   the midpoint 0.35);
// * where they lie closer to each other than to 0 but further apart, the largest (+inf) or the
//   smallest (-inf): the weights E x = x^(a+1) are largest at the largest x where a > -1 and
//   at the smallest where a < -1, so the terms that count are then small;
// * else 0 (ln x), as before: a row spread across 1, or holding a zero (whose lg is 0).
// (c from the window's first element, always, made the adversarial suite's windows of many
// decades lose more: 84 of its 588 float32 windowed cases above 8 ULP raw, 31 with c = 0; with
// these rules 30.)
// Every path sums S, T, U and V row by row: each input row's terms of a window into sums of
// that row alone, added to the window's at the row's end (sum_row, sum_rows, exp_sum_pass_t,
// the one-lane forms alike, so the same bits whichever path sums a window). One running sum
// over a large window let its rounding grow with the window's elements, and dy/da =
// (U - y V) / S carries y's error times V / S, which a reference c far from the window's mean
// lg (c = 0 in a lane with a plane reference Lc) makes up to the spread: a 512 x 512 plane
// near 1e30 within 1e-6 read 11.5 ULP in dy/da (U, V by rows: 4.5; S, T too: see the
// history); by rows the rounding grows with a row's length and the rows' number instead.
inline void window_reference(double* slot, const double* lg, int64_t n, int64_t st, double* c) {
  for (int l = 0; l < L; ++l) {
    if (std::isinf(slot[l])) {
      double mx = -INFINITY, mn = INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        const double v = lg[j * st + l];
        mx = v > mx ? v : mx;
        mn = v < mn ? v : mn;
      }
      const bool clustered = mx - mn < std::min(std::fabs(mx), std::fabs(mn));
      const double end = slot[l] > 0 ? mx : mn;
      slot[l] = !clustered ? 0.0 : (mx - mn < 1.0 ? (mx + mn) * 0.5 : end);
    }
    c[l] = slot[l];
  }
}

#if defined(PPV_FAST_VECTOR)
// the same, c as 8 lanes for the vector sums: the rule above as 8-lane operations, each the
// scalar form's comparison in its order (max_pd(v, m) is v > m ? v : m, min_pd(a, b) a < b ?
// a : b), so the same c bit for bit (tests.kernel_bits). A second form of the rule on purpose:
// the vector sums calling the lane-by-lane form (scalar compares and branches per lane and
// element; 2ec4c96 kept that form alone) spent 60% of sum_rows' time in it, k3 s2 p1's saving
// forward with dy/da 25.8 ms against 16.2 with this one ((8,64,112,112), one thread,
// tests.kernel_ab).
// window_reference's rule from the extremes mx, mn of the first row's lg (s: the open slot,
// +inf where a >= -1, -inf where a < -1)
PPV_VEC_INLINE __m512d reference_of_extremes(__m512d s, __m512d mx, __m512d mn) {
  const __m512d spread = _mm512_sub_pd(mx, mn);
  const __m512d near = _mm512_min_pd(_mm512_abs_pd(mn), _mm512_abs_pd(mx));
  const __mmask8 clustered = _mm512_cmp_pd_mask(spread, near, _CMP_LT_OQ);
  const __mmask8 narrow = _mm512_cmp_pd_mask(spread, _mm512_set1_pd(1.0), _CMP_LT_OQ);
  const __mmask8 upper = _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_GT_OQ);
  const __m512d end = _mm512_mask_blend_pd(upper, mn, mx);
  const __m512d mid = _mm512_mul_pd(_mm512_add_pd(mx, mn), _mm512_set1_pd(0.5));
  return _mm512_maskz_mov_pd(clustered, _mm512_mask_blend_pd(narrow, end, mid));
}

PPV_VEC_INLINE __m512d window_reference(double* slot, const double* lg, int64_t n, int64_t st) {
  const __m512d s = _mm512_loadu_pd(slot);
  const __m512d inf = _mm512_set1_pd(INFINITY);
  const __mmask8 open = _mm512_cmp_pd_mask(_mm512_abs_pd(s), inf, _CMP_EQ_OQ);
  if (open == 0) return s;
  __m512d mx = _mm512_set1_pd(-INFINITY), mn = inf;
  for (int64_t j = 0; j < n; ++j) {
    const __m512d v = _mm512_loadu_pd(lg + j * st);
    mx = _mm512_max_pd(v, mx);
    mn = _mm512_min_pd(v, mn);
  }
  const __m512d c = _mm512_mask_blend_pd(open, s, reference_of_extremes(s, mx, mn));
  _mm512_storeu_pd(slot, c);
  return c;
}
#endif

// The accumulators' reset of C (window_reference): ref0's 8 lanes for each of q / L windows
inline void reset_window_references(double* C, int64_t q, const double* ref0) {
  for (int64_t i = 0; i < q; i += L) std::memcpy(C + i, ref0, L * sizeof(double));
}

// The window sums of a row taken in its weighing pass (load_weights_row with sums): for the
// windows of outputs [ow0, ow1) of an output row that alone reads the row, windows of step 1
// that share no column, in increasing order, each inside the row's columns (from lo): sum_row's
// accumulators (acc, stride q: S, T, M, and U, V with lg, Z with with_zero) updated as sum_row
// updates them, element by element the same operations in the same order (the same bits),
// with no second read of the row's x, E and lg.
struct RowSums {
  const Axis* AW;
  int64_t ow0, ow1, lo;
  double* acc;
  int64_t q;
  bool with_zero;
};

#if defined(PPV_FAST_VECTOR)
// exp_pass over columns [0, n) of r, each window's sums taken as its columns' E are formed
// (LG: r.lg, and U, V summed; ZERO: Z). (U and V in a second pass over the row's windows, the
// row read back from the L1 cache, ran 2% slower on (8,64,112,112) global, one thread.)
template <bool LG, bool ZERO>
inline void exp_sum_pass_t(const FastLanes& fl, int64_t n, RowData r, const RowSums& rs) {
  const ExpCol ec(fl);
  const Axis& AW = *rs.AW;
  const int64_t q = rs.q;
  double* S = rs.acc;
  const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
  int64_t c = 0;
  for (int64_t ow = rs.ow0; ow < rs.ow1; ++ow) {
    const int64_t cn = AW.count[ow];
    if (cn <= 0) continue;
    const int64_t b = AW.start[ow] - rs.lo, k = (ow - rs.ow0) * L;
    for (; c < b; ++c) {  // columns in no window
      __m512d x;
      _mm512_storeu_pd(r.e + c * L, ec(r, c, x));
    }
    // (s, t, u, v: this row's sums, added to the window's at its end: window_reference)
    __m512d s = zero, t = zero, m = _mm512_loadu_pd(S + 2 * q + k), u = zero, v = zero,
            z = zero;
    __m512d cr = zero;  // (LG) the window's reference (window_reference)
    if (LG) cr = window_reference(S + 6 * q + k, r.lg + b * L, cn, L);
    if (ZERO) z = _mm512_loadu_pd(S + 5 * q + k);
    for (; c < b + cn; ++c) {
      __m512d xx;
      const __m512d ev = ec(r, c, xx);
      _mm512_storeu_pd(r.e + c * L, ev);
      s = _mm512_add_pd(s, ev);
      t = _mm512_fmadd_pd(ev, xx, t);
      m = _mm512_max_pd(ev, m);  // ev > m ? ev : m (m where ev is NaN)
      if (LG) {
        const __m512d el =
            _mm512_mul_pd(ev, _mm512_sub_pd(_mm512_loadu_pd(r.lg + c * L), cr));
        v = _mm512_add_pd(v, el);
        u = _mm512_fmadd_pd(el, xx, u);
      }
      if (ZERO)
        z = _mm512_mask_add_pd(z, _mm512_cmp_pd_mask(xx, zero, _CMP_EQ_OQ), z, one);
    }
    _mm512_storeu_pd(S + k, _mm512_add_pd(_mm512_loadu_pd(S + k), s));
    _mm512_storeu_pd(S + q + k, _mm512_add_pd(_mm512_loadu_pd(S + q + k), t));
    _mm512_storeu_pd(S + 2 * q + k, m);
    if (LG) {
      _mm512_storeu_pd(S + 3 * q + k, _mm512_add_pd(_mm512_loadu_pd(S + 3 * q + k), u));
      _mm512_storeu_pd(S + 4 * q + k, _mm512_add_pd(_mm512_loadu_pd(S + 4 * q + k), v));
    }
    if (ZERO) _mm512_storeu_pd(S + 5 * q + k, z);
  }
  for (; c < n; ++c) {  // columns after the last window
    __m512d x;
    _mm512_storeu_pd(r.e + c * L, ec(r, c, x));
  }
}

inline void exp_sum_pass(const FastLanes& fl, int64_t n, RowData r, const RowSums& rs) {
  if (r.lg) {
    if (rs.with_zero) exp_sum_pass_t<true, true>(fl, n, r, rs);
    else exp_sum_pass_t<true, false>(fl, n, r, rs);
  } else {
    if (rs.with_zero) exp_sum_pass_t<false, true>(fl, n, r, rs);
    else exp_sum_pass_t<false, false>(fl, n, r, rs);
  }
}
#endif

// Weights (and logs) of a loaded row segment of n columns (r.x filled). On AVX-512 builds in two
// passes over the row (logs, then exponentials, the row staying in cache): one pass chains a
// log and an exp per vector, about 100 cycles of latency, which the out-of-order window cannot
// overlap; two passes of independent vectors ran 23-25% faster (tests/fast_math_bench.py).
// (Blocks of 8 columns, 8 logs then 8 exps in registers, ran 4% faster there but 13-34% slower
// in the kernel, spilling registers.)
PPV_STAGE void compute_row(const FastLanes& fl, int64_t n, RowData r) {
#if defined(PPV_FAST_VECTOR)
  const __m512d a = _mm512_loadu_pd(fl.a), lc = _mm512_loadu_pd(fl.lc);
  if (wants_logs(fl, r))
    for (int64_t c = 0; c < n; ++c)
      log_col8(a, lc, _mm512_loadu_pd(r.x + c * L), r, c, fl.int_a);
  exp_pass(fl, n, r);
#else
  double a[L], lc[L], a0[L];
  for (int l = 0; l < L; ++l) { a[l] = fl.a[l]; lc[l] = fl.lc[l]; a0[l] = fl.a[l] == 0.0; }
  const bool int_a = fl.int_a;
  for (int64_t c = 0; c < n; ++c) {
    const double* xr = r.x + c * L;
    double* er = r.e + c * L;
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double x = xr[l];
      bool pos = x > 0.0 && x < INFINITY;
      bool zero = x == 0.0;
      double lg = (int_a && !r.lg) ? 0.0 : fast_log_narrow(pos ? x : 1.0) - lc[l];
      double e = int_a ? int_weight(a[l], x) : fast_exp_narrow(a[l] * lg);
      er[l] = pos ? e : (zero ? a0[l] : NAN);
      if (r.lg) r.lg[c * L + l] = pos ? lg : 0.0;
    }
  }
#endif
}

// Row segments whose weights load_weights_row computed fused (all columns; with a last partial
// block by the split path) and by load_row then compute_row, and of these the ones weighed by
// multiplication (FastLanes::int_a), since the last ppv_weight_paths call (tests assert which
// path their cases take)
PPV_SHARED(std::atomic<int64_t>, weight_rows_fused, , {0})
PPV_SHARED(std::atomic<int64_t>, weight_rows_tail, , {0})
PPV_SHARED(std::atomic<int64_t>, weight_rows_split, , {0})
PPV_SHARED(std::atomic<int64_t>, weight_rows_int, , {0})

inline void count_weight_paths(const int64_t* nw) {
  if (nw[0]) weight_rows_split += nw[0];
  if (nw[1]) weight_rows_fused += nw[1];
  if (nw[2]) weight_rows_tail += nw[2];
  if (nw[3]) weight_rows_int += nw[3];
}

// load_row then compute_row (load_weights_row's split path, out of line: inlined there, a
// partial group's per-lane loads ran 1.5x slower than in fast_group, (1,2,1000,1000) global)
template <class T>
PPV_STAGE void load_compute_row(const T* x, const Plan& P, const Lanes& ln, int64_t id,
                                int64_t ih, int64_t cb, int64_t ce, const FastLanes& fl,
                                RowData r) {
  load_row<T>(x, P, ln, id, ih, cb, ce, r.x);
  compute_row(fl, ce - cb, r);
}

#if defined(PPV_FAST_VECTOR)
// load_row then compute_row's first pass (the logarithms) alone (load_weights_row with sums:
// its split path and its last partial block; out of line as load_compute_row)
template <class T>
PPV_STAGE void load_log_row(const T* x, const Plan& P, const Lanes& ln, int64_t id, int64_t ih,
                            int64_t cb, int64_t ce, const FastLanes& fl, RowData r) {
  load_row<T>(x, P, ln, id, ih, cb, ce, r.x);
  if (!wants_logs(fl, r)) return;
  const __m512d a = _mm512_loadu_pd(fl.a), lc = _mm512_loadu_pd(fl.lc);
  for (int64_t c = 0; c < ce - cb; ++c)
    log_col8(a, lc, _mm512_loadu_pd(r.x + c * L), r, c, fl.int_a);
}
#endif

// load_row then compute_row of columns [cb, ce) of input row (id, ih) into r (x, E and, with
// r.lg, lg): on AVX-512 builds, for a group of 8 active lanes, the loads fused into
// compute_row's first pass (each loaded column's logarithm taken from the register: no store
// and reload of x before it; the loads' latency overlapped with the logarithms), then its
// second pass.
// A channels-last column is one converting load (the next row's same pixel prefetched: a
// strided stream of one load per cache line stalled on every line); a contiguous group's 8
// planes are read 8 columns at a time and transposed in registers, as load_row does (its last
// n % 8 columns by load_row and compute_row). The same values, bit for bit, either way.
// With sums (AVX-512 builds; RowSums' conditions), the second pass also takes the window
// sums of the row (exp_sum_pass; the partial block's logarithms first, by load_log_row):
// *summed is then set (else left false: the caller sums the row).
// Returns the path: 0 split, 1 fused, 2 fused but for a last partial block.
template <class T>
PPV_STAGE int load_weights_row(const T* x, const Plan& P, const Lanes& ln, int64_t id,
                               int64_t ih, int64_t cb, int64_t ce, const FastLanes& fl,
                               RowData r, const RowSums* sums = nullptr,
                               bool* summed = nullptr) {
  int64_t c0 = 0;
  const int64_t n = ce - cb;
#if defined(PPV_FAST_VECTOR)
  if (ln.n_active == L && n >= L && !P.packed()) {
    const int64_t row = (id * P.ax[1].in + ih) * P.ax[2].in + cb;
    const __m512d a = _mm512_loadu_pd(fl.a), lc = _mm512_loadu_pd(fl.lc);
    const bool logs = wants_logs(fl, r);
    if (P.layout == 1) {
      const T* base = x + ln.in_base[0] + row * ln.es_in;
      const T* next = ih + 1 < P.ax[1].in ? base + P.ax[2].in * ln.es_in : nullptr;
      for (; c0 < n; ++c0) {
        if (next) _mm_prefetch((const char*)(next + c0 * ln.es_in), _MM_HINT_T0);
        const __m512d v = load8_pd<T>(base + c0 * ln.es_in);
        _mm512_storeu_pd(r.x + c0 * L, v);
        if (logs) log_col8(a, lc, v, r, c0, fl.int_a);
      }
    } else {
      const T* p[L];
      for (int l = 0; l < L; ++l) p[l] = x + ln.in_base[l] + row;
      for (; c0 + L <= n; c0 += L) {
        __m512d v[L];
        if constexpr (std::is_same<T, double>::value) {
          for (int l = 0; l < L; ++l) v[l] = load8_pd<T>(p[l] + c0);
          transpose8_pd(v);
        } else {  // transposed as floats (exact), then widened
          __m256 f[L];
          for (int l = 0; l < L; ++l) f[l] = load8_ps<T>(p[l] + c0);
          transpose8_ps(f);
          for (int i = 0; i < L; ++i) v[i] = _mm512_cvtps_pd(f[i]);
        }
        for (int i = 0; i < L; ++i) {
          _mm512_storeu_pd(r.x + (c0 + i) * L, v[i]);
          if (logs) log_col8(a, lc, v[i], r, c0 + i, fl.int_a);
        }
      }
    }
    if (!sums) exp_pass(fl, c0, r);
  }
  if (sums) {
    if (c0 < n) load_log_row<T>(x, P, ln, id, ih, cb + c0, ce, fl, r.from_col(c0));
    exp_sum_pass(fl, n, r, *sums);
    *summed = true;
    return c0 == 0 ? 0 : (c0 < n ? 2 : 1);
  }
#endif
  if (c0 < n) load_compute_row<T>(x, P, ln, id, ih, cb + c0, ce, fl, r.from_col(c0));
  return c0 == 0 ? 0 : (c0 < n ? 2 : 1);
}

// The W axis in column tiles: outputs [ow0, ow1) whose windows read input columns [lo, hi),
// summed in chunks of TILE_COLS columns from lo. After the tile, the backward finishes input
// columns [done_from, done_to) (no later window reads them) from the coefficients of outputs
// [keep, ow1) (every window that reads them).
struct ColTile {
  int64_t ow0, ow1, lo, hi, keep, done_from, done_to;
  int64_t chunks() const { return std::max<int64_t>(1, (hi - lo + TILE_COLS - 1) / TILE_COLS); }
  int64_t chunk_begin(int64_t k) const { return lo + k * TILE_COLS; }
  int64_t chunk_end(int64_t k) const { return std::min(hi, lo + (k + 1) * TILE_COLS); }
};

struct ColTiles {
  std::vector<ColTile> tiles;
  int64_t max_chunks = 1, max_outs = 1, max_kept = 1;
};

inline int64_t window_end(const Axis& A, int64_t o) {
  return A.count[o] > 0 ? A.start[o] + (A.count[o] - 1) * A.step + 1 : A.start[o];
}

// Whether output o's window is exactly the indices [lo, hi), every one of them (step 1 unless
// it holds one): a global window (lo 0, hi the axis's length), or one spanning a tile.
inline bool window_spans(const Axis& A, int64_t o, int64_t lo, int64_t hi) {
  return A.start[o] == lo && A.count[o] == hi - lo && (A.count[o] == 1 || A.step == 1);
}

// The columns [lo, hi) that the non-empty windows of outputs [o0, o1) span (lo >= hi: none).
inline void windows_span(const Axis& A, int64_t o0, int64_t o1, int64_t& lo, int64_t& hi) {
  lo = INT64_MAX;
  hi = 0;
  for (int64_t o = o0; o < o1; ++o)
    if (A.count[o] > 0) {
      lo = std::min(lo, A.start[o]);
      hi = std::max(hi, window_end(A, o));
    }
}

// Tiles of an axis: greedily as many outputs as read at most TILE_COLS columns (and at most
// TILE_COLS outputs). Every layout ppverify makes has window starts and ends that never
// decrease (windowed with padding, dilation or ceil_mode, adaptive, global), which is what the
// backward's finishing order needs; any other table gets one tile holding every output.
inline ColTiles make_col_tiles(const Axis& A) {
  ColTiles ct;
  bool monotone = true;
  for (int64_t o = 1; o < A.out; ++o)
    monotone = monotone && A.start[o] >= A.start[o - 1] && window_end(A, o) >= window_end(A, o - 1);
  if (!monotone) {
    int64_t lo, hi;
    windows_span(A, 0, A.out, lo, hi);
    if (lo >= hi) lo = hi = 0;
    ct.tiles.push_back({0, A.out, lo, hi, 0, 0, A.in});
  } else {
    int64_t ow0 = 0, keep = 0, done = 0;
    while (ow0 < A.out) {
      const int64_t lo = A.start[ow0];
      int64_t hi = window_end(A, ow0), ow1 = ow0 + 1;
      while (ow1 < A.out && ow1 - ow0 < TILE_COLS &&
             std::max(hi, window_end(A, ow1)) - lo <= TILE_COLS) {
        hi = std::max(hi, window_end(A, ow1));
        ++ow1;
      }
      while (keep < ow0 && window_end(A, keep) <= done) ++keep;
      const int64_t done_to = ow1 < A.out ? A.start[ow1] : A.in;
      ct.tiles.push_back({ow0, ow1, lo, hi, keep, done, done_to});
      done = done_to;
      ow0 = ow1;
    }
  }
  for (const ColTile& t : ct.tiles) {
    ct.max_chunks = std::max(ct.max_chunks, t.chunks());
    ct.max_outs = std::max(ct.max_outs, t.ow1 - t.ow0);
    ct.max_kept = std::max(ct.max_kept, t.ow1 - t.keep);
  }
  return ct;
}

// Per-thread scratch of the fast engine (sizes in run; cols = min(W, TILE_COLS)).
struct FastScratch {
  RowCache cache;
  std::vector<double> acc;    // 7 * max_outs * L window sums of one output row of a tile
                              // (S, T, M, U, V, Z and C: window_reference)
  std::vector<double> orow;   // 2 * max_outs * L: its y and output gradient
  std::vector<double> c1, c2; // OD * OH * max_kept * L per-window coefficients (backward)
  std::vector<int64_t> ro_off;  // (backward) the c1, c2 offsets of one input row's output rows
  std::vector<double> pq;     // 2 * cols * L (backward pass 2)
  std::vector<double> rowbuf; // cols * L
  std::vector<double> extra;  // plane_in * L, lazily: the exact engine's gradients
  bool extra_used = false;
  std::vector<double> srow;   // 2 * max_outs * L (saving forward): dy/da of a row, 1 if exact
  std::vector<double> jk;     // 3 * cols * L (saving forward): jac_cols' k1, k2, kz
  // the saving forward of a global window whose rows the cache does not hold (one row kept:
  // each row weighed again for dy/dx) keeps its weights in the state between its two passes
  // (keep_e_row, jac_from_e; lane slices in parts do in any case)
  bool keep_between_passes = false;
  // channels-last bands: each group's reference Lc from its first band, for its later bands
  // (slot: group % blocks; ref_group -1 when none)
  std::vector<int64_t> ref_group;
  std::vector<double> ref_lc;
  // channels-last bands: each group's own row cache (slot as ref_group; band_group: the group
  // whose rows it holds, -1 none), so that a band finds the rows it shares with the group's
  // previous band already weighed; empty when output rows share no input row or the caches
  // would take more than BAND_CACHE_BYTES
  std::vector<RowCache> band_cache;
  std::vector<int64_t> band_group;
};

// What a saving forward writes (ppv_forward_saved; disjoint windows only): per input element
// its window's dy/dx (float, x's layout; 0 outside every window) and per output dy/da (double,
// the output's layout; null when not wanted). The backward is then gx = gy[window] * jac and
// dparam = sum gy * dw, a pass over memory (run_saved_backward).
// For float64 inputs (the exact engine) jac is double (jac64): each element's dy/dx exactly as
// the recomputing backward forms it, so gy * jac is that backward's gradient, bit for bit.
struct Saved {
  float* jac = nullptr;
  double* dw = nullptr;
  double* jac64 = nullptr;
  // jac_store_row's stores of jac streamed (no read of the lines first, nor kept in cache):
  // set for a float jac larger than jac_stream_bytes (see there)
  bool stream_jac = false;
  // windows that share elements (ppv_forward_overlap_saved; the fast engine only): per input
  // element its weight E (lane-interleaved by group: e_index; E_REDO where the format holds
  // no normal E): a float for float32 inputs (e), a bfloat16 for bfloat16 and float16 inputs
  // (e16: their gradients' bounds allow its 2^-9), per output dy/da (float, state_index;
  // null when not wanted) and per plane the weights' reference Lc. See
  // run_overlap_saved_backward.
  float *e = nullptr, *dwf = nullptr;
  uint16_t* e16 = nullptr;
  double* lc = nullptr;
  bool overlap() const { return e != nullptr || e16 != nullptr; }
  // the power mean / Lp norm where windows share elements (ppv_forward_power_overlap_saved,
  // float32): jac holds each element's E / x (float, x's layout), cw each window's y / S
  // (double, the output's layout), dw each window's dy/dp; see power_kernel.inc, "the
  // overlap state"
  double* cw = nullptr;
  // float64 where windows share elements (ppv_forward_overlap_saved64, the exact engine): e64
  // each element's x^a (the element cache's E, lane-interleaved by group: e_index), win64 per
  // window and lane (state_index) S, y (2 arrays of win_n doubles) and y's low part relative
  // to y (win_n floats after them), dw (when
  // wanted) each window's dy/da, state_index too. See run_overlap64_backward.
  double *e64 = nullptr, *win64 = nullptr;
  int64_t win_n = 0;
  // the state of one group alone, from the start of each buffer (state_index and e_index of
  // group 0), and no output written: the recomputing backward's (fused_group64)
  bool local = false;
  // the integer-alpha window state (ppv_forward_saved_int; see run_int_saved_backward): per
  // window S at sy and y at sy + sy_n (double, the output's layout), in place of jac (whether
  // run() cuts the planes into segments or lane slices: these sums are the whole window's)
  bool int_state = false;
  double* sy = nullptr;
  int64_t sy_n = 0;
};



inline int64_t row_span(const Plan& P) {
  const Axis &A = P.ax[0], &B = P.ax[1];
  int64_t span = 1;
  for (int64_t od = 0; od < A.out; ++od)
    for (int64_t oh = 0; oh < B.out; ++oh) {
      int64_t first = A.start[od] * B.in + B.start[oh];
      int64_t last = (A.start[od] + (A.count[od] - 1) * A.step) * B.in +
                     B.start[oh] + (B.count[oh] - 1) * B.step;
      span = std::max(span, last - first + 1);
    }
  return span;
}

// The most input rows (id, ih) one output row's windows read.
inline int64_t max_window_rows(const Plan& P) {
  int64_t most[2] = {0, 0};
  for (int a = 0; a < 2; ++a)
    for (int64_t o = 0; o < P.ax[a].out; ++o) most[a] = std::max(most[a], P.ax[a].count[o]);
  return most[0] * most[1];
}

// Whether some input row (id, ih) is read by more than one output row (od, oh).
inline bool rows_shared(const Plan& P) {
  int64_t most[2] = {0, 0};
  for (int a = 0; a < 2; ++a) {
    const Axis& A = P.ax[a];
    std::vector<int64_t> readers((size_t)A.in, 0);
    for (int64_t o = 0; o < A.out; ++o)
      for (int64_t j = 0; j < A.count[o]; ++j) most[a] = std::max(most[a], ++readers[A.start[o] + j * A.step]);
  }
  return most[0] * most[1] > 1;
}

// Load / store positions [ow0, ow0 + n) of output row (od, oh), lane-interleaved.
template <class T>
PPV_STAGE void load_out_row(const T* g, const Plan& P, const Lanes& ln, int64_t od, int64_t oh,
                            int64_t ow0, int64_t n, double* out) {
  const int64_t row = (od * P.ax[1].out + oh) * P.ax[2].out + ow0;
  if (P.layout == 1 && ln.n_active == L && !P.packed()) {  // 8 channels: one converting load
    const T* base = g + ln.out_base[0] + row * ln.es_out;
    for (int64_t c = 0; c < n; ++c) {
#if defined(PPV_FAST_VECTOR)
      _mm512_storeu_pd(out + c * L, load8_pd<T>(base + c * ln.es_out));
#else
#pragma omp simd
      for (int l = 0; l < L; ++l) out[c * L + l] = to_double<T>(base[c * ln.es_out + l]);
#endif
    }
    return;
  }
  for (int64_t c = 0; c < n; ++c)
    for (int l = 0; l < L; ++l)
      out[c * L + l] = ln.active[l] ? to_double<T>(g[ln.out_base[l] + (row + c) * ln.es_out])
                                    : 0.0;
}

template <class T>
PPV_STAGE void store_out_row(T* y, const Plan& P, const Lanes& ln, int64_t od, int64_t oh,
                             int64_t ow0, int64_t n, const double* in) {
  const int64_t row = (od * P.ax[1].out + oh) * P.ax[2].out + ow0;
  if (P.layout == 1 && ln.n_active == L && !P.packed()) {
    T* base = y + ln.out_base[0] + row * ln.es_out;
    for (int64_t c = 0; c < n; ++c)
#pragma omp simd
      for (int l = 0; l < L; ++l) base[c * ln.es_out + l] = from_double<T>(in[c * L + l]);
    return;
  }
  int64_t c0 = 0;
  if (P.layout == 0 && ln.n_active == L) {
    // transposed tiles, as store_row (a 1-D row of outputs is long: per lane, a strided
    // read of every eighth double cost 3x a 2-D row's store)
    T* v[L];
    for (int l = 0; l < L; ++l) v[l] = y + ln.out_base[l] + row;
    c0 = store_tiles(v, n, in);
  }
  for (int l = 0; l < L; ++l) {
    if (!ln.active[l]) continue;
    T* v = y + ln.out_base[l] + row * ln.es_out;
    for (int64_t c = c0; c < n; ++c) v[c * ln.es_out] = from_double<T>(in[c * L + l]);
  }
}

// store_row and store_out_row limited to what a segment plan owns (Plan::split): columns
// [cb, ce) of a row, of which the owned part [a, b) is written.
template <class T>
inline void store_row_owned(T* g, const Plan& P, const Lanes& ln, int64_t id, int64_t ih,
                            int64_t cb, int64_t ce, const double* in) {
  if (!P.owns_in_row(id, ih)) return;
  const int64_t a = P.split == 2 ? std::max(cb, P.own_in_lo) : cb;
  const int64_t b = P.split == 2 ? std::min(ce, P.own_in_hi) : ce;
  if (a < b) store_row<T>(g, P, ln, id, ih, a, b, in + (a - cb) * L);
}

template <class T>
inline void store_out_row_owned(T* y, const Plan& P, const Lanes& ln, int64_t od, int64_t oh,
                                int64_t ow0, int64_t n, const double* in) {
  if (!P.owns_out_row(od, oh)) return;
  const int64_t a = P.split == 2 ? std::max(ow0, P.own_out_lo) : ow0;
  const int64_t b = P.split == 2 ? std::min(ow0 + n, P.own_out_hi) : ow0 + n;
  if (a < b) store_out_row<T>(y, P, ln, od, oh, a, b - a, in + (a - ow0) * L);
}

// The elements j of a window (first column c0, cn elements, step cs) inside columns [lo, hi):
// j in [jb, je).
inline void window_cols(int64_t c0, int64_t cn, int64_t cs, int64_t lo, int64_t hi,
                        int64_t& jb, int64_t& je) {
  jb = c0 >= lo ? 0 : (lo - c0 + cs - 1) / cs;
  je = hi <= c0 ? 0 : std::min(cn, (hi - c0 + cs - 1) / cs);
}

// Window sums over one input row segment (columns [lo, hi), r from column lo) into the
// accumulators of outputs [ow0, ow1) of an output row: S = sum E, T = sum E x, M = max E, and
// (backward) U = sum E lg x, V = sum E lg; Z = number of zeros. q: the accumulators' stride.
PPV_STAGE void sum_row(const Axis& AW, int64_t ow0, int64_t ow1, int64_t lo, int64_t hi,
                       RowData r, double* acc, int64_t q, bool with_log, bool with_zero) {
  const int64_t cs = AW.step;
  double* S = acc;
  double* Tt = acc + q;
  double* M = acc + 2 * q;
  double* U = acc + 3 * q;
  double* V = acc + 4 * q;
  double* Z = acc + 5 * q;
  double* C = acc + 6 * q;  // (with_log) each window's reference (window_reference)
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    int64_t jb = 0, je = AW.count[ow];
    const int64_t c0 = AW.start[ow];
    if (c0 < lo || c0 + (je - 1) * cs >= hi)  // the window is not all inside the columns
      window_cols(c0, je, cs, lo, hi, jb, je);  // (two integer divisions)
    if (jb >= je) continue;
    const int64_t k = (ow - ow0) * L, b = c0 - lo;
#if defined(PPV_FAST_VECTOR)
    if (with_log) {  // S, T, M, U, V in one pass, in registers (the operations of the loops
                     // below, in the same order: the same bits; two passes read e and x twice)
      // (s, t, u, v: this row's sums, added to the window's at its end: window_reference)
      __m512d s = _mm512_setzero_pd(), t = s, m = _mm512_loadu_pd(M + k), u = s, v = s;
      const int64_t at = (b + jb * cs) * L, st = cs * L;
      const double *e = r.e + at, *xv = r.x + at, *lg = r.lg + at;
      const __m512d cr = window_reference(C + k, lg, je - jb, st);
      for (int64_t j = jb; j < je; ++j, e += st, xv += st, lg += st) {
        const __m512d ev = _mm512_loadu_pd(e), xx = _mm512_loadu_pd(xv);
        s = _mm512_add_pd(s, ev);
        t = _mm512_fmadd_pd(ev, xx, t);
        m = _mm512_max_pd(ev, m);
        const __m512d el = _mm512_mul_pd(ev, _mm512_sub_pd(_mm512_loadu_pd(lg), cr));
        v = _mm512_add_pd(v, el);
        u = _mm512_fmadd_pd(el, xx, u);
      }
      _mm512_storeu_pd(S + k, _mm512_add_pd(_mm512_loadu_pd(S + k), s));
      _mm512_storeu_pd(Tt + k, _mm512_add_pd(_mm512_loadu_pd(Tt + k), t));
      _mm512_storeu_pd(M + k, m);
      _mm512_storeu_pd(U + k, _mm512_add_pd(_mm512_loadu_pd(U + k), u));
      _mm512_storeu_pd(V + k, _mm512_add_pd(_mm512_loadu_pd(V + k), v));
    } else {  // S, T, M in registers (the same operations as the loop below: the same bits)
      __m512d s = _mm512_setzero_pd(), t = s, m = _mm512_loadu_pd(M + k);  // (s, t: the row's)
      const double* e = r.e + (b + jb * cs) * L;
      const double* xv = r.x + (b + jb * cs) * L;
      const int64_t st = cs * L;
      for (int64_t j = jb; j < je; ++j, e += st, xv += st) {
        const __m512d ev = _mm512_loadu_pd(e);
        s = _mm512_add_pd(s, ev);
        t = _mm512_fmadd_pd(ev, _mm512_loadu_pd(xv), t);
        m = _mm512_max_pd(ev, m);  // ev > m ? ev : m (m where ev is NaN)
      }
      _mm512_storeu_pd(S + k, _mm512_add_pd(_mm512_loadu_pd(S + k), s));
      _mm512_storeu_pd(Tt + k, _mm512_add_pd(_mm512_loadu_pd(Tt + k), t));
      _mm512_storeu_pd(M + k, m);
    }
#else
    double s[L], t[L], m[L];  // (s, t: this row's sums, added to the window's at its end)
#pragma omp simd
    for (int l = 0; l < L; ++l) { s[l] = 0.0; t[l] = 0.0; m[l] = M[k + l]; }
    for (int64_t j = jb; j < je; ++j) {
      const double* e = r.e + (b + j * cs) * L;
      const double* xv = r.x + (b + j * cs) * L;
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        s[l] += e[l];
        t[l] += e[l] * xv[l];
        m[l] = e[l] > m[l] ? e[l] : m[l];
      }
    }
#pragma omp simd
    for (int l = 0; l < L; ++l) { S[k + l] += s[l]; Tt[k + l] += t[l]; M[k + l] = m[l]; }
#endif
#if !defined(PPV_FAST_VECTOR)
    if (with_log) {
      double u[L], v[L], cr[L];
      window_reference(C + k, r.lg + (b + jb * cs) * L, je - jb, cs * L, cr);
#pragma omp simd
      for (int l = 0; l < L; ++l) { u[l] = 0.0; v[l] = 0.0; }  // (this row's)
      for (int64_t j = jb; j < je; ++j) {
        const int64_t c = (b + j * cs) * L;
#pragma omp simd
        for (int l = 0; l < L; ++l) {
          double el = r.e[c + l] * (r.lg[c + l] - cr[l]);
          v[l] += el;
          u[l] += el * r.x[c + l];
        }
      }
#pragma omp simd
      for (int l = 0; l < L; ++l) { U[k + l] += u[l]; V[k + l] += v[l]; }
    }
#endif
    if (with_zero) {
      for (int64_t j = jb; j < je; ++j) {
        const int64_t c = (b + j * cs) * L;
#pragma omp simd
        for (int l = 0; l < L; ++l) Z[k + l] += r.x[c + l] == 0.0 ? 1.0 : 0.0;
      }
    }
  }
}

// The forwards' window sums of one output row in one pass (S, T, M, with_log U and V (the
// saving forward's dy/da), with_zero Z):
// sum_row over rows[0], ..., rows[nr - 1] (each of columns [lo, hi), from column lo) in that
// order, element by element the same additions, from zero accumulators (acc need not be
// cleared). Each window's accumulators stay in registers over all its rows, and are stored
// once: the per-row form loads and stores them once per row (a third of k3 s2's time).
constexpr int64_t FUSE_ROWS = 16;  // at most this many rows per window (the row cache holds them)
// Output rows of forwards summed by sum_rows and by sum_row row by row, since the last
// ppv_forward_sum_paths call (tests assert which path their cases take)
PPV_SHARED(std::atomic<int64_t>, rows_summed_together, , {0})
PPV_SHARED(std::atomic<int64_t>, rows_summed_each, , {0})
// and of recomputing backwards (fast_group's, with the logarithms for dy/da), the same way,
// since the last ppv_backward_sum_paths call (until 2026-12-07 the backward summed row by row
// always: the same bits, as sum_row adds each row's sums to the window's as sum_rows does;
// 3-D (1,1,40,40,40) k3 s1 p1 backward 0.79x)
PPV_SHARED(std::atomic<int64_t>, backward_rows_together, , {0})
PPV_SHARED(std::atomic<int64_t>, backward_rows_each, , {0})
// Output rows of forwards and saving forwards whose window sums were taken in their rows'
// weighing pass (RowSums), since the last ppv_forward_sum_paths call
PPV_SHARED(std::atomic<int64_t>, rows_summed_weighing, , {0})
// Windows (one per lane) of the fast engine's calls that were special: all zero, done in
// place (zero_window_lanes), and the others, by the exact engine, since the last
// ppv_special_windows call (tests assert which windows take which path)
PPV_SHARED(std::atomic<int64_t>, special_windows_zero, , {0})
PPV_SHARED(std::atomic<int64_t>, special_windows_exact, , {0})

// Whether a forward (saving or not) takes the window sums of tile t's output rows in their
// rows' weighing pass (RowSums: AVX-512 builds, one chunk, W windows of step 1 sharing no
// column, and input rows read by one output row only, which fast_group's row cache then weighs
// once, so that each row's sums are taken as it is weighed), and whether that is chosen, for
// the plain and the saving forward alike: windows of more rows than sum_rows takes together
// (fuse_rows; sum_row's second read saved), and W windows of 8 columns or more on average,
// where the weighing pass's sums beat sum_rows' (one thread, (8,64,56,56) k14: 1.50 against
// 1.68-1.72 ms; at k2 s2's 2 columns they lost by 2%: kept on sum_rows). (The saving forward
// took it wherever it applied until sum_rows summed U and V too: at k2 s2 its weighing pass
// with U and V cost more than the plain forward's weights and sums together.)
// PPV_SUMS_WEIGHING_ALL (an experiment) chooses it wherever it applies.
inline bool sums_by_weighing(const Plan& P, const Axis& AW, const ColTile& t, int64_t fuse_rows) {
#if defined(PPV_FAST_VECTOR)
  if (AW.step != 1 || t.chunks() != 1) return false;
  int64_t end = t.lo, cols = 0, windows = 0;
  for (int64_t ow = t.ow0; ow < t.ow1; ++ow) {
    const int64_t cn = AW.count[ow];
    if (cn <= 0) continue;
    if (AW.start[ow] < end || AW.start[ow] + cn > t.hi) return false;
    end = AW.start[ow] + cn;
    cols += cn;
    ++windows;
  }
#if defined(PPV_SUMS_WEIGHING_ALL)
  return !rows_shared(P);
#else
  return !rows_shared(P) &&
         (max_window_rows(P) > fuse_rows || cols >= 8 * windows);
#endif
#else
  (void)P; (void)AW; (void)t; (void)fuse_rows;
  return false;
#endif
}
// Input rows whose dy/dx the saving forward of lane slices in parts formed from the weights its
// first step kept (jac_from_e, pow_jac_from_kept; ppv_xpart_kept_rows).
PPV_SHARED(std::atomic<int64_t>, xpart_e_rows, , {0})
// Output rows whose dy/dx a saving forward (disjoint windows) wrote by jac_store_row and by
// jac_row, since the last ppv_saved_jac_paths call (tests assert which path their cases take)
PPV_SHARED(std::atomic<int64_t>, jac_rows_direct, , {0})
PPV_SHARED(std::atomic<int64_t>, jac_rows_lanes, , {0})
// of jac_rows_direct, the rows stored by streaming stores (Saved::stream_jac)
PPV_SHARED(std::atomic<int64_t>, jac_rows_streamed, , {0})
// jac_store_row's blocks of 8 columns with every x positive and finite (no masks) and the
// others, since the last ppv_saved_jac_paths call
PPV_SHARED(std::atomic<int64_t>, jac_blocks_positive, , {0})
PPV_SHARED(std::atomic<int64_t>, jac_blocks_masked, , {0})
// Contiguous plane rows whose input gradient the backward from that state (run_saved_backward)
// formed run by run (one gy per run of a window's columns), from the runs' gy spread over the
// row (short runs) and by a gather of gy per element (W too long for a whole-row table), since
// the last ppv_saved_backward_paths call
PPV_SHARED(std::atomic<int64_t>, saved_bwd_rows_runs, , {0})
PPV_SHARED(std::atomic<int64_t>, saved_bwd_rows_spread, , {0})
PPV_SHARED(std::atomic<int64_t>, saved_bwd_rows_gather, , {0})
PPV_SHARED(std::atomic<int64_t>, saved_bwd_planes, , {0})  // planes of global windows, each one loop

PPV_STAGE void sum_rows(const Axis& AW, int64_t ow0, int64_t ow1, int64_t lo, int64_t hi,
                        const RowData* rows, int64_t nr, double* acc, int64_t q,
                        bool with_log, bool with_zero) {
  const int64_t cs = AW.step;
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    int64_t jb = 0, je = AW.count[ow];
    const int64_t c0 = AW.start[ow];
    if (c0 < lo || c0 + (je - 1) * cs >= hi) window_cols(c0, je, cs, lo, hi, jb, je);
    const int64_t k = (ow - ow0) * L, b = (c0 - lo + jb * cs) * L, st = cs * L;
#if defined(PPV_FAST_VECTOR)
    __m512d s = _mm512_setzero_pd(), t = s, m = s, z = s, u = s, v = s, cr = s;
    const __m512d one = _mm512_set1_pd(1.0);
    if (with_log && nr > 0 && je > jb)
      cr = window_reference(acc + 6 * q + k, rows[0].lg + b, je - jb, st);
    // the elements of each row, cn of them (a constant for the common 2 and 3: the loop
    // unrolled, no loop control per element); LG: U and V too, as sum_row sums them
    auto rows_of = [&](auto cn, auto lg_sums) {
      for (int64_t i = 0; i < nr; ++i) {
        const double* e = rows[i].e + b;
        const double* xv = rows[i].x + b;
        const double* lg = lg_sums ? rows[i].lg + b : nullptr;
        __m512d ps = _mm512_setzero_pd(), pt = ps, pu = ps, pv = ps;  // this row's sums
        for (int64_t j = 0; j < cn; ++j, e += st, xv += st) {
          const __m512d ev = _mm512_loadu_pd(e), xx = _mm512_loadu_pd(xv);
          ps = _mm512_add_pd(ps, ev);
          pt = _mm512_fmadd_pd(ev, xx, pt);
          m = _mm512_max_pd(ev, m);  // ev > m ? ev : m
          if (lg_sums) {
            const __m512d el = _mm512_mul_pd(ev, _mm512_sub_pd(_mm512_loadu_pd(lg + j * st), cr));
            pv = _mm512_add_pd(pv, el);
            pu = _mm512_fmadd_pd(el, xx, pu);
          }
          if (with_zero)
            z = _mm512_mask_add_pd(z, _mm512_cmp_pd_mask(xx, _mm512_setzero_pd(), _CMP_EQ_OQ),
                                   z, one);
        }
        s = _mm512_add_pd(s, ps);
        t = _mm512_add_pd(t, pt);
        if (lg_sums) {
          u = _mm512_add_pd(u, pu);
          v = _mm512_add_pd(v, pv);
        }
      }
    };
    auto rows_lg = [&](auto lg_sums) {
      if (je - jb == 3) rows_of(std::integral_constant<int64_t, 3>{}, lg_sums);
      else if (je - jb == 2) rows_of(std::integral_constant<int64_t, 2>{}, lg_sums);
      else rows_of(std::max<int64_t>(0, je - jb), lg_sums);
    };
    if (with_log) rows_lg(std::true_type{});
    else rows_lg(std::false_type{});
    _mm512_storeu_pd(acc + k, s);
    _mm512_storeu_pd(acc + q + k, t);
    _mm512_storeu_pd(acc + 2 * q + k, m);
    if (with_log) {
      _mm512_storeu_pd(acc + 3 * q + k, u);
      _mm512_storeu_pd(acc + 4 * q + k, v);
    }
    if (with_zero) _mm512_storeu_pd(acc + 5 * q + k, z);
#else
    double s[L] = {}, t[L] = {}, m[L] = {}, z[L] = {}, u[L] = {}, v[L] = {}, cr[L] = {};
    if (with_log && nr > 0 && je > jb)
      window_reference(acc + 6 * q + k, rows[0].lg + b, je - jb, st, cr);
    for (int64_t i = 0; i < nr; ++i) {
      double ps[L] = {}, pt[L] = {}, pu[L] = {}, pv[L] = {};  // this row's sums
      for (int64_t j = jb; j < je; ++j) {
        const double* e = rows[i].e + b + (j - jb) * st;
        const double* xv = rows[i].x + b + (j - jb) * st;
#pragma omp simd
        for (int l = 0; l < L; ++l) {
          ps[l] += e[l];
          pt[l] += e[l] * xv[l];
          m[l] = e[l] > m[l] ? e[l] : m[l];
          z[l] += xv[l] == 0.0 ? 1.0 : 0.0;
        }
        if (with_log) {  // as sum_row's U, V
          const double* lg = rows[i].lg + b + (j - jb) * st;
#pragma omp simd
          for (int l = 0; l < L; ++l) {
            double el = e[l] * (lg[l] - cr[l]);
            pv[l] += el;
            pu[l] += el * xv[l];
          }
        }
      }
#pragma omp simd
      for (int l = 0; l < L; ++l) { s[l] += ps[l]; t[l] += pt[l]; }
      if (with_log)
#pragma omp simd
        for (int l = 0; l < L; ++l) { u[l] += pu[l]; v[l] += pv[l]; }
    }
    for (int l = 0; l < L; ++l) {
      acc[k + l] = s[l];
      acc[q + k + l] = t[l];
      acc[2 * q + k + l] = m[l];
      if (with_log) { acc[3 * q + k + l] = u[l]; acc[4 * q + k + l] = v[l]; }
      if (with_zero) acc[5 * q + k + l] = z[l];
    }
#endif
  }
}

// Scatter the coefficients of outputs [ow0, ow1) (c1, c2 from output ow0) onto the columns
// [lo, hi) of an input row: P += c1, Q += c2 at each element of each window (Pp, Qp from
// column lo); with PAIR false, c1 onto P alone (c2, Qp unused).
template <bool PAIR = true>
PPV_STAGE void scatter_row(const Axis& AW, int64_t ow0, int64_t ow1, const double* c1,
                           const double* c2, int64_t lo, int64_t hi, double* Pp, double* Qp) {
  const int64_t cs = AW.step;
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    int64_t jb = 0, je = AW.count[ow];
    const int64_t c0 = AW.start[ow];
    // the window's columns within [lo, hi): window_cols' two integer divisions only where it
    // is not all inside (they were 11% of this function's time, k3 s2 p1's overlap backward)
    if (c0 < lo || c0 + (je - 1) * cs >= hi) window_cols(c0, je, cs, lo, hi, jb, je);
    const int64_t k = (ow - ow0) * L, b = c0 - lo;
    for (int64_t j = jb; j < je; ++j) {
      const int64_t c = (b + j * cs) * L;
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        Pp[c + l] += c1[k + l];
        if constexpr (PAIR) Qp[c + l] += c2[k + l];
      }
    }
  }
}

// P and Q of the columns [lo, hi) of an input row (Pp, Qp from column lo), from the
// coefficients of the nro output rows that read it (row r's c1, c2 at c1 + offs[r], c2 +
// offs[r], from output ow0), over each column's windows in [ow0, ow1) (AW's inverse): the
// additions scatter_row makes for those rows, in its order (the rows in turn, each row's
// windows in ascending order, from 0), so the same values bit for bit; each column's two sums
// are formed in registers and stored once, where scatter_row loads and stores them once per
// window (k3 s2 p1: 2.25 times per element, after clearing them).
PPV_STAGE void gather_row(const Axis& AW, int64_t ow0, int64_t ow1, const double* c1,
                          const double* c2, const int64_t* offs, int nro, int64_t lo,
                          int64_t hi, double* Pp, double* Qp) {
  for (int64_t c = lo; c < hi; ++c) {
    const int64_t j0 = AW.inv_off[c], j1 = AW.inv_off[c + 1];
    const int64_t at = (c - lo) * L;
#if defined(PPV_FAST_VECTOR)
    __m512d p = _mm512_setzero_pd(), q = p;
    for (int r = 0; r < nro; ++r)
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t ow = AW.inv[j];
        if (ow < ow0 || ow >= ow1) continue;
        const int64_t k = offs[r] + (ow - ow0) * L;
        p = _mm512_add_pd(p, _mm512_loadu_pd(c1 + k));
        q = _mm512_add_pd(q, _mm512_loadu_pd(c2 + k));
      }
    _mm512_storeu_pd(Pp + at, p);
    _mm512_storeu_pd(Qp + at, q);
#else
    double p[L] = {}, q[L] = {};
    for (int r = 0; r < nro; ++r)
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t ow = AW.inv[j];
        if (ow < ow0 || ow >= ow1) continue;
        const double* a1 = c1 + offs[r] + (ow - ow0) * L;
        const double* a2 = c2 + offs[r] + (ow - ow0) * L;
#pragma omp simd
        for (int l = 0; l < L; ++l) { p[l] += a1[l]; q[l] += a2[l]; }
      }
    for (int l = 0; l < L; ++l) { Pp[at + l] = p[l]; Qp[at + l] = q[l]; }
#endif
  }
}

// dy/dx of an input row segment of n columns: E ((1 + a) P - a Q / x); a zero gets P at a = 0
// (its weight is 1), -z1 Q at a = 1 (FastLanes::z1), else 0 (the exact engine adds the special
// windows' gradients in extra).
PPV_STAGE void grad_row(const FastLanes& fl, int64_t n, RowData r, const double* Pp,
                        const double* Qp, const double* extra, double* g) {
  double a[L], a1[L], a0[L], z1[L];
  for (int l = 0; l < L; ++l) {
    a[l] = fl.a[l]; a1[l] = 1.0 + fl.a[l]; a0[l] = fl.a[l] == 0.0; z1[l] = fl.z1[l];
  }
  for (int64_t c = 0; c < n; ++c) {
    const int64_t i0 = c * L;
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const int64_t i = i0 + l;
      double xv = r.x[i];
      bool pos = xv > 0.0 && xv < INFINITY;
      // an E that underflowed to 0 weighs nothing, even where a Q / x overflows (a = 40: a
      // tiny x in a window far below the plane's largest weight gave 0 * inf = NaN)
      const double ev = r.e[i];
      double gv = ev == 0.0 ? 0.0 : ev * (a1[l] * Pp[i] - a[l] * Qp[i] / (pos ? xv : 1.0));
      double gzero = a0[l] * Pp[i] - z1[l] * Qp[i];
      g[i] = pos ? gv : (xv == 0.0 ? gzero : 0.0);
    }
  }
  // a separate loop: `extra ? g + extra[i] : g` inside the one above compiled to a masked load
  // from the null pointer per element, which took half of the backward's time (a fault
  // suppressed in microcode each time)
  if (extra)
    for (int64_t i = 0; i < n * L; ++i) g[i] += extra[i];
}

// The saving forward's dy/dx of one input row segment (columns [lo, hi), one chunk: r holds
// them from lo) whose elements lie in at most one window each, for the windows of outputs
// [ow0, ow1): grad_row's E ((1 + a) P - a Q / x) with g = 1 (P = 1 / S, Q = y / S of the
// element's window), or, in lanes whose window went to the exact engine (slow = 1), its
// gradient from extra (the row's, from column lo; cleared after use), and 1 in a window of
// zeros (slow = 2). Columns in no window
// get 0. Returns the number of active elements whose dy/dx is NaN or beyond float's range
// (the saved state is then not used); a dy/dx that float keeps only as a subnormal or zero
// costs at most 2^-150 |g|, far below the gradient's bound (a unit roundoff of the largest
// gradient of the window, which is O(1): dy/dx is homogeneous of degree 0, sum x dy/dx = y).
PPV_STAGE double jac_row(const FastLanes& fl, const Axis& AW, int64_t ow0, int64_t ow1,
                         int64_t lo, int64_t hi, RowData r, const double* S, const double* yrow,
                         const double* slow, double* extra, const double* active,
                         double* out) {
  const int64_t cs = AW.step, n = hi - lo;
  std::fill(out, out + n * L, 0.0);
  double a[L], a1[L], a0[L], z1[L];
  for (int l = 0; l < L; ++l) {
    a[l] = fl.a[l]; a1[l] = 1.0 + fl.a[l]; a0[l] = fl.a[l] == 0.0; z1[l] = fl.z1[l];
  }
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    const int64_t k0 = (ow - ow0) * L;
    const int64_t c0 = AW.start[ow], cn = AW.count[ow];
    double inv[L], q[L], zc[L];  // zc: a zero's dy/dx
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      inv[l] = 1.0 / S[k0 + l];
      q[l] = yrow[k0 + l] * inv[l];
      zc[l] = slow[k0 + l] == 2.0 ? 1.0 : a0[l] * inv[l] - z1[l] * q[l];
    }
    for (int64_t j = 0; j < cn; ++j) {
      const int64_t c = (c0 + j * cs - lo) * L;
      double xs[L], rx[L];
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        const double xv = r.x[c + l];
        xs[l] = xv > 0.0 && xv < INFINITY ? xv : 1.0;  // float-class: a normal double
      }
      recip_lanes(xs, rx);
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        const double xv = r.x[c + l];
        const bool pos = xv > 0.0 && xv < INFINITY;
        const double ev = r.e[c + l];  // (0: nothing, as in grad_row)
        const double gv = ev == 0.0 ? 0.0 : ev * (a1[l] * inv[l] - a[l] * q[l] * rx[l]);
        out[c + l] = pos ? gv : (xv == 0.0 ? zc[l] : 0.0);
      }
      if (extra)
        for (int l = 0; l < L; ++l) {
          if (slow[k0 + l] == 1.0) out[c + l] = extra[c + l];
          extra[c + l] = 0.0;
        }
    }
  }
  double un[L] = {};  // per lane (a horizontal sum per element would cost more than dy/dx)
  for (int64_t c = 0; c < n * L; c += L)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const bool big = !(std::fabs(out[c + l]) <= 3.4028234663852886e38);  // NaN too
      un[l] += big ? active[l] : 0.0;
    }
  double unusable = 0.0;
  for (int l = 0; l < L; ++l) unusable += un[l];
  return unusable;
}

// The saving forward's float dy/dx of more than this many bytes is stored by streaming stores
// (Saved::stream_jac; ppv_jac_stream_bytes sets it for tests): 16 MiB, half this machine's
// 32 MiB L3 (AMD EPYC). A state that large leaves the caches before the backward reads it
// anyway, and the plain stores first read each line from memory: (8,64,112,112) global, one
// thread, the saving forward 9.84 -> 8.94 ms with the backward from the state unchanged
// (0.88 ms); on (8,64,56,56) k14 (a 6.4 MB state, which the backward then reads from L3)
// streaming cost 12% (2.26 -> 2.53 ms). (python -m tests.kernel_ab, 2026-12-02 15:18 UTC.)
PPV_SHARED(std::atomic<int64_t>, jac_stream_bytes, , {16 << 20})

#if defined(PPV_FAST_VECTOR)

// The saving forward's dy/dx in one pass per input row, for the common case (AVX-512, a
// contiguous group of 8 active planes, no window of the output row in the exact engine):
// jac_row's arithmetic, the same operations in the same order (the same bits), but with each
// window's constants spread over its columns once per output row (jac_cols), so that the
// per-row pass runs over columns with no per-window loop, and its dy/dx converted to float and
// transposed into the 8 planes in registers (jac_store_row), with no lane-interleaved row
// written, cleared and read back. (perf, (8,64,112,112) global, one thread: jac_row and
// its store_row were 40% of the saving forward.)

// jac_cols' constants of one window (its S and y, 8 lanes): k1 = (1 + a) / S, k2 = a (y / S),
// kz = ([a = 0] - z1 y) / S; in a window of zeros (S = 0) 0, 0 and 1.
PPV_ALWAYS_INLINE void jac_window_consts(const FastLanes& fl, const double* S, const double* y,
                                         __m512d& c1, __m512d& c2, __m512d& cz) {
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  const __m512d a = _mm512_loadu_pd(fl.a), a1 = _mm512_add_pd(one, a);
  const __m512d a0 = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(a, zero, _CMP_EQ_OQ), one);
  const __m512d z1 = _mm512_loadu_pd(fl.z1);
  const __m512d Sv = _mm512_loadu_pd(S);
  const __mmask8 zw = _mm512_cmp_pd_mask(Sv, zero, _CMP_EQ_OQ);  // a window of zeros
  const __m512d inv = _mm512_div_pd(one, Sv);
  c1 = _mm512_maskz_mov_pd((__mmask8)~zw, _mm512_mul_pd(a1, inv));
  c2 = _mm512_maskz_mov_pd((__mmask8)~zw,
                           _mm512_mul_pd(a, _mm512_mul_pd(_mm512_loadu_pd(y), inv)));
  cz = _mm512_mask_blend_pd(zw, _mm512_fnmadd_pd(z1, c2, _mm512_mul_pd(a0, inv)),
                            one);  // (c2 = y / S at a = 1)
}

// Per column of [lo, hi) (lane-interleaved, from column lo): k1 = (1 + a) / S, k2 = a (y / S)
// and kz = ([a = 0] - z1 y) / S (a zero's dy/dx; 1, k1 = k2 = 0 in a window of zeros, S = 0:
// the row has no special window) of the window of outputs [ow0, ow1) holding it; 0 in
// columns that no window holds (their dy/dx is then 0: E is finite at every positive
// x). Whole-vector stores, each column written once where the windows are of step 1 and in
// increasing order (a tiling: the gaps zeroed as they are passed), else every column cleared
// first. (The scalar spreading loop this replaces compiled to a vectorised loop behind alias
// checks with four 64-bit divisions per window: jac_cols and its clearing took about 16% of
// the (8,64,112,112) k2 s2 saving forward, one thread.)
PPV_STAGE void jac_cols(const FastLanes& fl, const Axis& AW, int64_t ow0, int64_t ow1,
                        int64_t lo, int64_t hi, const double* S, const double* yrow,
                        double* k1, double* k2, double* kz) {
  const int64_t cs = AW.step, n = hi - lo;
  bool tiling = cs == 1;
  for (int64_t ow = ow0, end = lo; tiling && ow < ow1; ++ow) {
    if (AW.count[ow] <= 0) continue;
    tiling = AW.start[ow] >= end;
    end = AW.start[ow] + AW.count[ow];
  }
  const __m512d zero = _mm512_setzero_pd();
  auto put = [&](int64_t c, __m512d v1, __m512d v2, __m512d vz) {
    _mm512_storeu_pd(k1 + c * L, v1);
    _mm512_storeu_pd(k2 + c * L, v2);
    _mm512_storeu_pd(kz + c * L, vz);
  };
  int64_t done = 0;  // (tiling) columns [0, done) written
  if (!tiling)
    for (; done < n; ++done) put(done, zero, zero, zero);
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    const int64_t cn = AW.count[ow];
    if (cn <= 0) continue;
    const int64_t k0 = (ow - ow0) * L, b = AW.start[ow] - lo;
    __m512d c1, c2, cz;
    jac_window_consts(fl, S + k0, yrow + k0, c1, c2, cz);
    for (; done < b; ++done) put(done, zero, zero, zero);
    for (int64_t j = 0; j < cn; ++j) put(b + j * cs, c1, c2, cz);
    if (tiling) done = b + cn;
  }
  for (; done < n; ++done) put(done, zero, zero, zero);
}

// The saving forwards' float dy/dx of a block of 8 columns (f[l]: lane l's, into plane row
// v[l] from column c0; jac_store_row, pow_jac_store_row): plain stores, or with stream,
// streaming stores of whole 64-byte lines: a block whose lane-0 address starts a line (and
// whose next block is whole: next) is held (held, holding) and stored with that next block,
// the two halves of each line back to back. (32-byte streaming stores a block at a time left
// 8 planes' lines half written between blocks: on a 2-core Intel Xeon VM (AVX-512 FP16,
// 2026-12-06) the (8,64,112,112) global saving forward at alpha 2.5, one thread, took 19.3 ms
// with them and 13.6 with plain stores; whole lines: see docs/performance-history.md.)
PPV_ALWAYS_INLINE void jac_block_store(float* const* v, int64_t c0, const __m256* f,
                                       __m256* held, bool& holding, bool stream, bool next) {
  if (holding) {
    for (int l = 0; l < L; ++l) {
      float* p = v[l] + c0 - L;
      if (((uintptr_t)p & 63) == 0) {
        _mm256_stream_ps(p, held[l]);
        _mm256_stream_ps(p + L, f[l]);
      } else {
        _mm256_storeu_ps(p, held[l]);
        _mm256_storeu_ps(p + L, f[l]);
      }
    }
    holding = false;
    return;
  }
  if (stream && next && ((uintptr_t)(v[0] + c0) & 63) == 0) {
    for (int l = 0; l < L; ++l) held[l] = f[l];
    holding = true;
    return;
  }
  for (int l = 0; l < L; ++l) _mm256_storeu_ps(v[l] + c0, f[l]);
}

// dy/dx of input row (id, ih), columns [lo, hi) (r from column lo), from jac_cols' constants:
// E (k1 - k2 / x) at a positive x (1 / x: recip8, as jac_row's recip_lanes), kz at a
// zero, else 0; stored as float into jac (x's layout, 8 contiguous planes; with stream, its
// aligned blocks of 8 by streaming stores: the caller fences). Returns a positive
// number where some dy/dx is beyond float's range or NaN, else 0 (as jac_row's count; of the
// all-positive blocks' columns, lanes rather than elements). blocks[0] / blocks[1] count its
// blocks of 8 columns that took the all-positive branch / the masked one (for tests).
// kstep: L (k1, k2, kz per column, jac_cols'), or 0: one window spans the row's columns and
// its constants (jac_window_consts) serve every column, with no row of them.
PPV_STAGE double jac_store_row(const Plan& P, const Lanes& ln, int64_t id, int64_t ih,
                               int64_t lo, int64_t hi, RowData r, const double* k1,
                               const double* k2, const double* kz, float* jac,
                               int64_t* blocks, bool stream, int64_t kstep = L) {
  const int64_t n = hi - lo;
  const int64_t row = (id * P.ax[1].in + ih) * P.ax[2].in + lo;
  float* v[L];
  for (int l = 0; l < L; ++l) v[l] = jac + ln.in_base[l] + row;
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  const __m512d inf = _mm512_set1_pd(INFINITY), fmax = _mm512_set1_pd(3.4028234663852886e38);
  int64_t big = 0;
  auto column = [&](int64_t c) {
    const __m512d x = _mm512_loadu_pd(r.x + c * L);
    const __mmask8 pos = _mm512_cmp_pd_mask(x, zero, _CMP_GT_OQ) &
                         _mm512_cmp_pd_mask(x, inf, _CMP_LT_OQ);
    const __mmask8 z = _mm512_cmp_pd_mask(x, zero, _CMP_EQ_OQ);
    const __m512d xs = _mm512_mask_blend_pd(pos, one, x);
    const __m512d rx = recip8(xs);
    const __m512d t = _mm512_fnmadd_pd(_mm512_loadu_pd(k2 + c * kstep), rx,
                                       _mm512_loadu_pd(k1 + c * kstep));
    const __m512d gv = _mm512_mul_pd(_mm512_loadu_pd(r.e + c * L), t);
    const __m512d out =
        _mm512_mask_blend_pd(pos, _mm512_maskz_mov_pd(z, _mm512_loadu_pd(kz + c * kstep)), gv);
    big += __builtin_popcount(
        (unsigned)_mm512_cmp_pd_mask(_mm512_abs_pd(out), fmax, _CMP_NLE_UQ));
    return out;
  };
  // A block of 8 columns whose x are all positive and finite (the common case: one signed
  // minimum and maximum of their bits per column, 1 <= bits <= the largest double's, which
  // fails at zeros, negatives, infinities and NaNs) takes column's positive branch alone: no
  // masks, blends or zero constants (the same operations on those lanes: the same bits).
  const __m512i bit_lo = _mm512_set1_epi64(1), bit_hi = _mm512_set1_epi64(0x7FEFFFFFFFFFFFFF);
  __mmask8 bigm = 0;  // lanes of the fast blocks' columns beyond float's range or NaN
  int64_t c0 = 0;
  __m256 held[L];
  bool holding = false;
  for (; c0 + L <= n; c0 += L) {
    __m512d t[L];
    __m512i lo_b = bit_hi, hi_b = bit_lo;
    for (int cc = 0; cc < L; ++cc) {
      t[cc] = _mm512_loadu_pd(r.x + (c0 + cc) * L);
      lo_b = _mm512_min_epi64(lo_b, _mm512_castpd_si512(t[cc]));
      hi_b = _mm512_max_epi64(hi_b, _mm512_castpd_si512(t[cc]));
    }
    const bool all_pos = _mm512_cmplt_epi64_mask(lo_b, bit_lo) == 0 &&
                         _mm512_cmpgt_epi64_mask(hi_b, bit_hi) == 0;
    ++blocks[all_pos ? 0 : 1];
    if (all_pos) {
      for (int cc = 0; cc < L; ++cc) {
        const int64_t c = (c0 + cc) * L, ck = (c0 + cc) * kstep;
        const __m512d tt = _mm512_fnmadd_pd(_mm512_loadu_pd(k2 + ck), recip8(t[cc]),
                                            _mm512_loadu_pd(k1 + ck));
        t[cc] = _mm512_mul_pd(_mm512_loadu_pd(r.e + c), tt);
        bigm |= _mm512_cmp_pd_mask(_mm512_abs_pd(t[cc]), fmax, _CMP_NLE_UQ);
      }
    } else {
      for (int cc = 0; cc < L; ++cc) t[cc] = column(c0 + cc);
    }
    __m256 f[L];  // as float (each element rounded as before), then transposed as floats
    for (int cc = 0; cc < L; ++cc) f[cc] = _mm512_cvtpd_ps(t[cc]);
    transpose8_ps(f);  // f[l]: columns c0.. of lane l
    jac_block_store(v, c0, f, held, holding, stream, c0 + 2 * L <= n);
  }
  for (; c0 < n; ++c0) {
    double o[L];
    _mm512_storeu_pd(o, column(c0));
    for (int l = 0; l < L; ++l) v[l][c0] = (float)o[l];
  }
  return (double)(big + __builtin_popcount((unsigned)bigm));
}

// Lane slices in parts (XParts), the saving forward of a global window (one window per plane,
// its constants known only once every part's sums are in): the first step (XP_SUMS) keeps each
// element's weight E, which it forms for the sums, as a float where dy/dx will go (keep_e_row:
// jac, x's layout), and the finishing step forms dy/dx = E (k1 - k2 / x) from it and x
// (jac_from_e), in place, instead of weighing every row again (the logarithm and
// exponential per element: about 2.7 of the 4.7 ms of a (1,3,1024,1024) saving forward at
// alpha 2.5, two threads; 3.4 ms with the weights kept). E as a float is one more rounding of
// dy/dx (2^-24 relative, as the overlap state's E); an E that a normal float does not hold (0
// excepted) is kept as NaN and weighed again from x by the first step's arithmetic (the same
// bits as that step's E).

// The weights e of input row (id, ih), columns [lo, hi) (lane-interleaved doubles, from column
// lo; a group of 8 contiguous active planes: P-pooling's E, the power engine's E / x), NaN
// where a normal float does not hold one (0 kept), stored as floats into jac (x's layout), with
// jac_block_store (stream: its streaming stores of whole lines; the caller fences).
PPV_STAGE void keep_e_row(const Plan& P, const Lanes& ln, int64_t id, int64_t ih, int64_t lo,
                          int64_t hi, const double* e, float* jac, bool stream) {
  const int64_t n = hi - lo;
  const int64_t row = (id * P.ax[1].in + ih) * P.ax[2].in + lo;
  float* v[L];
  for (int l = 0; l < L; ++l) v[l] = jac + ln.in_base[l] + row;
  const __m512d zero = _mm512_setzero_pd(), fmin = _mm512_set1_pd((double)FLT_MIN);
  const __m512d fmax = _mm512_set1_pd((double)FLT_MAX), nan = _mm512_set1_pd(NAN);
  auto as_held = [&](__m512d ev) {  // E where a normal float (or 0) holds it, else NaN
    const __mmask8 held = (_mm512_cmp_pd_mask(ev, fmin, _CMP_GE_OQ) &
                           (__mmask8)~_mm512_cmp_pd_mask(ev, fmax, _CMP_NLE_UQ)) |
                          _mm512_cmp_pd_mask(ev, zero, _CMP_EQ_OQ);
    return _mm512_cvtpd_ps(_mm512_mask_blend_pd(held, nan, ev));
  };
  __m256 held_lines[L];
  bool holding = false;
  int64_t c0 = 0;
  for (; c0 + L <= n; c0 += L) {
    __m256 f[L];
    for (int cc = 0; cc < L; ++cc) f[cc] = as_held(_mm512_loadu_pd(e + (c0 + cc) * L));
    transpose8_ps(f);
    jac_block_store(v, c0, f, held_lines, holding, stream, c0 + 2 * L <= n);
  }
  for (; c0 < n; ++c0) {
    float o[L];
    _mm256_storeu_ps(o, as_held(_mm512_loadu_pd(e + c0 * L)));
    for (int l = 0; l < L; ++l) v[l][c0] = o[l];
  }
}

// dy/dx of elements [at, at + n) of each lane's plane (input row (id, ih), columns [lo, hi):
// at = (id H + ih) W + lo, n = hi - lo), from the weights
// keep_e_row kept in jac and the input, plane by plane: E (k1 - k2 / x) at a positive x, kz at
// a zero, else 0 (k1, k2, kz: jac_window_consts' per lane; jac_store_row's operations, so that
// an E a float holds exactly gives its bits), stored over E as float. A kept NaN at a positive
// x is weighed again (ExpCol's operations on one lane). Returns jac_store_row's count of dy/dx
// beyond float's range or NaN.
template <class T>
PPV_STAGE double jac_from_e(const T* x, const Lanes& ln, const FastLanes& fl, int64_t at,
                            int64_t n, const double* k1, const double* k2, const double* kz,
                            float* jac) {
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  const __m512d inf = _mm512_set1_pd(INFINITY), fmax = _mm512_set1_pd(3.4028234663852886e38);
  int64_t big = 0;
  for (int l = 0; l < L; ++l) {
    const T* xp = x + ln.in_base[l] + at;
    float* jp = jac + ln.in_base[l] + at;
    const __m512d a = _mm512_set1_pd(fl.a[l]), lc = _mm512_set1_pd(fl.lc[l]);
    const __m512d c1 = _mm512_set1_pd(k1[l]), c2 = _mm512_set1_pd(k2[l]);
    const __m512d cz = _mm512_set1_pd(kz[l]);
    auto block = [&](__m256 xf, __m256 ef) {
      const __m512d xv = _mm512_cvtps_pd(xf);
      __m512d ev = _mm512_cvtps_pd(ef);
      const __mmask8 pos = _mm512_cmp_pd_mask(xv, zero, _CMP_GT_OQ) &
                           _mm512_cmp_pd_mask(xv, inf, _CMP_LT_OQ);
      const __mmask8 z = _mm512_cmp_pd_mask(xv, zero, _CMP_EQ_OQ);
      const __mmask8 redo = pos & _mm512_cmp_pd_mask(ev, ev, _CMP_NEQ_UQ);  // (a NaN)
      if (redo) {  // (rare: an E beyond a normal float's range)
        const __m512d xs = _mm512_mask_blend_pd(pos, one, xv);
        __m512d w;
        if (fl.int_a) {
          const double ai = fl.a[l];
          const __m512d x2 = _mm512_mul_pd(xs, xs);
          w = ai == 0.0 ? one : ai == 1.0 ? xs : ai == 2.0 ? x2
            : ai == 3.0 ? _mm512_mul_pd(x2, xs) : _mm512_mul_pd(x2, x2);
        } else {
          w = fast_exp_narrow8(_mm512_mul_pd(a, _mm512_sub_pd(fast_log_narrow8(xs), lc)));
        }
        ev = _mm512_mask_blend_pd(redo, ev, w);
      }
      const __m512d xs = _mm512_mask_blend_pd(pos, one, xv);
      const __m512d t = _mm512_fnmadd_pd(c2, recip8(xs), c1);
      const __m512d out = _mm512_mask_blend_pd(pos, _mm512_maskz_mov_pd(z, cz),
                                               _mm512_mul_pd(ev, t));
      big += __builtin_popcount(
          (unsigned)_mm512_cmp_pd_mask(_mm512_abs_pd(out), fmax, _CMP_NLE_UQ));
      return _mm512_cvtpd_ps(out);
    };
    // A block whose every dy/dx from the positive branch's operations alone is finite and
    // within float's range (every x positive and finite, every E kept: a zero or infinite x,
    // a NaN x or E gives NaN there) is that branch's value (the same bits); else block's.
    auto quick = [&](__m256 xf, __m256 ef) {
      const __m512d t = _mm512_fnmadd_pd(c2, recip8(_mm512_cvtps_pd(xf)), c1);
      const __m512d out = _mm512_mul_pd(_mm512_cvtps_pd(ef), t);
      if (_mm512_cmp_pd_mask(_mm512_abs_pd(out), fmax, _CMP_NLE_UQ)) return block(xf, ef);
      return _mm512_cvtpd_ps(out);
    };
    int64_t c = 0;
    for (; c + L <= n; c += L) {
      // x and E 2 KB ahead, a line at a time (the hardware's prefetch left the loads waiting:
      // kernel_ab's (1,3,1024,1024) saving forward 0.88-0.96x with these)
      if ((c & 15) == 0) {
        _mm_prefetch((const char*)(xp + c + 512), _MM_HINT_T0);
        _mm_prefetch((const char*)(jp + c + 512), _MM_HINT_T0);
      }
      _mm256_storeu_ps(jp + c, quick(load8_ps<T>(xp + c), _mm256_loadu_ps(jp + c)));
    }
    if (c < n) {  // the last n - c columns, through buffers of 8
      float xb[L] = {}, eb[L] = {}, ob[L];
      for (int64_t i = c; i < n; ++i) {
        xb[i - c] = (float)to_double<T>(xp[i]);
        eb[i - c] = jp[i];
      }
      _mm256_storeu_ps(ob, block(_mm256_loadu_ps(xb), _mm256_loadu_ps(eb)));
      for (int64_t i = c; i < n; ++i) jp[i] = ob[i - c];
    }
  }
  return (double)big;
}
#endif

// ---- the saving forward for windows that share elements (state: Saved::rs, ys, lc; the
// backward: run_overlap_saved_backward), a hook of fast_group after each output row's sums.

// The group of a group's lanes (make_lanes' g).
inline int64_t group_of(const Plan& P, const Lanes& ln) {
  if (P.lanes_are_planes()) return ln.plane[0] / L;
  const int64_t blocks = (P.C + L - 1) / L;
  return (ln.plane[0] / P.C) * blocks + (ln.plane[0] % P.C) / L;
}

// Where the overlap state keeps output (od, oh, ow) of a group: lane-interleaved per group
// (groups * plane_out * L floats), so that both passes move whole rows of lanes, with no
// transposition into the output's layout and back.
inline int64_t state_index(const Plan& P, int64_t group, int64_t od, int64_t oh, int64_t ow) {
  return ((group * P.ax[0].out + od) * P.ax[1].out + oh) * P.ax[2].out * L + ow * L;
}

// Where the overlap state keeps the weight of input (id, ih, iw) of a group: lane-interleaved
// per group as the rows the fast engine weighs (groups * plane_in * L floats).
inline int64_t e_index(const Plan& P, int64_t group, int64_t id, int64_t ih, int64_t iw) {
  return ((group * P.ax[0].in + id) * P.ax[1].in + ih) * P.ax[2].in * L + iw * L;
}

// The overlap state's mark of a weight float does not hold as a normal number (below
// FLT_MIN, above FLT_MAX, NaN): the backward weighs that row segment again (load_e_row).
constexpr float E_REDO = -1.0f;

// Store the weights e (lane-interleaved) of columns [cb, ce) of input row (id, ih) as floats:
// 0 stays 0 (a zero at a > 0), a normal float's range is rounded to nearest (relative error
// <= 2^-24), anything else is E_REDO; inactive lanes get 0. On x86 with AVX2, streaming
// stores of one column (32 bytes, aligned where the state is: e_index is a multiple of 8
// floats), which skip reading the lines first (the backward reads them from memory anyway);
// the caller fences (_mm_sfence) before the backward may read them.
PPV_STAGE void save_e_row(const Plan& P, const Lanes& ln, int64_t group, int64_t id, int64_t ih,
                          int64_t cb, int64_t ce, const double* e, float* es) {
  float* o = es + e_index(P, group, id, ih, cb);
  const int64_t n = (ce - cb) * L;
#if defined(__AVX2__) && !defined(PPV_ONE_LANE)
  if ((uintptr_t)o % 32 == 0) {
    // (as fast as the loop below writing its 8 floats to a stack buffer for a streaming
    // store: kernel_ab 1.01x; this form does not depend on the compiler's vectorising)
    const __m256d zero = _mm256_setzero_pd(), lo = _mm256_set1_pd((double)FLT_MIN),
                  hi = _mm256_set1_pd((double)FLT_MAX);
    const __m128 redo = _mm_set1_ps(E_REDO);
    alignas(32) float act[L];
    for (int l = 0; l < L; ++l) act[l] = bits_to_float(ln.active[l] ? 0xFFFFFFFFu : 0u);
    const __m256 active = _mm256_load_ps(act);
    auto half = [&](__m256d v) {  // 4 weights as floats, E_REDO where not held
      const __m256d held = _mm256_or_pd(
          _mm256_cmp_pd(v, zero, _CMP_EQ_OQ),
          _mm256_and_pd(_mm256_cmp_pd(v, lo, _CMP_GE_OQ), _mm256_cmp_pd(hi, v, _CMP_GE_OQ)));
      // the mask's all-ones doubles (a NaN) convert to all-ones floats, its zeros to zeros
      return _mm_blendv_ps(redo, _mm256_cvtpd_ps(v), _mm256_cvtpd_ps(held));
    };
    for (int64_t c = 0; c < n; c += L) {
      const __m256 f = _mm256_insertf128_ps(
          _mm256_castps128_ps256(half(_mm256_loadu_pd(e + c))), half(_mm256_loadu_pd(e + c + 4)),
          1);
      _mm256_stream_ps(o + c, _mm256_and_ps(f, active));
    }
    return;
  }
#endif
  double active[L];
  for (int l = 0; l < L; ++l) active[l] = ln.active[l] ? 1.0 : 0.0;
  for (int64_t c = 0; c < n; c += L)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const double v = e[c + l];
      const bool held = (v == 0.0) | ((v >= (double)FLT_MIN) & (v <= (double)FLT_MAX));
      o[c + l] = active[l] == 0.0 ? 0.0f : (held ? (float)v : E_REDO);
    }
}

// save_e_row for a bfloat16 state (bfloat16 and float16 inputs): E rounded to float, then to
// bfloat16 to nearest even (relative error <= 2^-9 (1 + 2^-15); not from_double<bf16_t>,
// whose correctly rounded path through round_to_odd branches per element); E_REDO
// (bfloat16's -1) where E is neither 0 nor a normal bfloat16 below its largest; inactive
// lanes 0.
PPV_STAGE void save_e_row16(const Plan& P, const Lanes& ln, int64_t group, int64_t id,
                            int64_t ih, int64_t cb, int64_t ce, const double* e,
                            uint16_t* es) {
  uint16_t* o = es + e_index(P, group, id, ih, cb);
  uint32_t active[L];
  for (int l = 0; l < L; ++l) active[l] = ln.active[l] ? 0xFFFFu : 0u;
  constexpr double BF16_MAX = 0x1.fep127;
  for (int64_t c = 0; c < (ce - cb) * L; c += L)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const double v = e[c + l];
      const bool held = (v == 0.0) | ((v >= (double)FLT_MIN) & (v <= BF16_MAX));
      uint32_t u = float_to_bits((float)v);
      u += 0x7fffu + ((u >> 16) & 1u);
      o[c + l] = (uint16_t)((held ? (u >> 16) : 0xBF80u) & active[l]);
    }
}

// Whether a float holds a window's dy/da of magnitude m beside its output y (save_overlap_row
// gives the rule and its bound; ymin: dw_tiny_y(a)). Bitwise & and |, no branch: the callers'
// loops over lanes vectorise.
PPV_ALWAYS_INLINE double dw_tiny_y(double a) { return 0x1p-100 * std::max(1.0, std::fabs(a)); }
PPV_ALWAYS_INLINE bool float_holds_dw(double m, double y, double ymin) {
  return (m <= (double)FLT_MAX) & ((m >= (double)FLT_MIN) | (m == 0.0) | (y >= ymin));
}

// Store dy/da (dw, double) of outputs [ow0, ow0 + n) of output row (od, oh) as floats
// (state_index; inactive lanes 0). Returns the number of active lanes' windows the state
// cannot serve: those the exact engine evaluated (slow = 1; their gradients are not of the
// fast form E ((1 + a) P - a Q / x); not the windows of zeros, slow = 2, whose dy/dx = 1 the
// backward gives from their S = 0) and, with dw, a dy/da beyond float's range, or below its
// normal range (0 itself is held exactly: a window of zeros at a = 0) in a window whose y is
// below 2^-100 max(1, |a|). (Float's rounding of dy/da
// costs at most max(2^-24 |dy/da|, 2^-150): the second is below 2^-174 y / max(1, |a|) where
// y >= 2^-100 max(1, |a|), far inside the parameter gradient's bound, 64 u of
// sum |g| max x / max(1, |a|) over the windows.)
PPV_STAGE double save_overlap_row(const Plan& P, const Lanes& ln, const FastLanes& fl,
                                  int64_t od, int64_t oh, int64_t ow0, int64_t n,
                                  const double* dw, const double* y, const double* slow,
                                  const Saved& sv) {
  double active[L];
  for (int l = 0; l < L; ++l) active[l] = ln.active[l] ? 1.0 : 0.0;
  // (the counts per lane, the lanes added once: `omp simd reduction` over the lanes added
  // them at every window, a chain of horizontal adds; counts of 0 / 1, so exact either way)
  double un[L] = {};
  auto total = [&]() {
    double t = 0.0;
    for (int l = 0; l < L; ++l) t += un[l];
    return t;
  };
  if (!sv.dwf) {
    for (int64_t k = 0; k < n * L; k += L)
#pragma omp simd
      for (int l = 0; l < L; ++l) un[l] += slow[k + l] == 1.0 ? active[l] : 0.0;
    return total();
  }
  float* o = sv.dwf + state_index(P, group_of(P, ln), od, oh, ow0);
  double ymin[L];  // 2^-100 max(1, |a|)
  for (int l = 0; l < L; ++l) ymin[l] = dw_tiny_y(fl.a[l]);
  // (bitwise & and | of the tests, no branch: with && and || this loop compiled to scalar
  // compares and jumps, 2.7% of k3 s2 p1's fwd+bwd samples)
  for (int64_t k = 0; k < n * L; k += L)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const double v = dw[k + l];
      const bool held = float_holds_dw(std::fabs(v), y[k + l], ymin[l]);
      const bool ok = (held & (slow[k + l] == 0.0)) | (slow[k + l] == 2.0);
      o[k + l] = active[l] != 0.0 ? (float)v : 0.0f;
      un[l] += ok ? 0.0 : active[l];
    }
  return total();
}

// P-pooling's sums that lane slices in parts carry (XParts): S, T, M, U, V, Z, L doubles each
// (acc's first blocks)
constexpr int PP_XP_BLOCKS = 6;

// Whether a saving forward keeps its weights between its sums and its dy/dx (keep_e_row,
// jac_from_e): lane slices in parts (between the steps), or `between_passes`
// (FastScratch::keep_between_passes: one call's two passes); the disjoint state (a float jac;
// not float64's), on a vector build, for a contiguous group of 8 active lanes whose slices
// borrow no row (a row's jac would then be read for E after another lane's pass wrote its
// dy/dx there), one output per plane whose window spans the tile's columns (global pooling).
template <class T>
bool keeps_weights(const Plan& P, const Lanes& ln, const Axis& AD, const Axis& AH,
                   const Axis& AW, const ColTile& ct, const XParts* xp, const Saved* sv,
                   bool between_passes) {
#if defined(PPV_FAST_VECTOR)
  return (xp != nullptr || between_passes) && sv != nullptr && sv->jac != nullptr &&
         !sv->overlap() && !sv->int_state && !std::is_same<T, double>::value && P.layout == 0 &&
         ln.n_active == L && P.split != 2 && !P.xlane_borrows() && AD.out * AH.out == 1 &&
         ct.ow1 - ct.ow0 == 1 && window_spans(AW, ct.ow0, ct.lo, ct.hi);
#else
  (void)P, (void)ln, (void)AD, (void)AH, (void)AW, (void)ct, (void)xp, (void)sv;
  (void)between_passes;
  return false;
#endif
}

// Whether the float dy/da of an output row's n windows (dw, lane-interleaved; y their outputs)
// hold what the double ones say, by the overlap state's rule (float_holds_dw). The integer-alpha
// window state keeps dy/da as a float where windows share elements (ppv_forward_saved_int
// with dw_float): 4 bytes per window, not 8, for the peak's bound (_int_overlap_state_fits).
inline bool int_state_dw_held(const Lanes& ln, const FastLanes& fl, const double* dw,
                              const double* y, int64_t n) {
  bool held = true;
  for (int l = 0; l < L; ++l) {
    if (!ln.active[l]) continue;
    const double ymin = dw_tiny_y(fl.a[l]);
    for (int64_t k = l; k < n * L; k += L) held &= float_holds_dw(std::fabs(dw[k]), y[k], ymin);
  }
  return held;
}

template <class T>
void fast_group(const T* x, const Plan& P, const ColTiles& tiles, const Lanes& ln,
                FastScratch& s, T* y, const T* gy, T* gx, double* dplain, int* status,
                const Saved* sv = nullptr, int64_t band_lo = 0,
                int64_t band_hi = INT64_MAX, const XParts* xp = nullptr) {
  // band_lo, band_hi (forwards only): the output rows od * OH + oh of the group done by this
  // call (a band; see run's channels-last bands), the others left to other calls; xp: lane
  // slices in parts (XParts; PP_XP_BLOCKS)
  const bool backward = gx != nullptr;
  const bool saving = sv != nullptr;  // a forward that also writes the backward's state
  const bool grads = backward || saving;
  const bool save_dw = saving && (sv->dw || sv->dwf);  // the saving forward's dy/da
  const bool with_log = backward || save_dw;  // sums for dy/da
  const bool ov = saving && sv->overlap();  // windows that share elements: E, dy/da, Lc
  double ov_unusable = 0.0;  // windows the overlap state cannot serve (the exact engine's)
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  const int64_t W = AW.in, OH = AH.out;
  const int64_t cols = std::max<int64_t>(1, std::min(W, TILE_COLS));
  FastLanes fl;
  fl.need_zero = false;
  bool need_ref = false;
  for (int l = 0; l < L; ++l) {
    fl.a[l] = ln.a[l];
    fl.lc[l] = 0.0;
    fl.need_zero = fl.need_zero || (ln.active[l] && fl.a[l] <= 0);
    need_ref = need_ref || std::fabs(fl.a[l]) * log_range<T>() > 560.0 ||
               !std::isfinite(fl.a[l]);
  }
  // a band after the group's first: the reference its first band found (s.ref_*)
  const bool banded = band_lo > 0 || band_hi < AD.out * OH;
  const int64_t group = group_of(P, ln);
  const size_t ref_slot = s.ref_group.empty() ? 0 : (size_t)(group % (int64_t)s.ref_group.size());
  if (need_ref && banded && band_lo > 0 && !s.ref_group.empty() &&
      s.ref_group[ref_slot] == group) {
    for (int l = 0; l < L; ++l) {
      fl.lc[l] = s.ref_lc[ref_slot * L + l];
      if (!std::isfinite(fl.a[l])) fl.a[l] = 0.0;  // as below
    }
  } else if (need_ref) {  // the dominant element of each plane: max (a > 0) or min positive (a < 0)
    double mx[L], mn[L];
    for (int l = 0; l < L; ++l) { mx[l] = 0.0; mn[l] = INFINITY; }
    double* row = s.rowbuf.data();
    for (int64_t id = 0; id < AD.in; ++id)
      for (int64_t ih = 0; ih < AH.in; ++ih)
        for (int64_t cb = 0; cb < W; cb += cols) {
          const int64_t n = std::min(W, cb + cols) - cb;
          load_row<T>(x, P, ln, id, ih, cb, cb + n, row);
          lane_extremes(row, n, mx, mn);
        }
    if (P.xlane) xlane_reference(mx, mn);  // one reference for the whole plane
    for (int l = 0; l < L; ++l) {
      double r = fl.a[l] > 0 ? mx[l] : mn[l];
      fl.lc[l] = (r > 0 && r < INFINITY && std::isfinite(fl.a[l])) ? fast_log_narrow(r) : 0.0;
      if (!std::isfinite(fl.a[l])) fl.a[l] = 0.0;  // the windows are flagged below
    }
    if (banded && !s.ref_group.empty()) {
      s.ref_group[ref_slot] = group;
      for (int l = 0; l < L; ++l) s.ref_lc[ref_slot * L + l] = fl.lc[l];
    }
  }
  set_zero_weights(fl);
  // each window's dy/da reference at the accumulators' reset (window_reference): +inf where
  // a >= -1, -inf where a < -1 (from its first row), 0 with a plane reference Lc; for lane
  // slices, whose sums are added, one value for the plane's lanes: the lg of its first element
  // (0 where that is not positive)
  double window_ref0[L];
  for (int l = 0; l < L; ++l)
    window_ref0[l] = fl.lc[l] != 0.0 ? 0.0 : (fl.a[l] < -1.0 ? -INFINITY : INFINITY);
  if (P.xlane && with_log) {
    const double x0 = to_double<T>(x[ln.in_base[0]]);
    const double r = x0 > 0.0 && x0 < INFINITY ? fast_log_narrow(x0) - fl.lc[0] : 0.0;
    for (int l = 0; l < L; ++l) window_ref0[l] = r;
  }
  if (ov)  // the weights' reference, for the rows the backward weighs again (E_REDO)
    for (int l = 0; l < L; ++l)
      if (ln.active[l]) sv->lc[ln.plane[l]] = fl.lc[l];
  // a band of a group whose previous band used its own row cache: the rows still there are
  // this group's, weighed with the same a and Lc, so they are kept (the same values as weighed
  // again; bands of one group come in order, band_lo > 0 after the first)
  const bool own_cache = banded && !s.band_cache.empty();
  RowCache& cache = own_cache ? s.band_cache[ref_slot] : s.cache;
  bool keep_rows = false;
  if (own_cache) {
    if (cache.ns == 0) cache.init(s.cache.ns, s.cache.wl / L, s.cache.nq);
    keep_rows = band_lo > 0 && s.band_group[ref_slot] == group;
    s.band_group[ref_slot] = group;
  }
  // rows weighed by load_weights_row's paths (split, fused, tail), and of these by
  // multiplication (int_a)
  int64_t nw[4] = {0, 0, 0, 0};
  // the overlap state's weights of a row segment just weighed
  auto save_weights = [&](int64_t id, int64_t ih, int64_t cb, int64_t ce, const double* e) {
    if (sv->e16) save_e_row16(P, ln, group, id, ih, cb, ce, e, sv->e16);
    else save_e_row(P, ln, group, id, ih, cb, ce, e, sv->e);
  };
  // the saving forward of a global window in lane slices in parts (or whose rows the cache
  // does not hold): the first step (pass) keeps each row's weights in jac, the finishing step
  // (the dy/dx pass) forms dy/dx from them (keep_e_row; set per tile)
  bool keep_e = false;
  auto keep_weights = [&](int64_t id, int64_t ih, int64_t cb, int64_t ce, const double* e) {
#if defined(PPV_FAST_VECTOR)
    keep_e_row(P, ln, id, ih, cb, ce, e, sv->jac, sv->stream_jac);
#else
    (void)id, (void)ih, (void)cb, (void)ce, (void)e;
#endif
  };
  const ColTile* ct = nullptr;  // the current column tile
  int64_t nch = 1;              // its chunks
  auto fetch = [&](int64_t id, int64_t ih, int64_t k) -> RowData {
    const int64_t key = (id * AH.in + ih) * nch + k;
    const int64_t slot = key % cache.ns;
    RowData r = cache.slot(slot);
    if (cache.tag[slot] != key) {
      const int64_t cb = ct->chunk_begin(k), ce = ct->chunk_end(k);
      ++nw[load_weights_row<T>(x, P, ln, id, ih, cb, ce, fl, r)];
      nw[3] += fl.int_a ? 1 : 0;
      if (ov) save_weights(id, ih, cb, ce, r.e);
      if (keep_e) keep_weights(id, ih, cb, ce, r.e);
      cache.tag[slot] = key;
    }
    return r;
  };
  // a row of a tile of one chunk, its window sums added to rs.acc: in its weighing pass where
  // it is weighed now (RowSums), else by sum_row
  auto fetch_sum = [&](int64_t id, int64_t ih, const RowSums& rs) {
    const int64_t key = (id * AH.in + ih) * nch;
    const int64_t slot = key % cache.ns;
    RowData r = cache.slot(slot);
    bool summed = false;
    if (cache.tag[slot] != key) {
      ++nw[load_weights_row<T>(x, P, ln, id, ih, ct->lo, ct->hi, fl, r, &rs, &summed)];
      nw[3] += fl.int_a ? 1 : 0;
      if (ov) save_weights(id, ih, ct->lo, ct->hi, r.e);
      if (keep_e) keep_weights(id, ih, ct->lo, ct->hi, r.e);
      cache.tag[slot] = key;
    }
    if (!summed)
      sum_row(AW, rs.ow0, rs.ow1, ct->lo, ct->hi, r, rs.acc, rs.q, r.lg != nullptr,
              rs.with_zero);
  };
  GradSink sink;
  double dal[L];
  for (int l = 0; l < L; ++l) dal[l] = 0.0;
  bool want[L];
  // every window of a lane goes to the exact engine when its parameter is not finite (which
  // flags it and gives NaN) or, in the backward, when |a| > FAST_GRAD_MAX_A
  double exact_lane[L];
  for (int l = 0; l < L; ++l)
    exact_lane[l] = (!std::isfinite(ln.a[l]) ||
                     (grads && std::fabs(ln.a[l]) > FAST_GRAD_MAX_A)) ? 1.0 : 0.0;
  if (P.xlane)  // slices of one window: the fast engine for all of it, or none
    for (int l = 0; l < L; ++l)
      if (exact_lane[l] != 0.0) {
        *status |= ST_XLANE_REDO;
        return;
      }
  // 1 where a lane's zeros make a window special (a < 0), else 0. At a = 0 a zero weighs 1
  // (0^0 = 1) and its dy/dx is the fast form's (1/S, grad_row's a0 P): only dy/da differs,
  // 0 in a window holding a zero (the oracle's convention for the jump of y(a) at 0), which
  // jump_a marks; those windows stay in the fast engine and the overlap state.
  double zero_a[L], jump_a[L];
  for (int l = 0; l < L; ++l) {
    zero_a[l] = fl.a[l] < 0 ? 1.0 : 0.0;
    jump_a[l] = fl.a[l] == 0 ? 1.0 : 0.0;
  }
  double active[L];
  for (int l = 0; l < L; ++l) active[l] = ln.active[l] ? 1.0 : 0.0;
  // 1 in the lanes where the forward takes a window of zeros by S = 0 (windows of zeros
  // elsewhere are special windows: zero_window_lanes): a positive a whose every positive
  // element's weight is positive, E = exp(a (ln x - Lc)) with a (ln x - Lc) >=
  // -a (log_range + Lc) > -700 (fast_exp_narrow is 0 below -708 alone); a window's S is then 0
  // at zeros alone (a NaN at a bad element). The forwards' lanes only (the recomputing
  // backward takes every window of zeros as a special one, for its gradient)
  double zero_fast[L];
  for (int l = 0; l < L; ++l)
    zero_fast[l] = (!backward && ln.active[l] && exact_lane[l] == 0.0 && ln.a[l] > 0 &&
                    ln.a[l] * (log_range<T>() + std::max(fl.lc[l], -log_range<T>())) < 700.0)
                       ? 1.0 : 0.0;
  // 1 in the lanes where the forward's vector test serves windows holding a zero at a < 0
  // (zero_a): y = 0, dy/da = 0, in a plain forward (no gradients) and in the overlap state's
  // saving forward, whose backward counts each window's zeros for their dy/dx
  // (overlap_coef_row); elsewhere (the disjoint state, the recomputing backward: dy/dx at a
  // single zero through the sink) they are done in place by zeros_below_zero_lanes
  double zneg_here[L];
  for (int l = 0; l < L; ++l)
    zneg_here[l] =
        ((!grads || ov) && ln.active[l] && exact_lane[l] == 0.0 && ln.a[l] < 0) ? 1.0 : 0.0;
#if defined(PPV_FAST_VECTOR)
  // the same flags as masks, for the forward's per-window tests
  const __m512d tiny = _mm512_set1_pd(TINY_WEIGHT), inf = _mm512_set1_pd(INFINITY);
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  const __m512d two = _mm512_set1_pd(2.0);
  const __mmask8 exact_mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(exact_lane), zero, _CMP_NEQ_UQ);
  const __mmask8 zero_mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(zero_a), zero, _CMP_NEQ_UQ);
  const __mmask8 jump_mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(jump_a), zero, _CMP_NEQ_UQ);
  const __mmask8 zfast_mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(zero_fast), zero, _CMP_NEQ_UQ);
  const __mmask8 zhere_mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(zneg_here), zero, _CMP_NEQ_UQ);
#endif
  // c1, c2 of output row r: from output `keep` of the current tile, at r * kstride
  const int64_t kstride = tiles.max_kept * L;
  const int64_t fuse_rows = std::min<int64_t>(FUSE_ROWS, cache.ns);  // see sum_rows
  int64_t n_together = 0, n_each = 0;  // output rows summed by sum_rows / sum_row
  int64_t n_bwd_together = 0, n_bwd_each = 0;  // (the same, recomputing backwards)
  int64_t n_weighing = 0;  // output rows summed in their rows' weighing pass (fetch_sum)
  int64_t n_jac_direct = 0, n_jac_rows = 0;  // output rows saved by jac_store_row / jac_row
  int64_t n_zero_windows = 0, n_exact_windows = 0;  // special windows, per lane
  int64_t n_jac_streamed = 0;  // of jac_store_row's, with streaming stores
  int64_t n_from_kept = 0;  // input rows whose dy/dx jac_from_e formed
  int64_t jac_blocks[2] = {0, 0};  // jac_store_row's all-positive / masked blocks of columns
  for (size_t ti = 0; ti < tiles.tiles.size(); ++ti) {
    ct = &tiles.tiles[ti];
    nch = ct->chunks();
    if (!keep_rows || tiles.tiles.size() > 1) cache.invalidate();
    const int64_t ow0 = ct->ow0, nt = ct->ow1 - ct->ow0, q = nt * L;
    double* acc = s.acc.data();
    double* ybuf = s.orow.data();
    double* gybuf = s.orow.data() + q;
    // the saving forward: dy/da of an output row, and 1 where the exact engine did the window
    double* dwrow = saving ? s.srow.data() : nullptr;
    double* slowrow = saving ? s.srow.data() + q : nullptr;
    if (saving) std::fill(gybuf, gybuf + q, 1.0);  // the exact engine's gradients for g = 1
    if (backward && ti > 0) {  // move the coefficients still needed, [keep, ow0), to the front
      const int64_t from = (ct->keep - tiles.tiles[ti - 1].keep) * L, len = (ow0 - ct->keep) * L;
      if (from > 0 && len > 0)
        for (int64_t r = 0; r < AD.out * OH; ++r) {
          std::memmove(s.c1.data() + r * kstride, s.c1.data() + r * kstride + from, len * 8);
          std::memmove(s.c2.data() + r * kstride, s.c2.data() + r * kstride + from, len * 8);
        }
    }
    const int64_t cofs = (ow0 - ct->keep) * L;  // this tile's first output in c1, c2
    // (the finishing step's or the second pass's jac_from_e: direct below, with a row of no
    // exact-engine window)
    const bool keeps = keeps_weights<T>(P, ln, AD, AH, AW, *ct, xp, sv, s.keep_between_passes);
    keep_e = keeps && (!xp || xp->mode == XP_SUMS);
    const bool from_kept = keeps && (!xp || xp->mode == XP_FINISH);
    // the forwards' window sums in the rows' weighing pass (fetch_sum), where RowSums allows
    // and rows_by_weighing chooses it
    const bool weighing = !backward && sums_by_weighing(P, AW, *ct, fuse_rows);
    // ---- window sums, output row by output row
    for (int64_t od = 0; od < AD.out; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        if (!grads && !P.owns_out_row(od, oh)) continue;  // a plain forward: another segment's
        if (od * OH + oh < band_lo || od * OH + oh >= band_hi) continue;  // another band's
        if (xp && xp->mode == XP_FINISH) {  // the plane's sums (S, T, M, U, V, Z), from the
                                             // driver
          for (int b = 0; b < PP_XP_BLOCKS; ++b)
            std::copy(xp->sums + b * L, xp->sums + (b + 1) * L, acc + b * q);
          if (with_log) reset_window_references(acc + 6 * q, q, window_ref0);
        } else {
          bool fused = false;
          // a row that some lanes borrow (Plan::xlane_borrowed_row), summed alone
          auto sum_borrowed = [&](int64_t id, int64_t ih) {
            sum_borrowed_row(P.xlane_short, P.xlane_part, W, acc, fl.need_zero ? 6 : 5,
                             [&](int64_t limit) {
                               for (int64_t k = 0; k < nch; ++k) {
                                 const int64_t cb = ct->chunk_begin(k);
                                 const int64_t ce = std::min(ct->chunk_end(k), limit);
                                 if (cb < ce)
                                   sum_row(AW, ow0, ct->ow1, cb, ce, fetch(id, ih, k), acc, q,
                                           with_log, fl.need_zero);
                               }
                             });
          };
          if (weighing) {
            std::fill(acc, acc + (with_log ? 5 : 3) * q, 0.0);
            if (fl.need_zero) std::fill(acc + 5 * q, acc + 6 * q, 0.0);
            if (with_log) reset_window_references(acc + 6 * q, q, window_ref0);
            const RowSums rs{&AW, ow0, ct->ow1, ct->lo, acc, q, fl.need_zero};
            for (int64_t jd = 0; jd < AD.count[od]; ++jd)
              for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
                const int64_t id = AD.start[od] + jd * AD.step, ih = AH.start[oh] + jh * AH.step;
                if (P.xlane_borrowed_row(ih)) sum_borrowed(id, ih);
                else fetch_sum(id, ih, rs);
              }
            fused = true;
            ++n_weighing;
          } else if (nch == 1 && AD.count[od] * AH.count[oh] <= fuse_rows &&
                     !P.xlane_borrows()) {
            // all the window's rows at once (sum_rows), if the row cache holds them together
            RowData rows[FUSE_ROWS];
            int64_t keys[FUSE_ROWS], nr = 0;
            for (int64_t jd = 0; jd < AD.count[od]; ++jd)
              for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
                const int64_t id = AD.start[od] + jd * AD.step, ih = AH.start[oh] + jh * AH.step;
                keys[nr] = id * AH.in + ih;  // the key of chunk 0
                rows[nr++] = fetch(id, ih, 0);
              }
            bool held = true;  // no row evicted by a later one (a direct-mapped cache)
            for (int64_t i = 0; i < nr; ++i) held = held && cache.tag[keys[i] % cache.ns] == keys[i];
            if (held && with_log) reset_window_references(acc + 6 * q, q, window_ref0);
            if (held)
              sum_rows(AW, ow0, ct->ow1, ct->chunk_begin(0), ct->chunk_end(0), rows, nr, acc, q,
                       with_log, fl.need_zero);
            fused = held;
          }
          if (!backward && !weighing) ++(fused ? n_together : n_each);
          if (backward) ++(fused ? n_bwd_together : n_bwd_each);
          if (!fused) {
            std::fill(acc, acc + (with_log ? 5 : 3) * q, 0.0);
            if (fl.need_zero) std::fill(acc + 5 * q, acc + 6 * q, 0.0);
            if (with_log) reset_window_references(acc + 6 * q, q, window_ref0);
          }
          for (int64_t jd = 0; !fused && jd < AD.count[od]; ++jd) {
            const int64_t id = AD.start[od] + jd * AD.step;
            for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
              const int64_t ih = AH.start[oh] + jh * AH.step;
              if (P.xlane_borrowed_row(ih)) {
                sum_borrowed(id, ih);
                continue;
              }
              for (int64_t k = 0; k < nch; ++k)
                sum_row(AW, ow0, ct->ow1, ct->chunk_begin(k), ct->chunk_end(k), fetch(id, ih, k),
                        acc, q, with_log, fl.need_zero);
            }
          }
          if (P.xlane) {  // (one window: one tile of one output, q = L)
            xlane_sum(acc);
            xlane_sum(acc + q);
            xlane_max(acc + 2 * q);
            if (with_log) {
              xlane_sum(acc + 3 * q);
              xlane_sum(acc + 4 * q);
            }
            if (fl.need_zero) xlane_sum(acc + 5 * q);
          }
          if (xp) {  // XP_SUMS: this part's sums, for the driver to add (one output row: on
                     // to the counts at the end)
            for (int b = 0; b < PP_XP_BLOCKS; ++b)
              std::copy(acc + b * q, acc + b * q + L, xp->sums + b * L);
            continue;
          }
        }
        const double* S = acc;
        const double* Tt = acc + q;
        const double* M = acc + 2 * q;
        const double* U = acc + 3 * q;
        const double* V = acc + 4 * q;
        const double* Z = acc + 5 * q;
        if (backward) load_out_row<T>(gy, P, ln, od, oh, ow0, nt, gybuf);
        double* c1 = backward ? s.c1.data() + (od * OH + oh) * kstride + cofs : nullptr;
        double* c2 = backward ? s.c2.data() + (od * OH + oh) * kstride + cofs : nullptr;
        double slow_in_row = 0.0;  // lanes of this output row's windows in the exact engine
        for (int64_t ow = ow0; ow < ct->ow1; ++ow) {
          const int64_t k0 = (ow - ow0) * L;
          // the lanes' flags as doubles (1: the window goes to the exact engine), so that
          // these loops vectorise (bool stores and a branch on `backward` inside kept them
          // scalar: one division at a time)
          double slow[L], zwin[L];  // 1 where the exact engine does the window; 2 where
                                    // it is one of zeros that the forward does here
          double n_slow = 0.0;
          // counted in dy/da (lane slices in parts: by the owner part alone)
          const double own = P.owns_out(od, oh, ow) && (!xp || xp->owner) ? 1.0 : 0.0;
          if (!backward) {
#if defined(PPV_FAST_VECTOR)
            {  // the loop below on 8 lanes (it compiled to scalar divisions and branches)
              const __m512d Sv = _mm512_loadu_pd(S + k0);
              __mmask8 sl = _mm512_cmp_pd_mask(_mm512_loadu_pd(M + k0), tiny, _CMP_NGE_UQ) |
                            _mm512_cmp_pd_mask(Sv, inf, _CMP_NLT_UQ) | exact_mask;
              __mmask8 zneg = 0;  // windows with a zero at a < 0 done here (zneg_here): y = 0
              __mmask8 jump = 0;  // windows with a zero at a = 0: dy/da = 0
              if (fl.need_zero) {
                const __m512d Zv = _mm512_loadu_pd(Z + k0);
                const __mmask8 zs = _mm512_mask_cmp_pd_mask(zero_mask, Zv, zero, _CMP_GT_OQ);
                jump = _mm512_mask_cmp_pd_mask(jump_mask, Zv, zero, _CMP_GT_OQ);
                sl |= zs & (__mmask8)~zhere_mask;
                // (not with a bad element: S is NaN there, the exact engine flags it)
                zneg = zs & zhere_mask & _mm512_cmp_pd_mask(Sv, Sv, _CMP_EQ_OQ);
              }
              // windows of zeros (zero_fast lanes: S = 0 there alone): y = 0, not special
              const __mmask8 zw = _mm512_mask_cmp_pd_mask(zfast_mask, Sv, zero, _CMP_EQ_OQ);
              sl &= (__mmask8)~(zw | zneg);
              const __m512d yv = _mm512_maskz_mov_pd(
                  (__mmask8)~(zw | zneg), _mm512_div_pd(_mm512_loadu_pd(Tt + k0), Sv));
              _mm512_storeu_pd(ybuf + k0, yv);
              _mm512_storeu_pd(slow, _mm512_maskz_mov_pd(sl, one));
              _mm512_storeu_pd(zwin, _mm512_maskz_mov_pd(zw | zneg, two));
              n_slow = (double)__builtin_popcount((unsigned)sl);
              n_zero_windows += __builtin_popcount((unsigned)(zw | zneg));
              if (save_dw) {  // dy/da = (U - y V) / S, 0 in the exact engine's lanes
                // (the loop below, whose U - y V GCC contracted, with masked loads per lane)
                const __m512d d = _mm512_mul_pd(
                    _mm512_fnmadd_pd(yv, _mm512_loadu_pd(V + k0), _mm512_loadu_pd(U + k0)),
                    _mm512_div_pd(one, Sv));
                _mm512_storeu_pd(dwrow + k0,
                                 _mm512_mask_blend_pd(sl | zw | zneg | jump, d, zero));
              }
            }
#else
            double n_zero = 0.0, jump[L];  // jump: a window with a zero at a = 0 (dy/da = 0)
#pragma omp simd reduction(+ : n_slow, n_zero)
            for (int l = 0; l < L; ++l) {
              const int64_t k = k0 + l;
              const double a = zero_a[l];
              const bool zeros = fl.need_zero && Z[k] > 0 && a != 0.0;
              const bool zero_special = zeros && zneg_here[l] == 0.0;
              const bool zneg = zeros && zneg_here[l] != 0.0 &&
                                S[k] == S[k];  // (a bad element: S NaN, the exact engine's)
              jump[l] = fl.need_zero && Z[k] > 0 && jump_a[l] != 0.0 ? 1.0 : 0.0;
              const bool zw = zero_fast[l] != 0.0 && S[k] == 0.0;
              bool sl = (!(M[k] >= TINY_WEIGHT) || zero_special || !(S[k] < INFINITY) ||
                         exact_lane[l] != 0.0) && !zw && !zneg;
              ybuf[k] = zw || zneg ? 0.0 : Tt[k] / S[k];
              slow[l] = sl ? 1.0 : 0.0;
              zwin[l] = zw || zneg ? 2.0 : 0.0;
              n_slow += slow[l];
              n_zero += zw || zneg ? 1.0 : 0.0;
            }
            n_zero_windows += (int64_t)n_zero;
            if (save_dw) {  // dy/da = (U - y V) / S, as the backward's dal with g = 1
#pragma omp simd
              for (int l = 0; l < L; ++l) {
                const int64_t k = k0 + l;
                dwrow[k] = slow[l] + zwin[l] + jump[l] != 0.0
                               ? 0.0 : (U[k] - ybuf[k] * V[k]) * (1.0 / S[k]);
              }
            }
#endif
            slow_in_row += n_slow;
            if (saving)  // 1: the exact engine's, 2: a window of zeros
              for (int l = 0; l < L; ++l) slowrow[k0 + l] = slow[l] + zwin[l];
          } else {
#pragma omp simd reduction(+ : n_slow)
            for (int l = 0; l < L; ++l) {
              const int64_t k = k0 + l;
              const double a = zero_a[l];
              bool zero_special = fl.need_zero && Z[k] > 0 && a != 0.0;
              bool sl = !(M[k] >= TINY_WEIGHT) || zero_special || !(S[k] < INFINITY) ||
                        exact_lane[l] != 0.0;
              const bool jump = fl.need_zero && Z[k] > 0 && jump_a[l] != 0.0;
              const double yv = Tt[k] / S[k];
              ybuf[k] = yv;
              const double inv = 1.0 / S[k];
              const double g = gybuf[k];
              c1[k] = sl ? 0.0 : g * inv;
              c2[k] = sl ? 0.0 : g * yv * inv;
              dal[l] += sl || jump ? 0.0 : own * g * (U[k] - yv * V[k]) * inv;
              slow[l] = sl ? 1.0 : 0.0;
              n_slow += slow[l];
            }
          }
          if (n_slow > 0.0 && P.xlane) {  // the driver runs the call again without slices
            *status |= ST_XLANE_REDO;
            return;
          }
          if (n_slow > 0.0) {
            bool anyw = false;
            for (int l = 0; l < L; ++l) {
              want[l] = slow[l] != 0.0 && ln.active[l];
              anyw = anyw || want[l];
            }
            if (!anyw) continue;
            // the exact engine's gradients in extra (the overlap state has its own for zero
            // windows and refuses the others' state)
            const bool eg = grads && !ov;
            if (eg && !s.extra_used) {
              if (s.extra.size() != (size_t)(P.plane_in * L)) s.extra.assign(P.plane_in * L, 0.0);
              s.extra_used = true;
            }
            sink.buf = eg ? s.extra.data() : nullptr;
            WindowRange wr = window_range(P, od, oh, ow);
            bool zw[L];
            bool zeros = zero_window_candidates(ln, want, zw);
            if (zeros && nch == 1 && wr.w0 >= ct->lo && wr.w0 + (wr.wn - 1) * wr.ws < ct->hi) {
              // from the row cache (8 lanes a vector; the scalar loads from memory, a branch
              // per lane and element, cost as much as the weighing on relu(randn - 1))
              double nz[L] = {};
              for (int64_t jd = 0; jd < wr.dn; ++jd)
                for (int64_t jh = 0; jh < wr.hn; ++jh)
                  count_nonzero(fetch(wr.d0 + jd * wr.ds, wr.h0 + jh * wr.hs, 0).x +
                                    (wr.w0 - ct->lo) * L, wr.wn, wr.ws, nz);
              zeros = false;
              for (int l = 0; l < L; ++l) {
                zw[l] = zw[l] && nz[l] == 0.0;
                zeros = zeros || zw[l];
              }
            } else if (zeros) {
              zeros = zero_window_lanes<T>(x, P, ln, wr, zw);
            }
            if (zeros) {
              // y = 0, dy/da = 0, dy/dx = 1 at each element (the overlap state's backward:
              // from S = 0; slowrow 2 keeps the state)
              anyw = false;
              for (int l = 0; l < L; ++l) {
                if (zw[l]) {
                  ybuf[k0 + l] = 0.0;
                  if (saving) { dwrow[k0 + l] = 0.0; slowrow[k0 + l] = 2.0; }
                  want[l] = false;
                  ++n_zero_windows;
                }
                anyw = anyw || want[l];
              }
              if (eg)
                for_each_element(P, wr, [&](int64_t pos) {
                  for (int l = 0; l < L; ++l)
                    if (zw[l]) sink.add(pos, l, gybuf[k0 + l]);
                });
              if (!anyw) continue;
            }
            bool zn[L], one_zero[L];
            if (zeros_below_zero_lanes<T>(x, P, ln, wr, want, zn, one_zero)) {
              // y = 0, dy/da = 0, dy/dx only at a window's single zero (exact_lane's case).
              // The overlap state keeps them (slowrow 2: its backward counts the window's
              // zeros, overlap_coef_row); the disjoint state's dy/dx comes from extra (slowrow
              // stays 1)
              const double n = (double)wr.count();
              anyw = false;
              for (int l = 0; l < L; ++l) {
                if (zn[l]) {
                  ybuf[k0 + l] = 0.0;
                  if (saving) dwrow[k0 + l] = 0.0;
                  if (ov) slowrow[k0 + l] = 2.0;
                  want[l] = false;
                  ++n_zero_windows;
                }
                anyw = anyw || want[l];
              }
              if (eg)
                for_each_element(P, wr, [&](int64_t pos) {
                  for (int l = 0; l < L; ++l) {
                    if (!one_zero[l] || to_double<T>(x[ln.in_base[l] + pos * ln.es_in]) != 0.0)
                      continue;
                    sink.add(pos, l, gybuf[k0 + l] * single_zero_dydx(ln.a[l], n));
                  }
                });
              if (!anyw) continue;
            }
            for (int l = 0; l < L; ++l) n_exact_windows += want[l] ? 1 : 0;
            WindowOut wo;
            double dsaved[L] = {};  // the saving forward's dy/da, or another segment's
            exact_window<T>(x, P, ln, wr, want, eg, gybuf + k0, eg ? &sink : nullptr,
                            nullptr, (saving || own == 0.0) ? dsaved : dal, wo);
            for (int l = 0; l < L; ++l)
              if (want[l]) {
                ybuf[k0 + l] = wo.y[l];
                if (wo.bad[l]) *status |= ST_BAD;
                if (saving) dwrow[k0 + l] = dsaved[l];
              }
          }
        }
        const bool writes_y = !xp || xp->owner;  // (lane slices in parts: the owner part)
        if (!backward && writes_y) {
          // a NaN y in an active lane: a bad input (per lane, summed over the row's outputs:
          // a horizontal sum per output cost as much as the window sums of k3 s2)
          double nan_l[L] = {};
          for (int64_t i = 0; i < nt; ++i)
#pragma omp simd
            for (int l = 0; l < L; ++l)
              nan_l[l] += (ybuf[i * L + l] != ybuf[i * L + l]) ? active[l] : 0.0;
          double n_nan = 0.0;
          for (int l = 0; l < L; ++l) n_nan += nan_l[l];
          if (n_nan > 0.0) *status |= ST_BAD;
          store_out_row_owned<T>(y, P, ln, od, oh, ow0, nt, ybuf);
        }
        if (saving) {  // this output row's windows are the only ones holding their elements
          if (sv->dw && writes_y)
            store_out_row_owned<double>(sv->dw, P, ln, od, oh, ow0, nt, dwrow);
          if (ov) {
            ov_unusable += save_overlap_row(P, ln, fl, od, oh, ow0, nt, dwrow, ybuf, slowrow,
                                            *sv);
            continue;  // (the rest is the disjoint state's)
          }
          if (sv->int_state) {  // each window's S and y (run_int_saved_backward)
            // (a window of the exact engine: its dy/dx is not the formula's: recompute)
            if (slow_in_row > 0.0) *status |= ST_UNSAVED;
            if (sv->dwf && writes_y) {  // dy/da as a float (int_state_dw_held)
              if (!int_state_dw_held(ln, fl, dwrow, ybuf, nt)) *status |= ST_UNSAVED;
              store_out_row_owned<float>(sv->dwf, P, ln, od, oh, ow0, nt, dwrow);
            }
            if (writes_y) {
              store_out_row_owned<double>(sv->sy, P, ln, od, oh, ow0, nt, S);
              store_out_row_owned<double>(sv->sy + sv->sy_n, P, ln, od, oh, ow0, nt, ybuf);
            }
            continue;
          }
          double* jrow = s.rowbuf.data();
          double unusable = 0.0;
#if defined(PPV_FAST_VECTOR)
          // jac_store_row where it applies (see there); else jac_row and store_row below.
          // (The exact engine's gradients in extra are those of this output row's own
          // windows, whose elements no other window holds: with none here, extra holds none
          // for these rows.)
          const bool row_slow = slow_in_row > 0.0;  // (a scan of slowrow: 2.6% of the k2 s2 time)
          const bool direct = P.layout == 0 && ln.n_active == L && !row_slow && P.split != 2;
          if (direct) {
            double* k1 = s.jk.data();
            double* k2 = k1 + cols * L;
            double* kz = k2 + cols * L;
            // one window spanning the tile's columns (global pooling; adaptive with one output
            // column): its constants once, for every column (kstep 0), not spread over them
            const bool spans = ct->ow1 - ow0 == 1 && window_spans(AW, ow0, ct->lo, ct->hi);
            if (spans) {
              __m512d c1, c2, cz;
              jac_window_consts(fl, acc, ybuf, c1, c2, cz);
              _mm512_storeu_pd(k1, c1);
              _mm512_storeu_pd(k2, c2);
              _mm512_storeu_pd(kz, cz);
            } else {
              jac_cols(fl, AW, ow0, ct->ow1, ct->lo, ct->hi, acc, ybuf, k1, k2, kz);
            }
            for (int64_t jd = 0; jd < AD.count[od]; ++jd) {
              const int64_t id = AD.start[od] + jd * AD.step;
              for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
                const int64_t ih = AH.start[oh] + jh * AH.step;
                if (!P.owns_in_row(id, ih)) continue;
                if (from_kept && spans) {  // (the first step kept this row's weights)
                  unusable += jac_from_e<T>(x, ln, fl, (id * AH.in + ih) * W + ct->lo,
                                            ct->hi - ct->lo, k1, k2, kz, sv->jac);
                  ++n_from_kept;
                  continue;
                }
                unusable += jac_store_row(P, ln, id, ih, ct->lo, ct->hi, fetch(id, ih, 0), k1,
                                          k2, kz, sv->jac, jac_blocks, sv->stream_jac,
                                          spans ? 0 : L);
              }
            }
            ++n_jac_direct;
            if (sv->stream_jac) ++n_jac_streamed;
          } else {
            ++n_jac_rows;
          }
          for (int64_t jd = 0; !direct && jd < AD.count[od]; ++jd) {
#else
          ++n_jac_rows;  // (the one-lane forms: every row by jac_row)
          for (int64_t jd = 0; jd < AD.count[od]; ++jd) {
#endif
            const int64_t id = AD.start[od] + jd * AD.step;
            for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
              const int64_t ih = AH.start[oh] + jh * AH.step;
              double* ex = s.extra_used ? s.extra.data() + ((id * AH.in + ih) * W + ct->lo) * L
                                        : nullptr;
              unusable += jac_row(fl, AW, ow0, ct->ow1, ct->lo, ct->hi, fetch(id, ih, 0), acc,
                                  ybuf, slowrow, ex, active, jrow);
              store_row_owned<float>(sv->jac, P, ln, id, ih, ct->lo, ct->hi, jrow);
            }
          }
          if (unusable > 0.0) *status |= ST_UNSAVED;
        }
      }
    // (lane slices in parts: the first step's sums alone, pass 2 in the finishing step)
    if (!backward || (xp && xp->mode == XP_SUMS)) continue;
    // ---- pass 2: input columns [done_from, done_to) are final (no later window reads them):
    // per input row, P = sum c1, Q = sum c2 over the windows holding each element. Columns
    // outside [lo, hi) are read by no window: their gradient is 0 (or the exact engine's).
    double* Pp = s.pq.data();
    double* Qp = s.pq.data() + cols * L;
    double* g = s.rowbuf.data();
    const int64_t f0 = ct->done_from, f1 = ct->done_to;
    const int64_t g0 = std::max(f0, ct->lo), g1 = std::max(g0, std::min(f1, ct->hi));
    for (int64_t id = 0; id < AD.in; ++id)
      for (int64_t ih = 0; ih < AH.in; ++ih) {
        double* ex = s.extra_used ? s.extra.data() + (id * AH.in + ih) * W * L : nullptr;
        if (!P.owns_in_row(id, ih)) {  // another segment's row: only clear ex
          if (ex) std::fill(ex + f0 * L, ex + f1 * L, 0.0);
          continue;
        }
        // store ex (or 0) over columns [cb, ce) and clear it
        auto store_plain = [&](int64_t cb, int64_t ce) {
          for (; cb < ce; cb += cols) {
            const int64_t n = std::min(ce, cb + cols) - cb;
            for (int64_t i = 0; i < n * L; ++i) g[i] = ex ? ex[cb * L + i] : 0.0;
            if (ex) std::fill(ex + cb * L, ex + (cb + n) * L, 0.0);
            store_row_owned<T>(gx, P, ln, id, ih, cb, cb + n, g);
          }
        };
        store_plain(f0, std::min(g0, f1));
        store_plain(g1, f1);
        for (int64_t k = 0; k < nch; ++k) {
          const int64_t cb = ct->chunk_begin(k);
          const int64_t a = std::max(g0, cb), b = std::min(g1, ct->chunk_end(k));
          if (a >= b) continue;
          const int64_t n = b - a;
          s.ro_off.clear();  // the output rows that read the row: their c1, c2 offsets
          for (int64_t i1 = AD.inv_off[id]; i1 < AD.inv_off[id + 1]; ++i1)
            for (int64_t i2 = AH.inv_off[ih]; i2 < AH.inv_off[ih + 1]; ++i2)
              s.ro_off.push_back((AD.inv[i1] * OH + AH.inv[i2]) * kstride);
          const bool any = !s.ro_off.empty();
          if (!AW.inv_off.empty()) {
            gather_row(AW, ct->keep, ct->ow1, s.c1.data(), s.c2.data(), s.ro_off.data(),
                       (int)s.ro_off.size(), a, b, Pp, Qp);
          } else {  // (a plan without W's inverse: the same sums, scattered)
            std::fill(Pp, Pp + n * L, 0.0);
            std::fill(Qp, Qp + n * L, 0.0);
            for (const int64_t off : s.ro_off)
              scatter_row(AW, ct->keep, ct->ow1, s.c1.data() + off, s.c2.data() + off, a, b,
                          Pp, Qp);
          }
          double* exa = ex ? ex + a * L : nullptr;
          if (any) {
            grad_row(fl, n, fetch(id, ih, k).from_col(a - cb), Pp, Qp, exa, g);
          } else {
            for (int64_t i = 0; i < n * L; ++i) g[i] = exa ? exa[i] : 0.0;
          }
          if (exa) std::fill(exa, exa + n * L, 0.0);
          store_row_owned<T>(gx, P, ln, id, ih, a, b, g);
        }
      }
  }
  if (ov_unusable > 0.0) *status |= ST_UNSAVED;
#if defined(PPV_AVX512)
  // jac_store_row's streaming stores, visible before the backward
  if (n_jac_streamed) _mm_sfence();
#endif
#if defined(__AVX2__) && !defined(PPV_ONE_LANE)
  // save_e_row's streaming stores, the same; keep_e_row's, before the finishing step
  if (ov || keep_e) _mm_sfence();
#endif
  count_weight_paths(nw);
  if (n_zero_windows) special_windows_zero += n_zero_windows;
  if (n_exact_windows) special_windows_exact += n_exact_windows;
  if (n_together) rows_summed_together += n_together;
  if (n_bwd_together) backward_rows_together += n_bwd_together;
  if (n_bwd_each) backward_rows_each += n_bwd_each;
  if (n_weighing) rows_summed_weighing += n_weighing;
  if (n_each) rows_summed_each += n_each;
  if (n_jac_direct) jac_rows_direct += n_jac_direct;
  if (n_jac_streamed) jac_rows_streamed += n_jac_streamed;
  if (n_from_kept) xpart_e_rows += n_from_kept;
  if (jac_blocks[0]) jac_blocks_positive += jac_blocks[0];
  if (jac_blocks[1]) jac_blocks_masked += jac_blocks[1];
  if (n_jac_rows) jac_rows_lanes += n_jac_rows;
  if (saving) s.extra_used = false;
  if (!backward) return;
  s.extra_used = false;
  for (int l = 0; l < L; ++l) dplain[l] = dal[l];
}

// ------------------------------------------------------------------- float64 (exact) path

// One per-thread arena for float64's plane-sized scratch: the element cache of exact_group
// and the overlap state's backward (run one after the other, never at once; fused_group64
// runs both for a group): one buffer per thread, not two (the peak RSS of the matrix's 2-D
// float64 k3 s2 p1 row counts them)
inline std::vector<double>& f64_arena() {
  static thread_local std::vector<double> mem;
  return mem;
}

// Windows (of 8 lanes) that forward_window64 evaluated since the last ppv_lean_windows64 call,
// and whether it is used (ppv_lean64: tests compare its bits with exact_window's).
PPV_SHARED(std::atomic<int64_t>, lean_windows64, , {0})
PPV_SHARED(std::atomic<int>, lean64_on, , {1})


// A float64 forward's window in all 8 lanes, straight from the group's element cache (x, x^a
// and its low part per position, lane-interleaved): exact_window's passes 1 and 2 and its y
// for the case that every lane is general and takes the new path (the same operations in the
// same order: the same bits), without its gather or its per-element stores and reloads of the
// terms. A plain forward (STATE false) also leaves out the sums that only pass 3 and the
// overlap state read (D, sum x / R) and writes y alone; the overlap state's saving forward
// (STATE true, out.want_state) forms D and the dy/da sums LR and LS too and fills out as
// exact_window does (y, xmax, bad, s, ylo, ok, dwm, dwe). Returns false, with nothing
// written, for any other window (a special lane, an old-path lane, a y that needs ldexp):
// exact_window evaluates it. Lanes in idle (a group's missing planes, whose elements
// load_lanes sets to 1) are neither checked nor read.
template <bool STATE>
PPV_ALWAYS_INLINE bool forward_window64(const ElemCache& ec, const Plan& P, const WindowRange& w,
                                        const v8d va, const v8l idle, double* y,
                                        WindowOut* out) {
  const int64_t H = P.ax[1].in, W = P.ax[2].in;
  const v8d zero = {}, one = zero + 1.0;
  WindowStats st;
  for (int64_t jd = 0; jd < w.dn; ++jd)
    for (int64_t jh = 0; jh < w.hn; ++jh) {
      const double* row = ec.X + ((w.d0 + jd * w.ds) * H + w.h0 + jh * w.hs) * W * L;
      for (int64_t jw = 0; jw < w.wn; ++jw) st.add(v8_load(row + (w.w0 + jw * w.ws) * L));
    }
  v8d mxm, mxe, mnm, mne;
  split8(st.vmax, mxm, mxe);
  split8(st.vmin, mnm, mne);
  const v8l nw = new_path_lanes(st, va, mxe, mne, special_lanes(st, va, mxe, mne));
  if (v8_any(~(nw | idle))) return false;  // (idle lanes: x = 1, nothing reads their y)
  const v8d vR = v8_select(va >= zero, st.vmax, st.vmin);
  v8d Rm, Re;
  split8(vR, Rm, Re);
  const v8l eR = v8_to_int(Re);
  const v8l inr = (eR >= -1022) & (eR <= 1023);
  if (v8_any(~(inr | idle))) return false;
  v8d scale, scale2;
  exponent_scales(eR, scale, scale2);
  const v8d e_zero = v8_select(va == zero, one, zero);  // a zero's weight (0^0 = 1)
  v8d vS = {}, vSc = {}, vTR = {}, vTRc = {};
  // STATE: D's sum (DN = sum E rho) and the dy/da sums LR = sum E ln(x/c) rho, LS = sum
  // E ln(x/c) (c the window's first element, R where that is not positive; exact_window)
  v8d vDN = {}, vDNc = {}, vLR = {}, vLRc = {}, vLS = {}, vLSc = {}, vch = {}, vcl = {};
  if constexpr (STATE) {
    const int64_t f = ((w.d0 * H + w.h0) * W + w.w0) * L;
    const v8d xf = v8_load(ec.X + f);
    vch = v8_load(ec.H + f);
    vcl = v8_load(ec.Lo + f);
    if (v8_any(~(xf > zero))) {
      double R[L], rh[L], rl[L];
      v8_store(R, vR);
      elem_log_lanes(R, rh, rl);
      vch = v8_select(xf > zero, vch, v8_load(rh));
      vcl = v8_select(xf > zero, vcl, v8_load(rl));
    }
  }
  for (int64_t jd = 0; jd < w.dn; ++jd)
    for (int64_t jh = 0; jh < w.hn; ++jh) {
      const int64_t rp = ((w.d0 + jd * w.ds) * H + w.h0 + jh * w.hs) * W * L;
      for (int64_t jw = 0; jw < w.wn; ++jw) {
        const int64_t k = rp + (w.w0 + jw * w.ws) * L;
        const v8d u = v8_load(ec.X + k);
        const v8l p = u > zero;
        const v8d e = v8_select(p, v8_load(ec.E + k), e_zero);
        const v8d elo = v8_select(p, v8_load(ec.El + k), zero);
        const v8d r = v8_select(p, (u * scale) * scale2, zero);
        const v8d et = e * r;
        const v8d elt = fma8(elo, r, fma8(e, r, -et));
        neumaier_pos(vS, vSc, e);
        v8d rho = zero, elr = zero;
        if constexpr (STATE) {
          rho = v8_select(p, (u - vR) / vR, zero - 1.0);
          const v8d er = e * rho;
          elr = fma8(elo, rho, fma8(e, rho, -er));
          neumaier(vDN, vDNc, er);
        }
        neumaier_pos(vTR, vTRc, et);
        vSc += elo;
        if constexpr (STATE) vDNc += elr;
        vTRc += elt;
        if constexpr (STATE) {
          const v8d el = e * (((v8_load(ec.H + k) - vch) + (v8_load(ec.Lo + k) - vcl)));
          neumaier(vLS, vLSc, el);  // E ln(x/c) (0 at x <= 0: e = 0)
          neumaier(vLR, vLRc, el * rho);
        }
      }
    }
  count_pair_mode(PAIR_NEW);
  const v8d vq = (vTR + vTRc) / (vS + vSc);
  if constexpr (!STATE) {
    v8_store(y, vq * pow2_8(eR));
  } else {
    // exact_window's want_state outputs, every lane general and new
    v8_store(out->y, vq * pow2_8(eR));
    v8_store(out->xmax, st.vmax);
    std::memset(out->bad, 0, sizeof out->bad);
    state_outputs(*out, ~idle, st, va, mxe - mne, vR, pow2_8(eR), vS, vSc, vTR, vTRc, vq, vDN,
                  vDNc, vLR, vLRc, vLS, vLSc);
  }
  return true;
}

// exact_group's per-window steps of the float64 overlap state (ov64) for a window that
// forward_window64 served in all 8 lanes (every lane active), by vectors: the same values as
// its lane-by-lane loop. A lane with ok and a finite dy/da = dwm 2^dwe keeps it as that
// loop's ScaledSum does (d = m 2^e, m = frexp2(dwm), one product) where dwm is 0 or normal and
// the exponent within [-1022, 1023]; any other lane there returns false, nothing written (the
// loop does it). S (-1 where not ok), y and y's low part relative to y (a float: 0 where not
// ok) into the state, d into dw where ok (and ST_UNSAVED for a d the state cannot keep, as
// there), ST_BAD for a NaN y; y into yout (lane l at out_base[l], yout the output at lane 0's
// place) unless null.
PPV_ALWAYS_INLINE bool state_epilogue64(const WindowOut& wo, const Lanes& ln, const Saved& sv,
                                        int64_t si, int* status, double* yout) {
  const v8d zero = {};
  double okd[L];
  for (int l = 0; l < L; ++l) okd[l] = wo.ok[l] ? 1.0 : 0.0;
  const v8d dwm = v8_load(wo.dwm);
  const v8l ok = (v8_load(okd) != zero) & (v8_abs(dwm) <= zero + 1.7976931348623157e308);
  v8d d = zero;
  if (sv.dw) {
    v8d fv;
    v8l ev, normal;
    frexp8(dwm, fv, ev, normal);
    double ed[L];
    for (int l = 0; l < L; ++l) ed[l] = wo.dwe[l];
    const v8l ve = v8_to_int(v8_load(ed)) + ev;
    const v8l plain = (dwm == zero) | (normal & (ve >= -1022) & (ve <= 1023));
    if (v8_any(ok & ~plain)) return false;
    d = v8_select(dwm == zero, zero, fv * pow2_8(ve));
    const v8d ad = v8_abs(d), aa = v8_abs(v8_load(ln.a));
    const v8d floor = v8_select(aa > zero + 1.0, aa, zero + 1.0) * 0x1p-1000;
    const v8l sub = (d != zero) & (ad < zero + 2.2250738585072014e-308);
    if (v8_any(ok & sub & ~(v8_load(wo.xmax) >= floor))) *status |= ST_UNSAVED;
    v8_store(sv.dw + si, v8_select(ok, d, v8_load(sv.dw + si)));
  }
  const v8d vy = v8_load(wo.y);
  if (v8_any(vy != vy)) *status |= ST_BAD;
  v8_store(sv.win64 + si, v8_select(ok, v8_load(wo.s), zero - 1.0));
  v8_store(sv.win64 + sv.win_n + si, vy);
  double q[L];
  v8_store(q, v8_select(ok, v8_load(wo.ylo) / vy, zero));
  float* lo = reinterpret_cast<float*>(sv.win64 + 2 * sv.win_n) + si;
#pragma omp simd
  for (int l = 0; l < L; ++l) lo[l] = (float)q[l];
  if (yout)
    for (int l = 0; l < L; ++l) yout[ln.out_base[l] - ln.out_base[0]] = wo.y[l];
  return true;
}

// The exact engine keeps no plane-sized scratch: a float64 group's input gradient is summed in
// place (zeroed first), window by window, in the order a lane-interleaved buffer would be.
template <class T>
void exact_group(const T* x, const Plan& P, const Lanes& ln, T* y, const T* gy, T* gx,
                 ScaledSum* da, int* status, const Saved* sv = nullptr) {
  // a saving forward (float64): the backward with gy = 1 into sv->jac64, y written, and each
  // window's dy/da (its own sum) into sv->dw. The overlap state's (ov64: sv->e64) is a
  // forward that keeps x^a, S, y and each window's dy/da from pass 2's sums (WindowOut's
  // want_state): no pass 3.
  const bool ov64 = sv != nullptr && sv->e64 != nullptr;
  const bool saving = sv != nullptr && !ov64;
  const bool backward = gx != nullptr || saving;
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  GradSink sink;
  if (backward) {
    if constexpr (!std::is_same<T, double>::value) {
      return;  // the exact engine serves float64 inputs only (see run)
    } else {
      double* g = saving ? sv->jac64 : gx;
      sink.es = ln.es_in;
      sink.lo = P.own_flat_lo();
      sink.hi = P.own_flat_hi();
      for (int l = 0; l < L; ++l) {
        if (!ln.active[l]) continue;
        sink.lane[l] = g + ln.in_base[l];
        for (int64_t pos = sink.lo; pos < sink.hi; ++pos) sink.lane[l][pos * sink.es] = 0.0;
      }
    }
  }
  // float64: each element's ln x and x^a once (elem_terms_lanes), for the new-path windows
  ElemCache ecache;
  const ElemCache* ecp = nullptr;
  bool plane_too_big = false;  // no element cache for want of room (not for want of new lanes)
  if constexpr (std::is_same<T, double>::value) {
    bool any_small = false;
    for (int l = 0; l < L; ++l)
      any_small = any_small || (ln.active[l] && std::fabs(ln.a[l]) <= FASTLOG_MAX_A);
    const int64_t np = AD.in * AH.in * AW.in;
    plane_too_big = np > ELEM_CACHE_ELEMS;
    if (any_small && np <= ELEM_CACHE_ELEMS) {
      std::vector<double>& mem = f64_arena();
      const size_t n = (size_t)(np * L);
      // a forward keeps E and E_lo only (ln x is for pass 3's dy/dalpha terms); ov64 writes E
      // straight into the state's x^a (the cache's own layout, e_index)
      const bool logs = backward || ov64;
      const size_t arrays = (logs ? 5 : 3) - (ov64 ? 1 : 0);
      if (mem.size() < arrays * n) mem.resize(arrays * n);
      double *X = mem.data(), *El = X + (ov64 ? 1 : 2) * n, *H = logs ? El + n : nullptr,
             *Lo = logs ? H + n : nullptr;
      double* E = ov64 ? sv->e64 + (sv->local ? 0 : e_index(P, group_of(P, ln), 0, 0, 0))
                       : X + n;
      double dump_h[L], dump_lo[L];
      double a8[L];
      for (int l = 0; l < L; ++l) a8[l] = ln.a[l];
      // in blocks: the 8 scalar loads of a position are stored (into X, which the window
      // passes then gather from: one vector per element) well before the vector load reads
      // them (read at once, the store-to-load forwarding stall cost more than the terms)
      constexpr int64_t BLK = 32;
      for (int64_t p0 = 0; p0 < np; p0 += BLK) {
        const int64_t p1 = std::min(np, p0 + BLK);
        load_lanes_range<T>(x, ln, p0, p1, X + p0 * L);
        for (int64_t pos = p0; pos < p1; ++pos)
          elem_terms_lanes(X + pos * L, a8, E + pos * L, El + pos * L,
                           logs ? H + pos * L : dump_h, logs ? Lo + pos * L : dump_lo);
      }
      ecache.X = X;
      ecache.E = E;
      ecache.El = El;
      ecache.H = H;
      ecache.Lo = Lo;
      ecp = &ecache;
    }
  }
  // no element cache: no x^a to keep. A plane too large for it, or every plane's |a| beyond
  // 16, refuses the state (the backward recomputes); a group whose every |a| is beyond 16
  // among others keeps it, each of its windows outside the state's argument (exact_window:
  // not new-path lanes, S = -1), so its backward evaluates them again and the group's x^a
  // (not written) is never read
  if (ov64 && ecp == nullptr && (plane_too_big || !P.new_alpha)) *status |= ST_UNSAVED;
  const int64_t group = (ov64 && !sv->local) ? group_of(P, ln) : 0;
  // a plain forward or the overlap state's with an element cache: forward_window64 first
  const bool lean_on = lean64_on.load(std::memory_order_relaxed) != 0;
  const bool lean = std::is_same<T, double>::value && !backward && !ov64 && ecp != nullptr &&
                    lean_on;
  const bool lean_state = std::is_same<T, double>::value && ov64 && ecp != nullptr &&
                          ecp->H != nullptr && lean_on;
  v8d va = {};
  v8l idle = {};
  if (lean || lean_state) {
    double act[L];
    for (int l = 0; l < L; ++l) act[l] = ln.active[l] ? 1.0 : 0.0;
    va = v8_load(ln.a);
    idle = v8_load(act) == 0.0;
  }
  int64_t n_lean = 0;
  // the overlap state's windows of a whole group (8 planes) that forward_window64 served:
  // their state stored by vectors (state_epilogue64); y, kept in the state too, written to
  // the output from there after the group's windows where the plan is not split
  const bool whole = ov64 && lean_state && ln.n_active == L;
  const bool y_later = whole && !sv->local && gx == nullptr && P.split < 0;
  bool want[L];
  for (int l = 0; l < L; ++l) want[l] = ln.active[l];
  double gyv[L];
  double dummy[L];
  ScaledSum not_owned[L];  // dy/da of the windows another segment owns (see Plan::split)
  for (int64_t od = 0; od < AD.out; ++od)
    for (int64_t oh = 0; oh < AH.out; ++oh)
      for (int64_t ow = 0; ow < AW.out; ++ow) {
        const bool owned = P.owns_out(od, oh, ow);
        // (a segment's local overlap state, fused_group64's: every window of the segment, the
        // shared ones for the gradients of the inputs it owns)
        if (!backward && !owned && !(ov64 && sv->local)) continue;
        WindowRange wr = window_range(P, od, oh, ow);
        if (lean) {
          double yl[L];
          if (forward_window64<false>(*ecp, P, wr, va, idle, yl, nullptr)) {
            const int64_t o = ((od * AH.out + oh) * AW.out + ow) * ln.es_out;
            bool nan = false;
            for (int l = 0; l < L; ++l) {
              if (!ln.active[l]) continue;
              nan = nan || std::isnan(yl[l]);
              y[ln.out_base[l] + o] = from_double<T>(yl[l]);
            }
            if (nan) *status |= ST_BAD;
            ++n_lean;
            continue;
          }
        }
        for (int l = 0; l < L; ++l)
          gyv[l] = saving ? 1.0
                          : (backward && ln.active[l])
                                ? to_double<T>(gy[out_index(P, ln, l, od, oh, ow)]) : 0.0;
        WindowOut wo;
        wo.want_state = ov64;
        ScaledSum wda[L];  // saving, ov64: this window's dy/da
        bool lean_done = false;
        if (!(lean_state &&
              (lean_done = forward_window64<true>(*ecp, P, wr, va, idle, nullptr, &wo))))
          exact_window<T>(x, P, ln, wr, want, backward, gyv, backward ? &sink : nullptr,
                          saving ? wda : (backward ? (owned ? da : not_owned) : nullptr),
                          dummy, wo, std::is_same<T, double>::value, ecp);
        else
          ++n_lean;
        if constexpr (std::is_same<T, double>::value) {
          if (lean_done && whole &&
              state_epilogue64(wo, ln, *sv, state_index(P, group, od, oh, ow), status,
                               (y_later || gx != nullptr || sv->local)
                                   ? nullptr : y + out_index(P, ln, 0, od, oh, ow)))
            continue;
        }
        if (ov64)
          for (int l = 0; l < L; ++l)
            if (wo.ok[l] && std::isfinite(wo.dwm[l])) wda[l].add(wo.dwm[l], wo.dwe[l]);
            else wo.ok[l] = false;  // (the backward evaluates the window again)
        const int64_t si = ov64 ? state_index(P, group, od, oh, ow) : 0;
        for (int l = 0; l < L; ++l) {
          if (!ln.active[l]) continue;
          if (wo.bad[l] || std::isnan(wo.y[l])) *status |= ST_BAD;
          const int64_t o = out_index(P, ln, l, od, oh, ow);
          if (gx == nullptr && !(ov64 && sv->local)) y[o] = from_double<T>(wo.y[l]);
          if (ov64) {  // a window the state does not serve: S = -1 (the backward's mark)
            sv->win64[si + l] = wo.ok[l] ? wo.s[l] : -1.0;
            sv->win64[sv->win_n + si + l] = wo.y[l];
            // y's low part relative to y, as a float (|ylo / y| <= 2^-53: its own error
            // below 2^-77 of y), in the third array's place: 4 bytes per output, not 8
            // (0 in a window the state does not serve: exact_window leaves ylo unwritten
            // where no lane is general)
            reinterpret_cast<float*>(sv->win64 + 2 * sv->win_n)[si + l] =
                wo.ok[l] ? (float)(wo.ylo[l] / wo.y[l]) : 0.0f;
          }
          if (sv && sv->dw && (!ov64 || wo.ok[l])) {
            // one double per window. A subnormal one costs at most 2^-1075 |gy| (absolute),
            // within the dy/da bound (64 u x sum |gy| xmax / max(1, |a|) over the windows)
            // while xmax >= max(1, |a|) 2^-1000; else, or if it overflows, the state is
            // refused (the backward recomputes, with a power-of-two scale per sum)
            const double d = scale2k(wda[l].m, wda[l].e);
            const bool sub = d != 0.0 && std::fabs(d) < 2.2250738585072014e-308;
            if (!(std::fabs(d) <= 1.7976931348623157e308) ||
                (sub && !(wo.xmax[l] >= std::max(1.0, std::fabs(ln.a[l])) * 0x1p-1000)))
              *status |= ST_UNSAVED;
            sv->dw[ov64 ? si + l : o] = d;
          }
        }
      }
  if constexpr (std::is_same<T, double>::value) {
    if (y_later)  // (every window of the group wrote its y into the state)
      scatter_lanes_range(y, ln, ln.out_base, ln.es_out, 0, AD.out * AH.out * AW.out,
                          sv->win64 + sv->win_n + state_index(P, group, 0, 0, 0));
  }
  if (n_lean) lean_windows64 += n_lean;
  flush_pair_modes();
}

// Row segments the overlap state's backward weighed again (an E_REDO; float64: windows and
// lanes evaluated again, run_overlap64_backward) since the last ppv_overlap_redone call. For
// tests.
PPV_SHARED(std::atomic<int64_t>, overlap_rows_redone, , {0})

// ------------------------------------------ float64: the backward from the overlap state
// float64 windows that share elements (k3 s2 p1, k3 s1, adaptive): the per-window backward
// forms each element's ln x and x^a again (the element cache), passes 1 and 2 of every window
// and pass 3's per-pair gradient (four divisions per pair and lane), 2.4x the forward
// (2-D k3 s2 p1, (2,64,112,112), one thread, AVX2: 72 against 30 ms). The saving forward
// (ppv_forward_overlap_saved64: exact_group with Saved::e64) keeps each element's x^a (the
// element cache's E, written there directly: 8 bytes per input element), each window's
// S = sum E, y and y's low part (20 bytes per output: the low part a float relative to y;
// a double there took the peak RSS of the matrix's row to 1.59x max_pool2d's, and without
// it the input gradients at |a| = 16 were 40-145 u off) and, when alpha's gradient is wanted,
// its dy/da from two more compensated sums of pass 2 (exact_window's want_state: no pass 3).
// The backward then sums per element, over the windows w that hold it (c_w = g_w / S_w,
// d = (x - y_w) - ylo_w),
//     P = sum_w c_w,   C = sum_w c_w (d / x),   dx = E (P + a C),
// which is sum_w g_w (E / S_w) (1 + a (x - y_w) / x): each window's dy/dx times g_w as the
// exact engine forms it (w (1 + a rel)), with x - y from y to about 2^-100 (no cancellation
// beyond the difference's own: x - y_hi is exact within a factor 2 of y); each term of P and
// C carries a relative error of a few u, as the per-window backward's gy * dy/dx, and both sum
// the windows in a double as its gradient sink does. dy/da = sum_w g_w dw_w. A window the
// state does not serve (exact_window's ok: the new path, normal positive elements or zeros at
// a > 0, a != 1, a span within 2^500, every weight above 2^-900, S within [2^-400, 2^400]) is
// stored with S = -1 and evaluated again in the backward by exact_window, its lanes alone (as
// is a window whose g is beyond [2^-400, 2^100]). The state is refused (ST_UNSAVED: the
// caller recomputes) where the plane is too large for the element cache (ELEM_CACHE_ELEMS) or
// no lane has |a| <= 16, where a window's dy/da is not representable well enough (as the
// disjoint state's), or where the forward was segmented. The recomputing backward of such
// windows runs the same two steps per group (fused_group64), so that both give the same bits.
inline bool disjoint(const Plan& P);

// 1 / x of a normal x, else 0 (served windows hold no other, and c (d / x) must stay 0 in the
// lanes not served)
PPV_ALWAYS_INLINE v8d recip_normal8(v8d x) {
  const v8d zero = {};
  const v8l normal = (x >= zero + 2.2250738585072014e-308) & (x <= zero + 1.7976931348623157e308);
  return v8_select(normal, (zero + 1.0) / x, zero);
}
// An element's dx from the sums over the served windows that hold it, dx = E (f P + a C)
// (f = 1, or 1 + a in a lane near a = -1: FAR_FORM_1PA), where x > 0 is finite and some served
// window holds it (P or C not 0; a zero's dy/dx is 0 in the windows served, and an element
// only in windows evaluated again may have no finite E)
PPV_ALWAYS_INLINE v8d overlap64_dx(v8d x, v8d e, v8d p, v8d c, v8d a, v8d f) {
  const v8d zero = {};
  const v8l served = (x > zero) & (x <= zero + 1.7976931348623157e308) &
                     ((p != zero) | (c != zero));
  return v8_select(served, e * (f * p + a * c), zero);
}

// Where |1 + a| is below this (a near -1, the harmonic mean at a = -1), the overlap state's
// backward sums the far form of each window's dy/dx, w ((1 + a) - a y / x): C = sum c (-y / x)
// and dx = E ((1 + a) P + a C). The near form 1 + a (x - y) / x cancels there wherever x >> y
// (at a = -1, x = 1e20 in a window [1, 1e20] with y = 2: 1 - 1 = 0 instead of 2e-40, and a
// relative error 2^-52 x / y in general), where the far form has none; near x = y the far
// form's (1 + a) + |a| y / x is about 1, no cancellation either. Elsewhere the near form
// (its error |a| u against |1 + a| + |a| y / x: at most 17 u here).
constexpr double FAR_FORM_1PA = 1.0 / 16.0;

// One group's backward from the float64 overlap state: E its block of x^a (e_index's
// layout from the group's start), win / dw the state's windows at state_index(P, sgroup, ...)
// (sgroup: the group's index in them; win_n doubles per array); gx written for the group's
// active lanes; dy/da per lane as dm 2^de (want_param). s: per-thread scratch.
struct Overlap64Scratch {
  std::vector<double> Xtra;  // (x, 1 / x, P and C live in f64_arena)
  std::vector<double> G;     // gy, lane-interleaved
};
inline void overlap64_group_backward(const Plan& P, const double* x, const Lanes& ln,
                                     int64_t sgroup, const double* E, const double* win,
                                     int64_t win_n, const double* dw, const double* gy,
                                     double* gx, bool want_param, double* dm, int* de,
                                     Overlap64Scratch& s) {
  const int64_t np = P.plane_in, n = np * L;
  std::vector<double>& arena = f64_arena();
  if ((int64_t)arena.size() < 4 * n) arena.resize((size_t)(4 * n));
  double *X = arena.data(), *IX = X + n, *Pa = IX + n, *Ca = Pa + n;
  load_lanes_range<double>(x, ln, 0, np, X);
  // windows that share no element (k2 s2, global, adaptive to a divisor): each element's P and
  // C are its one window's terms (0 + c, 0 + c (d / x): the same operations as the sums
  // below), so its dx is formed there and then, without the 1 / x, P and C arrays
  const bool one_window = disjoint(P);
  std::fill(Pa, Pa + n, 0.0);
  if (!one_window) {
    for (int64_t k = 0; k < n; k += L) v8_store(IX + k, recip_normal8(v8_load(X + k)));
    std::fill(Ca, Ca + n, 0.0);
  }
  const v8d va = v8_load(ln.a);
  bool extra = false;   // some window evaluated again
  int64_t again_n = 0;  // its lanes (counted in overlap_rows_redone, for tests)
  GradSink sink;
  ScaledSum dextra[L];  // gy dy/da of those windows
  double dl[L] = {};
  bool wide[L] = {};  // a term of sum g dw beyond [2^-960, 2^960]: summed again, scaled
  // gy of the group's planes, lane-interleaved by output position (0 in inactive lanes), and
  // the per-window steps on all 8 lanes at once: each lane's arithmetic as it was lane by lane
  const int64_t nout = P.ax[0].out * P.ax[1].out * P.ax[2].out;
  if ((int64_t)s.G.size() < nout * L) s.G.resize((size_t)(nout * L));
  double* G = s.G.data();
  gather_lanes_range(gy, ln, ln.out_base, ln.es_out, 0, nout, G, 0.0);
  const v8d zero = {};
  const v8l farv = v8_abs(va + 1.0) < zero + FAR_FORM_1PA;  // (FAR_FORM_1PA)
  const v8d vf = v8_select(farv, va + 1.0, zero + 1.0);
  v8l act;
  {
    double aa[L];
    for (int l = 0; l < L; ++l) aa[l] = ln.active[l] ? 1.0 : 0.0;
    act = v8_load(aa) != zero;
  }
  v8d dlv = zero;
  v8l widev = act & ~act;  // (no lane)
  const float* ylo = reinterpret_cast<const float*>(win + 2 * win_n);
  int64_t o = 0;
  for (int64_t od = 0; od < P.ax[0].out; ++od)
    for (int64_t oh = 0; oh < P.ax[1].out; ++oh)
      for (int64_t ow = 0; ow < P.ax[2].out; ++ow, ++o) {
        const int64_t si = state_index(P, sgroup, od, oh, ow);
        const bool owned = P.owns_out(od, oh, ow);  // (a segment's windows: their dy/da)
        const v8d g = v8_load(G + o * L), S = v8_load(win + si), ag = v8_abs(g);
        const v8l again = act & ((S < zero) | (ag > zero + 0x1p100) |
                                 ((ag != zero) & (ag < zero + 0x1p-400)) | (ag != ag));
        const v8l use = act & ~again;
        const v8d c = v8_select(use, g / S, zero);
        const v8d yh = v8_select(use, v8_load(win + win_n + si), zero);
        double yf[L];
#pragma omp simd
        for (int l = 0; l < L; ++l) yf[l] = (double)ylo[si + l];
        const v8d yl = v8_select(use, yh * v8_load(yf), zero);
        if (want_param && owned) {
          const v8d term = g * v8_load(dw + si), at = v8_abs(term);
          dlv = v8_select(use, dlv + term, dlv);
          widev = widev |
                  (use & ((at > zero + 0x1p960) | ((at != zero) & (at < zero + 0x1p-960))));
        }
        const WindowRange wr = window_range(P, od, oh, ow);
        if (v8_any(again)) {  // those lanes' window as the recomputing backward does it
          if (!extra) {
            if ((int64_t)s.Xtra.size() < n) s.Xtra.resize((size_t)n);
            std::fill(s.Xtra.begin(), s.Xtra.begin() + n, 0.0);
            sink.buf = s.Xtra.data();
            extra = true;
          }
          bool again_l[L];
          double gl[L];
          v8_store(gl, g);
          for (int l = 0; l < L; ++l) {
            again_l[l] = again[l] != 0;
            again_n += again_l[l] ? 1 : 0;
          }
          WindowOut wo;
          double dummy[L];
          exact_window<double>(x, P, ln, wr, again_l, true, gl, &sink,
                               want_param && owned ? dextra : nullptr, dummy, wo, true,
                               nullptr);
          flush_pair_modes();  // (its path counts, now: not left to a later call's)
        }
        if (one_window) {
          for_each_element(P, wr, [&](int64_t pos) {
            const v8d xv = v8_load(X + pos * L);
            const v8d d = (v8_select(farv, zero, xv) - yh) - yl;  // far: -y
            const v8d pv = zero + c, cv = zero + c * (d * recip_normal8(xv));
            v8_store(Pa + pos * L, overlap64_dx(xv, v8_load(E + pos * L), pv, cv, va, vf));
          });
          continue;
        }
        for_each_element(P, wr, [&](int64_t pos) {
          double* pp = Pa + pos * L;
          double* cc = Ca + pos * L;
          const v8d xv = v8_load(X + pos * L);
          const v8d d = (v8_select(farv, zero, xv) - yh) - yl;  // far: -y
          v8_store(pp, v8_load(pp) + c);
          v8_store(cc, v8_load(cc) + c * (d * v8_load(IX + pos * L)));
        });
      }
  v8_store(dl, dlv);
  for (int l = 0; l < L; ++l) wide[l] = widev[l] != 0;
  // dx (overlap64_dx: C sums c (x - y) / x, or c (-y / x) in the far form; where windows share
  // no element it was formed window by window above), plus the windows evaluated again
  if (!one_window)
    for (int64_t k = 0; k < n; k += L)
      v8_store(Pa + k, overlap64_dx(v8_load(X + k), v8_load(E + k), v8_load(Pa + k),
                                    v8_load(Ca + k), va, vf));
  if (extra) {
    const double* xt = s.Xtra.data();
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) Pa[k] += xt[k];
  }
  // (gx may be the state's x^a: this group's, read no more.) A segment writes the inputs it
  // owns (Plan::split), the rest being the previous segment's
  const int64_t own_lo = P.own_flat_lo(), own_hi = P.own_flat_hi();
  scatter_lanes_range(gx, ln, ln.in_base, ln.es_in, own_lo, own_hi, Pa + own_lo * L);
  if (again_n) overlap_rows_redone += again_n;
  if (!want_param) return;
  for (int l = 0; l < L; ++l) {
    ScaledSum ss;
    if (!ln.active[l]) {
      dm[l] = 0.0;
      de[l] = 0;
      continue;
    }
    if (wide[l]) {  // the plane's sum again, each term scaled
      for (int64_t od = 0; od < P.ax[0].out; ++od)
        for (int64_t oh = 0; oh < P.ax[1].out; ++oh)
          for (int64_t ow = 0; ow < P.ax[2].out; ++ow) {
            const int64_t si = state_index(P, sgroup, od, oh, ow) + l;
            if (win[si] < 0.0 || !P.owns_out(od, oh, ow)) continue;
            const double gv = gy[out_index(P, ln, l, od, oh, ow)];
            const double ag = std::fabs(gv);
            if (ag > 0x1p100 || (ag != 0.0 && ag < 0x1p-400) || !(ag == ag)) continue;
            int eg, ed;
            const double mg = frexp2(gv, &eg);
            const double md = frexp2(dw[si], &ed);
            ss.add(mg * md, eg + ed);
          }
    } else {
      ss.add(dl[l], 0);
    }
    ss.add(dextra[l].m, dextra[l].e);
    dm[l] = ss.m;
    de[l] = ss.e;
  }
}

// The recomputing backward of float64 windows that share elements, group by group: the
// saving forward's state for this group alone (exact_group with a local Saved) and the
// state's backward from it, so that a backward that recomputes (a second backward through a
// retained graph, torch.func's, a forward that kept no state) gives the state's bits: the
// float64 backward is then the same function of its inputs however it runs (gradcheck's
// reentrancy), and takes 0.8x the time of the per-window one it replaces. Returns false where
// the group's state would be refused (no element cache, a dy/da not representable well
// enough): the caller runs exact_group's backward for it.
struct Fused64Scratch {
  std::vector<double> e, win, dw;
  Overlap64Scratch bw;
};
inline bool fused_group64(const double* x, const Plan& P, const Lanes& ln, const double* gy,
                          double* gx, ScaledSum* da, int* status, Fused64Scratch& fs) {
  // the state refused before any window (exact_group: no element cache): not computed in vain
  if (P.plane_in > ELEM_CACHE_ELEMS || !P.new_alpha) return false;
  const int64_t wn = P.plane_out * L;
  if ((int64_t)fs.e.size() < P.plane_in * L) fs.e.resize((size_t)(P.plane_in * L));
  if ((int64_t)fs.win.size() < 3 * wn) fs.win.resize((size_t)(3 * wn));  // (2.5 used)
  if ((int64_t)fs.dw.size() < wn) fs.dw.resize((size_t)wn);
  Saved sv;
  sv.e64 = fs.e.data();
  sv.win64 = fs.win.data();
  sv.win_n = wn;
  sv.dw = fs.dw.data();
  sv.local = true;
  int st = 0;
  exact_group<double>(x, P, ln, nullptr, nullptr, nullptr, nullptr, &st, &sv);
  if (st & ST_UNSAVED) return false;
  *status |= st;
  double dm[L];
  int de[L];
  overlap64_group_backward(P, x, ln, 0, fs.e.data(), fs.win.data(), wn, fs.dw.data(), gy, gx,
                           true, dm, de, fs.bw);
  for (int l = 0; l < L; ++l)
    if (ln.active[l]) da[l].add(dm[l], de[l]);
  return true;
}

// ------------------------------------------------------------------------------ driver

// The call's window-element pairs: its windows' elements summed over its outputs.
inline int64_t window_pairs(const Plan& P) {
  int64_t wsz = 1;
  for (int a = 0; a < 3; ++a) {
    const Axis& A = P.ax[a];
    int64_t lo, hi;
    A.count.interior(A.out, lo, hi);
    int64_t tot = (hi - lo) * A.count.k;
    outside(0, A.out, lo, hi, [&](int64_t o) { tot += A.count[o]; });
    wsz *= std::max<int64_t>(tot, 1);
  }
  return wsz * P.N * P.C;
}

// Window-element pairs of a forward's work per thread before a second thread pays for its
// wake-up: 2^14, about 30-60 us of the fast engine's forward at a non-integer alpha. At 2^16
// for every path (until 2026-12-07) inputs of batch 1 ran on one thread of two: with this
// grain and the paths' weights below, forward / forward+backward with a learnable alpha
// (1, 16, 32, 32) k3 s2 p1 54 / 271 us -> 37 / 225, gem_pool2d 279 -> 207; (2, 32, 28, 28) k3
// s2 p1 142 / 534 -> 83 / 356; (1, 64, 14, 14) k3 s1 p1 77 / 369 -> 48 / 267 (`python -m
// tests.thread_grain_timing --against` the build before, the AMD EPYC machine, two threads;
// with the other core busy, six of ten such forwards+backwards took 1.16-1.72x instead:
// docs/performance-history.md, "Smaller thread grains"). 2^13 moved the 2-D cases within the
// runs' noise, some up and some down. A forward of fewer than 2 x 2^14 pairs (7,000-16,000
// input elements of windows of 2-4.5 elements per input) keeps one thread (an OpenMP region for
// a (1, 1, 4, 4) input cost milliseconds under load: issue 12).
constexpr int64_t THREAD_PAIRS = 1 << 14;
// the grain in use: THREAD_PAIRS, or what a benchmark set (ppv_thread_pairs; tests.
// thread_grain_timing compares grains in one process)
PPV_SHARED(std::atomic<int64_t>, thread_pairs, , {THREAD_PAIRS})

// A path's work per window-element pair in quarters of a forward's, which the grains count:
// the forwards (plain and saving) 4; a recomputing backward 8 (it does its forward's work again
// before the gradients: 2.2x the forward's time on a (1, 1, 6000) k3 s1 signal, 4x at k14 and
// 3-D k3 s2 p1: kernel_ab); a backward from a disjoint state (run_saved_backward,
// run_int_saved_backward: a pass over memory, 0.1-0.2x the forward's time) 1, which keeps
// that pass's grain at 2^16 pairs, where it was before THREAD_PAIRS fell to 2^14.
constexpr int64_t WORK_FORWARD = 4, WORK_RECOMPUTE = 8, WORK_STATE = 1;
// The weight of a forward, or of a backward that recomputes its forward (`recomputing`).
inline int64_t path_work(bool recomputing) { return recomputing ? WORK_RECOMPUTE : WORK_FORWARD; }

// Threads the work pays for: a thread per THREAD_PAIRS window-element pairs of a forward's
// work (`work`: WORK_*), and at most one per group (units of work: groups, or groups of
// segments, see Segments).
inline int threads_for(const Plan& P, int requested, int64_t groups,
                       int64_t work = WORK_FORWARD) {
  const int64_t pairs = window_pairs(P);
  const int64_t grain = std::max<int64_t>(1, thread_pairs.load(std::memory_order_relaxed));
  int64_t by_work = std::max<int64_t>(1, pairs * work / (grain * WORK_FORWARD));
  int64_t t = std::min<int64_t>({(int64_t)std::max(requested, 1), groups, by_work});
  return (int)std::max<int64_t>(t, 1);
}

inline int threads_for(const Plan& P, int requested) {
  return threads_for(P, requested, P.groups);
}

// The groups thread t of nt takes: g = begin, begin + step, ... below end.
// Contiguous memory (and segments): every nt-th group, a group's 8 planes being apart from
// every other group's. Channels-last memory: a contiguous block of groups, cut on whole cache
// lines of channels where it can: the groups of one batch entry's channels share the cache
// lines of every pixel (16 float32 channels, 2 groups, per 64-byte line), so interleaved
// groups had two threads read each input line and write the same output and gradient lines
// (false sharing), (8,64,112,112) k3 s2 p1 on 2 threads: forward 25 ms of CPU time against 19
// one group per thread apart, backward from the overlap state 54 against 43 (perf-cl2d,
// 2026-12-02).
struct GroupRun { int64_t begin, end, step; };
inline GroupRun thread_groups(const Plan& P, int64_t groups, bool segmented, int t, int nt) {
  if (P.layout == 0 || segmented || nt <= 1) return {t, groups, std::max(nt, 1)};
  const int64_t es = elem_bytes(P);
  // groups per 64-byte line when a batch entry's channels start on a line (C a multiple of
  // the line's channels); else lines straddle groups anyway, and only the cut's line is shared
  const int64_t per_line = std::max<int64_t>(1, 64 / (L * es));
  const int64_t unit = (P.C * es) % 64 == 0 ? per_line : 1;
  const int64_t units = (groups + unit - 1) / unit;
  const int64_t b = std::min(groups, units * t / nt * unit);
  const int64_t e = std::min(groups, units * (t + 1) / nt * unit);
  return {b, e, 1};
}

// Channels-last bands. The ceil(C / 8) groups of one batch entry share the cache lines of
// every pixel (a group reads and writes 32 bytes of float32 of each 64-byte line), so a group
// that sweeps the whole plane before the next one starts leaves the next one to fetch every
// line again from L3 or memory ((8,64,112,112) k3 s2 p1, one thread, CPU time: forward 21 ms,
// backward from the overlap state 39 ms, against 17.5 and 34 for (64,8,112,112), whose groups
// own their lines). The forwards and the overlap state's backward therefore sweep the plane in
// bands of rows, all the batch entry's groups band by band, a band's lines of every quantity
// staying in L2: about CL_BAND_BYTES of input rows per band. A band of the forward is a run of
// output rows (their windows' input rows, the rows it shares with the next band weighed again
// by the next); a band of the backward is a run of input rows (the coefficients of the output
// rows whose windows reach them computed again by each band that needs them). Each output and
// gradient is still computed once, by the same operations: the results are those of one sweep.
constexpr int64_t CL_BAND_BYTES = 384 << 10;
// the most the groups' own row caches of a channels-last batch entry may take (per thread): the
// input row a band shares with the previous one is then not weighed again ((8,64,112,112) k3
// s2 p1: 8 x 43 KB; without them 1.08 weights per input element)
constexpr int64_t BAND_CACHE_BYTES = 1 << 20;
// the budget in use: CL_BAND_BYTES, or what a test set (ppv_cl_band_bytes) so that small inputs,
// which the oracle can check, run in several bands
PPV_SHARED(std::atomic<int64_t>, cl_band_bytes, , {CL_BAND_BYTES})

// Rows per band (output rows od * OH + oh, or with input_rows input rows id * H + ih) of a
// channels-last plan, or 0: no bands (contiguous memory, segments, at most 8 channels, whose one
// group owns its lines, packed planes, or a plane within one band).
inline int64_t cl_band_rows(const Plan& P, bool segmented, bool input_rows) {
  if (P.layout != 1 || segmented || P.C <= L || P.packed()) return 0;
  const int64_t es = elem_bytes(P);
  const int64_t row_bytes = std::max<int64_t>(1, P.ax[2].in * P.C * es);
  const int64_t rows_in = P.ax[0].in * P.ax[1].in;
  const int64_t fit = std::max<int64_t>(1, cl_band_bytes.load(std::memory_order_relaxed) /
                                               row_bytes);
  if (fit >= rows_in) return 0;
  if (input_rows) return fit;
  const int64_t rows_out = P.ax[0].out * P.ax[1].out;
  return std::max<int64_t>(1, fit * rows_out / rows_in);
}

// Groups processed by channels-last calls since the last ppv_layout_paths call: all 8 lanes
// channels of the block (the converting vector loads and stores) and fewer (a last block of
// C % 8 channels: per-lane loops; none since such channel counts are packed planes). For tests
// that assert the path their cases take.
PPV_SHARED(std::atomic<int64_t>, cl_groups_full, , {0})
PPV_SHARED(std::atomic<int64_t>, cl_groups_partial, , {0})
// and the groups of packed planes (channels not a multiple of the lanes: Plan::packed)
PPV_SHARED(std::atomic<int64_t>, cl_groups_packed, , {0})
// and the calls of a group on a band after its first (channels-last bands), the same way
PPV_SHARED(std::atomic<int64_t>, cl_later_bands, , {0})
inline void count_cl_group(const Plan& P, const Lanes& ln, int64_t& full, int64_t& partial) {
  if (P.packed()) cl_groups_packed.fetch_add(1, std::memory_order_relaxed);
  else if (P.layout == 1) ++(ln.n_active == L ? full : partial);
}

// Whether every input element lies in at most one window (built inverses of all three axes):
// the condition for the saved state (ppv_forward_saved).
// From the tables, with no table-sized scratch (a 1-D signal of 2e6 samples would need 32 MB
// of inverse): on every axis each non-empty window starts after the previous one's last
// element, as _native.plan_disjoint decides in Python (conservative: dilated windows that
// interleave without sharing an element count as overlapping).
inline bool disjoint(const Plan& P) {
  for (int a = 0; a < 3; ++a) {
    const Axis& A = P.ax[a];
    // computed windows: inside [lo, hi) each starts s after the previous one and spans
    // (k - 1) d + 1, so they are disjoint iff s > (k - 1) d; the others are visited
    int64_t lo, hi;
    A.count.interior(A.out, lo, hi);
    if (hi - lo >= 2 && (A.count.k - 1) * A.step >= A.count.s) return false;
    int64_t last = INT64_MIN;
    bool ok = true;
    const auto visit = [&](int64_t o) {
      if (A.count[o] <= 0) return;
      ok = ok && A.start[o] > last;
      last = A.start[o] + (A.count[o] - 1) * A.step;
    };
    const int64_t skip_lo = hi - lo >= 2 ? lo + 1 : 0, skip_hi = hi - lo >= 2 ? hi : 0;
    outside(0, A.out, skip_lo, skip_hi, [&](int64_t o) {
      if (o == skip_hi && skip_hi > 0) visit(o - 1);  // the last interior window, then o
      visit(o);
    });
    if (!ok) return false;
  }
  return true;
}

// dparam_out = the plain double sums, in the order k = 0 .. n - 1, of term(k) into the
// parameter entry of plane plane_of(k); false, dparam_out untouched, where a sum is not finite
// (reduce_param and run_saved_backward then take a ScaledSum).
template <class PlaneOf, class Term>
inline bool plain_param_sums(const Plan& P, int64_t n, PlaneOf plane_of, Term term,
                             double* dparam_out) {
  std::vector<double> sum((size_t)param_count(P), 0.0);
  for (int64_t k = 0; k < n; ++k) sum[param_index(P, plane_of(k))] += term(k);
  for (const double v : sum)
    if (!std::isfinite(v)) return false;
  std::copy(sum.begin(), sum.end(), dparam_out);
  return true;
}

// Per-plane parameter gradients (m, e pairs: m * 2^e) summed to the parameter's shape with one
// scaling per sum (one pass over the planes: O(N C) whatever the parameter's shape).
// With slot_plane, dparam holds `slots` pairs, slot k belonging to plane slot_plane[k] (the
// segments of a plane: their dy/da are summed here, each plane's with its segments').
inline void reduce_param(const Plan& P, const double* dparam, double* dparam_out,
                         const std::vector<int64_t>* slot_plane = nullptr) {
  const int64_t outs = param_count(P);
  const int64_t slots = slot_plane ? (int64_t)slot_plane->size() : P.N * P.C;
  // Where every slot is a plain double (exponent 0), their plain double sums, in the same
  // order, are the ScaledSum's bits whenever they stay finite: a double sum's rounding is
  // relative to its magnitude as the ScaledSum's (which only moves the exponent aside), and a
  // sum that lands among the subnormals is exact (gradual underflow); a term far below the
  // sum rounds away in both. (ScaledSum::add, a dependent chain of about 25 cycles, summed
  // the 16,384 planes of a ResNet head's global GeM with one p in 0.1 ms, most of its
  // backward from the saved state.) Else (a scaled slot, a sum that overflows or is NaN) the
  // ScaledSum.
  auto plane_of = [&](int64_t k) { return slot_plane ? (*slot_plane)[k] : k; };
  bool plain = true;
  for (int64_t k = 0; k < slots && plain; ++k) plain = dparam[2 * k + 1] == 0.0;
  if (plain && plain_param_sums(P, slots, plane_of, [&](int64_t k) { return dparam[2 * k]; },
                                dparam_out))
    return;
  std::vector<ScaledSum> acc((size_t)outs);
  for (int64_t k = 0; k < slots; ++k)
    acc[param_index(P, plane_of(k))].add(dparam[2 * k], (int)dparam[2 * k + 1]);
  for (int64_t k = 0; k < outs; ++k) dparam_out[k] = std::ldexp(acc[k].m, acc[k].e);
}

// ------------------------------------------------------------------------------ segments
// A group fills its 8 lanes with 8 planes, and threads share groups: with fewer planes than
// lanes x threads, lanes and threads would idle (one 1-D signal of 2e6 samples: one lane of
// one thread). Then each plane is cut along its outermost axis with more than one output
// (W of a 1-D signal, H of an image, D of a volume: the axes outside it have one element, so
// a slab of it is a contiguous run of the plane) into segments of consecutive outputs, and
// the segments act as planes: a lane (and a thread) takes one segment, at its own base offset
// (Lanes::in_base, out_base), and its plan (Plan::split) describes one segment: the windows of
// its outputs [o0, o1) and of the earlier outputs whose windows reach into its input, over
// the input they read. A segment owns the inputs from its first window's start to the next
// segment's (the first from 0, the last to the end): it writes the gradient of those alone,
// complete (every window holding them is in its plan), and its own outputs alone; the
// windows it shares with the previous segment are computed again for their gradients only.
// So no two segments write one element, and none is lost. Away from the edges (padding,
// ceil_mode) windowed layouts are translation-invariant, so the interior segments, all of one
// length, share one plan (one class); the first and the last, short, get their own. Any
// other table (adaptive sizes that do not divide) gives the classes its segments' tables
// make; segments with equal tables share a class. Each lane's reference Lc is its segment's
// dominant element (the fast engine's conditions for the exact engine are relative to the
// lane's own Lc, so they hold per segment); a segment takes its plane's parameter, and its
// dy/da goes to a slot of its own, summed per plane at the end (reduce_param).
struct SegClass {
  Plan P;                                 // the segment plan (split-axis table in tab)
  std::vector<int64_t> tab;               // start[0..out), count[0..out) of the split axis
  std::vector<int64_t> in_off, out_off;   // per segment: its base on the split axis
  ColTiles tiles;
  int64_t groups = 0, first_group = 0, first_slot = 0, units = 0;
  // > 0: an interior segment of a regular axis (every window of one size, starts one step
  // apart), whose table is i * step, cmax for its `regular` outputs
  int64_t regular = 0;
};

struct Segments {
  int axis = -1;                   // -1: not segmented (one class, the whole plan)
  int64_t in_stride = 1, out_stride = 1;  // elements per index of the split axis in a plane
  std::vector<SegClass> classes;
  int64_t groups = 0;
  std::vector<int64_t> slot_plane;  // dy/da slot -> plane (empty: one slot per plane)
};

// A segment holds at least SEG_MIN_OUTS outputs of the plane (all axes) and, where that
// leaves as many segments as lanes and threads want, SEG_HALO_FACTOR outputs of the split
// axis per window it shares with the previous segment (so at most a quarter of its windows
// are computed twice; else segments_for_span chooses)
constexpr int64_t SEG_MIN_OUTS = 64;
constexpr int64_t SEG_HALO_FACTOR = 4;
// Input elements of a forward's work per thread of a segmented call: 2^13 (THREAD_PAIRS' 2^14
// pairs for windows of two elements per input; a path's WORK_* weighs them). It was 2^18
// (about 2 ms of the fast engine's forward, since on a loaded machine waking a thread can
// cost a millisecond) while a signal's segments were long rows whose scratch left the cache;
// with segments of SEG_COLS columns a second thread halved the time from 50,000 samples up
// (2 threads, (1, 1, 100000) k3 s1 p_pool1d forward / forward+backward 0.42 / 1.79 -> 0.25 /
// 1.05 ms, gem_pool1d 1.06 / 3.67 -> 0.56 / 1.98; (1, 1, 400000) p_pool1d 1.40 / 5.84 -> 0.75
// / 3.06; 2026-12-05, load 1) and it became 2^15, torch's own grain
// (at::internal::GRAIN_SIZE); a 1-D element costs the fast engine 4-5 ns
// (its logarithm, exponential and window), so 2^15 of them kept signals of up to 65,535
// samples on one thread: (2, 3, 6000) k3 s1 forward / forward+backward with a learnable alpha
// 163 / 657 us -> 108 / 449, gem_pool1d 1092 -> 673; (1, 1, 16384) 95 / 393 -> 70 / 300; 3-D
// (1, 1, 26, 26, 26) k3 s2 p1 171 / 726 -> 108 / 487 (`python -m tests.thread_grain_timing
// --against` the build before, the AMD EPYC machine, two threads, 2026-12-07).
constexpr int64_t SEG_THREAD_ELEMENTS = 1 << 13;
// the grain in use: SEG_THREAD_ELEMENTS, or what a test set (ppv_segment_grain) so that small
// inputs, which the oracle can check, run segments on several threads
PPV_SHARED(std::atomic<int64_t>, seg_grain, , {SEG_THREAD_ELEMENTS})
// P-pooling's segment length where a plane is cut along W (a 1-D signal, planes of one row):
// a plane of more than 4 SEG_COLS columns is cut into segments of about SEG_COLS columns,
// whatever the number of planes (make_segments' max_seg_cols, as the power engine's
// POW_SEG_COLS). Cut only for lanes and threads, a signal's 8 or 32 segments were rows of
// 12,500-250,000 columns, whose per-row scratch left the cache: (1, 1, 400000) k3 s1 float32
// forward / forward+backward 4.68 / 14.3 ms one thread -> 1.53 / 5.9, float64 25.9 / 74.9 ->
// 5.0 / 29.9 (two threads), (1, 1, 2000000) one thread 23.3 / 70.2 -> 7.8 / 27.2, (8, 64,
// 12544) k3 s2 p1 two threads 8.7 / 33.1 -> 8.2 / 28.6 (2026-12-05; 512 to 4096 columns all
// gain, 1024 the best over these). Planes cut along H or D keep their lanes' and threads'
// segments (cutting them by size measured both ways).
constexpr int64_t SEG_COLS = 1024;
// the length in use: SEG_COLS, or what a test set (ppv_segment_cols) so that small inputs,
// which the oracle can check, are cut for their length too
PPV_SHARED(std::atomic<int64_t>, seg_cols, , {SEG_COLS})

// Threads for a segmented call: one per grain of input elements, or per two grains of window-
// element pairs where windows hold more than two elements per input (3-D k3 s1: 27 per input;
// (1, 1, 40, 40, 40) k3 s1 p1, 64,000 elements, ran on one thread until 2026-12-07).
// `work`: the path's (WORK_*; a recomputing backward counts its elements twice).
inline int segment_threads(const Plan& P, int requested, int64_t work = WORK_FORWARD) {
  const int64_t grain = std::max<int64_t>(1, seg_grain.load(std::memory_order_relaxed));
  const int64_t elements = std::max(P.N * P.C * P.plane_in, window_pairs(P) / 2);
  const int64_t by_work = std::max<int64_t>(1, elements * work / (grain * WORK_FORWARD));
  return (int)std::max<int64_t>(1, std::min<int64_t>(std::max(requested, 1), by_work));
}

// The segment plan of outputs [o0, o1) of split axis a (b_lo: its first owned input, 0 for
// the first segment; b_hi: the next segment's first, the axis length for the last).
inline void segment_table(const Axis& A, int64_t o0, int64_t o1, int64_t b_lo, int64_t b_hi,
                          std::vector<int64_t>& tab, int64_t& base, int64_t& in_len,
                          int64_t& oa, int64_t own[4]) {
  oa = o0;
  while (oa > 0 && window_end(A, oa - 1) > b_lo) --oa;
  base = b_lo;
  int64_t hi = b_hi;
  for (int64_t o = oa; o < o1; ++o)
    if (A.count[o] > 0) {
      base = std::min(base, A.start[o]);
      hi = std::max(hi, window_end(A, o));
    }
  base = std::max<int64_t>(base, 0);
  in_len = hi - base;
  const int64_t n = o1 - oa;
  tab.assign((size_t)(2 * n), 0);
  for (int64_t o = oa; o < o1; ++o) {
    tab[o - oa] = A.count[o] > 0 ? A.start[o] - base : 0;
    tab[n + o - oa] = A.count[o];
  }
  own[0] = b_lo - base; own[1] = b_hi - base; own[2] = o0 - oa; own[3] = o1 - oa;
}

// Calls f(starts, counts) with axis A's window tables as raw arrays where A keeps tables, else
// as its WinTables (computed windows): a scan over every output through a table's own arrays
// vectorises, through WinTable it did not (9 us of a 49 us forward of a (1, 1, 6000) signal,
// whose 3000 outputs keep a table).
template <class F>
inline void with_window_tables(const Axis& A, F&& f) {
  if (A.start.t && A.count.t) f(A.start.t, A.count.t);
  else f(A.start, A.count);
}

// Decide and build the segments of plan F for `nt` threads (see above). Only for windows
// whose starts and ends never decrease (every layout ppverify makes).
// Whether the windows' starts and ends never decrease, and (cmax) the largest window count, in
// one pass without branches (for one long signal, the plan's tables are tens of MB read on
// every call).
inline bool monotone_windows(const Axis& A, int64_t& cmax) {
  int64_t lo, hi;
  A.count.interior(A.out, lo, hi);
  if (hi - lo >= 2) {  // computed windows: the interior is monotone, check the rest
    bool ok = true;
    int64_t most = A.count.k;
    const auto end = [&](int64_t o) { return window_end(A, o); };
    outside(1, A.out, lo + 1, hi, [&](int64_t o) {
      ok = ok && A.start[o] >= A.start[o - 1] && end(o) >= end(o - 1);
      most = std::max(most, A.count[o]);
    });
    most = std::max(most, A.count[0]);
    cmax = std::max<int64_t>(0, most);
    return ok;
  }
  int64_t off = 0, most = A.out > 0 ? A.count[0] : 0;
  const int64_t step = A.step;
  with_window_tables(A, [&](const auto& st, const auto& cn) {
#pragma omp simd reduction(+ : off) reduction(max : most)
    for (int64_t o = 1; o < A.out; ++o) {
      const int64_t end1 = cn[o] > 0 ? st[o] + (cn[o] - 1) * step + 1 : st[o];
      const int64_t end0 = cn[o - 1] > 0 ? st[o - 1] + (cn[o - 1] - 1) * step + 1 : st[o - 1];
      off += (st[o] < st[o - 1]) | (end1 < end0);
      most = std::max(most, cn[o]);
    }
  });
  cmax = std::max<int64_t>(0, most);
  return off == 0;
}

// The columns of a segment cut along W: max_seg_cols, or fewer where a thread's scratch for
// that many (about SEG_SCRATCH_PER_COL bytes per column, P-pooling's and the power engine's
// alike for float32 inputs: per lane of 8, the window sums, outputs and row buffers of each
// column) would take more than SEG_SCRATCH_PER_ELEMENT bytes per element of the call's input
// over its nt threads, and at least SEG_COLS_MIN. A (1, 1, 100000) signal in segments of
// 1024 columns grew the peak RSS of a forward+backward by 4.4 MB (gem_pool1d, two threads;
// 2.1 MB in segments of about 260), 2.2-2.8x max_pool1d's 1.6-2.0 MB, and ran 5-20% slower
// than in segments of 256-512 columns; signals of
// 10^6 samples and more keep 1024, their fastest (2026-12-07, `/tmp` scripts by path: p_pool1d
// and gem_pool1d k3 s1, 1 and 2 threads, segment lengths 256 / 512 / 1024 interleaved).
constexpr int64_t SEG_SCRATCH_PER_COL = 1536;
constexpr int64_t SEG_SCRATCH_PER_ELEMENT = 8;
constexpr int64_t SEG_COLS_MIN = 256;
inline int64_t scratch_bounded_cols(const Plan& F, int nt, int64_t max_seg_cols) {
  const int64_t elements = F.N * F.C * F.plane_in;
  const int64_t fit =
      elements * SEG_SCRATCH_PER_ELEMENT / (std::max(nt, 1) * SEG_SCRATCH_PER_COL);
  return std::min(max_seg_cols, std::max(SEG_COLS_MIN, fit));
}

// The number of interior segments of the regular range [o1, o1 + span) of a split axis of
// `out` outputs, whose segments share `halo` outputs' windows with the previous one: `want`
// where segments of SEG_HALO_FACTOR halos fit (at most a quarter of a segment's windows
// computed twice). Where they do not (a short axis: a 3-D plane's depth of 8 outputs, a 2-D
// plane of few rows), the count of the least estimated time, fewer segments where it ties:
// the groups of lanes of each class (the first segment's, the interior ones', the last's, as
// make_segments builds them) dealt to the threads in turn (thread_groups), a group weighing
// 4 per output and 3 per output of its halo (the backward's share of a forward+backward).
// Until 2026-12-07 such an axis was cut by the quarter rule alone: (1, 2, 16, 64, 64) k3 s2
// p1, a depth of 8 outputs, ran uncut on one thread, 2 of its 8 lanes busy (forward+backward
// 10x max_pool3d's; `python -m tests.cliff_sweep`).
inline int64_t segments_for_span(const Plan& F, int nt, int64_t want, int64_t out, int64_t o1,
                                 int64_t span, int64_t halo, int64_t seg_min_len) {
  const int64_t quarter = std::min(want, span / std::max(seg_min_len, SEG_HALO_FACTOR * halo));
  if (quarter >= want) return quarter;
  nt = std::max(nt, 1);
  const int64_t planes = F.N * F.C;
  const auto groups_of = [&](int64_t segs) {
    return F.lanes_are_planes() ? (segs * planes + L - 1) / L : segs * F.groups;
  };
  std::vector<int64_t> load((size_t)nt);
  const auto cost = [&](int64_t k) {
    std::fill(load.begin(), load.end(), 0);
    int64_t g = 0;
    const auto deal = [&](int64_t segs, int64_t each) {
      for (int64_t i = groups_of(segs); i > 0; --i) load[(size_t)(g++ % nt)] += each;
    };
    if (k < 2) {
      deal(1, 4 * out);
    } else {
      const int64_t m = span / k, tail = out - (o1 + k * m), shared = 3 * halo;
      if (o1 > 0) deal(1, 4 * o1);
      deal(tail > 0 ? k : k - 1, 4 * m + shared);
      deal(1, 4 * (tail > 0 ? tail : m) + shared);
    }
    return *std::max_element(load.begin(), load.end());
  };
  int64_t best = std::max<int64_t>(1, quarter), best_cost = cost(best);
  const int64_t most = std::min(want, span / std::max<int64_t>(1, std::max(seg_min_len, halo)));
  for (int64_t k = best + 1; k <= most; ++k) {
    const int64_t c = cost(k);
    if (c < best_cost) best = k, best_cost = c;
  }
  return best;
}

// max_seg_in > 0 (the power engine): also cut planes of more than 4 max_seg_in elements into
// segments of about max_seg_in input elements, whatever the number of planes (its per-thread
// scratch grows with a plane's rows and outputs); max_seg_cols in place of max_seg_in where
// the cut axis is W (a segment's scratch grows with its columns alone: scratch_bounded_cols
// of them). plane_limit > 0: planes of more elements than that (not 4 max_seg_in) are cut
// (float64's fused backward: ELEM_CACHE_ELEMS), into as many segments as the quarter rule or
// segments_for_span allow. (A floor at the size's count, kept where its segments hold two
// halos of outputs, moved no measured case and was taken out; forced everywhere, rows of 4000
// or 3-D slabs at k3 s2 in segments of 2 outputs took 1.2-1.7x the per-window backward's time:
// `python -m tests.kernel_ab BEFORE.so 7 --rows f64`, 2026-12-07.)
inline void make_segments(Plan& F, int nt, bool allow, Segments& sg, int64_t max_seg_in = 0,
                          int64_t max_seg_cols = 0, int64_t plane_limit = 0) {
  sg = Segments();
  int a = -1;
  for (int k = 0; k < 3; ++k)
    if (F.ax[k].out > 1) { a = k; break; }
  const int64_t planes = F.N * F.C;
  int64_t want = 1;  // segments per plane
  int64_t cmax = 0;  // the split axis's largest window count
  if (allow && a >= 0) {
    bool outer_one = true;
    for (int k = 0; k < a; ++k) outer_one = outer_one && F.ax[k].in == 1;
    if (outer_one && monotone_windows(F.ax[a], cmax)) {
      if (F.lanes_are_planes() && planes < (int64_t)L * nt)
        want = ((int64_t)L * nt * (nt > 1 ? 2 : 1) + planes - 1) / planes;
      else if (F.layout == 1 && F.groups < nt)
        want = (2 * (int64_t)nt + F.groups - 1) / F.groups;
      // (cut where a plane holds more than 4 segments of that length: a (1, 3, 4000) signal,
      // within 4 x 1024 columns, ran as one group of 3 lanes of 4000 columns until
      // 2026-12-07; in segments of about 256 its forward / backward take 0.49x / 0.53x
      // (P-pooling) and 0.60x / 0.63x (the power engine) the time, (1, 8, 3000) 0.70x / 0.51x
      // and 0.97x / 0.88x: `python -m tests.kernel_ab BEFORE.so 15 --rows "000) k3 s1"`)
      const int64_t most = a == 2 ? max_seg_cols : max_seg_in;
      const int64_t length = a == 2 && most > 0 ? scratch_bounded_cols(F, nt, most) : most;
      const int64_t over = plane_limit > 0 && a != 2 ? plane_limit : 4 * length;
      if (length > 0 && F.plane_in > over)
        want = std::max(want, (F.plane_in + length - 1) / length);
    }
  }
  std::vector<int64_t> bounds;  // segment boundaries on the output axis
  // [e0, e1): the regular range of the split axis (windows of the largest count cmax, starts
  // one step apart), if `regular`
  int64_t e0 = 0, e1 = 0;
  int64_t step = 0;  // the regular range's step between window starts
  bool regular = false;
  if (want > 1) {
    const int64_t slab = F.plane_out / std::max<int64_t>(1, F.ax[a].out);  // outputs per index
    const int64_t seg_min_len = std::max<int64_t>(1, (SEG_MIN_OUTS + slab - 1) / slab);
    const Axis& A = F.ax[a];
    e1 = A.out;
    while (e0 < A.out && A.count[e0] != cmax) ++e0;
    while (e1 > e0 && A.count[e1 - 1] != cmax) --e1;
    step = e1 - e0 >= 2 ? A.start[e0 + 1] - A.start[e0] : 0;
    // (counted without branches, through local pointers: through A, GCC gathered the loads)
    int64_t off = 0;
    const WinTable& st = A.start;
    const WinTable& cn = A.count;
    int64_t ilo, ihi;  // computed windows: regular inside [ilo, ihi) (count k, starts s apart)
    A.count.interior(A.out, ilo, ihi);
    if (ihi - ilo >= 2 && cmax == A.count.k && step == A.count.s) {
      outside(e0 + 1, e1, ilo + 1, ihi,
              [&](int64_t o) { off += (cn[o] != cmax) | (st[o] - st[o - 1] != step); });
    } else {
      with_window_tables(A, [&](const auto& starts, const auto& counts) {
#pragma omp simd reduction(+ : off)
        for (int64_t o = e0 + 1; o < e1; ++o)
          off += (counts[o] != cmax) | (starts[o] - starts[o - 1] != step);
      });
    }
    regular = e1 - e0 >= 2 && off == 0;
    if (regular) {
      // the first interior segment starts where its shared windows are regular too
      int64_t h = 0;
      while (e0 + h < e1) {
        int64_t oa = e0 + h;
        while (oa > 0 && window_end(A, oa - 1) > A.start[e0 + h]) --oa;
        if (oa >= e0) break;
        ++h;
      }
      const int64_t o1 = e0 + h;
      const int64_t halo = o1 - e0;
      const int64_t k = segments_for_span(F, nt, want, A.out, o1, e1 - o1, halo, seg_min_len);
      if (k >= 2) {
        const int64_t m = (e1 - o1) / k;
        if (o1 > 0) bounds.push_back(0);
        for (int64_t i = 0; i < k; ++i) bounds.push_back(o1 + i * m);
        if (o1 + k * m < A.out) bounds.push_back(o1 + k * m);
        bounds.push_back(A.out);
      }
    } else {
      const int64_t k = std::min(want, A.out / seg_min_len);
      if (k >= 2) {
        for (int64_t i = 0; i < k; ++i) bounds.push_back(i * A.out / k);
        bounds.push_back(A.out);
      }
    }
  }
  if (bounds.size() < 3) {  // one segment: the whole plan
    SegClass c;
    c.P = F;
    c.units = F.groups;
    c.groups = F.groups;
    sg.classes.push_back(std::move(c));
    sg.groups = F.groups;
    return;
  }
  sg.axis = a;
  // the whole axis's inverse is not needed any more (each class builds its own): not copied
  std::vector<int64_t>().swap(F.ax[a].inv_off);
  std::vector<int64_t>().swap(F.ax[a].inv);
  sg.in_stride = a == 0 ? F.ax[1].in * F.ax[2].in : (a == 1 ? F.ax[2].in : 1);
  sg.out_stride = a == 0 ? F.ax[1].out * F.ax[2].out : (a == 1 ? F.ax[2].out : 1);
  const Axis& A = F.ax[a];
  std::vector<int64_t> tab;
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    const int64_t o0 = bounds[b], o1 = bounds[b + 1];
    const int64_t b_lo = b == 0 ? 0 : A.start[o0];
    const int64_t b_hi = b + 2 == bounds.size() ? A.in : A.start[o1];
    int64_t base, in_len, oa, own[4];
    SegClass* cls = nullptr;
    // an interior segment of the regular range [e0, e1): its table is fixed by its length, so
    // it joins a class of that length without building and comparing tables (each a pass over
    // its outputs: for one long signal, passes over the whole plan on every call)
    int64_t regular_n = 0;
    if (regular && cmax > 0) {
      oa = o0;
      while (oa > 0 && window_end(A, oa - 1) > b_lo) --oa;
      if (oa >= e0 && o1 <= e1) {
        regular_n = o1 - oa;
        base = std::max<int64_t>(0, std::min(b_lo, A.start[oa]));  // starts never decrease
        in_len = std::max(b_hi, window_end(A, o1 - 1)) - base;    // nor window ends
        own[0] = b_lo - base; own[1] = b_hi - base; own[2] = o0 - oa; own[3] = o1 - oa;
        for (SegClass& c : sg.classes)
          if (c.regular == regular_n && c.P.ax[a].in == in_len && c.P.own_in_lo == own[0] &&
              c.P.own_in_hi == own[1] && c.P.own_out_lo == own[2] && c.P.own_out_hi == own[3])
            cls = &c;
      }
    }
    if (!cls) {
      if (regular_n > 0) {  // segment_table's table without its pass: windows one step apart
        const int64_t first = A.start[e0] + (oa - e0) * step - base;
        tab.resize((size_t)(2 * regular_n));
        for (int64_t i = 0; i < regular_n; ++i) {
          tab[i] = first + i * step;
          tab[regular_n + i] = cmax;
        }
      } else {
        segment_table(A, o0, o1, b_lo, b_hi, tab, base, in_len, oa, own);
      }
      for (SegClass& c : sg.classes)
        if (c.tab == tab && c.P.ax[a].in == in_len && c.P.own_in_lo == own[0] &&
            c.P.own_in_hi == own[1] && c.P.own_out_lo == own[2] && c.P.own_out_hi == own[3])
          cls = &c;
    }
    if (!cls) {
      sg.classes.emplace_back();
      cls = &sg.classes.back();
      cls->P = F;
      cls->tab = tab;
      cls->regular = regular_n;
      Plan& Q = cls->P;
      Q.split = a;
      Q.ax[a].in = in_len;
      Q.ax[a].out = o1 - oa;
      Q.own_in_lo = own[0]; Q.own_in_hi = own[1]; Q.own_out_lo = own[2]; Q.own_out_hi = own[3];
      Q.plane_in = Q.ax[0].in * Q.ax[1].in * Q.ax[2].in;
      Q.plane_out = Q.ax[0].out * Q.ax[1].out * Q.ax[2].out;
    }
    cls->in_off.push_back(base);
    cls->out_off.push_back(oa);
  }
  int64_t g0 = 0, slot0 = 0;
  for (SegClass& c : sg.classes) {  // the tables' addresses are final now
    Plan& Q = c.P;
    const int64_t n = Q.ax[a].out;
    Q.ax[a].start = c.tab.data();
    Q.ax[a].count = c.tab.data() + n;
    const int64_t segs = (int64_t)c.in_off.size();
    // units: lanes of planes x segments (contiguous memory, packed channels-last planes) or
    // channel blocks x segments
    c.units = F.lanes_are_planes() ? segs * planes : segs * F.groups;
    c.groups = F.lanes_are_planes() ? (c.units + L - 1) / L : c.units;
    Q.groups = c.groups;
    c.first_group = g0;
    c.first_slot = slot0;
    g0 += c.groups;
    for (int64_t v = 0; v < segs * planes; ++v)
      sg.slot_plane.push_back(F.layout == 0 ? v % planes : v % planes);
    slot0 += segs * planes;
  }
  sg.groups = g0;
}

// float64 where an autograd forward saves the overlap state (windows that share elements;
// windows that share none on contiguous memory with 4 elements or more on average,
// _dispatch's choice): its recomputing backward (`recompute`) runs through the overlap state's
// arithmetic (fused_group64), so that it gives the state's bits (gradcheck's reentrancy).
inline double window_mean(const Plan& P);
inline bool fused64_backward(const Plan& P, bool recompute) {
  return P.dtype == DT_F64 && P.op == OP_PPOOL && recompute &&
         (!disjoint(P) || (P.layout == 0 && window_mean(P) >= 4.0));
}

// P-pooling's segments (make_segments): for lanes and threads, signals cut along W for their
// length (seg_cols), and where the backward is fused64's, planes of more than the element cache
// cut into segments of about half of it (fused_group64 serves no larger plane). A segment's
// backward is fused64's too since 2026-12-07 (before, segments took the per-window backward:
// 2.0-2.2x the time, `python -m tests.kernel_ab BEFORE.so 7 --rows f64`; a plane beyond the
// cache, as (2, 8, 224, 224), computed the state, found it refused and ran the per-window
// backward after it: 3x).
inline void make_ppool_segments(Plan& P, int seg_threads, bool fused64, Segments& sg) {
  make_segments(P, seg_threads, true, sg, fused64 ? ELEM_CACHE_ELEMS / 2 : 0,
                seg_cols.load(std::memory_order_relaxed), fused64 ? ELEM_CACHE_ELEMS : 0);
}

// The lanes of group g (of all classes) and its class.
inline const SegClass& segment_lanes(const Plan& F, const Segments& sg, const double* param,
                                     int64_t g, Lanes& ln) {
  size_t ci = 0;
  while (ci + 1 < sg.classes.size() && g >= sg.classes[ci + 1].first_group) ++ci;
  const SegClass& c = sg.classes[ci];
  make_lanes(F, param, sg.axis < 0 ? g : 0, ln);
  if (sg.axis < 0) return c;
  const int64_t gl = g - c.first_group;
  const int64_t planes = F.N * F.C;
  if (F.lanes_are_planes()) {
    for (int l = 0; l < L; ++l) {
      const int64_t v = gl * L + l;
      ln.active[l] = v < c.units;
      const int64_t vc = ln.active[l] ? v : gl * L;
      const int64_t seg = vc / planes, p = vc % planes;
      ln.plane[l] = p;
      ln.in_base[l] = plane_in_base(F, p) + c.in_off[seg] * sg.in_stride * ln.es_in;
      ln.out_base[l] = plane_out_base(F, p) + c.out_off[seg] * sg.out_stride * ln.es_out;
      ln.slot[l] = c.first_slot + vc;
    }
  } else {
    const int64_t blocks = (F.C + L - 1) / L;
    const int64_t seg = gl / F.groups, r = gl % F.groups;
    const int64_t n = r / blocks, c0 = (r % blocks) * L;
    for (int l = 0; l < L; ++l) {
      const int64_t ch = c0 + l;
      ln.active[l] = ch < F.C;
      const int64_t cc = ln.active[l] ? ch : c0;
      ln.plane[l] = n * F.C + cc;
      ln.in_base[l] = plane_in_base(F, ln.plane[l]) + c.in_off[seg] * sg.in_stride * F.C;
      ln.out_base[l] = plane_out_base(F, ln.plane[l]) + c.out_off[seg] * sg.out_stride * F.C;
      ln.slot[l] = c.first_slot + seg * planes + n * F.C + cc;
    }
  }
  ln.n_active = 0;
  for (int l = 0; l < L; ++l) {
    ln.a[l] = ln.active[l] ? param_of(F, param, ln.plane[l]) : 0.0;
    ln.n_active += ln.active[l];
  }
  return c;
}

// ------------------------------------------------------------------------------ lane slices
// Lane slices (Plan::xlane). Segments cannot cut a global window (one output), so a global
// pooling of fewer planes than lanes x threads ran each plane on one lane of one thread:
// (1, 1, 2048, 2048) gem forward 23.6 ms, 11x adaptive_max_pool2d, forward+backward 167 ms.
// A group is one plane instead, its lanes L slices of it: each lane sums its slice and the
// engine (fast_group, power_group)
// combines the lanes' sums (P-pooling's S, T, M, U, V, Z; the power mean's S, M and dy/dp's
// U, A, T, R, C) into the window's, in every lane, before y and the gradients; each lane then
// writes its own slice's dy/dx, every lane the same y and dy/da. The reference Lc is the
// plane's (the largest, or smallest, over the lanes). A window the exact engine must evaluate
// (|p| < 1/16, a bad element, a zero with p < 0, coefficients beyond range) sends the call
// back to the driver, which runs it again without slices (ST_XLANE_REDO). Float32 and the half
// types on contiguous memory (float64's P-pooling has its own engine). A plane of D = 1 and a
// multiple of L rows is cut into L slices of its rows; any other plane (an odd size: a 999 x
// 999 image, (1, 3, 999, 999) GeM forward 5.83 ms on one lane per plane where (1, 1, 1000,
// 1000) took 0.62, `python -m tests.ops.large_windows`; a prime length, one row or rows of one
// element) is read as L slices of
// ceil(n / (L XLANE_COLS)) rows of about XLANE_COLS elements (its elements in the same order),
// the last row read for the first lanes partly or wholly the next lane's (Plan::xlane_short,
// xlane_part; sum_borrowed_row).
constexpr int64_t XLANE_MIN_ELEMENTS = 1 << 14;
constexpr int64_t XLANE_COLS = 1024;
// Planes run as lane slices, and calls run again without them (ST_XLANE_REDO), since the last
// ppv_lane_slices call (both engines). For tests that assert the path their cases take.
PPV_SHARED(std::atomic<int64_t>, xlane_planes, , {0})
PPV_SHARED(std::atomic<int64_t>, xlane_redone, , {0})

// Planes that fill the lanes but whose groups of 8 do not share out evenly among the threads
// run as lane slices too (a plane per unit), where that leaves the busiest thread at least an
// eighth less: ceil(planes / t) planes' slices against ceil(groups / t) groups of 8 planes,
// for at most 4 L t planes. (8, 3, 224, 224), 3 groups on 2 threads, global GeM forward 1.17
// -> 0.90 ms, saving forward 2.03 -> 1.19, channels-last 1.31 -> 1.03 and 2.37 -> 1.78;
// P-pooling at alpha 2.5 1.16 -> 0.86 and 2.41 -> 1.33 (`python -m tests.kernel_ab` against
// the build before, 2026-12-06; the slices' rows fit the row cache where the groups' held
// 9.6 MB of a plane's: peak RSS growth of a forward+backward 23.6 -> 7.1 MB). Where the groups
// share out evenly, slices gave the same forward, 0.96-1.07x (16 and 32 planes of 224 x 224 on
// 2 threads, measured with a switch in one build): not taken.
inline bool xlane_balances(const Plan& P, int requested) {
  const int64_t t = std::max(requested, 1), planes = P.N * P.C, groups = (planes + L - 1) / L;
  if (groups % t == 0 || planes > 4 * L * t) return false;
  const int64_t by_groups = (groups + t - 1) / t * L, by_slices = (planes + t - 1) / t;
  return 8 * by_slices <= 7 * by_groups;
}

inline bool xlane_serves(const Plan& P, int requested) {
  // (channels-last: packed planes of fewer channels than lanes alone. A slice's group is one
  // plane, whose elements share their cache lines with the other C - 1 channels': every group
  // reads all of them, C times the input. (1, 12, 512, 512) P-pooling forward+backward took
  // 21-23 ms sliced against 15 in groups of channels; C = 3 gains: 13.5 -> 3.6 ms forward)
  if ((P.layout != 0 && !(P.packed() && P.C < L)) || P.plane_in < XLANE_MIN_ELEMENTS)
    return false;
  if (P.N * P.C >= (int64_t)L * std::max(requested, 1) && !xlane_balances(P, requested))
    return false;
  for (int a = 0; a < 3; ++a) {  // one window over every element of the plane
    const Axis& A = P.ax[a];
    if (A.out != 1 || !window_spans(A, 0, 0, A.in))
      return false;
  }
  return true;
}

// The plan of one of L slices of P (Plan::xlane): P's rows / L rows of P's columns where D = 1
// and L divides the rows; else rows of W <= XLANE_COLS columns, H = ceil(n / (L W)) of them,
// W the largest for which the B = L H W - n borrowed elements leave the last lane whole
// (B <= (L - 1) W): lanes [0, B / W) a row short, lane B / W (B mod W) elements short. One
// window over the slice: each axis's start and count in xtab[2 a], xtab[2 a + 1] (which must
// outlive Q).
inline void slice_plan(const Plan& P, Plan& Q, int64_t* xtab) {
  const int64_t n = P.plane_in;
  int64_t H = P.ax[1].in / L, W = P.ax[2].in;
  if (P.ax[0].in != 1 || P.ax[1].in % L != 0) {
    for (W = XLANE_COLS;; --W) {
      H = (n + L * W - 1) / (L * W);
      if (L * H * W - n <= (L - 1) * W) break;
    }
  }
  const int64_t borrowed = L * H * W - n;
  Q = P;
  Q.xlane = true;
  Q.xlane_short = borrowed / W;
  Q.xlane_part = borrowed % W;
  Q.xlane_n = n;
  const int64_t extent[3] = {1, H, W};  // D, H, W: one window over each whole axis
  for (int a = 0; a < 3; ++a) {
    Axis& A = Q.ax[a];
    A = Axis();
    A.in = xtab[2 * a + 1] = extent[a];
    xtab[2 * a] = 0;
    A.start = xtab + 2 * a;
    A.count = xtab + 2 * a + 1;
  }
  Q.plane_in = H * W;
  Q.groups = P.N * P.C;
}

// The lanes of plane g's slices (Plan::xlane; contiguous memory, or channels-last packed
// planes, whose elements are C apart): lane l starts after the elements of lanes [0, l): H W
// each, less W for each lane before xlane_short and xlane_part for lane xlane_short.
inline void xlane_lanes(const Plan& P, const Plan& Q, const double* param, int64_t g,
                        Lanes& ln) {
  ln.es_in = ln.es_out = P.element_stride();
  ln.n_active = L;
  const int64_t H = Q.ax[1].in, W = Q.ax[2].in, k = Q.xlane_short;
  for (int l = 0; l < L; ++l) {
    ln.active[l] = true;
    ln.plane[l] = ln.slot[l] = g;
    ln.in_base[l] = plane_in_base(P, g) + (l * H * W - std::min<int64_t>(l, k) * W -
                                           (l > k ? Q.xlane_part : 0)) * ln.es_in;
    ln.out_base[l] = plane_out_base(P, g);
    ln.a[l] = param_of(P, param, g);
  }
}


// Lane slices in parts (XParts) since the last ppv_lane_slice_parts call: units run (planes x
// parts), and calls run again with whole slices (ST_XPART_REDO). For tests.
PPV_SHARED(std::atomic<int64_t>, xpart_units, , {0})
PPV_SHARED(std::atomic<int64_t>, xpart_redone, , {0})
// the fewest rows of a slice a part takes
constexpr int64_t XPART_MIN_ROWS = 4;

// Parts per group of lane slices Q of P (XParts) for `requested` threads: where the groups do
// not share out evenly among the threads (fewer planes than threads: one plane, one thread),
// requested / gcd(groups, requested) parts, so that the units do, at most a part per
// XPART_MIN_ROWS rows of a slice. 1 (whole slices) where some plane's parameter fails
// `serves` (the engine's: a parameter whose windows take a plane reference, the whole plane's
// largest element, or the exact engine), or where slices borrow rows (a lane's last row is
// the next lane's first: two parts would write its dy/dx).
template <class Serves>
int64_t xlane_parts(const Plan& P, const Plan& Q, const double* param, int requested,
                    Serves serves) {
  const int64_t groups = Q.groups, t = std::max(requested, 1);
  if (Q.xlane_borrows() || groups % t == 0) return 1;
  for (int64_t g = 0; g < groups; ++g)
    if (!serves(param_of(P, param, g))) return 1;
  int64_t a = groups, b = t;
  while (b) { const int64_t r = a % b; a = b; b = r; }
  return std::max<int64_t>(1, std::min(t / a, Q.ax[1].in / XPART_MIN_ROWS));
}

// The plans of the parts of lane slices Q: Q with the H axis's window on rows [ptab[2 k],
// ptab[2 k] + ptab[2 k + 1]) of each slice (ptab must outlive them)
inline void xlane_part_plans(const Plan& Q, int64_t parts, std::vector<int64_t>& ptab,
                             std::vector<Plan>& plans) {
  const int64_t H = Q.ax[1].in;
  ptab.resize((size_t)(2 * parts));
  plans.assign((size_t)parts, Q);
  for (int64_t k = 0; k < parts; ++k) {
    ptab[2 * k] = H * k / parts;
    ptab[2 * k + 1] = H * (k + 1) / parts - ptab[2 * k];
    plans[k].ax[1].start = ptab.data() + 2 * k;
    plans[k].ax[1].count = ptab.data() + 2 * k + 1;
  }
}

// A backward's part plans: each part also owns its rows alone (a segment's ownership along H,
// Plan::split 1: its second pass writes those input rows' gradients, no others) and the
// owner part the window (its dy/dalpha or dy/dp)
inline void xlane_part_owners(const std::vector<int64_t>& ptab, std::vector<Plan>& plans) {
  for (size_t k = 0; k < plans.size(); ++k) {
    Plan& Q = plans[k];
    Q.split = 1;
    Q.own_in_lo = ptab[2 * k];
    Q.own_in_hi = ptab[2 * k] + ptab[2 * k + 1];
    Q.own_out_lo = 0;
    Q.own_out_hi = k == 0 ? 1 : 0;
  }
}

// The plane's sums from its parts' (XP_SUMS: `blocks` blocks of L doubles per unit, units g *
// parts + k), in the parts' order: added, but block `max_block` (the largest weight), the
// largest; each block's value in all L lanes of comb
inline void xlane_parts_combine(const std::vector<double>& sums, std::vector<double>& comb,
                                int64_t groups, int64_t parts, int blocks, int max_block) {
  for (int64_t g = 0; g < groups; ++g) {
    double* c = comb.data() + g * blocks * L;
    for (int64_t k = 0; k < parts; ++k) {
      const double* ps = sums.data() + (g * parts + k) * blocks * L;
      for (int b = 0; b < blocks; ++b) {
        const double v = ps[b * L], t = c[b * L];
        const double r = k == 0 ? v : (b == max_block ? (v > t ? v : t) : t + v);
        for (int l = 0; l < L; ++l) c[b * L + l] = r;
      }
    }
  }
}

// Unit u's XParts (group g, part k) in step `mode` of lane slices in parts: its block of sums
// (of `blocks` blocks of L doubles) the unit's own in XP_SUMS, the plane's in XP_FINISH; part
// 0 the owner
inline XParts xlane_unit(int mode, std::vector<double>& sums, std::vector<double>& comb,
                         int64_t u, int64_t g, int64_t k, int blocks, double terms,
                         double parts) {
  double* at = mode == XP_SUMS ? sums.data() + u * blocks * L : comb.data() + g * blocks * L;
  return XParts{mode, at, k == 0, terms, parts};
}

// The power mean and the Lp norm (every float dtype): their own engine and driver (after
// Segments, which the driver uses too).
#include "power_kernel.inc"

// The mean number of elements in a window: the product over the axes of each axis's mean
// window length, in _native.plan_window_mean's arithmetic (the same double)
inline double window_mean(const Plan& P) {
  double mean = 1.0;
  for (int a = 0; a < 3; ++a) {
    int64_t total = 0;
    for (int64_t o = 0; o < P.ax[a].out; ++o) total += std::max<int64_t>(0, P.ax[a].count[o]);
    mean *= (double)total / (double)std::max<int64_t>(P.ax[a].out, 1);
  }
  return mean;
}

// allow_xlane = false: no lane slices (the call again after ST_XLANE_REDO).
template <class T>
int run(const Plan& Pc, const T* x, const double* param, T* y, const T* gy, T* gx,
        double* dparam_out, int requested, const Saved* sv = nullptr, bool allow_xlane = true) {
  // (allow_xlane: no lane slices, the call again after ST_XLANE_REDO)
  const Saved* const sv_given = sv;  // (sv may be dropped below; a call again starts from it)
  if (Pc.op != OP_PPOOL) {
    if (sv) {  // a float jac (float / bfloat16 / float16; float64: a double jac64); windows
               // that share no element, or with cw any windows (the overlap state)
      const bool f64 = std::is_same<T, double>::value;
      if (f64 ? sv->jac64 == nullptr : (sv->jac64 != nullptr || sv->jac == nullptr))
        return ST_ARGS;
      // (disjoint reads the tables alone: no inverse, which for a plane folded into rows of
      // one element, _dispatch._global_rows, is 16 bytes per element)
      if (!sv->cw && !disjoint(Pc)) return ST_ARGS;
    }
    return run_power<T>(Pc, x, param, y, gy, gx, dparam_out, requested, sv);
  }
  Plan P = Pc;
  const bool backward = gx != nullptr;
  const bool exact = std::is_same<T, double>::value;
  P.new_alpha = false;
  const int64_t n_param = param_count(P);
  for (int64_t c = 0; c < n_param; ++c)
    P.new_alpha = P.new_alpha || std::fabs(param[c]) <= FASTLOG_MAX_A;
  if (backward || sv) {
    P.ax[0].build_inverse();
    P.ax[1].build_inverse();
  }
  if (sv && sv->e64) {  // float64 windows that share elements: the exact engine only
    if (!exact || sv->win64 == nullptr) return ST_ARGS;
  } else if (sv && sv->overlap()) {  // windows that share elements: the fast engine only
    if (exact || sv->dw) return ST_ARGS;
  } else if (sv) {  // windows that share no element (the integer-alpha state: any windows)
    if ((!disjoint(P) && !sv->int_state) || (exact != (sv->jac64 != nullptr))) return ST_ARGS;
  }
  // the integer-alpha state where windows share elements: not in lane slices or segments
  // (below), whose windows are shared between calls
  const bool int_shared = sv && sv->int_state && !disjoint(P);
  // float64's recomputing backward through the overlap state's arithmetic (fused64_backward)
  const bool fused64 = fused64_backward(P, backward && sv == nullptr);
  const int64_t work = path_work(backward);  // the grains' count
  Segments sg;
  int seg_threads = 1;
  int extra_status = 0;
  // lane slices (xlane_serves): the fast engine's plain or saving forward (windows that share
  // no element) or recomputing backward, of a plane not cut into segments
  bool xl = allow_xlane && !exact && !int_shared &&
            (sv == nullptr || (!sv->overlap() && !sv->e64 && !backward)) &&
            xlane_serves(P, requested);
  try {
    // segments when the planes leave lanes or threads idle (threads: as the whole work
    // allows, not capped by the planes' groups; see SEG_THREAD_ELEMENTS)
    seg_threads = segment_threads(P, requested, work);
    make_ppool_segments(P, seg_threads, fused64, sg);
    xl = xl && sg.axis < 0;
    for (SegClass& c : sg.classes) {
      // the backward's second pass reads the D and H inverses, and W's (gather_row; built
      // for each class: a class's W axis is its own where the columns are cut)
      if (sg.axis >= 0 && sg.axis < 2 && backward) c.P.ax[sg.axis].build_inverse();
      if (backward && !exact) c.P.ax[2].build_inverse();
      if (!exact) c.tiles = make_col_tiles(c.P.ax[2]);
      // (lane slices: their own rows' tiles, below)
      if (sv && !sv->overlap() && !sv->e64 && c.tiles.max_chunks > 1 && !xl) {
        sv = nullptr;  // a window wider than a tile: not saved (recompute)
        extra_status = ST_UNSAVED;
      }
    }
    // segments recompute the windows they share with the previous segment and own only some
    // of them; the overlap state's backward is not segmented: not saved (recompute)
    if (sv && (sv->overlap() || sv->e64 || int_shared) && sg.axis >= 0) {
      sv = nullptr;
      extra_status = ST_UNSAVED;
    }
  } catch (...) {
    return ST_NOMEM;
  }
  SegClass xc;  // the slices' plan
  int64_t xtab[6] = {};
  // lane slices in parts (XParts): units = groups x parts, part k's plan part_plan[k]
  int64_t parts = 1;
  std::vector<int64_t> ptab;
  std::vector<Plan> part_plan;
  std::vector<double> psums, pcomb;
  if (xl) {
    try {
      slice_plan(P, xc.P, xtab);
      if (backward || sv) {
        xc.P.ax[0].build_inverse();
        xc.P.ax[1].build_inverse();
      }
      if (backward) xc.P.ax[2].build_inverse();  // (gather_row)
      xc.tiles = make_col_tiles(xc.P.ax[2]);
      xc.groups = xc.units = xc.P.groups;
      sg.groups = xc.groups;
      // (a plane reference, |a| log_range above 560, is the whole plane's: no parts; nor the
      // backward's exact lanes, |a| above FAST_GRAD_MAX_A)
      parts = xlane_parts(P, xc.P, param, requested, [](double a) {
        return std::isfinite(a) && std::fabs(a) * log_range<T>() <= 560.0;
      });
      if (parts > 1) {
        xlane_part_plans(xc.P, parts, ptab, part_plan);
        if (backward) xlane_part_owners(ptab, part_plan);
        psums.assign((size_t)(xc.groups * parts * PP_XP_BLOCKS * L), 0.0);
        pcomb.assign((size_t)(xc.groups * PP_XP_BLOCKS * L), 0.0);
      }
    } catch (...) {
      return ST_NOMEM;
    }
    if (sv && xc.tiles.max_chunks > 1) {
      sv = nullptr;  // a slice's rows wider than a tile: not saved (recompute)
      extra_status = ST_UNSAVED;
    }
  }
  const int64_t slots = sg.slot_plane.empty() ? P.N * P.C : (int64_t)sg.slot_plane.size();
  std::vector<double> dparam_mem;
  if (backward) dparam_mem.assign((size_t)(2 * slots), 0.0);
  double* dparam = dparam_mem.data();
  const int nt = xl ? threads_for(P, requested, xc.groups * parts, work)
                    : (sg.axis < 0 ? threads_for(P, requested, P.groups, work)
                                   : (int)std::min<int64_t>(seg_threads, sg.groups));
  std::atomic<int> status{0};
  int mode = 0;  // 0 the groups; XP_SUMS / XP_FINISH the units of lane slices in parts
  auto body = [&](int t, int nthreads) {
    int st = 0;
    const GroupRun gr = thread_groups(P, sg.groups * parts, sg.axis >= 0, t, nthreads);
    int64_t n_full = 0, n_partial = 0, cl_bands = 0;
    try {
      FastScratch fs;
      Fused64Scratch f64s;
      const SegClass* current = nullptr;
      // the fast engine's scratch for the plan of one class
      auto setup = [&](const SegClass& c) {
        const Plan& Q = c.P;
        const ColTiles& tiles = c.tiles;
        // the row cache: the rows of one window span when output rows share input rows (none
        // otherwise: a global window reads each row once), or the whole plane when it fits
        // CACHE_BYTES (backward: the second pass then reuses every weight)
        const int nq = (backward || (sv && (sv->dw || sv->dwf))) ? 3 : 2;  // lg: for dy/da
        const int64_t cols = std::max<int64_t>(1, std::min(Q.ax[2].in, TILE_COLS));
        const int64_t rows = Q.ax[0].in * Q.ax[1].in;
        const int64_t budget = std::max<int64_t>(1, fast_cache_bytes.load() / (cols * L * 8 * nq));
        const int64_t plane = rows * tiles.max_chunks;
        // (the saving forward reads a window's rows again for dy/dx: it keeps them too; not
        // the integer-alpha window state's, which keeps no dy/dx. (8,3,224,224) global on
        // channels-last memory, two threads: its peak RSS growth 18.7 -> 0.1 MB)
        const bool reread = sv && !sv->int_state;
        int64_t wanted = (rows_shared(Q) || reread) ? std::min(rows, row_span(Q)) * tiles.max_chunks
                                                    : 1;
        if (backward &&
            plane <= backward_cache_bytes(fast_cache_bytes.load(), P, nthreads) /
                         (cols * L * 8 * nq))
          wanted = plane;
        // a saving forward of one output row (a global window) reads its rows again from the
        // cache only where it holds them all (direct-mapped, the second pass in the first's
        // order: else every row misses), and lane slices in parts read each row once in each
        // step (a step's scratch is its own): no more than a row then ((1, 3, 1024, 1024) in
        // parts, two threads: 4 cleared caches of about 8 MB a call, each new memory)
        // (nor where they would take more than KEEP_PLANE_FROM: keeps_plane_weights)
        if (reread && Q.ax[0].out * Q.ax[1].out == 1 &&
            (parts > 1 || wanted > budget ||
             keeps_plane_weights<T>(Q, plane * cols * L * 8 * nq)))
          wanted = 1;
        // (and such a forward with no parts keeps its weights between its passes)
        fs.keep_between_passes = reread && Q.ax[0].out * Q.ax[1].out == 1 && parts == 1 &&
                                 wanted == 1 && plane > 1;
        // the forward sums a window's rows together (sum_rows): room for all of them
        const int64_t wrows = max_window_rows(Q);
        if (!backward && tiles.max_chunks == 1 && wrows <= FUSE_ROWS)
          wanted = std::max(wanted, wrows);
        fs.cache.init(std::max<int64_t>(1, std::min(wanted, budget)), cols, nq);
        fs.rowbuf.assign(cols * L, 0.0);
        fs.acc.assign(7 * tiles.max_outs * L, 0.0);
        fs.orow.assign(2 * tiles.max_outs * L, 0.0);
        if (sv) fs.srow.assign(2 * tiles.max_outs * L, 0.0);
        if (sv) fs.jk.assign(3 * cols * L, 0.0);
        if (backward) {
          const int64_t kept = Q.ax[0].out * Q.ax[1].out * tiles.max_kept * L;
          fs.c1.assign(kept, 0.0);
          fs.c2.assign(kept, 0.0);
          fs.pq.assign(2 * cols * L, 0.0);
        }
      };
      // channels-last forwards: band by band, the groups of a batch entry within each band
      const int64_t band = (exact || backward) ? 0 : cl_band_rows(P, sg.axis >= 0, false);
      if (band > 0) {
        const SegClass& c = sg.classes[0];
        setup(c);
        current = &c;
        const int64_t blocks = (P.C + L - 1) / L, orows = P.ax[0].out * P.ax[1].out;
        fs.ref_group.assign((size_t)blocks, -1);
        fs.ref_lc.assign((size_t)(blocks * L), 0.0);
        const int64_t cache_bytes = (int64_t)fs.cache.mem.size() * 8;
        if (rows_shared(c.P) && blocks * cache_bytes <= BAND_CACHE_BYTES) {
          fs.band_cache.assign((size_t)blocks, RowCache());
          fs.band_group.assign((size_t)blocks, -1);
        }
        for (int64_t n0 = gr.begin; n0 < gr.end;) {
          const int64_t n1 = std::min(gr.end, (n0 / blocks + 1) * blocks);  // one batch entry
          for (int64_t r0 = 0; r0 < orows; r0 += band)
            for (int64_t g = n0; g < n1; ++g) {
              if (status.load(std::memory_order_relaxed) & ST_NOMEM) break;
              Lanes ln;
              segment_lanes(P, sg, param, g, ln);
              if (r0 == 0) count_cl_group(P, ln, n_full, n_partial);
              cl_bands += r0 == 0 ? 0 : 1;
              double dl[L];
              fast_group<T>(x, c.P, c.tiles, ln, fs, y, gy, gx, dl, &st, sv, r0,
                            std::min(orows, r0 + band));
            }
          n0 = n1;
        }
      }
      for (int64_t u = gr.begin; band == 0 && u < gr.end; u += gr.step) {
        if (status.load(std::memory_order_relaxed) & (ST_NOMEM | ST_XLANE_REDO)) break;
        const int64_t g = u / parts, k = u % parts;
        // (a plain forward's parts after the owner have nothing to finish)
        if (mode == XP_FINISH && k > 0 && !sv && !backward) continue;
        Lanes ln;
        if (xl) xlane_lanes(P, xc.P, param, g, ln);
        const SegClass& c = xl ? xc : segment_lanes(P, sg, param, g, ln);
        if (mode != XP_FINISH && k == 0) count_cl_group(P, ln, n_full, n_partial);
        if (exact) {
          ScaledSum da[L];
          bool done = false;
          if constexpr (std::is_same<T, double>::value)
            if (fused64) done = fused_group64(x, c.P, ln, gy, gx, da, &st, f64s);
          if (!done) exact_group<T>(x, c.P, ln, y, gy, gx, backward ? da : nullptr, &st, sv);
          if (backward)
            for (int l = 0; l < L; ++l)
              if (ln.active[l]) {
                dparam[2 * ln.slot[l]] = da[l].m;
                dparam[2 * ln.slot[l] + 1] = da[l].e;
              }
        } else {
          if (&c != current) {
            setup(c);
            current = &c;
          }
          double dl[L];
          for (int l = 0; l < L; ++l) dl[l] = 0.0;
          const XParts xpart =
              mode ? xlane_unit(mode, psums, pcomb, u, g, k, PP_XP_BLOCKS, 0.0, (double)parts)
                   : XParts{};
          fast_group<T>(x, mode ? part_plan[k] : c.P, c.tiles, ln, fs, y, gy, gx, dl, &st, sv,
                        0, INT64_MAX, mode ? &xpart : nullptr);
          // (parts: the owner's dy/da, once the plane's sums are in)
          if (backward && (mode == 0 || (mode == XP_FINISH && k == 0)))
            for (int l = 0; l < L; ++l)
              if (ln.active[l]) {
                dparam[2 * ln.slot[l]] = dl[l];
                dparam[2 * ln.slot[l] + 1] = 0.0;
              }
        }
      }
    } catch (const std::bad_alloc&) {
      st |= ST_NOMEM;
    } catch (...) {
      st |= ST_NOMEM;
    }
    if (n_full) cl_groups_full += n_full;
    if (n_partial) cl_groups_partial += n_partial;
    if (cl_bands) cl_later_bands += cl_bands;
    status.fetch_or(st);
  };
  auto run_units = [&]() {
    if (nt <= 1) {
      body(0, 1);
    } else {
#pragma omp parallel num_threads(nt)
      body(omp_get_thread_num(), omp_get_num_threads());
    }
  };
  if (parts > 1) {
    mode = XP_SUMS;
    run_units();
    if (!(status.load() & (ST_NOMEM | ST_XLANE_REDO))) {
      xlane_parts_combine(psums, pcomb, sg.groups, parts, PP_XP_BLOCKS, 2);
      mode = XP_FINISH;
      run_units();
    }
  } else {
    run_units();
  }
  if (status.load() & ST_XLANE_REDO) {
    ++xlane_redone;
    return run<T>(Pc, x, param, y, gy, gx, dparam_out, requested, sv_given, false);
  }
  if (xl) xlane_planes += xc.groups;
  if (parts > 1) xpart_units += xc.groups * parts;
  if (backward && dparam_out != nullptr)
    reduce_param(P, dparam, dparam_out, sg.slot_plane.empty() ? nullptr : &sg.slot_plane);
  return status.load() | extra_status;
}

// The sum of gy * dw over n outputs (stride st) of one plane as (m, e): a plain double sum
// while every term lies within [2^-960, 2^960] (or is 0), else a ScaledSum (terms of any
// magnitude, as the recomputing float64 backward sums them).
template <class T, class DW = double>
inline void plane_param_sum(const T* gy, const DW* dw, int64_t n, int64_t st, double* me) {
  double acc = 0.0, big = 0.0;
  for (int64_t o = 0; o < n; ++o) {
    double t = to_double<T>(gy[o * st]) * (double)dw[o * st];
    // t rounded: whether GCC contracts acc += t into an fma depends on the target's tuning
    // (-mtune=znver* avoids fma chains in reductions, --param avoid-fma-max-bits; aarch64 does
    // not), and it did so for float16 but not float32 / bfloat16 on Zen 3
    PPV_KEEP(t);
    acc += t;
    big = std::fabs(t) > big ? std::fabs(t) : big;
  }
  if (std::is_same<T, double>::value && !(big == 0.0 || (big >= 0x1p-960 && big <= 0x1p960))) {
    ScaledSum s;
    for (int64_t o = 0; o < n; ++o) {
      int eg, ed;
      const double mg = std::frexp(to_double<T>(gy[o * st]), &eg);
      const double md = std::frexp((double)dw[o * st], &ed);
      if (std::isfinite(mg) && std::isfinite(md)) s.add(mg * md, eg + ed);
      else { s.m = NAN; s.e = 0; break; }
    }
    me[0] = s.m;
    me[1] = s.e;
    return;
  }
  me[0] = acc;
  me[1] = 0.0;
}

// dparam_out = the per-plane sums of gy * dw (dw: each window's dy/dparam, the output's
// layout) reduced to the parameter's shape: the saved states' parameter gradient
template <class T, class DW = double>
void saved_param_grad(const Plan& P, int nt, const T* gy, const DW* dw,
                      double* dparam_out) {
  const bool cl = P.layout == 1;
  const int64_t planes = P.N * P.C;
  // one output per plane (global pooling) of a narrow type: each plane's sum is its one term
  // gy * dw, which reduce_param's plain sums then add in plane order; the same sums without
  // the per-plane pairs (a vector of 2 doubles per plane, allocated and zeroed, and a call
  // per plane: 0.08 ms of a ResNet head's 16,384-plane backward, one thread). Index p is
  // plane p's output in either memory format.
  if (dparam_out != nullptr && P.plane_out == 1 && !std::is_same<T, double>::value &&
      plain_param_sums(P, planes, [](int64_t p) { return p; },
                       [&](int64_t p) {
                         double t = to_double<T>(gy[p]) * (double)dw[p];
                         PPV_KEEP(t);  // (rounded, as plane_param_sum's: no fma into the sum)
                         return t;
                       },
                       dparam_out))
    return;
  if (cl && !std::is_same<T, double>::value) {
    // Channels-last, a narrow type: each batch entry's outputs walked once, 16 channels (a
    // float32 cache line) a unit, each channel's terms summed in plane_param_sum's order (the
    // same bits). A plane at a time walked the outputs with the stride C, so that each cache
    // line of gy and dw was read once per channel it holds ((8, 64, 112, 112) k3 s2 p1, a
    // learnable alpha, one thread: 12% of the fwd+bwd's samples, `perf`)
    constexpr int64_t CB = 16;
    const int64_t blocks = (P.C + CB - 1) / CB;
    std::vector<double> dparam((size_t)(2 * planes), 0.0);  // (m, e) pairs, e = 0
    double* dp = dparam.data();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t u = 0; u < P.N * blocks; ++u) {
      const int64_t n = u / blocks, c0 = (u % blocks) * CB, cn = std::min(CB, P.C - c0);
      double acc[CB] = {};
      const T* g = gy + n * P.plane_out * P.C + c0;
      const DW* d = dw + n * P.plane_out * P.C + c0;
      for (int64_t o = 0; o < P.plane_out; ++o, g += P.C, d += P.C)
        for (int64_t c = 0; c < cn; ++c) {
          double t = to_double<T>(g[c]) * (double)d[c];
          PPV_KEEP(t);  // (rounded, as plane_param_sum's: no fma into the sum)
          acc[c] += t;
        }
      for (int64_t c = 0; c < cn; ++c) dp[2 * (n * P.C + c0 + c)] = acc[c];
    }
    reduce_param(P, dp, dparam_out);
    return;
  }
  {
    std::vector<double> dparam((size_t)(2 * planes), 0.0);  // (m, e) pairs
    double* dp = dparam.data();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; ++p) {
      if (cl) {
        const int64_t n = p / P.C, c = p % P.C;
        const int64_t o0 = n * P.plane_out * P.C + c;
        plane_param_sum<T, DW>(gy + o0, dw + o0, P.plane_out, P.C, dp + 2 * p);
      } else {
        plane_param_sum<T, DW>(gy + p * P.plane_out, dw + p * P.plane_out, P.plane_out, 1,
                               dp + 2 * p);
      }
    }
    reduce_param(P, dparam.data(), dparam_out);
  }
}

// Per input index of an axis whose windows share no element: the output whose window holds
// it, or -1 (the saved states' backwards)
inline std::vector<int64_t> window_owners(const Axis& A) {
  std::vector<int64_t> om((size_t)A.in, -1);
  for (int64_t o = 0; o < A.out; ++o)
    for (int64_t j = 0; j < A.count[o]; ++j) om[(size_t)(A.start[o] + j * A.step)] = o;
  return om;
}

// The runs of consecutive indices of one owner in window_owners' table om: run k ends before
// run_end[k] (the next starts there) and belongs to output run_out[k] (-1: no window)
inline void owner_runs(const std::vector<int64_t>& om, std::vector<int64_t>& run_end,
                       std::vector<int64_t>& run_out) {
  const int64_t n = (int64_t)om.size();
  for (int64_t i = 0; i < n;) {
    const int64_t o = om[(size_t)i];
    int64_t e = i + 1;
    while (e < n && om[(size_t)e] == o) ++e;
    run_end.push_back(e);
    run_out.push_back(o);
    i = e;
  }
}

// Channels-last backwards over C channels (lanes) that are not a multiple of 8, below this
// count: a window's per-channel factors are repeated over lcm(C, 8) elements (whole pixels,
// whole vectors), so that a run of the window's pixels is one loop over its elements in blocks
// of that pattern rather than a loop per pixel over C channels with a partial vector (3
// channels: one element per pixel). A multiple of 8 keeps the loop per pixel (whole vectors
// already, one set of factors read). (8,3,160,160) global, two threads: the integer-alpha
// state's backward 0.60 -> 0.21 ms, 12 channels 1.02 -> 0.73; spread over the whole row's
// W x C elements instead, 8 channels ran 0.46 -> 0.53 ms.)
constexpr int64_t CL_PATTERN_BELOW = 64;

// The pattern's length in elements for a channels-last call of `lanes` channels (0: none)
inline int64_t cl_pattern(bool cl, int64_t lanes) {
  return cl && lanes % 8 != 0 && lanes < CL_PATTERN_BELOW ? lanes / std::gcd(lanes, (int64_t)8) * 8
                                                          : 0;
}

// The saved states' backwards over one plane's rows of several windows (a whole-W table of
// runs): windows of fewer columns than this on average take a row as one loop, each column
// with its window's factors spread over the row once per output row; longer ones a loop per
// window with its factors broadcast. The dy/dx state (run_saved_backward; kernel_ab --saved,
// one thread: spread 0.56-0.79x on k14, adaptive 7, k2 s2; run by run 0.8-0.9x of spread on
// global rows and k56) and the integer-alpha window state (int_saved_backward_a; two threads,
// 2026-12-07: runs of 32, 48 and 56 columns run by run 0.85-1.01x of spread)
constexpr int64_t SPREAD_RUN = 32;

// Whether a contiguous row of `runs` runs over W columns spreads its windows' factors (see
// SPREAD_RUN): runs shorter than SPREAD_RUN columns on average, and output rows whose windows
// read more than one input row (a 1-D signal's one row has its own output row: spreading is a
// pass more per row; (8, 64, 3136) k14 / k16 at alpha 2.5 took 0.53-0.55 / 0.46-0.49 ms
// against 0.33-0.35 / 0.25-0.27 run by run, two threads, 2026-12-07)
inline bool spread_pays(const Plan& P, int64_t W, int64_t runs) {
  return max_window_rows(P) > 1 && W < SPREAD_RUN * runs;
}

// Whether a row's runs (owner_runs) include columns that no window holds (run_out -1)
inline bool has_unowned_runs(const std::vector<int64_t>& run_out) {
  return std::find(run_out.begin(), run_out.end(), -1) != run_out.end();
}

// A spread row's columns that no window holds set to exactly 0, whatever the row's loop wrote
// there (an infinity in x or the state times a factor of 0)
template <class T>
inline void zero_unowned_runs(const std::vector<int64_t>& run_end,
                              const std::vector<int64_t>& run_out, T* g) {
  for (size_t k = 0; k < run_end.size(); ++k)
    if (run_out[k] < 0)
      for (int64_t i = k == 0 ? 0 : run_end[k - 1]; i < run_end[k]; ++i) g[i] = from_double<T>(0.0);
}

// The backward from a saving forward's state (no recomputation): gx = gy[window] * jac (0
// outside every window) in x's dtype and layout, and, with dparam_out, the per-plane sums of
// gy * dw reduced to the parameter's shape. A pass over memory, in memory order. jac is float
// for the fast engine's dtypes, double for float64 (gx may then be jac itself: each element is
// read before it is written).
template <class T, class J>
int run_saved_backward(const Plan& Pc, const J* jac, const double* dw, const T* gy, T* gx,
                       double* dparam_out, int requested) {
  Plan P = Pc;
  if (!disjoint(P)) return ST_ARGS;
  // per axis: the output whose window holds input index i, or -1; for W a table only when
  // short (a 1-D signal of 2e6 samples would need 16 MB): else per piece of SAVED_COLS
  // columns, from the first output reaching the piece (non-empty windows increase: disjoint)
  constexpr int64_t SAVED_COLS = 16384;
  const Axis& AW = P.ax[2];
  const int64_t D = P.ax[0].in, H = P.ax[1].in, W = AW.in;
  const bool whole_w = W <= 4 * SAVED_COLS;
  std::vector<int64_t> om[3];
  for (int a = 0; a < (whole_w ? 3 : 2); ++a) om[a] = window_owners(P.ax[a]);
  const int64_t pieces = whole_w ? 1 : (W + SAVED_COLS - 1) / SAVED_COLS;
  const int64_t piece_cols = whole_w ? W : SAVED_COLS;
  std::vector<int64_t> piece_first((size_t)pieces, AW.out);
  if (!whole_w) {
    int64_t k = 0;
    for (int64_t o = 0; o < AW.out && k < pieces; ++o) {
      if (AW.count[o] <= 0) continue;
      const int64_t last = AW.start[o] + (AW.count[o] - 1) * AW.step;
      while (k < pieces && last >= k * SAVED_COLS) piece_first[(size_t)k++] = o;
    }
  }
  const int64_t OH = P.ax[1].out, OW = AW.out;
  const bool cl = P.layout == 1;
  const int64_t planes = P.N * P.C;
  // contiguous: one plane's row (p, id, ih) at a time; channels-last: one spatial row of one
  // batch entry, all channels (n, id, ih); either in pieces of piece_cols columns
  const int64_t outer = cl ? P.N * D * H : planes * D * H;
  const int64_t lanes = cl ? P.C : 1;
  const int64_t pat = cl_pattern(cl, lanes);
  // threads by the whole work, not by groups: a few long rows (one 1-D signal) in pieces
  const int nt = threads_for(P, requested, INT64_MAX, WORK_STATE);
  const int64_t* omd = om[0].data();
  const int64_t* omh = om[1].data();
  // contiguous memory with a whole-W table: W's runs of consecutive columns of one output (or
  // of none: -1), the same for every row. A row is each run's state times its one gy (long
  // runs), or, for short runs, one contiguous product with the runs' gy spread over a row of
  // columns (gexp, per thread, spread once per output row: the input rows of that output row
  // share it). Either way the same product and rounding per element as the gather of gy per
  // element they replace (which cost about 5x: global (8,64,112,112), one thread, 4.6 ->
  // 0.9 ms)
  std::vector<int64_t> run_end, run_out;
  if (whole_w && !cl) owner_runs(om[2], run_end, run_out);
  const bool gaps = has_unowned_runs(run_out);
  // short runs: spread (below), else run by run (spread_pays)
  const bool spread = !run_end.empty() && spread_pays(P, W, (int64_t)run_end.size());
  int64_t n_runs = 0, n_spread = 0, n_gather = 0;  // rows by each path (saved_backward_paths)
  // global windows on contiguous memory (each axis one output whose window is the whole axis):
  // a plane is one window, its input gradient one loop over its contiguous elements with the
  // plane's gy (the same product and rounding per element as the runs and the spread), not a
  // loop per row, each paying the index arithmetic below (a 7x7 plane: 7 elements a row; GeM's
  // global pooling of (8, 2048, 7, 7), one thread: 1.65 ms of 13.9 ms here)
  bool whole_plane = !cl;
  for (int a = 0; a < 3; ++a) {
    const Axis& A = P.ax[a];
    whole_plane = whole_plane && A.out == 1 && window_spans(A, 0, 0, A.in);
  }
  int64_t n_planes = 0;
  if (whole_plane) {
    const int64_t n = P.plane_in;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; ++p) {
      const double gv = to_double<T>(gy[p]);
      T* gr = gx + p * n;
      const J* jr = jac + p * n;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) gr[i] = from_double<T>(gv * (double)jr[i]);
    }
    n_planes = planes;
  } else
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : n_runs, n_spread, n_gather)
  {
    std::vector<int64_t> local(whole_w ? 0 : (size_t)SAVED_COLS);
    // the runs' gy spread over the row's columns (0 outside every window), for the output row
    // gkey (out0) it was spread for: the input rows of one output row share it
    std::vector<double> gexp(spread ? (size_t)W : 0);
    int64_t gkey = -1;
    // channels-last: the gy of window pkey (the offset of its first channel) as a pattern of
    // pat elements (cl_pattern)
    std::vector<double> gpat((size_t)pat);
    int64_t pkey = -1;
#pragma omp for schedule(static)
    for (int64_t rp = 0; rp < outer * pieces; ++rp) {
      const int64_t r = rp / pieces, w0 = (rp % pieces) * piece_cols;
      const int64_t w1 = std::min(W, w0 + piece_cols);
      const int64_t ih = r % H, id = (r / H) % D, b = r / (D * H);  // b: plane or batch entry
      const int64_t od = omd[id], oh = omh[ih];
      const int64_t in0 = (b * D * H + id * H + ih) * W * lanes;
      if (od < 0 || oh < 0) {
        for (int64_t i = w0 * lanes; i < w1 * lanes; ++i) gx[in0 + i] = from_double<T>(0.0);
        continue;
      }
      // omw[iw - w0]: the W output of column iw of this piece
      const int64_t* omw;
      if (whole_w) {
        omw = om[2].data() + w0;
      } else {
        std::fill(local.begin(), local.begin() + (w1 - w0), -1);
        for (int64_t o = piece_first[(size_t)(rp % pieces)]; o < OW; ++o) {
          const int64_t cnt = AW.count[o], st = AW.start[o];  // once (a compact axis computes)
          if (cnt <= 0) continue;
          if (st >= w1) break;
          for (int64_t j = 0; j < cnt; ++j) {
            const int64_t iw = st + j * AW.step;
            if (iw >= w0 && iw < w1) local[(size_t)(iw - w0)] = o;
          }
        }
        omw = local.data();
      }
      const int64_t out0 = (b * P.plane_out + (od * OH + oh) * OW) * lanes;
      if (!run_end.empty() && !spread) {  // one plane's row, run by run (long runs)
        T* gr = gx + in0;
        const J* jr = jac + in0;
        int64_t iw = 0;
        for (size_t k = 0; k < run_end.size(); ++k) {
          const int64_t e = run_end[k], ow = run_out[k];
          if (ow < 0) {
            for (; iw < e; ++iw) gr[iw] = from_double<T>(0.0);
            continue;
          }
          const double gv = to_double<T>(gy[out0 + ow]);
#pragma omp simd
          for (int64_t i = iw; i < e; ++i) gr[i] = from_double<T>(gv * (double)jr[i]);
          iw = e;
        }
        ++n_runs;
        continue;
      }
      if (spread) {  // one plane's row: the runs' gy spread once per output row (short runs)
        T* gr = gx + in0;
        const J* jr = jac + in0;
        double* ge = gexp.data();
        if (out0 != gkey) {
          int64_t iw = 0;
          for (size_t k = 0; k < run_end.size(); ++k) {
            const int64_t e = run_end[k], ow = run_out[k];
            const double gv = ow < 0 ? 0.0 : to_double<T>(gy[out0 + ow]);
            for (; iw < e; ++iw) ge[iw] = gv;
          }
          gkey = out0;
        }
#pragma omp simd
        for (int64_t i = 0; i < W; ++i) gr[i] = from_double<T>(ge[i] * (double)jr[i]);
        if (gaps) zero_unowned_runs(run_end, run_out, gr);
        ++n_spread;
        continue;
      }
      if (!cl) ++n_gather;
      if (!cl) {  // one plane's row: a gather of gy (0 outside every window)
        const T* g = gy + out0;
#pragma omp simd
        for (int64_t iw = w0; iw < w1; ++iw) {
          const int64_t ow = omw[iw - w0];
          const double gv = to_double<T>(g[ow < 0 ? 0 : ow]);
          gx[in0 + iw] = from_double<T>(ow < 0 ? 0.0 : gv * (double)jac[in0 + iw]);
        }
        continue;
      }
      for (int64_t iw = w0, iw2; iw < w1; iw = iw2) {  // runs [iw, iw2) of one window's pixels
        const int64_t ow = omw[iw - w0];
        for (iw2 = iw + 1; iw2 < w1 && omw[iw2 - w0] == ow;) ++iw2;
        const int64_t i = in0 + iw * lanes, end = in0 + iw2 * lanes;
        const int64_t o = out0 + ow * lanes;
        if (ow < 0) {
          for (int64_t k = i; k < end; ++k) gx[k] = from_double<T>(0.0);
          continue;
        }
        if (pat && (iw2 - iw) * lanes >= pat) {  // the window's gy as a pattern (cl_pattern)
          if (o != pkey) {
            for (int64_t j = 0; j < pat; ++j) gpat[(size_t)j] = to_double<T>(gy[o + j % lanes]);
            pkey = o;
          }
          const double* gp = gpat.data();
          for (int64_t k = i; k < end; k += pat) {
            const int64_t n = std::min(pat, end - k);  // (the last block: whole pixels)
#pragma omp simd
            for (int64_t j = 0; j < n; ++j)
              gx[k + j] = from_double<T>(gp[j] * (double)jac[k + j]);
          }
          continue;
        }
        for (int64_t w = iw; w < iw2; ++w) {
          const int64_t iq = in0 + w * lanes;
#pragma omp simd
          for (int64_t c = 0; c < lanes; ++c)
            gx[iq + c] = from_double<T>(to_double<T>(gy[o + c]) * (double)jac[iq + c]);
        }
      }
    }
  }
  if (n_planes) saved_bwd_planes += n_planes;
  if (n_runs) saved_bwd_rows_runs += n_runs;
  if (n_spread) saved_bwd_rows_spread += n_spread;
  if (n_gather) saved_bwd_rows_gather += n_gather;
  if (dparam_out != nullptr) saved_param_grad<T>(P, nt, gy, dw, dparam_out);
  return ST_OK;
}

// ------------------------------------------- backward from the integer-alpha window state
// At an integer alpha of 0-4 (the fast engine's int_a: E = x^a, Lc = 0) with windows that share
// no element and hold 16 elements or more on average, the saving forward keeps no dy/dx per
// element: only each window's S = sum x^a and y (double, the output's layout: Saved::sy), and
// this backward forms every element's dy/dx from its x and its window's constants,
//     dy/dx = k1 x^a - k2 x^(a-1) at x > 0,  k1 = (1 + a) / S,  k2 = a y / S,
//     ([a = 0] - [a = 1] y) / S at a zero (at a = 1 the limit -y / sum x), 1 in a window of
//     zeros alone (S = 0), 0 outside every window,
// the fast engine's formula E (k1 - k2 / x) with E / x = x^(a - 1) by multiplication (a = 0:
// k2 = 0). The dy/dx pass and its input-sized state leave the forward; the backward reads x
// (held by autograd anyway) where it read the state. One alpha for every plane.

// dy/dx at x of a window whose gy-scaled constants are c1 = g k1, c2 = g k2, cz = g kz, at the
// integer alpha A (branch-free: the loops over a run of elements vectorise)
template <int A>
PPV_ALWAYS_INLINE double int_dydx(double x, double c1, double c2, double cz) {
  const double e = int_weight(A, x);                        // x^A
  const double q = A == 0 ? 0.0 : int_weight(A - 1, x);     // x^(A-1) (k2 = 0 at A = 0)
  const double d = std::fma(c1, e, -(c2 * q));
  return x > 0.0 ? d : (x == 0.0 ? cz : 0.0);
}

// gy-scaled constants of a window (g k1, g k2, g kz), from its S and y
// (branch-free, so that a row of windows vectorises: the divisions 8 at a time)
PPV_ALWAYS_INLINE void int_window_consts(double a, double S, double y, double g, double& c1,
                                         double& c2, double& cz) {
  const bool zeros = S == 0.0;  // a window of zeros alone: dy/dx = 1 at each element
  const double inv = 1.0 / (zeros ? 1.0 : S);
  c1 = zeros ? 0.0 : g * ((1.0 + a) * inv);
  c2 = zeros ? 0.0 : g * (a * y * inv);
  cz = zeros ? g : g * ((a == 0.0 ? inv : 0.0) - (a == 1.0 ? y * inv : 0.0));
}

template <class T, int A>
int int_saved_backward_a(const Plan& P, const T* x, const double* sy, const T* gy, T* gx,
                         int requested) {
  constexpr double a = (double)A;
  const int64_t D = P.ax[0].in, H = P.ax[1].in, W = P.ax[2].in;
  const int64_t OH = P.ax[1].out, OW = P.ax[2].out;
  const std::vector<int64_t> om[3] = {window_owners(P.ax[0]), window_owners(P.ax[1]),
                                      window_owners(P.ax[2])};
  std::vector<int64_t> run_end, run_out;  // W's runs of columns of one output (or none)
  owner_runs(om[2], run_end, run_out);
  const bool gaps = has_unowned_runs(run_out);
  const bool cl = P.layout == 1;
  // One plane's rows of several short runs (spread_pays): each column's constants spread over
  // the row once per output row, so that each of its input rows is one loop, not a loop per
  // window with its partial vector (k14 on 56 columns, four runs of 14: (8, 64, 56, 56) 1.22
  // -> 0.62 ms, one thread, the AMD EPYC machine). One window a row (a global window) keeps
  // its loop with the constants broadcast (spread: (1, 3, 1024, 1024) 0.44 -> 0.70 ms), and so
  // does a 1-D signal (spread: (8, 64, 3136) k16 0.47-0.53 -> 0.80-1.00 ms, two threads)
  const int64_t runs = (int64_t)run_end.size();
  const bool short_runs = !cl && runs > 1 && spread_pays(P, W, runs);
  const int64_t planes = P.N * P.C, n_out = planes * P.plane_out;
  const double* Sv = sy;
  const double* Yv = sy + n_out;
  const int64_t outer = cl ? P.N * D * H : planes * D * H;
  const int64_t lanes = cl ? P.C : 1;
  const int64_t pat = cl_pattern(cl, lanes);  // (CL_PATTERN_BELOW)
  const int nt = threads_for(P, requested, INT64_MAX, WORK_STATE);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    // the gy-scaled constants of the output row the last input row read (per window and
    // channel: c1, c2, cz), kept while the next input rows read the same output row
    std::vector<double> k((size_t)(3 * OW * lanes));
    double* k1 = k.data();
    double* k2 = k1 + OW * lanes;
    double* kz = k2 + OW * lanes;
    // (pat) the same per window as patterns of pat elements: x1, x2, xz at ow * pat + j hold
    // channel j % C's
    std::vector<double> xk((size_t)(3 * OW * pat));
    double* x1 = xk.data();
    double* x2 = x1 + OW * pat;
    double* xz = x2 + OW * pat;
    // (short_runs) the same per input column: the row is then one loop over W elements, not
    // one per run of a window's columns, each with its partial vector
    std::vector<double> ek((size_t)(short_runs ? 3 * W : 0));
    double* e1 = ek.data();
    double* e2 = e1 + (short_runs ? W : 0);
    double* ez = e2 + (short_runs ? W : 0);
    int64_t kkey = -1;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < outer; ++r) {
      const int64_t ih = r % H, id = (r / H) % D, b = r / (D * H);  // b: plane or batch entry
      const int64_t od = om[0][(size_t)id], oh = om[1][(size_t)ih];
      T* g = gx + r * W * lanes;
      const T* xr = x + r * W * lanes;
      if (od < 0 || oh < 0) {
        for (int64_t i = 0; i < W * lanes; ++i) g[i] = from_double<T>(0.0);
        continue;
      }
      const int64_t out0 = (b * P.plane_out + (od * OH + oh) * OW) * lanes;
      if (out0 != kkey) {
        for (int64_t i = 0; i < OW * lanes; ++i)
          int_window_consts(a, Sv[out0 + i], Yv[out0 + i], to_double<T>(gy[out0 + i]), k1[i],
                            k2[i], kz[i]);
        for (int64_t i = 0; i < OW * pat; ++i) {
          const int64_t c = (i / pat) * lanes + (i % pat) % lanes;
          x1[i] = k1[c];
          x2[i] = k2[c];
          xz[i] = kz[c];
        }
        for (size_t run = 0, iw = 0; short_runs && run < run_end.size(); ++run) {
          const int64_t ow = run_out[run];
          for (; (int64_t)iw < run_end[run]; ++iw) {
            e1[iw] = ow < 0 ? 0.0 : k1[ow];
            e2[iw] = ow < 0 ? 0.0 : k2[ow];
            ez[iw] = ow < 0 ? 0.0 : kz[ow];
          }
        }
        kkey = out0;
      }
      if (short_runs) {  // one plane's row: each column its window's constants
#pragma omp simd
        for (int64_t i = 0; i < W; ++i)
          g[i] = from_double<T>(int_dydx<A>(to_double<T>(xr[i]), e1[i], e2[i], ez[i]));
        if (gaps) zero_unowned_runs(run_end, run_out, g);
        continue;
      }
      int64_t iw = 0;
      for (size_t run = 0; run < run_end.size(); ++run) {
        const int64_t e = run_end[run], ow = run_out[run];
        if (ow < 0) {
          for (int64_t i = iw * lanes; i < e * lanes; ++i) g[i] = from_double<T>(0.0);
        } else if (!cl) {  // one plane's row: the run's one window
          const double c1 = k1[ow], c2 = k2[ow], cz = kz[ow];
#pragma omp simd
          for (int64_t i = iw; i < e; ++i)
            g[i] = from_double<T>(int_dydx<A>(to_double<T>(xr[i]), c1, c2, cz));
        } else if (pat) {  // channels-last, C not a multiple of 8: the window's patterns
          const double *p1 = x1 + ow * pat, *p2 = x2 + ow * pat, *pz = xz + ow * pat;
          const int64_t end = e * lanes;
          for (int64_t i = iw * lanes; i < end; i += pat) {
            const T* xi = xr + i;
            T* gi = g + i;
            const int64_t n = std::min(pat, end - i);  // (the last block: whole pixels)
#pragma omp simd
            for (int64_t j = 0; j < n; ++j)
              gi[j] = from_double<T>(int_dydx<A>(to_double<T>(xi[j]), p1[j], p2[j], pz[j]));
          }
        } else {  // channels-last: each pixel's channels, each its own window's constants
          const double *c1 = k1 + ow * lanes, *c2 = k2 + ow * lanes, *cz = kz + ow * lanes;
          for (int64_t w = iw; w < e; ++w) {
            const T* xi = xr + w * lanes;
            T* gi = g + w * lanes;
#pragma omp simd
            for (int64_t c = 0; c < lanes; ++c)
              gi[c] = from_double<T>(int_dydx<A>(to_double<T>(xi[c]), c1[c], c2[c], cz[c]));
          }
        }
        iw = e;
      }
    }
  }
  return ST_OK;
}

// int_overlap_backward_a's prefetch distance in pixels (each pixel's lines prefetched as it
// reaches that far ahead): a quarter of its samples waited on the loads of x, which the
// hardware prefetchers of the AMD EPYC VM did not bring in time; (8, 64, 112, 112) k3 s2 p1
// alpha 2 channels-last, both builds in one process, alternating, best of 15: 3.85 -> 3.51
// ms on two threads (4.45 -> 4.09 with dy/dalpha's sum), 7.67 -> 6.92 on one; 8 pixels: the
// same within the noise
constexpr int64_t X_PREFETCH_PIXELS = 4;

// The same state where windows share elements on channels-last memory (k3 s2 p1, 3-D k3 s2
// p1, overlapping adaptive windows; int_overlap_fits): an element's dy/dx is the sum over the
// windows that hold it of the formula above, which is linear in the window's constants, so
// each element's constants are summed first (in window order, then over the output rows;
// rounded otherwise than the per-window sums: held to the oracle's bounds, not to another
// path's bits),
//     P1 = sum_w g_w k1_w,  P2 = sum_w g_w k2_w,  Pz = sum_w g_w kz_w  (over w holding x),
// and dy/dx = P1 x^a - P2 x^(a-1) at x > 0, Pz at a zero, 0 outside every window. Per input
// row: the output rows whose windows read it (the D and H axes' inverses); each output row's
// constants spread over the input pixels its windows read (an "expanded" row: pixel iw holds
// the sums over the row's windows that read iw, C channels each; only where two windows or
// more read iw, a column of one window reading that window's constants where they are),
// kept in a few slots so that the next input rows reading the same output row do not spread
// it again; the input row is then the sum of its expanded rows and one pass over its elements
// (one or two expanded rows summed in that pass; more first into a row of sums). (The spread
// over every column wrote 3 x W x C doubles per output row, most of the backward's memory
// traffic: (8, 64, 112, 112) k3 s2 p1, two threads, the AMD EPYC machine, 6.5 -> 5.2 ms with
// half the columns spread, the same bits.) No window sums, no logarithm or exponential, and
// the state is the output's size (16 bytes per window) where the overlap state keeps each
// element's weight (4 bytes per input element).
template <class T, int A>
int int_overlap_backward_a(const Plan& P, const T* x, const double* sy, const T* gy, T* gx,
                           int requested) {
  constexpr double a = (double)A;
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  const int64_t D = AD.in, H = AH.in, W = AW.in;
  const int64_t OH = AH.out, OW = AW.out;
  // (channels-last memory alone, int_overlap_fits: an input row is W pixels of C channels)
  const int64_t lanes = P.C;
  const int64_t n_out = P.N * P.C * P.plane_out;
  const int64_t outer = P.N * D * H;
  const int64_t row_n = W * lanes;
  // the most output rows that read one input row: the expanded rows' slots
  int64_t cover = 1;
  {
    int64_t cd = 0, ch = 0;
    for (int64_t i = 0; i < D; ++i) cd = std::max(cd, AD.inv_off[i + 1] - AD.inv_off[i]);
    for (int64_t i = 0; i < H; ++i) ch = std::max(ch, AH.inv_off[i + 1] - AH.inv_off[i]);
    cover = std::max<int64_t>(1, cd * ch);
  }
  // A slot: an output row's window constants (g k1, g k2, g kz of each window: OW x 3 x
  // lanes, a pixel's three quantities lanes apart) and its expanded row (W x 3 x lanes: at a
  // column two or more of its windows read, their sums). src[iw]: where column iw's three
  // quantities are in a slot: its one window's constants, or the expanded row's sums; -1 for
  // a column in no window. The constants are stored as 0 + g k, so that a column of one
  // window reads the same bits as a sum over it (0 + g k: -0 becomes +0).
  // (one slot per output row that reads an input row: a row's expanded rows are pinned while
  // it reads them, and at most two are, so a free slot is always left; acc only where more
  // than two output rows read a row)
  const int64_t slots = cover;
  const int64_t kn = 3 * OW * lanes, slot_n = kn + 3 * row_n;
  const int64_t acc_n = cover > 2 ? 3 * row_n : 0;
  std::vector<int64_t> src((size_t)W);
  for (int64_t iw = 0; iw < W; ++iw) {
    const int64_t nw = AW.inv_off[iw + 1] - AW.inv_off[iw];
    src[(size_t)iw] = nw == 0 ? -1 : (nw == 1 ? AW.inv[AW.inv_off[iw]] * 3 * lanes
                                              : kn + iw * 3 * lanes);
  }
  const double* Sv = sy;
  const double* Yv = sy + n_out;
  const int nt = threads_for(P, requested, INT64_MAX, WORK_STATE);
  int status = ST_OK;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    bool ok = true;
    std::vector<double> mem;
    std::vector<int64_t> tag;
    try {
      mem.assign((size_t)(slots * slot_n + acc_n), 0.0);
      tag.assign((size_t)slots, -1);
    } catch (...) {
      ok = false;
    }
    if (!ok) {
#pragma omp atomic write
      status = ST_NOMEM;
    }
    double* acc = mem.data() + slots * slot_n;  // P1, P2, Pz of the input row (W x 3 x lanes)
    int64_t next_slot = 0;
    const double* pinned[2] = {nullptr, nullptr};  // the slots in use (er)
    // the slot of output row `out0` (its first output's index)
    const auto expanded = [&](int64_t out0) -> const double* {
      for (int64_t s = 0; s < slots; ++s)
        if (tag[(size_t)s] == out0) return mem.data() + s * slot_n;
      int64_t s = next_slot;  // (not a slot this input row still reads: er, below)
      while (pinned[0] == mem.data() + s * slot_n || pinned[1] == mem.data() + s * slot_n)
        s = (s + 1) % slots;
      next_slot = (s + 1) % slots;
      tag[(size_t)s] = out0;
      double* k = mem.data() + s * slot_n;
      for (int64_t ow = 0; ow < OW; ++ow) {
        double* kw = k + ow * 3 * lanes;
        const int64_t o = out0 + ow * lanes;
#pragma omp simd
        for (int64_t c = 0; c < lanes; ++c) {
          double c1, c2, cz;
          int_window_consts(a, Sv[o + c], Yv[o + c], to_double<T>(gy[o + c]), c1, c2, cz);
          kw[c] = 0.0 + c1;
          kw[lanes + c] = 0.0 + c2;
          kw[2 * lanes + c] = 0.0 + cz;
        }
      }
      // a column two or more windows read: the sums over them (W's inverse), in window order
      double* e = k + kn;
      for (int64_t iw = 0; iw < W; ++iw) {
        const int64_t j0 = AW.inv_off[iw], j1 = AW.inv_off[iw + 1];
        if (j1 - j0 < 2) continue;
        double* ei = e + iw * 3 * lanes;
        const double* k0 = k + AW.inv[j0] * 3 * lanes;
#pragma omp simd
        for (int64_t i = 0; i < 3 * lanes; ++i) ei[i] = k0[i];
        for (int64_t j = j0 + 1; j < j1; ++j) {
          const double* kw = k + AW.inv[j] * 3 * lanes;
#pragma omp simd
          for (int64_t i = 0; i < 3 * lanes; ++i) ei[i] += kw[i];
        }
      }
      return k;
    };
#pragma omp for schedule(static)
    for (int64_t r = 0; r < outer; ++r) {
      if (!ok) continue;
      const int64_t ih = r % H, id = (r / H) % D, b = r / (D * H);  // b: batch entry
      T* g = gx + r * row_n;
      const T* xr = x + r * row_n;
      const int64_t d0 = AD.inv_off[id], d1 = AD.inv_off[id + 1];
      const int64_t h0 = AH.inv_off[ih], h1 = AH.inv_off[ih + 1];
      if (d0 == d1 || h0 == h1) {
        for (int64_t i = 0; i < row_n; ++i) g[i] = from_double<T>(0.0);
        continue;
      }
      // the slots of the output rows that read this input row: with one or two, summed in
      // the pass over the elements; with more, into acc first (acc's layout is a slot's
      // expanded row's, at every column some window reads)
      const double** er = pinned;
      er[0] = er[1] = nullptr;
      int64_t n_er = 0;
      for (int64_t jd = d0; jd < d1; ++jd)
        for (int64_t jh = h0; jh < h1; ++jh) {
          const int64_t od = AD.inv[jd], oh = AH.inv[jh];
          const double* e = expanded((b * P.plane_out + (od * OH + oh) * OW) * lanes);
          if (n_er < 2) {
            er[n_er++] = e;
            continue;
          }
          if (n_er == 2) {  // a third: the first two into acc
            for (int64_t iw = 0; iw < W; ++iw) {
              if (src[(size_t)iw] < 0) continue;
              const double *p = er[0] + src[(size_t)iw], *q = er[1] + src[(size_t)iw];
              double* t = acc + iw * 3 * lanes;
#pragma omp simd
              for (int64_t i = 0; i < 3 * lanes; ++i) t[i] = p[i] + q[i];
            }
            n_er = 3;
          }
          for (int64_t iw = 0; iw < W; ++iw) {
            if (src[(size_t)iw] < 0) continue;
            const double* p = e + src[(size_t)iw];
            double* t = acc + iw * 3 * lanes;
#pragma omp simd
            for (int64_t i = 0; i < 3 * lanes; ++i) t[i] += p[i];
          }
        }
      for (int64_t iw = 0; iw < W; ++iw) {
        const T* xi = xr + iw * lanes;
        T* gi = g + iw * lanes;
#if defined(PPV_FAST_VECTOR)
        for (int64_t b = 0; b < lanes * (int64_t)sizeof(T); b += 64)
          _mm_prefetch((const char*)(xi + X_PREFETCH_PIXELS * lanes) + b, _MM_HINT_T0);
#endif
        const int64_t so = src[(size_t)iw];
        if (so < 0) {  // in no window: 0, whatever x is
          for (int64_t c = 0; c < lanes; ++c) gi[c] = from_double<T>(0.0);
          continue;
        }
        if (n_er != 2) {  // one output row's slot, or acc's sums of three or more
          const double* a1 = n_er == 3 ? acc + iw * 3 * lanes : er[0] + so;
#pragma omp simd
          for (int64_t c = 0; c < lanes; ++c)
            gi[c] = from_double<T>(int_dydx<A>(to_double<T>(xi[c]), a1[c], a1[lanes + c],
                                               a1[2 * lanes + c]));
        } else {
          const double *a1 = er[0] + so, *b1 = er[1] + so;
#pragma omp simd
          for (int64_t c = 0; c < lanes; ++c)
            gi[c] = from_double<T>(int_dydx<A>(to_double<T>(xi[c]), a1[c] + b1[c],
                                               a1[lanes + c] + b1[lanes + c],
                                               a1[2 * lanes + c] + b1[2 * lanes + c]));
        }
      }
    }
  }
  return status;
}

// The backward from the integer-alpha window state (see above): gx (x's dtype and layout, not
// x itself) and, with dparam_out, the per-plane sums of gy * dw reduced to the parameter's
// shape. One alpha of 0-4 for every plane.
// Windows of at least this many elements on average take the integer-alpha window state (16
// bytes per window: at 16 elements a window, 1 byte per element, against jac's 4).
// _native.INT_STATE_MIN_MEAN
constexpr double INT_STATE_MIN_MEAN = 16.0;

// Whether ppv_forward_saved_int serves a call: P-pooling of a narrow type (the fast engine),
// windows that share no element and hold INT_STATE_MIN_MEAN elements or more on average (or,
// on channels-last memory, windows that share elements: int_overlap_fits,
// int_overlap_backward_a), and
// one alpha of 0, 1, 2, 3 or 4 for every plane (the fast engine's int_a: Lc = 0 for these at
// every narrow type). _dispatch asks the same (_NativeCall.int_state, _native.int_state_alpha).
// Where windows share elements, the state serves plans whose input holds this many elements
// or more per window (the state's 16 bytes per window then take no more than the overlap
// state's weight, 4 bytes per input element) and whose windows hold 4 elements or more on
// average (the overlap state's OVERLAP_MIN_WINDOW_MEAN), on channels-last memory. (8, 64,
// 112, 112) k3 s2 p1 fwd+bwd at alpha 2, two threads, the AMD EPYC machine: fixed alpha
// 19.9-20.9 -> 12.8-13.1 ms, learnable 23.9-25.5 -> 19.0-19.7 (its dy/dalpha as a float32:
// int_state_dw_held). On contiguous memory it was faster too (17.3-18.0 -> 13.9, 22.7-23.0 ->
// 19.6) but there the overlap state writes the input's gradient over its weights, and this
// one's peak RSS on the matrix's small row read 1.34-1.71x max_pool2d's against the overlap
// state's 0.85-1.13x: not taken (_dispatch). _dispatch asks more (_native.int_overlap_fits):
// whole groups of 8 channels (3 channels: slower than the overlap state), rows of 48
// elements or more, no window wider than a column tile (whose state this forward does not
// save), and a peak within its bound (_int_overlap_state_fits).
// _native.INT_OVERLAP_MIN_RATIO
constexpr int64_t INT_OVERLAP_MIN_RATIO = 4;

inline bool int_overlap_fits(const Plan& P) {
  return P.layout == 1 && P.plane_in >= INT_OVERLAP_MIN_RATIO * P.plane_out &&
         window_mean(P) >= 4.0;
}

template <class T>
bool int_state_serves(const Plan& P, const double* param) {
  if (std::is_same<T, double>::value || P.op != OP_PPOOL)
    return false;
  if (disjoint(P) ? window_mean(P) < INT_STATE_MIN_MEAN : !int_overlap_fits(P)) return false;
  const double a = param[0];
  for (int64_t c = 1; c < param_count(P); ++c)
    if (param[c] != a) return false;
  return a == 0.0 || a == 1.0 || a == 2.0 || a == 3.0 || a == 4.0;
}

template <class T>
int run_int_saved_backward(const Plan& P, const T* x, const double* param, const double* sy,
                           const void* dw, bool dw_float, const T* gy, T* gx,
                           double* dparam_out, int requested) {
  if (!int_state_serves<T>(P, param)) return ST_ARGS;  // (the forward's condition)
  // (the integer alpha as a template argument: each backward's loops are x^A's)
  const auto at_alpha = [&](auto&& backward_a) {
    switch ((int)param[0]) {
      case 0: return backward_a(std::integral_constant<int, 0>{});
      case 1: return backward_a(std::integral_constant<int, 1>{});
      case 2: return backward_a(std::integral_constant<int, 2>{});
      case 3: return backward_a(std::integral_constant<int, 3>{});
      case 4: return backward_a(std::integral_constant<int, 4>{});
    }
    return (int)ST_ARGS;
  };
  int st;
  if (!disjoint(P)) {
    Plan Q = P;  // (the axes' inverses)
    for (Axis& A : Q.ax) A.build_inverse();
    st = at_alpha([&](auto A) {
      return int_overlap_backward_a<T, decltype(A)::value>(Q, x, sy, gy, gx, requested);
    });
  } else {
    st = at_alpha([&](auto A) {
      return int_saved_backward_a<T, decltype(A)::value>(P, x, sy, gy, gx, requested);
    });
  }
  if (st != ST_OK || dparam_out == nullptr) return st;
  // dy/da . g = sum g dw (dw: each window's dy/da, double, or float with dw_float)
  const int nt = threads_for(P, requested, INT64_MAX, WORK_STATE);
  if (dw_float) saved_param_grad<T, float>(P, nt, gy, (const float*)dw, dparam_out);
  else saved_param_grad<T>(P, nt, gy, (const double*)dw, dparam_out);
  return ST_OK;
}



// ------------------------------------------ channels-last forward at an integer alpha, direct
// At an integer alpha of 0-4 (every plane's; the fast engine's int_a: E = x^a by
// multiplication, Lc = 0) a window is two sums, S = sum E and T = sum E x, y = T / S. On
// channels-last memory a pixel's channels are consecutive, so the sums of a window are taken
// straight from memory, 8 channels a vector and up to 32 channels at a time in registers,
// window by window (a pixel's channels read together), with no lane interleaving and no
// weights stored: each element is converted and weighed again for each window that reads it
// (at k3 s2 p1 2.25 times on average), which costs less than the general path's stores and
// strided loads of weights ((8, 64, 112, 112) k3 s2 p1 forward, two threads, the AMD EPYC
// machine: 5.7-5.9 -> 1.4-1.8 ms; torch's channels-last max pooling 1.5-2.6 ms). With dy/da
// (a learnable alpha: the integer-alpha window state's saving forward) each element's
// logarithm too, once per input row where rows are shared (a row cache: cl_direct_forward),
// and the sums U and V (learnable, same input: the saving forward 14 (logarithms in the
// windows) -> 6.8 ms with the row cache; the general path's about 10). The terms are the
// general path's in its order (each input row's terms of a window summed alone, ps += E,
// pt = fma(E, x, pt), pv += E (lg - c), pu = fma(E (lg - c), x, pu), then added to the
// window's sums; rows in window order; the reference c by window_reference's rule), y = T / S
// and dy/da = (U - y V) (1 / S) as the general path forms them, so the outputs and the saved
// S, y and dy/da are the general path's bit for bit (tests.kernel_bits; tests/ops/
// test_cl_direct.py compares the two paths of one build). A negative, NaN or infinite element
// (a negative running minimum, or a y that is not finite) makes the call return DIRECT_BAD:
// the caller runs the general path, which flags and reports it.
#if defined(PPV_FAST_VECTOR)
// Output rows (one batch entry's od, oh) of channels-last forwards summed here since the last
// ppv_direct_rows call (tests assert which path their cases take)
PPV_SHARED(std::atomic<int64_t>, cl_direct_rows, , {0})
// whether cl_direct_forward serves what it can (ppv_direct_enable: the tests compare it with
// the general path bit for bit)
PPV_SHARED(std::atomic<int>, cl_direct_on, , {1})

// x^A of 8 doubles, as int_weight forms it (A = 0: 1 at every x, a zero's weight at a = 0)
template <int A>
PPV_ALWAYS_INLINE __m512d int_pow8(__m512d x) {
  if constexpr (A == 0) return _mm512_set1_pd(1.0);
  if constexpr (A == 1) return x;
  const __m512d x2 = _mm512_mul_pd(x, x);
  if constexpr (A == 2) return x2;
  if constexpr (A == 3) return _mm512_mul_pd(x2, x);
  return _mm512_mul_pd(x2, x2);
}

// Where the call saves the integer-alpha window state: S and y (double) at sy and sy + n_out;
// with dy/da wanted, each window's dy/da at dw (double) or dwf (float; refused, ST_UNSAVED,
// where a float does not hold it: int_state_dw_held's rule). Indices: the output's.
struct DirectState {
  double* sy = nullptr;
  int64_t n_out = 0;
  double* dw = nullptr;
  float* dwf = nullptr;
  double ymin = 0.0;  // dw_tiny_y(a)
};

// float_holds_dw of 8 lanes (the same ordered comparisons: a NaN m is not held), a mask. (The
// lanes stored and tested one by one in a loop GCC left scalar took a third of the learnable
// channels-last forward's window samples: (8, 64, 112, 112) k3 s2 p1, one thread.)
PPV_ALWAYS_INLINE __mmask8 float_holds_dw8(__m512d m, __m512d y, double ymin) {
  return _mm512_cmp_pd_mask(_mm512_set1_pd((double)FLT_MAX), m, _CMP_GE_OQ) &
         (_mm512_cmp_pd_mask(m, _mm512_set1_pd((double)FLT_MIN), _CMP_GE_OQ) |
          _mm512_cmp_pd_mask(m, _mm512_setzero_pd(), _CMP_EQ_OQ) |
          _mm512_cmp_pd_mask(y, _mm512_set1_pd(ymin), _CMP_GE_OQ));
}

// ln x of 8 elements as the general path's first pass stores it (log_col8 at Lc = 0): 0 at a
// zero
PPV_ALWAYS_INLINE __m512d direct_log8(__m512d x) {
  __mmask8 pos;
  const __m512d lg = log_lc8(x, _mm512_setzero_pd(), pos);
  return _mm512_maskz_mov_pd(pos, lg);
}

// The window ow of one output row (rows: its input rows' offsets in elements, nr of them) for
// channels [c0, c0 + 8 NV) of one batch entry: y at y + out + c0 and, with st.sy, the state.
// LG 1 or 2: dy/da = (U - y V) / S too, each element's logarithm lg formed here (1) or read
// from lgr (2: lgr[i] the logarithms of input row i laid out as the row, cl_direct_forward's
// row cache), with U = sum E x (lg - c) and V = sum E (lg - c) summed as the general path
// sums them (sum_rows; c: window_reference's rule on the window's first row, at a >= 0: the
// midpoint of its lg where they lie within 1 of each other and closer to each other than to
// 0, their largest where further apart, else 0), 0 in a window of zeros (S = 0) and at a = 0
// in a window holding a zero (jump_a). mn: the running minimum of the elements read, per
// vector; held: whether a float holds each dy/da (with st.dwf). Returns whether every y is
// finite.
template <class T, int A, int NV, int LG>
PPV_ALWAYS_INLINE bool cl_direct_window(const T* x, const int64_t* rows,
                                        const double* const* lgr, int64_t nr, int64_t w0,
                                        int64_t wn, int64_t cs, int64_t c0, __m512d* mn, T* y,
                                        int64_t out, const DirectState& st, bool& held) {
  const __m512d zero = _mm512_setzero_pd();
  __m512d s[NV], t[NV], u[NV], v_[NV], c[NV];
  __mmask8 zs[NV];  // (A = 0: the lanes whose window holds a zero)
  for (int v = 0; v < NV; ++v) {
    s[v] = t[v] = u[v] = v_[v] = c[v] = zero;
    zs[v] = 0;
  }
  if (LG) {  // the reference c from the window's first row (window_reference)
    __m512d mx[NV], mi[NV];
    for (int v = 0; v < NV; ++v) {
      mx[v] = _mm512_set1_pd(-INFINITY);
      mi[v] = _mm512_set1_pd(INFINITY);
    }
    const T* p = x + rows[0] + w0 + c0;
    const double* q = LG == 2 ? lgr[0] + w0 + c0 : nullptr;
    for (int64_t j = 0; j < wn; ++j, p += cs, q += LG == 2 ? cs : 0)
      for (int v = 0; v < NV; ++v) {
        const __m512d lg =
            LG == 2 ? _mm512_loadu_pd(q + 8 * v) : direct_log8(load8_pd<T>(p + 8 * v));
        mx[v] = _mm512_max_pd(lg, mx[v]);
        mi[v] = _mm512_min_pd(lg, mi[v]);
      }
    for (int v = 0; v < NV; ++v)  // (a >= 0: the open slot is +inf)
      c[v] = reference_of_extremes(_mm512_set1_pd(INFINITY), mx[v], mi[v]);
  }
  for (int64_t i = 0; i < nr; ++i) {
    const T* p = x + rows[i] + w0 + c0;
    const double* q = LG == 2 ? lgr[i] + w0 + c0 : nullptr;
    __m512d ps[NV], pt[NV], pu[NV], pv[NV];
    for (int v = 0; v < NV; ++v) ps[v] = pt[v] = pu[v] = pv[v] = zero;
    for (int64_t j = 0; j < wn; ++j, p += cs, q += LG == 2 ? cs : 0)
      for (int v = 0; v < NV; ++v) {
        const __m512d xv = load8_pd<T>(p + 8 * v);
        const __m512d e = int_pow8<A>(xv);
        ps[v] = _mm512_add_pd(ps[v], e);
        pt[v] = _mm512_fmadd_pd(e, xv, pt[v]);
        mn[v] = _mm512_min_pd(mn[v], xv);
        if (LG) {
          const __m512d lg = LG == 2 ? _mm512_loadu_pd(q + 8 * v) : direct_log8(xv);
          const __m512d el = _mm512_mul_pd(e, _mm512_sub_pd(lg, c[v]));
          pv[v] = _mm512_add_pd(pv[v], el);
          pu[v] = _mm512_fmadd_pd(el, xv, pu[v]);
          if (A == 0) zs[v] |= _mm512_cmp_pd_mask(xv, zero, _CMP_EQ_OQ);
        }
      }
    for (int v = 0; v < NV; ++v) {
      s[v] = _mm512_add_pd(s[v], ps[v]);
      t[v] = _mm512_add_pd(t[v], pt[v]);
      if (LG) {
        u[v] = _mm512_add_pd(u[v], pu[v]);
        v_[v] = _mm512_add_pd(v_[v], pv[v]);
      }
    }
  }
  bool finite = true;
  const int64_t o = out + c0;
  for (int v = 0; v < NV; ++v) {
    const __mmask8 zw = _mm512_cmp_pd_mask(s[v], zero, _CMP_EQ_OQ);
    const __m512d yv = _mm512_maskz_mov_pd((__mmask8)~zw, _mm512_div_pd(t[v], s[v]));
    // (y - y: 0 where y is finite, NaN where it is infinite or NaN)
    finite = finite && _mm512_cmp_pd_mask(_mm512_sub_pd(yv, yv), zero, _CMP_NEQ_UQ) == 0;
    store8_pd<T>(y + o + 8 * v, yv);
    if (st.sy != nullptr) {
      _mm512_storeu_pd(st.sy + o + 8 * v, s[v]);
      _mm512_storeu_pd(st.sy + st.n_out + o + 8 * v, yv);
    }
    if (LG) {  // dy/da = (U - y V) / S (the general path's operations)
      const __m512d d = _mm512_mul_pd(_mm512_fnmadd_pd(yv, v_[v], u[v]),
                                      _mm512_div_pd(_mm512_set1_pd(1.0), s[v]));
      const __m512d dw = _mm512_mask_blend_pd(zw | zs[v], d, zero);
      if (st.dwf != nullptr) {
        _mm256_storeu_ps(st.dwf + o + 8 * v, _mm512_cvtpd_ps(dw));
        held = held && (__mmask8)~float_holds_dw8(_mm512_abs_pd(dw), yv, st.ymin) == 0;
      } else {
        _mm512_storeu_pd(st.dw + o + 8 * v, dw);
      }
    }
  }
  return finite;
}

// The windows of one output row for channels [c0, c1) of one batch entry (out: the row's
// first output element), window by window, each window's channels 32 at a time (a pixel's
// channels read together: its cache lines once). Returns whether every element was
// non-negative and every y finite.
template <class T, int A, int LG>
bool cl_direct_row(const Plan& P, const T* x, const int64_t* rows, const double* const* lgr,
                   int64_t nr, int64_t c0, int64_t c1, T* y, int64_t out, const DirectState& st,
                   bool& held) {
  const Axis& AW = P.ax[2];
  const int64_t C = P.C, cs = AW.step * C;
  __m512d mn[4];
  for (int v = 0; v < 4; ++v) mn[v] = _mm512_setzero_pd();
  bool finite = true;
  for (int64_t ow = 0; ow < AW.out; ++ow) {
    const int64_t w0 = AW.start[ow] * C, wn = AW.count[ow], o = out + ow * C;
    int64_t c = c0;
    const auto window = [&](auto nv) {  // channels [c, c + 8 nv)
      return cl_direct_window<T, A, decltype(nv)::value, LG>(x, rows, lgr, nr, w0, wn, cs, c,
                                                             mn, y, o, st, held);
    };
    for (; c + 32 <= c1; c += 32) finite &= window(std::integral_constant<int, 4>{});
    if (c1 - c == 24) finite &= window(std::integral_constant<int, 3>{});
    else if (c1 - c == 16) finite &= window(std::integral_constant<int, 2>{});
    else if (c1 - c == 8) finite &= window(std::integral_constant<int, 1>{});
  }
  bool positive = true;  // (a NaN element: y is NaN too)
  for (int v = 0; v < 4; ++v)
    positive = positive && _mm512_cmp_pd_mask(mn[v], _mm512_setzero_pd(), _CMP_LT_OQ) == 0;
  return finite && positive;
}

// Whether cl_direct_forward serves a plan: P-pooling of a narrow type on channels-last memory
// with whole groups of 8 channels, one alpha of 0-4 for every plane, every window holding an
// element and no window wider than a column tile (the general path sums a wider one in
// chunks, other bits).
template <class T>
bool cl_direct_serves(const Plan& P, const double* param) {
  if (std::is_same<T, double>::value || P.op != OP_PPOOL || P.layout != 1 || P.C % L != 0 ||
      cl_direct_on.load(std::memory_order_relaxed) == 0)
    return false;
  const double a = param[0];
  for (int64_t c = 1; c < param_count(P); ++c)
    if (param[c] != a) return false;
  if (!(a == 0.0 || a == 1.0 || a == 2.0 || a == 3.0 || a == 4.0)) return false;
  for (const Axis& A : P.ax)
    for (int64_t o = 0; o < A.out; ++o)
      if (A.count[o] < 1 || (&A == &P.ax[2] && A.count[o] > TILE_COLS)) return false;
  return true;
}

// DIRECT_BAD: cl_direct_forward met a negative, NaN or infinite element (what it wrote is
// then not used: the caller runs the general path, which reports it)
constexpr int DIRECT_BAD = -1;

// Per thread, the most bytes of input rows' logarithms cl_direct_forward keeps (with dy/da,
// where windows share rows: each row's logarithms formed once, not once per window reading
// it): the rows of one output row's windows and one more
constexpr int64_t DIRECT_LOG_BYTES = 1 << 20;

// y (and, with st.sy, the integer-alpha window state in channels-last order; with st.dw or
// st.dwf, each window's dy/da) of a plan cl_direct_serves. Returns ST_OK, ST_UNSAVED (a dy/da
// that a float does not hold: the backward recomputes) or DIRECT_BAD. Work: units of one
// output row (with few rows, one output row's 32 channels), a thread taking a contiguous
// block of them. With dy/da, where input rows are read by more than one output row (k3 s2
// p1) and their logarithms fit DIRECT_LOG_BYTES, each row's logarithms are formed once into
// a row cache (slots of whole rows, tagged by the row) and read by every window (k3 s2 p1:
// the logarithm 2.25 + 0.75 times an element otherwise); else in the windows.
template <class T>
int cl_direct_forward(const Plan& P, const T* x, const double* param, T* y, DirectState st,
                      int requested) {
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  const int64_t C = P.C, row_n = AW.in * C;
  const int64_t out_rows = P.N * AD.out * AH.out;
  const int64_t parts = out_rows >= 4 * std::max(requested, 1) ? 1 : (C + 31) / 32;
  const int64_t units = out_rows * parts;
  st.n_out = P.N * C * P.plane_out;
  st.ymin = dw_tiny_y(param[0]);
  const bool lg = st.dw != nullptr || st.dwf != nullptr;
  const int64_t slots = max_window_rows(P) + 1;
  const int mode = !lg ? 0 : (rows_shared(P) && slots * row_n * 8 <= DIRECT_LOG_BYTES ? 2 : 1);
  const int nt = threads_for(P, requested, units);
  const int A = (int)param[0];
  bool ok = true, held = true;
  int nomem = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(&& : ok, held) reduction(| : nomem)
  {
    std::vector<int64_t> rows;
    std::vector<const double*> lgr;
    std::vector<double> cache;
    std::vector<int64_t> tag;
    try {
      if (mode == 2) {
        cache.resize((size_t)(slots * row_n));
        tag.assign((size_t)slots, -1);
      }
    } catch (...) {
      nomem = 1;
    }
    int64_t rows_of = -1, next_slot = 0;
#pragma omp for schedule(static)
    for (int64_t u = 0; u < units; ++u) {
      if (nomem) continue;
      const int64_t r = u / parts, part = u % parts;
      const int64_t oh = r % AH.out, od = (r / AH.out) % AD.out, n = r / (AH.out * AD.out);
      if (r != rows_of) {  // the input rows of the output row's windows, in window order
        rows.clear();
        for (int64_t jd = 0; jd < AD.count[od]; ++jd)
          for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
            const int64_t id = AD.start[od] + jd * AD.step, ih = AH.start[oh] + jh * AH.step;
            rows.push_back(((n * AD.in + id) * AH.in + ih) * row_n);
          }
        if (mode == 2) {  // each row's logarithms in a slot (not one this output row reads)
          lgr.assign(rows.size(), nullptr);
          for (size_t i = 0; i < rows.size(); ++i) {
            for (int64_t k = 0; k < slots && lgr[i] == nullptr; ++k)
              if (tag[(size_t)k] == rows[i]) lgr[i] = cache.data() + k * row_n;
            if (lgr[i] != nullptr) continue;
            int64_t k = next_slot;
            while (std::find(rows.begin(), rows.end(), tag[(size_t)k]) != rows.end())
              k = (k + 1) % slots;
            next_slot = (k + 1) % slots;
            tag[(size_t)k] = rows[i];
            double* d = cache.data() + k * row_n;
            const T* xr = x + rows[i];
            for (int64_t e = 0; e < row_n; e += L)
              _mm512_storeu_pd(d + e, direct_log8(load8_pd<T>(xr + e)));
            lgr[i] = d;
          }
        }
        rows_of = r;
      }
      const int64_t c0 = parts == 1 ? 0 : 32 * part, c1 = parts == 1 ? C : std::min(C, c0 + 32);
      const int64_t out = ((n * AD.out + od) * AH.out + oh) * AW.out * C;
      const int64_t nr = (int64_t)rows.size();
      const auto row = [&](auto a, auto with_log) {
        return cl_direct_row<T, decltype(a)::value, decltype(with_log)::value>(
            P, x, rows.data(), lgr.data(), nr, c0, c1, y, out, st, held);
      };
      const auto at_alpha = [&](auto with_log) {
        switch (A) {
          case 0: return row(std::integral_constant<int, 0>{}, with_log);
          case 1: return row(std::integral_constant<int, 1>{}, with_log);
          case 2: return row(std::integral_constant<int, 2>{}, with_log);
          case 3: return row(std::integral_constant<int, 3>{}, with_log);
        }
        return row(std::integral_constant<int, 4>{}, with_log);
      };
      const bool good = mode == 0 ? at_alpha(std::integral_constant<int, 0>{})
                        : mode == 1 ? at_alpha(std::integral_constant<int, 1>{})
                                    : at_alpha(std::integral_constant<int, 2>{});
      ok = ok && good;
    }
  }
  if (nomem) return ST_NOMEM;
  cl_direct_rows.fetch_add(out_rows, std::memory_order_relaxed);
  return !ok ? DIRECT_BAD : (held ? (int)ST_OK : ST_UNSAVED);
}
#endif

// ------------------------------------------------- backward from the overlap state
// Windows that share elements (k3 s2 p1, k3 s1, dilation, adaptive): the recomputing backward
// spends most of its time redoing the forward: the weights (one log and one exp per element:
// 64% of k3 s2 p1's fwd+bwd kernel samples, half of them in the backward), then the window
// sums. A saving forward (ppv_forward_overlap_saved, the fast engine: float32 / bfloat16 /
// float16) keeps each element's weight E = exp(a (ln x - Lc)) as a float (Saved::e, 4 bytes
// per input element; for bfloat16 and float16 inputs a bfloat16, Saved::e16, 2 bytes,
// relative error 2^-9; E_REDO where the format holds no normal E), each window's
// dy/da = (U - y V) / S as a float (Saved::dwf, 4 bytes per output, only when the parameter's
// gradient is wanted) and each plane's Lc (Saved::lc). Its backward takes no log and no exp
// (except in a row segment holding an E_REDO, weighed again as the recomputing backward
// weighs it): per output row the window sums S = sum E and T = sum E x again from the stored
// weights (sum_rows, each row segment loaded once into a row cache: cached_e_row), y = T / S
// and the coefficients g / S and g y / S (overlap_coef_row), per
// input row segment P = sum g / S and Q = sum g y / S over each element's windows
// (scatter_row), and
//     dx_i = E_i ((1 + a) P_i - a Q_i / x_i)                               (grad_row),
//     dy/da . g = sum_w g_w dw_w.
// Accuracy: a stored E has a relative error <= 2^-24 (u): S and T move by <= u relative, y by
// <= 2u max |x_i - y| (a convex combination whose weights each moved by <= 2u relative), each
// of dx_i's terms by O(u) relative, dw by u relative; the gradients' bounds are the
// recomputing backward's (they allow a few u of the gradient's scale), held by the oracle
// tests. The state is refused (status ST_UNSAVED: the caller recomputes) where a window went
// to the exact engine (underflowing weights, zeros at a < 0, |a| > FAST_GRAD_MAX_A, a bad
// element; not a window of zeros, which it serves), where a dy/da is beyond float's range or
// too small for it in a window of tiny y (save_overlap_row), or where the forward was
// segmented (Segments).


struct OverlapScratch {
  std::vector<double> c1, c2;   // slots * max_kept * L: g / S, g y / S of an output row's kept
                                // outputs, output row ro in slot ro % slots (tag[slot] = ro)
  std::vector<double> c0;       // the same: a zero's dy/dx times g, scattered onto the
                                // window's elements and added at its zeros alone (after
                                // grad_row, overlap_backward_group): g in a window of zeros at
                                // a > 0 (S = 0), g single_zero_dydx in a window of one zero at
                                // a < 0, else 0
  std::vector<int64_t> tag;     // slots: the output row a slot holds, -1 none
  std::vector<char> zeros;      // slots: whether the slot's c0 holds a window of zeros
  std::vector<int64_t> ro_off;  // the c1, c2 offsets of the output rows of one input row
  std::vector<double> orow;     // max_kept * L: g of one output row
  std::vector<double> acc;      // 6 * max_kept * L: S, T, M (and at 5, Z: zeros, where a
                                // lane has a < 0) of one output row's kept windows
  std::vector<double> rows;     // 5 * cols * L: P, Q, dy/dx, E weighed again (E_REDO)
                                // and the windows of zeros' sum of g, of one row segment
  // x and E of the input row segments last loaded (load_e_row), key (id * H + ih) in slot
  // key % ns, tagged with the key and the segment's columns: the window sums of an output
  // row and the input rows' gradients read each row segment once (ns > the span of a
  // window's rows in that order: row_span)
  int64_t ns = 0, seg = 0;      // slots, doubles of x (and of E) per slot
  bool fuse = false;            // ns > row_span: a window's rows are in distinct slots
  std::vector<double> mem;      // ns * 2 * seg
  std::vector<int64_t> key, cb, ce;
  void clear() { std::fill(key.begin(), key.end(), -1); }
};

// Slots of OverlapScratch's coefficients: the output rows od * OH + oh that one input row's
// windows span (2-D: max over ih of the span of the oh whose windows hold ih; 3-D: the od span
// times OH, as a depth's input rows run over every oh). Window starts and ends never decrease
// (ColTiles), so the output rows an input row reads are consecutive in each axis and those it
// no longer reads are never read again: each row's coefficients are computed once per tile, as
// when every output row had its own (OD * OH rows: 100 KB per thread for one (56, 56) plane
// group at k3 s2 p1, 3.5 KB now). A slot computed again holds the same values (a product of
// the state and g), so any count is correct; this one only avoids recomputation.
inline int64_t overlap_coef_slots(const Plan& P) {
  const Axis &AD = P.ax[0], &AH = P.ax[1];
  auto span = [](const Axis& A) {
    int64_t most = 1;
    for (int64_t i = 0; i < A.in; ++i)
      if (A.inv_off[i + 1] > A.inv_off[i]) {
        int64_t lo = INT64_MAX, hi = 0;
        for (int64_t j = A.inv_off[i]; j < A.inv_off[i + 1]; ++j) {
          lo = std::min(lo, A.inv[j]);
          hi = std::max(hi, A.inv[j]);
        }
        most = std::max(most, hi - lo + 1);
      }
    return most;
  };
  const int64_t slots = AD.out > 1 ? span(AD) * AH.out : span(AH);
  return std::max<int64_t>(1, std::min(slots, AD.out * AH.out));
}

// x and E of columns [cb, ce) of input row (id, ih) into r.x, r.e: E from the state's floats,
// and where one of them is E_REDO, that element's E from the segment weighed again
// (load_weights_row into redo, cols L doubles: the recomputing backward's E; the others keep
// their floats, so an element no window reads changes no other element's gradient). Returns
// 1 when weighed again, else 0.
inline float e_value(float v) { return v; }
inline float e_value(uint16_t v) { return (float)to_double<bf16_t>(bf16_t{v}); }  // exact

template <class T, class S>
PPV_STAGE int64_t load_e_row(const T* x, const Plan& P, const Lanes& ln, const FastLanes& fl,
                             int64_t group, int64_t id, int64_t ih, int64_t cb, int64_t ce,
                             const S* es, RowData r, double* redo) {
  const S* src = es + e_index(P, group, id, ih, cb);
  const int64_t n = (ce - cb) * L;
  double marks = 0.0;
#pragma omp simd reduction(+ : marks)
  for (int64_t k = 0; k < n; ++k) {
    const float v = e_value(src[k]);
    r.e[k] = (double)v;
    marks += v < 0.0f ? 1.0 : 0.0;
  }
  if (marks > 0.0) {
    load_weights_row<T>(x, P, ln, id, ih, cb, ce, fl, RowData{r.x, redo, nullptr});
    for (int64_t k = 0; k < n; ++k)
      if (e_value(src[k]) < 0.0f) r.e[k] = redo[k];
    return 1;
  }
  load_row<T>(x, P, ln, id, ih, cb, ce, r.x);
  return 0;
}

// x and E of columns [cb, ce) of input row (id, ih) from s's row cache, loaded (load_e_row)
// where not held; redone counts the segments weighed again
template <class T, class S>
PPV_STAGE RowData cached_e_row(const T* x, const Plan& P, const Lanes& ln, const FastLanes& fl,
                               int64_t group, int64_t id, int64_t ih, int64_t cb, int64_t ce,
                               const S* es, OverlapScratch& s, double* redo,
                               int64_t& redone) {
  const int64_t k = id * P.ax[1].in + ih, slot = k % s.ns;
  double* b = s.mem.data() + slot * 2 * s.seg;
  const RowData r{b, b + s.seg, nullptr};
  if (s.key[slot] != k || s.cb[slot] != cb || s.ce[slot] != ce) {
    redone += load_e_row<T, S>(x, P, ln, fl, group, id, ih, cb, ce, es, r, redo);
    s.key[slot] = k;
    s.cb[slot] = cb;
    s.ce[slot] = ce;
  }
  return r;
}

// g / S and g y / S of output row (od, oh)'s outputs [keep, keep + nk) into o1, o2, with
// S = sum E and T = sum E x over each window from the state's weights (row segments from s's
// row cache: sum_rows over all of a window's rows where they fit one segment, else sum_row
// per segment of at most cols columns; acc: 3 nk L doubles) and y = T / S (gb: nk L doubles
// for g). A window with S = 0 in an active lane is one of zeros (the state holds no other:
// a weight the forward found positive is stored positive, or weighed again, and the windows
// whose weights all underflow refused the state): o1 = o2 = 0 and o0 = g there (its
// dy/dx = 1 at each element), else o0 = 0. *zeros: whether there is such a window. Returns
// the row segments weighed again (load_e_row).
template <class T, class S>
PPV_STAGE int64_t overlap_coef_row(const T* x, const T* gy, const Plan& P, const Lanes& ln,
                                   const FastLanes& fl, int64_t group, const S* es,
                                   int64_t od, int64_t oh, int64_t keep, int64_t nk,
                                   int64_t cols, double* acc, OverlapScratch& s, double* redo,
                                   double* gb, double* o1, double* o2, double* o0,
                                   bool* zeros) {
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  const int64_t q = nk * L;
  const bool with_zero = fl.need_zero;  // a lane with a < 0: each window's zeros counted
  std::fill(acc, acc + 3 * q, 0.0);
  if (with_zero) std::fill(acc + 5 * q, acc + 6 * q, 0.0);
  int64_t lo, hi, redone = 0;
  windows_span(AW, keep, keep + nk, lo, hi);
  const int64_t nr = AD.count[od] * AH.count[oh];
  if (hi - lo <= cols && nr <= FUSE_ROWS && s.fuse) {
    // every row of the windows at once (sum_rows: the accumulators stay in registers; row by
    // row, sum_row's loads and stores of them took 3x the forward's sum_rows time in 3-D k3 s2
    // p1), each row in its own slot of the cache (s.fuse: more slots than a window's row span)
    RowData rows[FUSE_ROWS];
    int64_t k = 0;
    for (int64_t jd = 0; jd < AD.count[od]; ++jd)
      for (int64_t jh = 0; jh < AH.count[oh]; ++jh)
        rows[k++] = cached_e_row<T, S>(x, P, ln, fl, group, AD.start[od] + jd * AD.step,
                                    AH.start[oh] + jh * AH.step, lo, hi, es, s, redo, redone);
    sum_rows(AW, keep, keep + nk, lo, hi, rows, nr, acc, q, false, with_zero);
  } else {
    for (int64_t jd = 0; jd < AD.count[od]; ++jd)
      for (int64_t jh = 0; jh < AH.count[oh]; ++jh) {
        const int64_t id = AD.start[od] + jd * AD.step, ih = AH.start[oh] + jh * AH.step;
        for (int64_t cb = lo; cb < hi; cb += cols) {
          const int64_t ce = std::min(hi, cb + cols);
          const RowData r = cached_e_row<T, S>(x, P, ln, fl, group, id, ih, cb, ce, es, s,
                                               redo, redone);
          sum_row(AW, keep, keep + nk, cb, ce, r, acc, q, false, with_zero);
        }
      }
  }
  load_out_row<T>(gy, P, ln, od, oh, keep, nk, gb);
  const double* Sw = acc;  // (S names the state's element type here)
  const double* Tt = acc + q;
  double active[L];
  for (int l = 0; l < L; ++l) active[l] = ln.active[l] ? 1.0 : 0.0;
  double nz = 0.0;
  for (int64_t k0 = 0; k0 < q; k0 += L)
#pragma omp simd reduction(+ : nz)
    for (int l = 0; l < L; ++l) {
      const int64_t k = k0 + l;
      const bool z = Sw[k] == 0.0;
      const double sw = z ? 1.0 : Sw[k];
      const double inv = 1.0 / sw, y = Tt[k] / sw;
      o1[k] = z ? 0.0 : gb[k] * inv;
      o2[k] = z ? 0.0 : gb[k] * y * inv;
      o0[k] = z ? gb[k] : 0.0;
      nz += z ? active[l] : 0.0;
    }
  if (with_zero) {
    // a < 0: a window holding a zero has y = 0 and dy/dx 0 except at a single zero
    // (single_zero_dydx of its n elements; a window of zeros alone, S = 0, is one of them)
    const double* Z = acc + 5 * q;
    const double wn = (double)(AD.count[od] * AH.count[oh]);
    for (int64_t k0 = 0; k0 < q; k0 += L) {
      const double n = wn * (double)AW.count[keep + k0 / L];
      for (int l = 0; l < L; ++l) {
        const int64_t k = k0 + l;
        const double a = fl.a[l];
        if (!(a < 0) || Z[k] == 0.0) continue;
        o1[k] = o2[k] = 0.0;
        o0[k] = Z[k] == 1.0 ? gb[k] * single_zero_dydx(a, n) : 0.0;
        nz += o0[k] != 0.0 ? active[l] : 0.0;
      }
    }
  }
  *zeros = nz > 0.0;
  return redone;
}

// sum_w g_w dw_w of each lane over a group's outputs (the state's float dy/da, state_index),
// into dl (gb: chunk * L doubles)
template <class T>
void overlap_param_sum(const T* gy, const Plan& P, const Lanes& ln, int64_t group,
                       const float* dwf, int64_t chunk, double* gb, double* dl) {
  const int64_t OW = P.ax[2].out;
  double dal[L] = {};
  for (int64_t od = 0; od < P.ax[0].out; ++od)
    for (int64_t oh = 0; oh < P.ax[1].out; ++oh)
      for (int64_t ow0 = 0; ow0 < OW; ow0 += chunk) {
        const int64_t n = std::min(chunk, OW - ow0);
        load_out_row<T>(gy, P, ln, od, oh, ow0, n, gb);
        const float* w = dwf + state_index(P, group, od, oh, ow0);
        for (int64_t c = 0; c < n * L; c += L)
#pragma omp simd
          for (int l = 0; l < L; ++l) dal[l] += gb[c + l] * (double)w[c + l];
      }
  for (int l = 0; l < L; ++l) dl[l] = dal[l];
}

template <class T, class S>
void overlap_backward_group(const T* x, const Plan& P, const ColTiles& tiles, const Lanes& ln,
                            OverlapScratch& s, const S* es, const float* dwf,
                            const double* lcs, const T* gy, T* gx, double* dl,
                            int64_t band_lo = 0, int64_t band_hi = INT64_MAX,
                            const Lanes* gx_lanes = nullptr) {
  // band_lo, band_hi: the input rows id * H + ih this call finishes (channels-last bands); the
  // coefficients are computed for the output rows whose windows reach them (coef), dy/da in
  // the group's first band (band_lo = 0) alone. gx_lanes: where gx's planes are (default ln's)
  const Lanes& lg = gx_lanes ? *gx_lanes : ln;
  const Axis &AD = P.ax[0], &AH = P.ax[1], &AW = P.ax[2];
  const int64_t OH = AH.out;
  const int64_t cols = std::max<int64_t>(1, std::min(AW.in, TILE_COLS));
  FastLanes fl;
  fl.need_zero = false;  // here: a lane with a < 0 (its windows' zeros counted)
  for (int l = 0; l < L; ++l) {
    fl.a[l] = ln.a[l];
    fl.lc[l] = ln.active[l] ? lcs[ln.plane[l]] : 0.0;
    fl.need_zero = fl.need_zero || (ln.active[l] && fl.a[l] < 0);
  }
  set_zero_weights(fl);
  const int64_t kstride = tiles.max_kept * L;
  double* gb = s.orow.data();
  const int64_t group = group_of(P, ln);
  double* Pp = s.rows.data();
  double* Qp = Pp + cols * L;
  double* g = Qp + cols * L;
  double* redo = Qp + 2 * cols * L;
  double* Rz = Qp + 3 * cols * L;  // c0 summed per element, added at its zeros alone
  int64_t redone = 0;  // row segments weighed again (an E_REDO)
  s.clear();           // (the row cache holds another group's rows)
  const int64_t slots = (int64_t)s.tag.size();
  for (const ColTile& t : tiles.tiles) {
    // g / S, g y / S of an output row's outputs [keep, ow1): all windows that read the
    // columns this tile finishes, computed when an input row first reads that output row
    // (the band's rows alone)
    const int64_t nk = t.ow1 - t.keep;
    std::fill(s.tag.begin(), s.tag.end(), -1);
    auto coef = [&](int64_t ro) -> int64_t {  // output row ro's slot in c0, c1, c2
      const int64_t slot = ro % slots, off = slot * kstride;
      if (s.tag[slot] == ro) return slot;
      bool zeros = false;
      redone += overlap_coef_row<T, S>(x, gy, P, ln, fl, group, es, ro / OH, ro % OH, t.keep,
                                    nk, cols, s.acc.data(), s, redo, gb, s.c1.data() + off,
                                    s.c2.data() + off, s.c0.data() + off, &zeros);
      s.tag[slot] = ro;
      s.zeros[slot] = zeros;
      return slot;
    };
    // input columns [done_from, done_to) are final: P, Q over their windows, then dy/dx
    const int64_t f0 = t.done_from, f1 = t.done_to;
    const int64_t g0 = std::max(f0, t.lo), g1 = std::max(g0, std::min(f1, t.hi));
    for (int64_t id = 0; id < AD.in; ++id)
      for (int64_t ih = 0; ih < AH.in; ++ih) {
        if (id * AH.in + ih < band_lo || id * AH.in + ih >= band_hi) continue;  // another band's
        auto store_zero = [&](int64_t cb, int64_t ce) {  // columns in no window
          if (cb >= ce) return;
          std::fill(g, g + std::min(cols, ce - cb) * L, 0.0);
          for (; cb < ce; cb += cols)
            store_row<T>(gx, P, lg, id, ih, cb, std::min(ce, cb + cols), g);
        };
        store_zero(f0, std::min(g0, f1));
        store_zero(g1, f1);
        if (AD.inv_off[id] == AD.inv_off[id + 1] || AH.inv_off[ih] == AH.inv_off[ih + 1]) {
          store_zero(g0, g1);  // a row in no window
          continue;
        }
        for (int64_t a = g0; a < g1; a += cols) {
          const int64_t b = std::min(g1, a + cols), n = b - a;
          bool zeros = false;  // some window of the segment's is one of zeros
          s.ro_off.clear();  // the output rows' slots (they hold every row the loop asks for)
          for (int64_t i1 = AD.inv_off[id]; i1 < AD.inv_off[id + 1]; ++i1)
            for (int64_t i2 = AH.inv_off[ih]; i2 < AH.inv_off[ih + 1]; ++i2) {
              const int64_t slot = coef(AD.inv[i1] * OH + AH.inv[i2]);
              s.ro_off.push_back(slot * kstride);
              zeros = zeros || s.zeros[slot];
            }
          gather_row(AW, t.keep, t.ow1, s.c1.data(), s.c2.data(), s.ro_off.data(),
                     (int)s.ro_off.size(), a, b, Pp, Qp);
          if (zeros) {  // (the slots still hold every row: the loop above fits in them)
            std::fill(Rz, Rz + n * L, 0.0);
            for (int64_t i1 = AD.inv_off[id]; i1 < AD.inv_off[id + 1]; ++i1)
              for (int64_t i2 = AH.inv_off[ih]; i2 < AH.inv_off[ih + 1]; ++i2) {
                const int64_t slot = coef(AD.inv[i1] * OH + AH.inv[i2]), off = slot * kstride;
                if (s.zeros[slot])
                  scatter_row<false>(AW, t.keep, t.ow1, s.c0.data() + off, nullptr, a, b, Rz,
                                     nullptr);
              }
          }
          const RowData r = cached_e_row<T, S>(x, P, ln, fl, group, id, ih, a, b, es, s, redo,
                                               redone);
          grad_row(fl, n, r, Pp, Qp, nullptr, g);
          if (zeros)
            for (int64_t i = 0; i < n * L; ++i) g[i] += r.x[i] == 0.0 ? Rz[i] : 0.0;
          store_row<T>(gx, P, lg, id, ih, a, b, g);
        }
      }
  }
  if (redone) overlap_rows_redone += redone;
  if (dl) {
    if (band_lo == 0) overlap_param_sum<T>(gy, P, ln, group, dwf, tiles.max_kept, gb, dl);
    else for (int l = 0; l < L; ++l) dl[l] = 0.0;
  }
}

// gx (x's dtype and layout) and, with dparam_out (which needs the state's dwf), dparam from
// the state ppv_forward_overlap_saved wrote for the same plan, x and parameter. gx may be the
// state's weights themselves (contiguous memory, the weights' element as wide as x's): a
// group's 8 planes of gx are then the bytes of its own block of weights (e_index), which no
// other group reads; each group's gradient goes to a buffer of its 8 planes, copied over its
// block once the group is done (the backward's peak then holds no input-sized gradient
// beside the state).
template <class T, class S>
int run_overlap_saved_backward(const Plan& Pc, const T* x, const double* param,
                               const S* es, const float* dwf, const double* lcs,
                               const T* gy, T* gx, double* dparam_out, int requested) {
  if (std::is_same<T, double>::value || Pc.op != OP_PPOOL) return ST_ARGS;
  if (dparam_out && !dwf) return ST_ARGS;
  const bool into_state = (const void*)gx == (const void*)es;
  if (into_state && (Pc.layout != 0 || sizeof(S) != sizeof(T))) return ST_ARGS;
  Plan P = Pc;
  ColTiles tiles;
  try {
    P.ax[0].build_inverse();
    P.ax[1].build_inverse();
    P.ax[2].build_inverse();  // (gather_row)
    tiles = make_col_tiles(P.ax[2]);
  } catch (...) {
    return ST_NOMEM;
  }
  const bool want_param = dparam_out != nullptr;
  std::vector<double> dparam;
  if (want_param) dparam.assign((size_t)(2 * P.N * P.C), 0.0);
  const int nt = threads_for(P, requested);
  std::atomic<int> status{0};
  auto body = [&](int t, int nthreads) {
    const GroupRun gr = thread_groups(P, P.groups, false, t, nthreads);
    int64_t n_full = 0, n_partial = 0, cl_bands = 0;
    try {
      OverlapScratch s;
      const int64_t cols = std::max<int64_t>(1, std::min(P.ax[2].in, TILE_COLS));
      const int64_t slots = overlap_coef_slots(P);
      const int64_t kept = std::max<int64_t>(1, tiles.max_kept);
      s.c1.assign(slots * kept * L, 0.0);
      s.c2.assign(slots * kept * L, 0.0);
      s.c0.assign(slots * kept * L, 0.0);
      s.tag.assign(slots, -1);
      s.zeros.assign(slots, 0);
      s.orow.assign(kept * L, 0.0);
      s.acc.assign(6 * kept * L, 0.0);
      s.rows.assign(5 * cols * L, 0.0);
      s.seg = cols * L;
      s.ns = std::max<int64_t>(2, std::min(row_span(P) + 2,
                                            CACHE_BYTES / (2 * s.seg * (int64_t)sizeof(double))));
      s.fuse = s.ns > row_span(P);
      s.mem.assign((size_t)(s.ns * 2 * s.seg), 0.0);
      s.key.assign((size_t)s.ns, -1);
      s.cb.assign((size_t)s.ns, -1);
      s.ce.assign((size_t)s.ns, -1);
      std::vector<T> gbuf(into_state ? (size_t)(L * P.plane_in) : 0);
      // channels-last: band by band, the groups of a batch entry within each band (run's
      // bands; here of input rows); a plane's dy/da is summed in its first band. A band
      // spans at least twice a window's rows: each band sums again the windows of the output
      // rows it reaches (3-D k3 s2 p1 with bands of 54 input rows, a third of a window's 115:
      // the backward took 1.5x the time it takes with bands of 230)
      int64_t band = cl_band_rows(P, false, true);
      if (band > 0) band = std::max(band, 2 * row_span(P));
      if (band >= P.ax[0].in * P.ax[1].in) band = 0;
      const int64_t irows = P.ax[0].in * P.ax[1].in;
      const int64_t blocks = (P.C + L - 1) / L;
      for (int64_t n0 = gr.begin; n0 < gr.end;) {
        const int64_t n1 = band > 0 ? std::min(gr.end, (n0 / blocks + 1) * blocks) : gr.end;
        for (int64_t r0 = 0; r0 < irows; r0 += band > 0 ? band : irows)
          for (int64_t g = n0; g < n1; g += gr.step) {
            Lanes ln;
            make_lanes(P, param, g, ln);
            if (r0 == 0) count_cl_group(P, ln, n_full, n_partial);
            cl_bands += r0 == 0 ? 0 : 1;
            double dl[L];
            Lanes lb = ln;  // into_state: gx's planes in gbuf
            for (int l = 0; l < L; ++l) lb.in_base[l] = ln.in_base[l] - ln.in_base[0];
            overlap_backward_group<T, S>(x, P, tiles, ln, s, es, dwf, lcs, gy,
                                         into_state ? gbuf.data() : gx,
                                         want_param ? dl : nullptr, r0,
                                         band > 0 ? std::min(irows, r0 + band) : INT64_MAX,
                                         into_state ? &lb : nullptr);
            if (into_state)  // the group's weights are read no more
              for (int l = 0; l < L; ++l)
                if (ln.active[l])
                  std::memcpy(gx + ln.in_base[l], gbuf.data() + lb.in_base[l],
                              (size_t)P.plane_in * sizeof(T));
            if (want_param)
              for (int l = 0; l < L; ++l)
                if (ln.active[l]) dparam[2 * ln.plane[l]] += dl[l];
          }
        n0 = n1;
      }
    } catch (...) {
      status.fetch_or(ST_NOMEM);
    }
    if (n_full) cl_groups_full += n_full;
    if (n_partial) cl_groups_partial += n_partial;
    if (cl_bands) cl_later_bands += cl_bands;
  };
  if (nt <= 1) {
    body(0, 1);
  } else {
#pragma omp parallel num_threads(nt)
    body(omp_get_thread_num(), omp_get_num_threads());
  }
  if (want_param && !(status.load() & ST_NOMEM)) reduce_param(P, dparam.data(), dparam_out);
  return status.load();
}

int run_overlap64_backward(const Plan& Pc, const double* x, const double* param,
                           const double* e64, const double* win, int64_t win_n,
                           const double* dw, const double* gy, double* gx, double* dparam_out,
                           int requested) {
  if (Pc.op != OP_PPOOL || Pc.dtype != DT_F64) return ST_ARGS;
  if (dparam_out && !dw) return ST_ARGS;
  const bool into_state = gx == e64;
  if (into_state && Pc.layout != 0) return ST_ARGS;
  Plan P = Pc;
  try {  // (the windows the state does not serve: exact_window's passes read the inverses)
    P.ax[0].build_inverse();
    P.ax[1].build_inverse();
  } catch (...) {
    return ST_NOMEM;
  }
  const bool want_param = dparam_out != nullptr;
  std::vector<double> dparam;
  if (want_param) dparam.assign((size_t)(2 * P.N * P.C), 0.0);
  const int nt = threads_for(P, requested);
  std::atomic<int> status{0};
  auto body = [&](int t, int nthreads) {
    const GroupRun gr = thread_groups(P, P.groups, false, t, nthreads);
    try {
      Overlap64Scratch s;
      for (int64_t g = gr.begin; g < gr.end; g += gr.step) {
        Lanes ln;
        make_lanes(P, param, g, ln);
        const int64_t group = group_of(P, ln);
        double dm[L];
        int de[L];
        overlap64_group_backward(P, x, ln, group, e64 + e_index(P, group, 0, 0, 0), win, win_n,
                                 dw, gy, gx, want_param, dm, de, s);
        if (want_param)
          for (int l = 0; l < L; ++l)
            if (ln.active[l]) {
              dparam[2 * ln.plane[l]] = dm[l];
              dparam[2 * ln.plane[l] + 1] = de[l];
            }
      }
    } catch (...) {
      status.fetch_or(ST_NOMEM);
    }
  };
  if (nt <= 1) {
    body(0, 1);
  } else {
#pragma omp parallel num_threads(nt)
    body(omp_get_thread_num(), omp_get_num_threads());
  }
  if (want_param && !(status.load() & ST_NOMEM)) reduce_param(P, dparam.data(), dparam_out);
  return status.load();
}

template <class F>
int dispatch(const int64_t* plan, F&& f) {
  Plan P;
  try {
    if (!P.parse(plan)) return ST_ARGS;
  } catch (...) {
    return ST_NOMEM;
  }
  // (a part of a build in parts serves its own dtype: the forwarders of part 0 call it)
  switch (P.dtype) {
    case DT_F32: if constexpr ((PPV_PART_DTYPES >> DT_F32) & 1) return f(P, (float*)nullptr);
      break;
    case DT_F64: if constexpr ((PPV_PART_DTYPES >> DT_F64) & 1) return f(P, (double*)nullptr);
      break;
    case DT_BF16: if constexpr ((PPV_PART_DTYPES >> DT_BF16) & 1) return f(P, (bf16_t*)nullptr);
      break;
    case DT_F16: if constexpr ((PPV_PART_DTYPES >> DT_F16) & 1) return f(P, (f16_t*)nullptr);
      break;
  }
  return ST_ARGS;
}

}  // namespace

// The entry points that take a plan (each returns its dtype's part's status): name, parameters,
// arguments. A part of a build in parts declares its own from this list, so that a definition
// that does not match it does not compile.
#define PPV_PLAN_ENTRIES(X)                                                                       \
  X(ppv_forward, (const int64_t* plan, const void* x, const double* param, void* y,               \
    int nthreads),                                                                                \
    (plan, x, param, y, nthreads))                                                                \
  X(ppv_backward, (const int64_t* plan, const void* x, const double* param, const void* gy,       \
    void* gx, double* dparam, int nthreads),                                                      \
    (plan, x, param, gy, gx, dparam, nthreads))                                                   \
  X(ppv_forward_saved, (const int64_t* plan, const void* x, const double* param, void* y,         \
    void* jac, double* dw, int nthreads),                                                         \
    (plan, x, param, y, jac, dw, nthreads))                                                       \
  X(ppv_forward_saved_int, (const int64_t* plan, const void* x, const double* param, void* y,     \
    void* dw, double* sy, int dw_float, int nthreads),                                            \
    (plan, x, param, y, dw, sy, dw_float, nthreads))                                              \
  X(ppv_backward_saved_int, (const int64_t* plan, const void* x, const double* param,             \
    const double* sy, const void* dw, const void* gy, void* gx, double* dparam, int dw_float,     \
    int nthreads),                                                                                \
    (plan, x, param, sy, dw, gy, gx, dparam, dw_float, nthreads))                                 \
  X(ppv_backward_saved, (const int64_t* plan, const void* jac, const double* dw,                  \
    const void* gy, void* gx, double* dparam, int nthreads),                                      \
    (plan, jac, dw, gy, gx, dparam, nthreads))                                                    \
  X(ppv_forward_overlap_saved, (const int64_t* plan, const void* x, const double* param,          \
    void* y, void* e, float* dw, double* lc, int nthreads),                                       \
    (plan, x, param, y, e, dw, lc, nthreads))                                                     \
  X(ppv_backward_overlap_saved, (const int64_t* plan, const void* x, const double* param,         \
    const void* e, const float* dw, const double* lc, const void* gy, void* gx, double* dparam,   \
    int nthreads),                                                                                \
    (plan, x, param, e, dw, lc, gy, gx, dparam, nthreads))                                        \
  X(ppv_forward_overlap_saved64, (const int64_t* plan, const void* x, const double* param,        \
    void* y, double* e, double* dw, double* win, int nthreads),                                   \
    (plan, x, param, y, e, dw, win, nthreads))                                                    \
  X(ppv_backward_overlap_saved64, (const int64_t* plan, const void* x, const double* param,       \
    const double* e, const double* dw, const double* win, const void* gy, void* gx,               \
    double* dparam, int nthreads),                                                                \
    (plan, x, param, e, dw, win, gy, gx, dparam, nthreads))                                       \
  X(ppv_forward_power_overlap_saved, (const int64_t* plan, const void* x, const double* param,    \
    void* y, void* jac, double* dw, double* cw, int nthreads),                                    \
    (plan, x, param, y, jac, dw, cw, nthreads))                                                   \
  X(ppv_backward_power_overlap_saved, (const int64_t* plan, const double* param,                  \
    const void* jac, const double* cw, const double* dw, const void* gy, void* gx,                \
    double* dparam, int nthreads),                                                                \
    (plan, param, jac, cw, dw, gy, gx, dparam, nthreads))

extern "C" {

#if PPV_SPLIT && !PPV_PART_MAIN
// (hidden: the library exports the public names alone)
#define PPV_DECLARE_OWN(name, params, args) \
  PPV_HIDDEN int PPV_ENTRY(name) params;
PPV_PLAN_ENTRIES(PPV_DECLARE_OWN)
#endif

#if PPV_PART_MAIN
// The handshake: the loader checks both before using the library.
int64_t ppv_abi_version() { return ABI_VERSION; }
const char* ppv_source_hash() { return PPV_SOURCE_HASH; }
// which vector code the build runs: 2 AVX-512, 1 the AVX-512 code emulated on AVX2 (simd8.inc),
// 3 that emulation on ARM64's NEON (avx2_neon.inc), 0 the scalar forms
int64_t ppv_vector_isa() {
#if defined(PPV_AVX2_ON_NEON)
  return 3;
#elif defined(PPV_AVX512_EMULATED)
  return 1;
#elif defined(PPV_AVX512)
  return 2;
#else
  return 0;
#endif
}

// 1 where the build has OpenMP (a call runs on the threads it is given), 0 where the compiler
// had none (every call runs on one thread)
int64_t ppv_openmp() {
#if defined(_OPENMP)
  return 1;
#else
  return 0;
#endif
}

// The segments (sg) and the number of threads run uses for a P-pooling plan and nthreads: the
// segments' threads where the planes are cut, else threads_for. For the test exports below.
inline int segments_and_threads(Plan& P, int nthreads, bool backward, Segments& sg) {
  const int64_t work = path_work(backward);
  const int seg_threads = segment_threads(P, nthreads, work);
  make_ppool_segments(P, seg_threads, fused64_backward(P, backward), sg);
  return sg.axis < 0 ? threads_for(P, nthreads, P.groups, work)
                     : (int)std::min<int64_t>(seg_threads, sg.groups);
}

// How run would cut the planes of a plan for nthreads (Segments; the power engine's forward and
// recomputing backward for the power mean and Lp): out[0] the segments of all planes (N C when
// not segmented), out[1] their classes (plans), out[2] the split axis (0 D, 1 H, 2 W; -1
// none), out[3] the threads; backward != 0: P-pooling's recomputing backward's (float64's
// differ: make_ppool_segments). For tests and benchmarks.
int ppv_segments(const int64_t* plan, int nthreads, int backward, int64_t* out) {
  Plan P;
  try {
    if (!P.parse(plan)) return ST_ARGS;
    Segments sg;
    const int nt = P.op == OP_PPOOL ? segments_and_threads(P, nthreads, backward != 0, sg)
                                    : power_segments(P, nthreads, true, sg, path_work(backward));
    out[0] = 0;
    for (const SegClass& c : sg.classes) out[0] += (int64_t)c.in_off.size() * P.N * P.C;
    if (sg.axis < 0) out[0] = P.N * P.C;
    out[1] = (int64_t)sg.classes.size();
    out[2] = sg.axis;
    out[3] = nt;
  } catch (...) {
    return ST_NOMEM;
  }
  return ST_OK;
}

// How run shares the groups of a P-pooling plan among its threads for nthreads
// (thread_groups): out[0] the threads nt, then per thread t out[1 + 3 t ..] its begin, end and
// step (out holds 1 + 3 nthreads). For tests.
int ppv_thread_groups(const int64_t* plan, int nthreads, int64_t* out) {
  Plan P;
  try {
    if (!P.parse(plan) || P.op != OP_PPOOL) return ST_ARGS;
    Segments sg;
    const int nt = segments_and_threads(P, nthreads, false, sg);
    out[0] = nt;
    for (int t = 0; t < nt; ++t) {
      const GroupRun gr = thread_groups(P, sg.groups, sg.axis >= 0, t, nt);
      out[1 + 3 * t] = gr.begin;
      out[2 + 3 * t] = gr.end;
      out[3 + 3 * t] = gr.step;
    }
  } catch (...) {
    return ST_NOMEM;
  }
  return ST_OK;
}

// Channels-last groups since the last call (then reset): out[0] groups of 8 channels (the
// converting vector loads and stores), out[1] groups of fewer (per-lane loops), out[2] calls of
// a group on a band after its first (channels-last bands), out[3] groups of packed planes
// (channels not a multiple of the lanes: Plan::packed). For tests.
void ppv_layout_paths(int64_t* out) {
  out[0] = cl_groups_full.exchange(0);
  out[1] = cl_groups_partial.exchange(0);
  out[2] = cl_later_bands.exchange(0);
  out[3] = cl_groups_packed.exchange(0);
}

// The channels-last band budget in bytes of input rows (CL_BAND_BYTES); with bytes > 0, set it
// (tests: small inputs in several bands) and return the previous value.
int64_t ppv_cl_band_bytes(int64_t bytes) {
  return bytes > 0 ? cl_band_bytes.exchange(bytes) : cl_band_bytes.load();
}

// The power engine's row-cache budget per thread in bytes (POW_CACHE_BYTES); with bytes > 0, set
// it (tests: fewer slots than a window's rows) and return the previous value.
int64_t ppv_pow_cache_bytes(int64_t bytes) {
  return bytes > 0 ? pow_cache_bytes.exchange(bytes) : pow_cache_bytes.load();
}

// The fast engine's row cache per thread in bytes (CACHE_BYTES); with bytes > 0, set it
// (tests: a plane whose rows it does not hold) and return the previous value.
int64_t ppv_cache_bytes(int64_t bytes) {
  return bytes > 0 ? fast_cache_bytes.exchange(bytes) : fast_cache_bytes.load();
}

// The power engine's narrow-type threshold of a compensated U (pow_ucomp_terms: terms of one
// lane's sum); with terms > 0, set it (tests) and return the previous value.
int64_t ppv_pow_ucomp_terms(int64_t terms) {
  return terms > 0 ? pow_ucomp_terms.exchange(terms) : pow_ucomp_terms.load();
}

// The lane slices since the last call (then reset; both engines): out[0] planes run as lane
// slices (Plan::xlane), out[1] calls run again without them. For tests.
void ppv_lane_slices(int64_t* out) {
  out[0] = xlane_planes.exchange(0);
  out[1] = xlane_redone.exchange(0);
}

// The power engine's lane slices in parts (XParts) since the last call (then reset): out[0]
// units run (planes x parts), out[1] calls run again with whole slices. For tests.
void ppv_lane_slice_parts(int64_t* out) {
  out[0] = xpart_units.exchange(0);
  out[1] = xpart_redone.exchange(0);
}

// Input rows whose dy/dx a saving forward formed from the weights kept in its state between
// its steps (lane slices in parts) or passes (keep_between_passes): jac_from_e,
// pow_jac_from_kept; since the last call, then reset. For tests.
int64_t ppv_xpart_kept_rows() { return xpart_e_rows.exchange(0); }

// The power engine's output rows whose dy/dp took a second pass over their windows' elements
// (pow_dp_rows) since the last call; the count is reset. For tests.
int64_t ppv_pow_dp_passes() { return pow_dp_row_passes.exchange(0); }

// P-pooling's segment length along W (SEG_COLS): with cols > 0, set it (tests: short signals
// cut for their length) and return the previous value.
int64_t ppv_segment_cols(int64_t cols) {
  return cols > 0 ? seg_cols.exchange(cols) : seg_cols.load();
}

// The power engine's segment sizes (POW_SEG_ELEMENTS, POW_SEG_COLS): with values > 0, set them
// (tests: small planes cut for their size) and return the previous ones in out.
void ppv_pow_segment_sizes(int64_t elements, int64_t cols, int64_t* out) {
  out[0] = elements > 0 ? pow_seg_elements.exchange(elements) : pow_seg_elements.load();
  out[1] = cols > 0 ? pow_seg_cols.exchange(cols) : pow_seg_cols.load();
}

// The forward's window-sum paths since the last call (then reset): out[0] output rows summed
// by sum_rows (a window's rows together), out[1] by sum_row (row by row), out[2] in their
// rows' weighing pass (RowSums; forwards and saving forwards). For tests.
// Row segments whose weights load_weights_row computed fused (out[0]), fused but for a last
// partial block of columns (out[1]) and by load_row then compute_row alone (out[2]) since the
// last call; the counts are reset. For tests.
// The new path's elementary functions on n values, for tests (tests/ops/test_pair_log.py):
// ln_dd (H, Lo) and exp_dd_tab (E, El) of (th[i], tl[i]), by the 8-lane forms (and the scalar
// forms in a last partial block, which give the same bits: the test checks both)
void ppv_ln_dd(const double* x, int64_t n, double* h, double* lo) {
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    double e[L], el[L], one[L];
    for (int l = 0; l < L; ++l) one[l] = 0.0;
    elem_terms_lanes(x + i, one, e, el, h + i, lo + i);
  }
  for (; i < n; ++i) ln_dd(x[i], h[i], lo[i]);
}
void ppv_exp_dd_tab(const double* th, const double* tl, int64_t n, double* e, double* el) {
  int64_t i = 0;
#if defined(PPV_AVX512)
  for (; i + L <= n; i += L) {
    __m512d lo;
    _mm512_storeu_pd(e + i, exp_dd_tab8(_mm512_loadu_pd(th + i), _mm512_loadu_pd(tl + i), lo));
    _mm512_storeu_pd(el + i, lo);
  }
#endif
  for (; i < n; ++i) e[i] = exp_dd_tab(th[i], tl[i], el[i]);
}

void ppv_pair_log_paths(int64_t* out) {
  for (int m = 0; m < 4; ++m) out[m] = pair_mode_count[m].exchange(0);
}

void ppv_weight_paths(int64_t* out) {
  out[0] = weight_rows_fused.exchange(0);
  out[1] = weight_rows_tail.exchange(0);
  out[2] = weight_rows_split.exchange(0);
  out[3] = weight_rows_int.exchange(0);
}

void ppv_special_windows(int64_t* out) {
  out[0] = special_windows_zero.exchange(0);
  out[1] = special_windows_exact.exchange(0);
}

void ppv_forward_sum_paths(int64_t* out) {
  out[0] = rows_summed_together.exchange(0);
  out[1] = rows_summed_each.exchange(0);
  out[2] = rows_summed_weighing.exchange(0);
}

// Output rows of channels-last forwards whose windows cl_direct_forward summed straight from
// memory (an integer alpha) since the last call; the count is then reset. For tests.
int64_t ppv_direct_rows() {
#if defined(PPV_FAST_VECTOR)
  return cl_direct_rows.exchange(0);
#else
  return 0;
#endif
}

// Whether cl_direct_forward serves the calls it can: on 0 no (the general path), 1 yes, -1
// unchanged; returns the previous setting (0 in the one-lane forms, which have none). For tests.
int64_t ppv_direct_enable(int64_t on) {
#if defined(PPV_FAST_VECTOR)
  return on < 0 ? cl_direct_on.load() : cl_direct_on.exchange(on ? 1 : 0);
#else
  (void)on;
  return 0;
#endif
}

void ppv_backward_sum_paths(int64_t* out) {
  out[0] = backward_rows_together.exchange(0);
  out[1] = backward_rows_each.exchange(0);
}

// The windows of axis `axis` (0 D, 1 H, 2 W) of a plan as the kernel reads them (a table's
// or a compact axis's computed ones): start[o] into out[o], count[o] into out[n + o]. For
// tests. Status 3 for a bad plan or axis.
int ppv_plan_axis(const int64_t* plan, int axis, int64_t* out) {
  Plan P;
  if (axis < 0 || axis > 2 || !P.parse(plan)) return ST_ARGS;
  const Axis& A = P.ax[axis];
  for (int64_t o = 0; o < A.out; ++o) {
    out[o] = A.start[o];
    out[A.out + o] = A.count[o];
  }
  return ST_OK;
}

// Output rows whose dy/dx the saving forwards (ppv_forward_saved, float32 / bfloat16 /
// float16) since the last call wrote in one pass into the planes (out[0], jac_store_row) and
// through a lane-interleaved row (out[1], jac_row), and jac_store_row's blocks of 8 columns
// by its all-positive branch (out[2]) and its masked one (out[3]), and of out[0] the rows
// stored by streaming stores (out[4], Saved::stream_jac); and the power engine's output rows
// stored by pow_jac_store_row (out[5]) and pow_jac_row (out[6]). The counts are then reset.
// For tests.
void ppv_saved_jac_paths(int64_t* out) {
  out[0] = jac_rows_direct.exchange(0);
  out[1] = jac_rows_lanes.exchange(0);
  out[2] = jac_blocks_positive.exchange(0);
  out[3] = jac_blocks_masked.exchange(0);
  out[4] = jac_rows_streamed.exchange(0);
  out[5] = pow_jac_rows_direct.exchange(0);
  out[6] = pow_jac_rows_lanes.exchange(0);
}

// The size in bytes of a float dy/dx state above which the saving forward streams its stores
// (jac_stream_bytes); with bytes > 0, set it (tests: small inputs streamed) and return the
// previous value.
int64_t ppv_jac_stream_bytes(int64_t bytes) {
  return bytes > 0 ? jac_stream_bytes.exchange(bytes) : jac_stream_bytes.load();
}

// Contiguous plane rows whose input gradient ppv_backward_saved formed run by run (out[0]),
// from the spread gy (out[1]) and by a gather of gy per element (out[2]) since the last call;
// the counts are then reset. For tests.
void ppv_saved_backward_paths(int64_t* out) {
  out[0] = saved_bwd_rows_runs.exchange(0);
  out[1] = saved_bwd_rows_spread.exchange(0);
  out[2] = saved_bwd_rows_gather.exchange(0);
  out[3] = saved_bwd_planes.exchange(0);
}

// Input elements per thread of a segmented call (SEG_THREAD_ELEMENTS): set to `elements`
// when positive (tests); returns the previous value.
int64_t ppv_segment_grain(int64_t elements) {
  return elements > 0 ? seg_grain.exchange(elements) : seg_grain.load();
}

// Window-element pairs per thread of a call not cut into segments (THREAD_PAIRS): set to
// `pairs` when positive (benchmarks); returns the previous value.
int64_t ppv_thread_pairs(int64_t pairs) {
  return pairs > 0 ? thread_pairs.exchange(pairs) : thread_pairs.load();
}

// Row segments the overlap state's backward weighed again (a weight float does not hold)
// since the last call (then reset). For tests.
int64_t ppv_overlap_redone() { return overlap_rows_redone.exchange(0); }

// Windows (of 8 lanes) a float64 forward evaluated straight from its element cache
// (forward_window64) since the last call (then reset). For tests.
int64_t ppv_lean_windows64() { return lean_windows64.exchange(0); }

// Turns forward_window64 on (1) or off (0; exact_window then evaluates every window); any other
// value leaves it. Returns the previous setting. For tests.
int ppv_lean64(int on) { return (on == 0 || on == 1) ? lean64_on.exchange(on) : lean64_on.load(); }

#endif  // PPV_PART_MAIN

// ------------------------------------------------------------ the entry points that take a plan
// Each serves the plan's dtype (dispatch); in a build in parts, named PPV_ENTRY(name) in the
// part of each dtype, with part 0's forwarders (below) under the public names.
#if PPV_PART_DTYPES

// y = pool(x). Returns a status: 0 ok, bit 1: some window holds a negative, NaN or infinite
// element (its output is NaN), 2: out of memory, 3: bad plan.
int PPV_ENTRY(ppv_forward)(const int64_t* plan, const void* x, const double* param, void* y,
                           int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    try {
#if defined(PPV_FAST_VECTOR)
      if constexpr (!std::is_same<T, double>::value)  // (false: the general path reports)
        if (cl_direct_serves<T>(P, param)) {
          const int st = cl_direct_forward<T>(P, (const T*)x, param, (T*)y, DirectState{},
                                              nthreads);
          if (st != DIRECT_BAD) return st;
        }
#endif
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// Ask for 2 MiB pages (Linux transparent huge pages, where the system allows them on request)
// for the 2 MiB-aligned part of a new buffer of at least 8 MiB, before its first write: a
// fresh tensor's pages are mapped on first touch, and the float64 overlap state's 110 MB at
// (8, 64, 112, 112) took 55-75 ms of 4 KiB page faults on a 2-core AMD EPYC VM (the kernel's
// saving forward 185 ms on buffers written before, 241-259 ms on new ones, one thread). Only
// the page size changes, never the contents; where the request is not granted nothing does.
inline void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t HUGE = (uintptr_t)2 << 20;
  if (p == nullptr || bytes < (size_t)(8 << 20)) return;
  const uintptr_t lo = ((uintptr_t)p + HUGE - 1) & ~(HUGE - 1);
  const uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE - 1);
  if (hi > lo) (void)madvise((void*)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// gx = gy * dy/dx (x's dtype and layout) and dparam = sum of gy * dy/dparam, with the
// parameter's shape (one value, one per channel or one per plane; null: not wanted).
int PPV_ENTRY(ppv_backward)(const int64_t* plan, const void* x, const double* param, const void* gy,
                            void* gx, double* dparam, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    try {
      advise_huge_pages(gx, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      return run<T>(P, (const T*)x, param, nullptr, (const T*)gy, (T*)gx, dparam, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// y = pool(x) and the state of a backward without recomputation (Saved): jac (x's layout and
// size; float for float32 / bfloat16 / float16, double for float64) and, unless null, dw
// (double, the output's layout and size). Only for windows that share no element (else status
// 3). Status as ppv_forward, plus bit 4 (ST_UNSAVED): the state is not usable, recompute in
// the backward.
int PPV_ENTRY(ppv_forward_saved)(const int64_t* plan, const void* x, const double* param, void* y,
                                 void* jac, double* dw, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    try {
      Saved sv;
      sv.dw = dw;
      if (std::is_same<T, double>::value) sv.jac64 = (double*)jac;
      else sv.jac = (float*)jac;
      sv.stream_jac = sv.jac != nullptr &&
                      P.N * P.C * P.plane_in * (int64_t)sizeof(float) > jac_stream_bytes.load();
      advise_huge_pages(jac, (size_t)(P.N * P.C * P.plane_in) *
                                 (std::is_same<T, double>::value ? sizeof(double) : sizeof(float)));
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads, &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// ppv_forward_saved with the integer-alpha window state in place of jac: y, each window's S
// and y (sy: 2 x N C plane_out doubles, the output's layout; see run_int_saved_backward) and,
// with dw, its dy/da. ST_ARGS where int_state_serves does not hold. Status as
// ppv_forward_saved (ST_UNSAVED: a window of the exact engine, or wider than a column tile:
// the backward recomputes).
int PPV_ENTRY(ppv_forward_saved_int)(const int64_t* plan, const void* x, const double* param,
                                     void* y, void* dw, double* sy, int dw_float,
                                     int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (sy == nullptr || !int_state_serves<T>(P, param)) return (int)ST_ARGS;
    try {
#if defined(PPV_FAST_VECTOR)
      if constexpr (!std::is_same<T, double>::value)
        if (cl_direct_serves<T>(P, param)) {
          DirectState st;
          st.sy = sy;
          if (dw_float) st.dwf = (float*)dw;
          else st.dw = (double*)dw;
          const int status = cl_direct_forward<T>(P, (const T*)x, param, (T*)y, st, nthreads);
          if (status != DIRECT_BAD) return status;
        }
#endif
      Saved sv;
      if (dw_float) sv.dwf = (float*)dw;
      else sv.dw = (double*)dw;
      sv.int_state = true;
      sv.sy = sy;
      sv.sy_n = P.N * P.C * P.plane_out;
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads, &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// The backward from ppv_forward_saved_int's integer-alpha window state (x and param those of
// the forward): gx (x's dtype and layout; not x itself) and, with dparam, sum gy * dw.
int PPV_ENTRY(ppv_backward_saved_int)(const int64_t* plan, const void* x, const double* param,
                                      const double* sy, const void* dw, const void* gy, void* gx,
                                      double* dparam, int dw_float, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (dparam != nullptr && dw == nullptr) return (int)ST_ARGS;
    try {
      advise_huge_pages(gx, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      return run_int_saved_backward<T>(P, (const T*)x, param, sy, dw, dw_float != 0,
                                       (const T*)gy, (T*)gx, dparam, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// gx = gy * dy/dx and dparam = sum gy * dy/dparam (null: not wanted; needs dw) from the state
// ppv_forward_saved wrote for the same plan.
// (jac: float, or double for float64; gx may be jac itself)
int PPV_ENTRY(ppv_backward_saved)(const int64_t* plan, const void* jac, const double* dw,
                                  const void* gy, void* gx, double* dparam, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (dparam != nullptr && dw == nullptr) return (int)ST_ARGS;
    try {
      advise_huge_pages(gx, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      if constexpr (std::is_same<T, double>::value)
        return run_saved_backward<T, double>(P, (const double*)jac, dw, (const T*)gy, (T*)gx,
                                             dparam, nthreads);
      else
        return run_saved_backward<T, float>(P, (const float*)jac, dw, (const T*)gy, (T*)gx,
                                            dparam, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// The saving forward for windows that may share elements (the fast engine's dtypes: float32,
// bfloat16, float16; P-pooling): y, and per input element its weight E (e: groups * plane_in
// * 8, lane-interleaved by group: e_index; a float for float32 inputs, a bfloat16 (uint16)
// for bfloat16 and float16 inputs; E_REDO where the format holds no normal E),
// with dw non-null per output dy/da (float, groups * plane_out * 8: state_index), per plane
// lc = its weights' reference Lc (N C doubles). Groups as Plan's.
// Status as ppv_forward_saved (bit 4: recompute in the backward; float64 or another
// operator: 3).
int PPV_ENTRY(ppv_forward_overlap_saved)(const int64_t* plan, const void* x, const double* param,
                                         void* y, void* e, float* dw, double* lc, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (std::is_same<T, double>::value || P.op != OP_PPOOL) return (int)ST_ARGS;
    try {
      Saved sv;
      if (std::is_same<T, float>::value) sv.e = (float*)e;
      else sv.e16 = (uint16_t*)e;
      sv.dwf = dw;
      sv.lc = lc;
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads, &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// gx = gy * dy/dx and dparam = sum gy * dy/dparam (null: not wanted; wanted needs dw) from
// the state ppv_forward_overlap_saved wrote for the same plan, x and parameter.
int PPV_ENTRY(ppv_backward_overlap_saved)(const int64_t* plan, const void* x, const double* param,
                                          const void* e, const float* dw, const double* lc,
                                          const void* gy, void* gx, double* dparam, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using S = std::conditional_t<std::is_same<T, float>::value, float, uint16_t>;
    try {
      advise_huge_pages(gx, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      return run_overlap_saved_backward<T, S>(P, (const T*)x, param, (const S*)e, dw, lc,
                                              (const T*)gy, (T*)gx, dparam, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// The float64 overlap state (P-pooling, windows that share elements; run_overlap64_backward):
// y, and e each element's x^a (doubles, groups * plane_in * 8, e_index), dw (null: not
// wanted) each window's dy/da (groups * plane_out * 8, state_index), win per window and lane
// S, y (2 arrays of groups * plane_out * 8 doubles, state_index) and y's low part relative to
// y (as many floats after them). Status as
// ppv_forward_saved (bit 4: recompute in the backward; not float64 or not P-pooling: 3).
int PPV_ENTRY(ppv_forward_overlap_saved64)(const int64_t* plan, const void* x, const double* param,
                                           void* y, double* e, double* dw, double* win,
                                           int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (!std::is_same<T, double>::value || P.op != OP_PPOOL) return (int)ST_ARGS;
    try {
      Saved sv;
      sv.e64 = e;
      sv.win64 = win;
      sv.win_n = P.groups * P.plane_out * L;
      sv.dw = dw;
      advise_huge_pages(e, (size_t)(P.groups * P.plane_in * L) * sizeof(double));
      advise_huge_pages(win, (size_t)(3 * sv.win_n) * sizeof(double));
      advise_huge_pages(dw, (size_t)sv.win_n * sizeof(double));
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads, &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// gx = gy * dy/dx and dparam (null: not wanted; wanted needs dw) from the state
// ppv_forward_overlap_saved64 wrote for the same plan, x and parameter; gx may be e itself
// (contiguous memory: each group's gradient is written over its own block of x^a).
int PPV_ENTRY(ppv_backward_overlap_saved64)(const int64_t* plan, const void* x, const double* param,
                                            const double* e, const double* dw, const double* win,
                                            const void* gy, void* gx, double* dparam,
                                            int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (!std::is_same<T, double>::value) return (int)ST_ARGS;
    try {
      return run_overlap64_backward(P, (const double*)x, param, e, win,
                                    P.groups * P.plane_out * L, dw, (const double*)gy,
                                    (double*)gx, dparam, nthreads);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// The saving forward of the power mean / Lp norm for windows that may share elements (float32
// and float64 inputs): y, and per input element E / x (jac: float, or double for float64, x's
// layout; elements of rows no window reads are not written; float64: E / (x 2^-e), the scale
// of PowLanes::xscale, whose 2^-e is in y / S), per output y / S (cw: double, the output's layout) and, with dw
// non-null, dy/dp (double, the output's layout). Status as ppv_forward_saved (bit 4: the
// state is not usable, the backward must recompute: a window in the exact engine, or some
// E / x that float holds not as a normal number; P-pooling, another dtype: 3).
int PPV_ENTRY(ppv_forward_power_overlap_saved)(const int64_t* plan, const void* x,
                                               const double* param, void* y, void* jac, double* dw,
                                               double* cw, int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    constexpr bool f64 = std::is_same<T, double>::value;
    if (!(std::is_same<T, float>::value || f64) || P.op == OP_PPOOL || !jac || !cw)
      return (int)ST_ARGS;
    try {
      advise_huge_pages(jac, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      Saved sv;
      if (f64) sv.jac64 = (double*)jac;
      else sv.jac = (float*)jac;
      sv.dw = dw;
      sv.cw = cw;
      return run<T>(P, (const T*)x, param, (T*)y, nullptr, nullptr, nullptr, nthreads, &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

// gx = (E_i / x_i) sum_w gy_w (y / S)_w over each element's windows and dparam = sum gy dw
// (null: not wanted; wanted needs dw) from the state ppv_forward_power_overlap_saved wrote for
// the same plan and parameter. gx may be jac itself (x's layout; each row read before it is
// written).
int PPV_ENTRY(ppv_backward_power_overlap_saved)(const int64_t* plan, const double* param,
                                                const void* jac, const double* cw, const double* dw,
                                                const void* gy, void* gx, double* dparam,
                                                int nthreads) {
  return dispatch(plan, [&](const Plan& P, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    constexpr bool f64 = std::is_same<T, double>::value;
    if (!(std::is_same<T, float>::value || f64) || P.op == OP_PPOOL || !jac || !cw)
      return (int)ST_ARGS;
    if (dparam != nullptr && dw == nullptr) return (int)ST_ARGS;
    try {
      advise_huge_pages(gx, (size_t)(P.N * P.C * P.plane_in) * sizeof(T));
      Saved sv;
      if (f64) sv.jac64 = (double*)const_cast<void*>(jac);
      else sv.jac = (float*)const_cast<void*>(jac);
      sv.cw = const_cast<double*>(cw);
      sv.dw = const_cast<double*>(dw);
      return run_power<T>(P, nullptr, param, nullptr, (const T*)gy, (T*)gx, dparam, nthreads,
                          &sv);
    } catch (...) {
      return (int)ST_NOMEM;
    }
  });
}

#endif  // PPV_PART_DTYPES

#if PPV_SPLIT && PPV_PART_MAIN
// Part 0's forwarders: the public entry point calls its dtype's part (which parses the plan
// again and answers ST_ARGS for a bad one, as dispatch does in one translation unit).
#define PPV_FORWARD(name, params, args)                                  \
  PPV_HIDDEN int name##_part1 params;                                    \
  PPV_HIDDEN int name##_part2 params;                                    \
  PPV_HIDDEN int name##_part3 params;                                    \
  PPV_HIDDEN int name##_part4 params;                                    \
  int name params {                                                      \
    if (plan == nullptr || plan[0] != ABI_VERSION) return ST_ARGS;       \
    switch (plan[1]) {                                                   \
      case DT_F32: return name##_part1 args;                             \
      case DT_F64: return name##_part2 args;                             \
      case DT_BF16: return name##_part3 args;                            \
      case DT_F16: return name##_part4 args;                             \
    }                                                                    \
    return ST_ARGS;                                                      \
  }
PPV_PLAN_ENTRIES(PPV_FORWARD)
#endif

}  // extern "C"
