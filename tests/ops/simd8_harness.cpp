// tests/ops/test_simd8.py's harness: every AVX-512 intrinsic simd8.inc emulates (and the
// ppv_mmask8 operators, and fast_math.inc's table look-ups fast_log_tables8 / fast_table8 /
// fast_table8_pd) against a scalar statement of Intel's definition (the Intrinsics Guide's
// pseudo-code, lane by lane), written here independently of simd8.inc.
//
// Compiled with the kernel's flags and -march=x86-64-v3 (the emulation: __AVX512F__ undefined),
// or with -march=native on an AVX-512 machine (the real instructions: the same references must
// hold there, and the results' hashes must equal the emulation's), or for ARM64 (the emulation
// over avx2_neon.inc's NEON forms of the AVX2 intrinsics) with -DPPV_SIMD8_MAIN: a program that
// prints "emulated N" and then the report, run under qemu-aarch64 on x86 machines. -I names the folder holding
// simd8.inc and fast_math.inc (the package's, or a copy with planted defects). -DPPV_SIMD8_QUICK
// builds a smaller harness (the kernel's predicates, 6 shift counts, 3 shuffle immediates;
// half the compile time), which the planted defects' build uses.
//
// ppv_simd8_check(out, cap) writes one line per record, tab-separated:
//   name  cases  mismatches  lenient  hash  first-mismatch
// a record being an intrinsic (name as in simd8.inc's macro list), or "intrinsic/variant" (a
// predicate, an immediate, a mask's source), or "__mmask8 operatorX", "__m512d layout", ...;
// cases: lanes (or mask values) compared; lenient: lanes accepted as "both NaN" with different
// payloads (only where the reference is an IEEE operation whose NaN is "a QNaN of an operand");
// hash: FNV-1a of the results' bits (the native build's must equal the emulated build's).
// Every other comparison is bit for bit, NaNs' payloads and zeros' signs included.

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "simd8.inc"
#include "fast_math.inc"

#if !defined(PPV_AVX512)
#error "simd8_harness: neither AVX-512 nor simd8.inc's AVX2+FMA emulation is available"
#endif

static_assert(sizeof(__m512d) == 64 && sizeof(__m512i) == 64, "8 lanes of 64 bits");

namespace {

// ------------------------------------------------------------------------------ bits, records
uint64_t bits_of(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }
double dbl(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
uint32_t fbits_of(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }
float flt(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }

enum Kind {
  EXACT,    // the same bits
  D_NAN,    // doubles: the same bits, or both NaN
  F_NAN,    // floats in the low 32 bits: the same bits, or both NaN
};

struct Rec {
  std::string name;
  long long cases = 0, bad = 0, lenient = 0;
  uint64_t hash = 1469598103934665603ULL;
  std::string first;
};
std::deque<Rec> g_recs;  // a deque: references stay valid as records are added

__attribute__((noinline)) Rec& rec(const std::string& name) {
  for (Rec& r : g_recs)
    if (r.name == name) return r;
  g_recs.emplace_back();
  g_recs.back().name = name;
  return g_recs.back();
}

void hash_in(Rec& r, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    r.hash ^= (v >> (8 * i)) & 0xff;
    r.hash *= 1099511628211ULL;
  }
}

// one lane (or one mask value): got against want; ins: the lane's inputs, for the report
__attribute__((noinline)) void lane(Rec& r, Kind kind, uint64_t got, uint64_t want,
                                    std::initializer_list<uint64_t> ins, const char* note = "") {
  r.cases++;
  // the hash that the native build must match: where this check lets NaN payloads differ (the
  // compiler may commute an add or pick an fma form, and which NaN operand comes out follows),
  // a NaN result enters it as one canonical NaN
  uint64_t hashed = got;
  if (kind == D_NAN && std::isnan(dbl(got))) hashed = 0x7ff8000000000000ULL;
  if (kind == F_NAN && std::isnan(flt((uint32_t)got)))
    hashed = (got & 0xffffffff00000000ULL) | 0x7fc00000ULL;
  hash_in(r, hashed);
  bool ok = got == want;
  if (!ok && kind == D_NAN && std::isnan(dbl(got)) && std::isnan(dbl(want))) ok = true, r.lenient++;
  if (!ok && kind == F_NAN && std::isnan(flt((uint32_t)got)) && std::isnan(flt((uint32_t)want)))
    ok = true, r.lenient++;
  if (ok) return;
  r.bad++;
  if (!r.first.empty()) return;
  char buf[400];
  int n = std::snprintf(buf, sizeof buf, "%s got %016llx want %016llx inputs", note,
                        (unsigned long long)got, (unsigned long long)want);
  for (uint64_t v : ins)
    n += std::snprintf(buf + n, sizeof buf - n, " %016llx", (unsigned long long)v);
  r.first = buf;
}

// vectors from / to 8 lanes of bits by memcpy (independent of the loads and stores under test)
__m512d vd(const uint64_t* p) { __m512d v; std::memcpy(&v, p, 64); return v; }
__m512i vi(const uint64_t* p) { __m512i v; std::memcpy(&v, p, 64); return v; }
void out(const __m512d& v, uint64_t* p) { std::memcpy(p, &v, 64); }
void out(const __m512i& v, uint64_t* p) { std::memcpy(p, &v, 64); }
unsigned mbits(__mmask8 k) { return (unsigned)k & 0xffu; }
__mmask8 kmask(unsigned b) { return (__mmask8)(int)b; }

__attribute__((noinline)) char* lane_note(char* buf, int l, const char* extra = "") {
  std::snprintf(buf, 64, "lane %d%s", l, extra);
  return buf;
}

// ------------------------------------------------------------------------------------ inputs
uint64_t g_state = 0x5eed5eed12345678ULL;
uint64_t rnd() {  // splitmix64
  uint64_t z = (g_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

const double INF = INFINITY;
// the special doubles (as bits): zeros, infinities, NaNs (quiet, signalling, with payloads),
// subnormals, the normal range's ends, small integers, integers near 2^52 / 2^53 / 2^63
std::vector<uint64_t> special_doubles() {
  std::vector<uint64_t> s = {
      bits_of(0.0), bits_of(-0.0), bits_of(INF), bits_of(-INF),
      0x7ff8000000000000ULL, 0xfff8000000000000ULL,  // quiet NaNs
      0x7ff0000000000001ULL, 0xfff4000000000abcULL,  // signalling NaNs (payloads)
      0x7ffc0000deadbeefULL,                         // a quiet NaN with a payload
      0x0000000000000001ULL, 0x8000000000000001ULL,  // the smallest subnormals
      0x000fffffffffffffULL, 0x8008000000000000ULL,  // larger subnormals
      bits_of(DBL_MIN), bits_of(-DBL_MIN), bits_of(DBL_MAX), bits_of(-DBL_MAX),
      bits_of(1.0), bits_of(-1.0), bits_of(0.5), bits_of(2.0), bits_of(-3.0), bits_of(1.5),
      bits_of(0x1p52), bits_of(0x1p52 + 1), bits_of(-0x1p53), bits_of(0x1p63), bits_of(-0x1p63),
      bits_of(0.1), bits_of(-7.25), bits_of(0x1p-1022 * 1.5), bits_of(1e300), bits_of(-1e-300),
  };
  return s;
}

uint64_t rand_double() {
  const uint64_t r = rnd(), sign = r & 0x8000000000000000ULL, mant = rnd() & 0xfffffffffffffULL;
  switch (r % 5) {
    case 0: return rnd();  // any pattern: NaNs, infinities, subnormals included
    case 1: return sign | ((rnd() % 2047) << 52) | mant;  // every finite binade
    case 2: return sign | ((uint64_t)(1023 - 40 + rnd() % 81) << 52) | mant;  // [2^-40, 2^41)
    case 3: {  // small dyadic values: equal operands, exact results, ties
      const double d = (double)((int64_t)(rnd() % 2001) - 1000) / (double)(1 << (rnd() % 8));
      return bits_of(d);
    }
    default: {  // subnormals and the smallest normals
      return sign | ((rnd() % 3) << 52) | (mant >> (rnd() % 52));
    }
  }
}

// the operand pairs and triples: every pair (triple) of the specials, then random ones, some of
// them related (equal, opposite, one ulp apart, or c = -a b rounded, where fma differs most)
struct Operands { std::vector<uint64_t> a, b, c; };

void pad8(Operands& o) {
  while (o.a.size() % 8) {
    o.a.push_back(bits_of(1.0));
    o.b.push_back(bits_of(2.0));
    o.c.push_back(bits_of(3.0));
  }
}

Operands make_pairs() {
  Operands o;
  const std::vector<uint64_t> s = special_doubles();
  for (uint64_t x : s)
    for (uint64_t y : s) o.a.push_back(x), o.b.push_back(y), o.c.push_back(rand_double());
  for (int i = 0; i < 24000; ++i) {
    const uint64_t x = rand_double();
    uint64_t y = rand_double();
    switch (rnd() % 8) {
      case 0: y = x; break;
      case 1: y = x ^ 0x8000000000000000ULL; break;
      case 2: y = x + 1; break;
      case 3: y = bits_of(std::fma(dbl(x), dbl(rand_double()), 0.0)); break;
      default: break;
    }
    o.a.push_back(x), o.b.push_back(y), o.c.push_back(rand_double());
  }
  pad8(o);
  return o;
}

Operands make_triples() {
  Operands o;
  const std::vector<uint64_t> s0 = special_doubles();
  const std::vector<uint64_t> s(s0.begin(), s0.begin() + 20);
  for (uint64_t x : s)
    for (uint64_t y : s)
      for (uint64_t z : s) o.a.push_back(x), o.b.push_back(y), o.c.push_back(z);
  for (int i = 0; i < 24000; ++i) {
    uint64_t x = rand_double(), y = rand_double(), z = rand_double();
    if (rnd() % 2) {  // moderate values, c = -(a b) rounded (the fma keeps the product's error)
      x = (x & 0x800fffffffffffffULL) | ((uint64_t)(1023 - 30 + rnd() % 61) << 52);
      y = (y & 0x800fffffffffffffULL) | ((uint64_t)(1023 - 30 + rnd() % 61) << 52);
      const double p = dbl(x) * dbl(y);
      z = bits_of(rnd() % 2 ? -p : p);
    }
    o.a.push_back(x), o.b.push_back(y), o.c.push_back(z);
  }
  pad8(o);
  return o;
}

// signed 64-bit integers: the ends, the binades' edges near 2^52 / 2^53 / 2^63, ties of the
// conversion to double (x = odd 53-bit m times 2^e plus 2^(e-1)), and random ones of every size
std::vector<uint64_t> make_ints(size_t n) {
  std::vector<uint64_t> v = {0, 1, (uint64_t)-1, (uint64_t)INT64_MIN, (uint64_t)INT64_MAX,
                             (uint64_t)INT64_MIN + 1, (uint64_t)INT64_MAX - 1,
                             1ULL << 31, 1ULL << 32, (1ULL << 32) - 1, (uint64_t)-(1LL << 31),
                             0xffffffffULL, 0x80000000ULL, 0x7fffffffULL};
  for (int e = 50; e <= 62; ++e)
    for (int64_t d = -3; d <= 3; ++d) {
      v.push_back((1ULL << e) + d);
      v.push_back((uint64_t)(-(int64_t)(1ULL << e) + d));
    }
  for (int64_t d = 0; d < 1100; d += 1 + d / 3) v.push_back((uint64_t)INT64_MAX - d);
  for (int64_t d = 0; d < 1100; d += 1 + d / 3) v.push_back((uint64_t)INT64_MIN + d);
  while (v.size() < n) {
    const uint64_t r = rnd();
    switch (r % 4) {
      case 0: v.push_back(rnd()); break;
      case 1: v.push_back(rnd() >> (rnd() % 64)); break;
      case 2: v.push_back((uint64_t) - (int64_t)(rnd() >> (1 + rnd() % 63))); break;
      default: {  // a tie of the rounding to 53 bits: m 2^e + 2^(e-1), m odd or even
        const int e = 1 + (int)(rnd() % 10);
        const uint64_t m = (rnd() >> 11) | (1ULL << 52);
        uint64_t x = (m << e) + (1ULL << (e - 1));
        if (rnd() % 2) x = (uint64_t) - (int64_t)x;
        v.push_back(x);
      }
    }
  }
  v.resize(n - n % 8);
  return v;
}

// ---------------------------------------------------------------------------- the references
// Intel's _CMP_* predicates (p & 15; 16-31 repeat 0-15 with the other signalling behaviour,
// which does not change the result): "O" = false where either operand is NaN, "U" = true there
__attribute__((noinline)) bool cmp_ref(int p, double a, double b) {
  const bool un = std::isnan(a) || std::isnan(b);
  switch (p & 15) {
    case 0: return !un && a == b;   // EQ_OQ
    case 1: return !un && a < b;    // LT_OS
    case 2: return !un && a <= b;   // LE_OS
    case 3: return un;              // UNORD_Q
    case 4: return un || a != b;    // NEQ_UQ
    case 5: return un || !(a < b);  // NLT_US
    case 6: return un || !(a <= b); // NLE_US
    case 7: return !un;             // ORD_Q
    case 8: return un || a == b;    // EQ_UQ
    case 9: return un || !(a >= b); // NGE_US
    case 10: return un || !(a > b); // NGT_US
    case 11: return false;          // FALSE_OQ
    case 12: return !un && a != b;  // NEQ_OQ
    case 13: return !un && a >= b;  // GE_OS
    case 14: return !un && a > b;   // GT_OS
    default: return true;           // TRUE_UQ
  }
}
const char* const CMP_NAMES[32] = {
    "_CMP_EQ_OQ", "_CMP_LT_OS", "_CMP_LE_OS", "_CMP_UNORD_Q", "_CMP_NEQ_UQ", "_CMP_NLT_US",
    "_CMP_NLE_US", "_CMP_ORD_Q", "_CMP_EQ_UQ", "_CMP_NGE_US", "_CMP_NGT_US", "_CMP_FALSE_OQ",
    "_CMP_NEQ_OQ", "_CMP_GE_OS", "_CMP_GT_OS", "_CMP_TRUE_UQ", "_CMP_EQ_OS", "_CMP_LT_OQ",
    "_CMP_LE_OQ", "_CMP_UNORD_S", "_CMP_NEQ_US", "_CMP_NLT_UQ", "_CMP_NLE_UQ", "_CMP_ORD_S",
    "_CMP_EQ_US", "_CMP_NGE_UQ", "_CMP_NGT_UQ", "_CMP_FALSE_OS", "_CMP_NEQ_OS", "_CMP_GE_OQ",
    "_CMP_GT_OQ", "_CMP_TRUE_US"};

// MAX / MIN (Intel): IF a > b (a < b) THEN a ELSE b: the second operand where either is NaN
// or both are zeros
double max_ref(double a, double b) { return a > b ? a : b; }
double min_ref(double a, double b) { return a < b ? a : b; }
uint64_t srli_ref(uint64_t x, unsigned n) { return n > 63 ? 0 : x >> n; }
uint64_t slli_ref(uint64_t x, unsigned n) { return n > 63 ? 0 : x << n; }
uint64_t srai_ref(uint64_t x, unsigned n) {  // sign bits shifted in; n > 63: all sign bits
  if (n > 63) n = 63;
  const bool neg = x >> 63;
  return neg ? ~(~x >> n) : x >> n;
}

// ------------------------------------------------------------------- loads, stores, constants
void t_memory(const std::vector<uint64_t>& pool) {
  Rec &loadu = rec("_mm512_loadu_pd"), &load = rec("_mm512_load_pd"),
      &storeu = rec("_mm512_storeu_pd"), &store = rec("_mm512_store_pd"),
      &stream = rec("_mm512_stream_pd"), &load_si = rec("_mm512_load_si512"),
      &lay_d = rec("__m512d layout"), &lay_i = rec("__m512i layout"),
      &keep = rec("PPV_KEEP8");
  alignas(64) uint64_t buf[32], dst[32];
  char note[64];
  for (size_t i = 0; i + 24 <= pool.size(); i += 8) {
    std::memcpy(buf, &pool[i], 24 * 8);
    for (int off = 0; off < 8; ++off) {  // unaligned
      uint64_t got[8];
      out(_mm512_loadu_pd((const double*)(buf + off)), got);
      for (int l = 0; l < 8; ++l)
        lane(loadu, EXACT, got[l], buf[off + l], {}, lane_note(note, l, " (offset)"));
      std::memset(dst, 0xa5, sizeof dst);
      _mm512_storeu_pd((double*)(dst + off), vd(buf));
      for (int l = 0; l < 24; ++l) {  // the 8 lanes and no other word written
        const uint64_t want = (l >= off && l < off + 8) ? buf[l - off] : 0xa5a5a5a5a5a5a5a5ULL;
        lane(storeu, EXACT, dst[l], want, {}, lane_note(note, l, " (word)"));
      }
    }
    uint64_t got[8];
    out(_mm512_load_pd((const double*)buf), got);
    for (int l = 0; l < 8; ++l) lane(load, EXACT, got[l], buf[l], {}, lane_note(note, l));
    out(_mm512_load_si512((const void*)(buf + 8)), got);
    for (int l = 0; l < 8; ++l) lane(load_si, EXACT, got[l], buf[8 + l], {}, lane_note(note, l));
    std::memset(dst, 0xa5, sizeof dst);
    _mm512_store_pd((double*)(dst + 8), vd(buf));
    for (int l = 0; l < 24; ++l) {
      const uint64_t want = (l >= 8 && l < 16) ? buf[l - 8] : 0xa5a5a5a5a5a5a5a5ULL;
      lane(store, EXACT, dst[l], want, {}, lane_note(note, l, " (word)"));
    }
    std::memset(dst, 0xa5, sizeof dst);
    _mm512_stream_pd((double*)(dst + 8), vd(buf));
    _mm_sfence();
    for (int l = 0; l < 24; ++l) {
      const uint64_t want = (l >= 8 && l < 16) ? buf[l - 8] : 0xa5a5a5a5a5a5a5a5ULL;
      lane(stream, EXACT, dst[l], want, {}, lane_note(note, l, " (word)"));
    }
    // the layout: lane l of the vector is the l-th double in memory, for the loads and stores
    double d[8];
    _mm512_storeu_pd(d, _mm512_loadu_pd((const double*)buf));
    for (int l = 0; l < 8; ++l) lane(lay_d, EXACT, bits_of(d[l]), buf[l], {}, lane_note(note, l));
    out(_mm512_castpd_si512(vd(buf)), got);
    for (int l = 0; l < 8; ++l) lane(lay_i, EXACT, got[l], buf[l], {}, lane_note(note, l));
    __m512d k = vd(buf);
    PPV_KEEP8(k);
    out(k, got);
    for (int l = 0; l < 8; ++l) lane(keep, EXACT, got[l], buf[l], {}, lane_note(note, l));
  }
}

void t_constants(const std::vector<uint64_t>& dpool, const std::vector<uint64_t>& ipool) {
  Rec &set1 = rec("_mm512_set1_pd"), &zero = rec("_mm512_setzero_pd"),
      &set1i = rec("_mm512_set1_epi64"), &seti = rec("_mm512_set_epi64"),
      &cpd = rec("_mm512_castpd_si512"), &csi = rec("_mm512_castsi512_pd");
  char note[64];
  uint64_t got[8];
  for (int rep = 0; rep < 4; ++rep) {
    out(_mm512_setzero_pd(), got);
    for (int l = 0; l < 8; ++l) lane(zero, EXACT, got[l], 0, {}, lane_note(note, l));
  }
  for (uint64_t x : dpool) {
    out(_mm512_set1_pd(dbl(x)), got);
    for (int l = 0; l < 8; ++l) lane(set1, EXACT, got[l], x, {x}, lane_note(note, l));
  }
  for (uint64_t x : ipool) {
    out(_mm512_set1_epi64((long long)x), got);
    for (int l = 0; l < 8; ++l) lane(set1i, EXACT, got[l], x, {x}, lane_note(note, l));
  }
  for (size_t i = 0; i + 8 <= ipool.size(); i += 8) {
    const uint64_t* e = &ipool[i];  // _mm512_set_epi64(e7, ..., e0): lane l = e_l
    out(_mm512_set_epi64((long long)e[7], (long long)e[6], (long long)e[5], (long long)e[4],
                         (long long)e[3], (long long)e[2], (long long)e[1], (long long)e[0]),
        got);
    for (int l = 0; l < 8; ++l) lane(seti, EXACT, got[l], e[l], {}, lane_note(note, l));
  }
  for (size_t i = 0; i + 8 <= dpool.size(); i += 8) {
    out(_mm512_castpd_si512(vd(&dpool[i])), got);
    for (int l = 0; l < 8; ++l) lane(cpd, EXACT, got[l], dpool[i + l], {}, lane_note(note, l));
    out(_mm512_castsi512_pd(vi(&ipool[i % (ipool.size() - 8)])), got);
    for (int l = 0; l < 8; ++l)
      lane(csi, EXACT, got[l], ipool[i % (ipool.size() - 8) + l], {}, lane_note(note, l));
  }
}

// -------------------------------------------------------------------------------- arithmetic
template <class V, class R>
void t_pd2(const char* name, const Operands& o, Kind kind, V vec, R ref) {
  Rec& r = rec(name);
  char note[64];
  for (size_t i = 0; i < o.a.size(); i += 8) {
    uint64_t got[8];
    out(vec(vd(&o.a[i]), vd(&o.b[i])), got);
    for (int l = 0; l < 8; ++l) {
      const uint64_t x = o.a[i + l], y = o.b[i + l];
      lane(r, kind, got[l], ref(x, y, l), {x, y}, lane_note(note, l));
    }
  }
}

template <class V, class R>
void t_pd3(const char* name, const Operands& o, Kind kind, V vec, R ref) {
  Rec& r = rec(name);
  char note[64];
  for (size_t i = 0; i < o.a.size(); i += 8) {
    uint64_t got[8];
    out(vec(vd(&o.a[i]), vd(&o.b[i]), vd(&o.c[i])), got);
    for (int l = 0; l < 8; ++l) {
      const uint64_t x = o.a[i + l], y = o.b[i + l], z = o.c[i + l];
      lane(r, kind, got[l], ref(x, y, z), {x, y, z}, lane_note(note, l));
    }
  }
}

void t_arithmetic(const Operands& p, const Operands& t) {
  using D = __m512d;
  t_pd2("_mm512_add_pd", p, D_NAN, [](D a, D b) { return _mm512_add_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(dbl(a) + dbl(b)); });
  t_pd2("_mm512_sub_pd", p, D_NAN, [](D a, D b) { return _mm512_sub_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(dbl(a) - dbl(b)); });
  t_pd2("_mm512_mul_pd", p, D_NAN, [](D a, D b) { return _mm512_mul_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(dbl(a) * dbl(b)); });
  t_pd2("_mm512_div_pd", p, D_NAN, [](D a, D b) { return _mm512_div_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(dbl(a) / dbl(b)); });
  // max / min: exactly the second operand's bits where either is NaN or both are zeros
  t_pd2("_mm512_max_pd", p, EXACT, [](D a, D b) { return _mm512_max_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(max_ref(dbl(a), dbl(b))); });
  t_pd2("_mm512_min_pd", p, EXACT, [](D a, D b) { return _mm512_min_pd(a, b); },
        [](uint64_t a, uint64_t b, int) { return bits_of(min_ref(dbl(a), dbl(b))); });
  // unpack within each 128-bit lane: dst[2j] = a[2j (+1)], dst[2j+1] = b[2j (+1)]; the
  // reference needs the neighbouring lanes, so it reads the operands' arrays
  {
    Rec &lo = rec("_mm512_unpacklo_pd"), &hi = rec("_mm512_unpackhi_pd");
    char note[64];
    for (size_t i = 0; i < p.a.size(); i += 8) {
      uint64_t gl[8], gh[8];
      out(_mm512_unpacklo_pd(vd(&p.a[i]), vd(&p.b[i])), gl);
      out(_mm512_unpackhi_pd(vd(&p.a[i]), vd(&p.b[i])), gh);
      for (int l = 0; l < 8; ++l) {
        const int base = l & ~1;
        const uint64_t wl = (l & 1) ? p.b[i + base] : p.a[i + base];
        const uint64_t wh = (l & 1) ? p.b[i + base + 1] : p.a[i + base + 1];
        lane(lo, EXACT, gl[l], wl, {}, lane_note(note, l));
        lane(hi, EXACT, gh[l], wh, {}, lane_note(note, l));
      }
    }
  }
  t_pd3("_mm512_fmadd_pd", t, D_NAN, [](D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); },
        [](uint64_t a, uint64_t b, uint64_t c) {
          return bits_of(std::fma(dbl(a), dbl(b), dbl(c)));  // a b + c, one rounding
        });
  t_pd3("_mm512_fnmadd_pd", t, D_NAN, [](D a, D b, D c) { return _mm512_fnmadd_pd(a, b, c); },
        [](uint64_t a, uint64_t b, uint64_t c) {
          return bits_of(std::fma(-dbl(a), dbl(b), dbl(c)));  // -(a b) + c
        });
  t_pd3("_mm512_fmsub_pd", t, D_NAN, [](D a, D b, D c) { return _mm512_fmsub_pd(a, b, c); },
        [](uint64_t a, uint64_t b, uint64_t c) {
          return bits_of(std::fma(dbl(a), dbl(b), -dbl(c)));  // a b - c
        });
  t_pd2("_mm512_abs_pd", p, EXACT, [](D a, D) { return _mm512_abs_pd(a); },
        [](uint64_t a, uint64_t, int) { return a & 0x7fffffffffffffffULL; });
}

// rcp14: on the emulation, the correctly rounded 1 / x (simd8.inc's documented stand-in); on
// AVX-512, Intel's bound (relative error below 2^-14; +-0 -> +-inf, +-inf -> +-0, NaN -> NaN)
void t_rcp14(const Operands& p) {
  Rec& r = rec("_mm512_rcp14_pd");
  char note[64];
  for (size_t i = 0; i < p.a.size(); i += 8) {
    uint64_t got[8];
    out(_mm512_rcp14_pd(vd(&p.a[i])), got);
    for (int l = 0; l < 8; ++l) {
      const double x = dbl(p.a[i + l]);
      const uint64_t want = bits_of(1.0 / x);
#if defined(PPV_AVX512_EMULATED)
      lane(r, D_NAN, got[l], want, {p.a[i + l]}, lane_note(note, l));
#else
      const double g = dbl(got[l]), w = 1.0 / x;
      const bool sign = std::signbit(g) == std::signbit(w);
      const bool near = std::isfinite(g) && std::fabs(g - w) <= 0x1p-14 * std::fabs(w);
      const bool tiny = std::fabs(w) < 2 * DBL_MIN && std::fabs(g) < 4 * DBL_MIN;  // subnormal
      const bool huge = std::fabs(w) > 0x1p1023 && std::isinf(g);  // +-0 in; overflow
      lane(r, D_NAN, (sign && (near || tiny || huge)) ? want : got[l], want, {p.a[i + l]},
           lane_note(note, l, " (bound)"));
#endif
    }
  }
}

// ------------------------------------------------------------------------ masks and blends
// the predicates the kernel uses (tests/ops/test_simd8.py checks the list against its sources);
// every other one is checked too, except on the quick build (PPV_SIMD8_QUICK: the planted
// defects' build, which needs only these)
using KERNEL_PREDICATES = std::integer_sequence<int, _CMP_GT_OQ, _CMP_LT_OQ, _CMP_GE_OQ,
                                                _CMP_EQ_OQ, _CMP_NEQ_UQ, _CMP_NGE_UQ,
                                                _CMP_NLT_UQ, _CMP_NLE_UQ>;
constexpr bool kernel_predicate(int p) {
  return p == _CMP_GT_OQ || p == _CMP_LT_OQ || p == _CMP_GE_OQ || p == _CMP_EQ_OQ ||
         p == _CMP_NEQ_UQ || p == _CMP_NGE_UQ || p == _CMP_NLT_UQ || p == _CMP_NLE_UQ;
}

// _mm512_cmp_pd_mask / _mm512_mask_cmp_pd_mask with predicate P; for the kernel's predicates
// also the comparison's mask fed to maskz_mov and mask_blend (on the emulation: a lane mask
// straight from vcmppd)
template <int P>
__attribute__((noinline)) void t_cmp_one(const Operands& p, const std::vector<uint64_t>& kpool) {
  constexpr bool feeds = kernel_predicate(P);
  const std::string suffix = std::string("/") + CMP_NAMES[P];
  Rec &c = rec("_mm512_cmp_pd_mask" + suffix), &mc = rec("_mm512_mask_cmp_pd_mask" + suffix);
  Rec* mz = feeds ? &rec("_mm512_maskz_mov_pd/k from _mm512_cmp_pd_mask" + suffix) : nullptr;
  Rec* bl = feeds ? &rec("_mm512_mask_blend_pd/k from _mm512_cmp_pd_mask" + suffix) : nullptr;
  char note[64];
  for (size_t i = 0; i < p.a.size(); i += 8) {
    const __m512d a = vd(&p.a[i]), b = vd(&p.b[i]);
    const unsigned kb = (unsigned)kpool[(i / 8) % kpool.size()] & 0xff;
    const __mmask8 k = _mm512_cmp_pd_mask(a, b, P);
    const unsigned g = mbits(k);
    const unsigned gm = mbits(_mm512_mask_cmp_pd_mask(kmask(kb), a, b, P));
    uint64_t z[8], bv[8];
    if (feeds) {
      out(_mm512_maskz_mov_pd(k, vd(&p.c[i])), z);
      out(_mm512_mask_blend_pd(k, vd(&p.c[i]), a), bv);
    }
    for (int l = 0; l < 8; ++l) {
      const bool w = cmp_ref(P, dbl(p.a[i + l]), dbl(p.b[i + l]));
      lane(c, EXACT, (g >> l) & 1, w, {p.a[i + l], p.b[i + l]}, lane_note(note, l));
      lane(mc, EXACT, (gm >> l) & 1, w && ((kb >> l) & 1), {p.a[i + l], p.b[i + l], kb},
           lane_note(note, l));
      if (!feeds) continue;
      lane(*mz, EXACT, z[l], w ? p.c[i + l] : 0, {p.a[i + l], p.b[i + l]}, lane_note(note, l));
      lane(*bl, EXACT, bv[l], w ? p.a[i + l] : p.c[i + l], {p.a[i + l], p.b[i + l]},
           lane_note(note, l));
    }
  }
}
template <int... P>
void t_cmp(const Operands& p, const std::vector<uint64_t>& k, std::integer_sequence<int, P...>) {
  (t_cmp_one<P>(p, k), ...);
}

void t_masked(const Operands& t, const std::vector<uint64_t>& kpool) {
  Rec &blend = rec("_mm512_mask_blend_pd"), &mov = rec("_mm512_mask_mov_pd"),
      &movz = rec("_mm512_maskz_mov_pd"), &add = rec("_mm512_mask_add_pd"),
      &mul = rec("_mm512_mask_mul_pd"), &minz = rec("_mm512_maskz_min_pd"),
      &fmaz = rec("_mm512_maskz_fmadd_pd");
  char note[64];
  for (size_t i = 0; i < t.a.size(); i += 8) {
    const unsigned kb = (unsigned)kpool[(i / 8) % kpool.size()] & 0xff;
    const __mmask8 k = kmask(kb);
    const __m512d a = vd(&t.a[i]), b = vd(&t.b[i]), c = vd(&t.c[i]);
    uint64_t g[7][8];
    out(_mm512_mask_blend_pd(k, a, b), g[0]);        // bit set: b
    out(_mm512_mask_mov_pd(c, k, a), g[1]);          // bit set: a, else src c
    out(_mm512_maskz_mov_pd(k, a), g[2]);            // bit set: a, else +0
    out(_mm512_mask_add_pd(c, k, a, b), g[3]);       // bit set: a + b, else src c
    out(_mm512_mask_mul_pd(c, k, a, b), g[4]);       // bit set: a b, else src c
    out(_mm512_maskz_min_pd(k, a, b), g[5]);         // bit set: min(a, b), else +0
    out(_mm512_maskz_fmadd_pd(k, a, b, c), g[6]);    // bit set: a b + c, else +0
    for (int l = 0; l < 8; ++l) {
      const bool on = (kb >> l) & 1;
      const uint64_t x = t.a[i + l], y = t.b[i + l], z = t.c[i + l];
      const double dx = dbl(x), dy = dbl(y), dz = dbl(z);
      lane_note(note, l);
      lane(blend, EXACT, g[0][l], on ? y : x, {kb, x, y}, note);
      lane(mov, EXACT, g[1][l], on ? x : z, {kb, x, z}, note);
      lane(movz, EXACT, g[2][l], on ? x : 0, {kb, x}, note);
      lane(add, on ? D_NAN : EXACT, g[3][l], on ? bits_of(dx + dy) : z, {kb, x, y, z}, note);
      lane(mul, on ? D_NAN : EXACT, g[4][l], on ? bits_of(dx * dy) : z, {kb, x, y, z}, note);
      lane(minz, EXACT, g[5][l], on ? bits_of(min_ref(dx, dy)) : 0, {kb, x, y}, note);
      lane(fmaz, on ? D_NAN : EXACT, g[6][l], on ? bits_of(std::fma(dx, dy, dz)) : 0,
           {kb, x, y, z}, note);
    }
  }
}

// the __mmask8 operators the kernel uses: every mask (pair of masks), as unsigned char's
void t_mask_operators() {
  Rec &from = rec("__mmask8 from int"), &as_u = rec("__mmask8 operator(unsigned)"),
      &as_b = rec("__mmask8 operator(bool)"), &and_ = rec("__mmask8 operator&"),
      &or_ = rec("__mmask8 operator|"), &not_ = rec("__mmask8 operator~"),
      &andeq = rec("__mmask8 operator&="), &oreq = rec("__mmask8 operator|="),
      &eq = rec("__mmask8 operator=="), &ne = rec("__mmask8 operator!="),
      &mz = rec("_mm512_maskz_mov_pd/k from __mmask8 operators");
  for (int v = -300; v <= 600; ++v) {
    const __mmask8 k = v;  // the implicit conversion from an integer (`k = 0` in the kernel)
    lane(from, EXACT, mbits(k), (unsigned char)v, {(uint64_t)v});
  }
  uint64_t ones[8];
  for (int l = 0; l < 8; ++l) ones[l] = bits_of(1.0 + l);
  for (unsigned a = 0; a < 256; ++a) {
    const __mmask8 ka = kmask(a);
    lane(as_u, EXACT, (unsigned)ka, a, {a});
    lane(as_b, EXACT, static_cast<bool>(ka), a != 0, {a});
    const __mmask8 n = ~ka;
    lane(not_, EXACT, mbits(n), (~a) & 0xffu, {a});
    for (int v = -2; v <= 257; ++v) {
      lane(eq, EXACT, ka == v, (int)a == v, {a, (uint64_t)v});
      lane(ne, EXACT, ka != v, (int)a != v, {a, (uint64_t)v});
    }
    for (unsigned b = 0; b < 256; ++b) {
      const __mmask8 kb = kmask(b);
      lane(and_, EXACT, mbits(ka & kb), a & b, {a, b});
      lane(or_, EXACT, mbits(ka | kb), a | b, {a, b});
      __mmask8 x = ka;
      x &= kb;
      lane(andeq, EXACT, mbits(x), a & b, {a, b});
      x = ka;
      x |= kb;
      lane(oreq, EXACT, mbits(x), a | b, {a, b});
      if ((a ^ b) % 7 == 0) {  // the operators' masks feed the masked operations
        uint64_t g[8];
        const __mmask8 k3 = (__mmask8)(~ka) | (ka & kb);
        const unsigned want = ((~a) | (a & b)) & 0xff;
        out(_mm512_maskz_mov_pd(k3, vd(ones)), g);
        for (int l = 0; l < 8; ++l)
          lane(mz, EXACT, g[l], ((want >> l) & 1) ? ones[l] : 0, {a, b, (uint64_t)l});
      }
    }
  }
}

// ------------------------------------------------------------------------ 64-bit integers
// the counts: the kernel's (48, 52), every bit of the count's 6, each side of 63, up to 255
#if defined(PPV_SIMD8_QUICK)
using SHIFT_COUNTS = std::integer_sequence<unsigned, 0, 1, 48, 52, 63, 64>;
#else
using SHIFT_COUNTS = std::integer_sequence<unsigned, 0, 1, 2, 3, 4, 7, 8, 11, 16, 31, 32, 33, 47,
                                           48, 51, 52, 53, 60, 62, 63, 64, 65, 100, 127, 128,
                                           200, 255>;
#endif
template <unsigned N>
__attribute__((noinline)) void t_shift_one(const std::vector<uint64_t>& ip) {
  Rec &srl = rec("_mm512_srli_epi64"), &sll = rec("_mm512_slli_epi64"),
      &sra = rec("_mm512_srai_epi64");
  char note[64];
  for (size_t i = 0; i < ip.size(); i += 8) {
    uint64_t g0[8], g1[8], g2[8];
    const __m512i a = vi(&ip[i]);
    out(_mm512_srli_epi64(a, N), g0);
    out(_mm512_slli_epi64(a, N), g1);
    out(_mm512_srai_epi64(a, N), g2);
    for (int l = 0; l < 8; ++l) {
      std::snprintf(note, sizeof note, "lane %d n %u", l, N);
      lane(srl, EXACT, g0[l], srli_ref(ip[i + l], N), {ip[i + l]}, note);
      lane(sll, EXACT, g1[l], slli_ref(ip[i + l], N), {ip[i + l]}, note);
      lane(sra, EXACT, g2[l], srai_ref(ip[i + l], N), {ip[i + l]}, note);
    }
  }
}
template <unsigned... N>
void t_shifts(const std::vector<uint64_t>& ip, std::integer_sequence<unsigned, N...>) {
  (t_shift_one<N>(ip), ...);
}

void t_integers(const std::vector<uint64_t>& ip, const std::vector<uint64_t>& kpool) {
  Rec &add = rec("_mm512_add_epi64"), &sub = rec("_mm512_sub_epi64"),
      &and_ = rec("_mm512_and_si512"), &cvt = rec("_mm512_cvtepi64_pd"),
      &mn = rec("_mm512_min_epi64"), &mx = rec("_mm512_max_epi64"),
      &gt = rec("_mm512_cmpgt_epi64_mask"), &lt = rec("_mm512_cmplt_epi64_mask"),
      &tst = rec("_mm512_test_epi64_mask"), &madd = rec("_mm512_mask_add_epi64"),
      &mzt = rec("_mm512_maskz_mov_pd/k from _mm512_test_epi64_mask"),
      &mzg = rec("_mm512_maskz_mov_pd/k from _mm512_cmpgt_epi64_mask");
  char note[64];
  const size_t n = ip.size();
  for (size_t i = 0; i < n; i += 8) {
    // b: another of the pool, or related to a (equal, +-1, a single bit, a's complement)
    uint64_t b[8], c[8];
    for (int l = 0; l < 8; ++l) {
      const uint64_t a = ip[i + l], r = rnd();
      switch (r % 6) {
        case 0: b[l] = a; break;
        case 1: b[l] = a + (r & 8 ? 1 : -1); break;
        case 2: b[l] = 1ULL << (rnd() % 64); break;
        case 3: b[l] = ~a; break;
        default: b[l] = ip[(i + l + 8 * (1 + rnd() % 64)) % n];
      }
      c[l] = ip[(i + l + 8 * 7) % n];
    }
    const __m512i va = vi(&ip[i]), vb = vi(b), vc = vi(c);
    const unsigned kb = (unsigned)kpool[(i / 8) % kpool.size()] & 0xff;
    uint64_t g[7][8];
    out(_mm512_add_epi64(va, vb), g[0]);
    out(_mm512_sub_epi64(va, vb), g[1]);
    out(_mm512_and_si512(va, vb), g[2]);
    out(_mm512_cvtepi64_pd(va), g[3]);
    out(_mm512_min_epi64(va, vb), g[4]);
    out(_mm512_max_epi64(va, vb), g[5]);
    out(_mm512_mask_add_epi64(vc, kmask(kb), va, vb), g[6]);
    const unsigned kg = mbits(_mm512_cmpgt_epi64_mask(va, vb));
    const unsigned kl = mbits(_mm512_cmplt_epi64_mask(va, vb));
    const __mmask8 kt = _mm512_test_epi64_mask(va, vb);
    const unsigned ktb = mbits(kt);
    uint64_t zt[8], zg[8];
    out(_mm512_maskz_mov_pd(kt, _mm512_castsi512_pd(vc)), zt);
    out(_mm512_maskz_mov_pd(_mm512_cmpgt_epi64_mask(va, vb), _mm512_castsi512_pd(vc)), zg);
    for (int l = 0; l < 8; ++l) {
      const uint64_t x = ip[i + l], y = b[l];
      const int64_t sx = (int64_t)x, sy = (int64_t)y;
      lane_note(note, l);
      lane(add, EXACT, g[0][l], x + y, {x, y}, note);  // modulo 2^64
      lane(sub, EXACT, g[1][l], x - y, {x, y}, note);
      lane(and_, EXACT, g[2][l], x & y, {x, y}, note);
      lane(cvt, EXACT, g[3][l], bits_of((double)sx), {x}, note);  // rounded to nearest even
      lane(mn, EXACT, g[4][l], sx < sy ? x : y, {x, y}, note);
      lane(mx, EXACT, g[5][l], sx > sy ? x : y, {x, y}, note);
      lane(madd, EXACT, g[6][l], ((kb >> l) & 1) ? x + y : c[l], {kb, x, y, c[l]}, note);
      lane(gt, EXACT, (kg >> l) & 1, sx > sy, {x, y}, note);
      lane(lt, EXACT, (kl >> l) & 1, sx < sy, {x, y}, note);
      lane(tst, EXACT, (ktb >> l) & 1, (x & y) != 0, {x, y}, note);
      lane(mzt, EXACT, zt[l], (x & y) != 0 ? c[l] : 0, {x, y}, note);
      lane(mzg, EXACT, zg[l], sx > sy ? c[l] : 0, {x, y}, note);
    }
  }
}

// --------------------------------------------------------------------------- permutations
void t_permutes(const std::vector<uint64_t>& dp, const std::vector<uint64_t>& ip) {
  Rec &pd = rec("_mm512_permutex2var_pd"), &pi = rec("_mm512_permutex2var_epi64");
  char note[64];
  const size_t n = dp.size() - 16;
  for (size_t i = 0; i + 16 <= n; i += 8) {
    uint64_t idx[8];
    for (int l = 0; l < 8; ++l) {  // any index: only its low 4 bits count
      const uint64_t r = rnd();
      idx[l] = (i / 8) % 3 == 0 ? ((r & ~15ULL) | ((i / 8 + l) & 15)) : (r % 4 ? r : r & 15);
    }
    const uint64_t* a = &dp[i];
    const uint64_t* b = &dp[(i * 7 + 8) % n];
    const uint64_t* ai = &ip[i % (ip.size() - 8)];
    const uint64_t* bi = &ip[(i * 3 + 16) % (ip.size() - 8)];
    uint64_t g[8], gi[8];
    out(_mm512_permutex2var_pd(vd(a), vi(idx), vd(b)), g);
    out(_mm512_permutex2var_epi64(vi(ai), vi(idx), vi(bi)), gi);
    for (int l = 0; l < 8; ++l) {
      const unsigned j = idx[l] & 15;  // of the 16: a's 8 then b's 8
      lane(pd, EXACT, g[l], j < 8 ? a[j] : b[j - 8], {idx[l]}, lane_note(note, l));
      lane(pi, EXACT, gi[l], j < 8 ? ai[j] : bi[j - 8], {idx[l]}, lane_note(note, l));
    }
  }
}

// _mm512_shuffle_f64x2(a, b, imm): 128-bit lane 0 = a's lane imm[1:0], 1 = a's imm[3:2],
// 2 = b's imm[5:4], 3 = b's imm[7:6]
// the kernel's (0x44, 0xee) and others: each of the 4 selectors takes each of its 4 values
#if defined(PPV_SIMD8_QUICK)
using SHUFFLE_IMMEDIATES = std::integer_sequence<int, 0x44, 0xee, 0xe4>;
#else
using SHUFFLE_IMMEDIATES = std::integer_sequence<int, 0x44, 0xee, 0x00, 0x55, 0xaa, 0xff, 0xe4,
                                                0x1b, 0x4e, 0xb1, 0x88, 0xdd, 0x39, 0x93, 0x27,
                                                0xd8>;
#endif
template <int IMM>
__attribute__((noinline)) void t_shuffle_one(const std::vector<uint64_t>& dp) {
  char name[64];
  std::snprintf(name, sizeof name, "_mm512_shuffle_f64x2/0x%02x", IMM);
  Rec& r = rec(name);
  char note[64];
  for (size_t i = 0; i + 16 <= dp.size() && i < 8 * 64; i += 8) {
    const uint64_t* a = &dp[i];
    const uint64_t* b = &dp[dp.size() - 8 - i];
    uint64_t g[8];
    out(_mm512_shuffle_f64x2(vd(a), vd(b), IMM), g);
    for (int l = 0; l < 8; ++l) {
      const int q = l / 2, sel = (IMM >> (2 * q)) & 3;
      const uint64_t want = (q < 2 ? a : b)[2 * sel + (l & 1)];
      lane(r, EXACT, g[l], want, {}, lane_note(note, l));
    }
  }
}
template <int... I>
void t_shuffles(const std::vector<uint64_t>& dp, std::integer_sequence<int, I...>) {
  (t_shuffle_one<I>(dp), ...);
}

// ----------------------------------------------------------------------------- conversions
void t_conversions(const std::vector<uint64_t>& dp) {
  Rec &ps2pd = rec("_mm512_cvtps_pd"), &pd2ps = rec("_mm512_cvtpd_ps");
  char note[64];
  // floats: specials, random patterns, every binade; doubles: the pool, and doubles near floats
  // (ties halfway between two floats, just above / below), the overflow threshold, subnormals
  std::vector<uint32_t> fs = {0, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                              0xffc00000u, 0x7f800001u, 0xff812345u, 0x7fc0beefu, 1u,
                              0x80000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0xff7fffffu,
                              0x3f800000u, 0xbf800000u};
  while (fs.size() < 8 * 2048) {
    const uint32_t r = (uint32_t)rnd();
    fs.push_back(rnd() % 2 ? r : (r & 0x807fffffu) | ((uint32_t)(rnd() % 255) << 23));
  }
  std::vector<uint64_t> ds(dp.begin(), dp.end());
  ds.push_back(bits_of((double)FLT_MAX));
  ds.push_back(bits_of((double)FLT_MAX + 0x1p103));          // halfway to 2^128: rounds to inf
  ds.push_back(bits_of((double)FLT_MAX + 0x1p103 - 0x1p60));  // just below: FLT_MAX
  ds.push_back(bits_of(0x1p-149));
  ds.push_back(bits_of(0x1p-150));                            // a tie: to 0
  ds.push_back(bits_of(0x1p-150 * 3));                        // a tie: to 2^-148
  ds.push_back(bits_of(-0x1p-151));
  for (uint32_t f : fs) {
    const double d = (double)flt(f);
    if (!std::isfinite(d) || d == 0) continue;
    const double half = std::ldexp(1.0, std::ilogb(d) - 24);  // half a float ulp (normal d)
    const double t = d + half;                                // a tie (or one just off it)
    ds.push_back(bits_of(t));
    ds.push_back(bits_of(t) + 1);
    ds.push_back(bits_of(t) - 1);
    if (ds.size() > 8 * 8192) break;
  }
  ds.resize(ds.size() - ds.size() % 8);
  for (size_t i = 0; i < fs.size(); i += 8) {
    __m256 v;
    std::memcpy(&v, &fs[i], 32);
    uint64_t g[8];
    out(_mm512_cvtps_pd(v), g);
    for (int l = 0; l < 8; ++l)
      lane(ps2pd, D_NAN, g[l], bits_of((double)flt(fs[i + l])), {fs[i + l]}, lane_note(note, l));
  }
  for (size_t i = 0; i < ds.size(); i += 8) {
    const __m256 f = _mm512_cvtpd_ps(vd(&ds[i]));
    uint32_t g[8];
    std::memcpy(g, &f, 32);
    for (int l = 0; l < 8; ++l)
      lane(pd2ps, F_NAN, g[l], fbits_of((float)dbl(ds[i + l])), {ds[i + l]}, lane_note(note, l));
  }
}

// --------------------------------------------------------------- fast_math.inc's look-ups
void t_tables(const std::vector<uint64_t>& dp) {
  Rec &logt = rec("fast_log_tables8"), &tpd = rec("fast_table8_pd"), &t64 = rec("fast_table8");
  alignas(64) double table[16];
  alignas(64) uint64_t itable[16];
  char note[64];
  for (int rep = 0; rep < 512; ++rep) {
    for (int j = 0; j < 16; ++j) {
      table[j] = dbl(dp[(rep * 16 + j) % dp.size()]);  // NaNs with payloads among them
      itable[j] = rnd();
    }
    uint64_t idx[8];
    for (int l = 0; l < 8; ++l) {  // every index in some lane; high bits set or not
      const uint64_t r = rnd();
      idx[l] = (rep % 2 ? r & ~15ULL : (r >> (rnd() % 64)) & ~15ULL) | ((rep + 3 * l) & 15);
    }
    const __m512i i = vi(idx);
    __m512d invc, logc, logc_lo;
    fast_log_tables8(i, invc, logc, logc_lo);
    uint64_t g0[8], g1[8], g2[8], g3[8], g4[8], g5[8];
    out(invc, g0);
    out(logc, g1);
    out(logc_lo, g2);
    out(fast_table8_pd(table, i), g3);
    out(fast_table8(itable, i), g4);
    out(fast_table8(FAST_EXP_TAB, i), g5);
    for (int l = 0; l < 8; ++l) {
      const unsigned j = idx[l] & 15;
      lane_note(note, l);
      lane(logt, EXACT, g0[l], bits_of(FAST_LOG_INVC[j]), {idx[l], 0}, note);
      lane(logt, EXACT, g1[l], bits_of(FAST_LOG_LOGC[j]), {idx[l], 1}, note);
      lane(logt, EXACT, g2[l], bits_of(FAST_LOG_LOGC_LO[j]), {idx[l], 2}, note);
      lane(tpd, EXACT, g3[l], bits_of(table[j]), {idx[l]}, note);
      lane(t64, EXACT, g4[l], itable[j], {idx[l]}, note);
      lane(t64, EXACT, g5[l], FAST_EXP_TAB[j], {idx[l]}, note);
    }
  }
}

}  // namespace

extern "C" {
// 1 on the emulated build (simd8.inc's AVX2 forms), 0 on a native AVX-512 build
int ppv_simd8_emulated() {
#if defined(PPV_AVX512_EMULATED)
  return 1;
#else
  return 0;
#endif
}

// runs every check (once per process) and writes the records' lines to out (cap bytes);
// returns the length written, or -(the length needed) where cap is too small
long long ppv_simd8_check(char* dst, long long cap) {
  static std::string report;
  if (report.empty()) {
    const Operands pairs = make_pairs(), triples = make_triples();
    const std::vector<uint64_t> ints = make_ints(8 * 4096);
    std::vector<uint64_t> masks;
    for (unsigned k = 0; k < 256; ++k) masks.push_back(k);
    for (int j = 0; j < 256; ++j) masks.push_back(rnd() & 0xff);
    std::vector<uint64_t> dpool = special_doubles();
    while (dpool.size() < 8 * 2048) dpool.push_back(rand_double());
    t_memory(dpool);
    t_constants(dpool, ints);
    t_arithmetic(pairs, triples);
    t_rcp14(pairs);
#if defined(PPV_SIMD8_QUICK)
    t_cmp(pairs, masks, KERNEL_PREDICATES{});
#else
    t_cmp(pairs, masks, std::make_integer_sequence<int, 32>{});
#endif
    t_masked(triples, masks);
    t_mask_operators();
    t_shifts(ints, SHIFT_COUNTS{});
    t_integers(ints, masks);
    t_permutes(dpool, ints);
    t_shuffles(dpool, SHUFFLE_IMMEDIATES{});
    t_conversions(dpool);
    t_tables(dpool);
    for (const Rec& r : g_recs) {
      char line[160];
      std::snprintf(line, sizeof line, "%s\t%lld\t%lld\t%lld\t%016llx\t", r.name.c_str(),
                    r.cases, r.bad, r.lenient, (unsigned long long)r.hash);
      report += line;
      report += r.first;
      report += "\n";
    }
  }
  if ((long long)report.size() + 1 > cap) return -(long long)(report.size() + 1);
  std::memcpy(dst, report.c_str(), report.size() + 1);
  return (long long)report.size();
}
}

#if defined(PPV_SIMD8_MAIN)
int main() {
  static char report[1 << 20];
  const long long n = ppv_simd8_check(report, sizeof report);
  if (n < 0) return 2;
  std::printf("emulated %d\n%s", ppv_simd8_emulated(), report);
  return 0;
}
#endif
