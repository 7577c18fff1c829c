// GCC 12.2 (Debian 12.2.0-14, aarch64-linux-gnu cross) miscompiles an `omp simd reduction`
// for SVE: the reduction's result is read from memory before the loop's final partial sum is
// stored there, so it is 0 (or the previous outer iteration's sum). A compiler bug, not
// undefined behaviour here: this file is clean under x86-64 -fsanitize=undefined,address, and
// clang 14's SVE build, GCC's +nosve or -fno-tree-vectorize build and every x86 build print the
// right count.
//
// Run (x86-64 host with g++-aarch64-linux-gnu and qemu-user):
//   aarch64-linux-gnu-g++ -O3 -mcpu=neoverse-v1 -fopenmp-simd tests/sve_repro.cpp -o /tmp/sve_repro
//   qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu /tmp/sve_repro
// Expected: "windows with a flagged lane: 1 (want 1)", exit status 0.
// Got (GCC 12.2.0, -O3 -mcpu=neoverse-v1, any SVE vector length 128..2048 bits):
//   "windows with a flagged lane: 0 (want 1)", exit status 1.
// (-fopenmp, as the kernel is built, behaves as -fopenmp-simd here; the kernel's other flags,
// -fno-math-errno -fno-trapping-math -ffp-contract=fast, make no difference.)
// Right answers: -mcpu=neoverse-v1+nosve, -fno-tree-vectorize, -fno-tree-loop-im,
// -fno-schedule-insns -fno-schedule-insns2 -fno-schedule-fusion, -march=armv8-a+sve (the
// generic tuning schedules differently), -msve-vector-bits=256 run at a 256-bit vector length,
// -mcpu=neoverse-n1, clang 14 (--target=aarch64-linux-gnu -O3 -mcpu=neoverse-v1 -fopenmp-simd).
// -O2 -ftree-vectorize -mcpu=neoverse-v1 is wrong too (2: a stale sum from the previous row).
//
// What happens (the GIMPLE and RTL dumps, -fdump-tree-optimized -fdump-rtl-all):
// 1. `reduction(+ : s)` gives s a per-lane "omp simd array" and a loop after the simd loop that
//    adds its VF elements. The simd loop itself is not vectorised ("control flow in loop": the
//    guarded division), so the array is shrunk to VF = 1 element (8 bytes).
// 2. Loop-invariant motion keeps the lane's partial sum in a register and stores it to the
//    array once, after the simd loop.
// 3. The 1-iteration adding loop is vectorised with SVE partial vectors: a predicated load
//    (.MASK_LOAD of a vector([2,2]) double, ld1d with ptrue p0.b, vl1) of the array and an
//    in-order fadda. The load's RTL memory attributes keep the full vector's MEM_EXPR and size
//    (16 x vscale bytes), larger than the 8-byte array; alias analysis then, it seems, rules
//    the load out of touching the array (an access bigger than a variable cannot be to it; not
//    type-based: -fno-strict-aliasing changes nothing), and the scheduler (sched1 / sched2 /
//    sched_fusion, whichever runs) moves the load above the store of the partial sum.
// The final code: `ld1d z2.d, p0/z, [x28]; fadda d0, p0, d0, z2.d; str d1, [sp, 136]` (x28 =
// sp + 136). GCC 11.3 (g++-11-aarch64-linux-gnu) prints 1, but its load carries the same
// oversized memory attributes: the order it keeps is luck.
// Current GCC's expand_partial_load_optab_fn (gcc/internal-fn.cc) clears exactly these
// attributes ("The built MEM_REF does not accurately reflect that the load is only partial.
// Clear it."), so it looks fixed upstream; Debian 12 packages no aarch64 cross GCC newer than
// 12.2 to confirm it with, or which release.
//
// In ppverify's kernel (ppool_kernel.cpp, fast_group's backward): the per-output loop
// `#pragma omp simd reduction(+ : n_slow)` that flags the windows the exact engine must do
// read n_slow as 0 (or a stale sum), so those windows were skipped (c1 = c2 = 0): zero input
// gradients and wrong dy/dalpha. Without +nosve, that loop without its pragma alone makes the
// neoverse-v1 build agree with x86 in 1,953 of 1,953 runs, the one-lane forms' too.
#include <cstdio>

__attribute__((noinline)) void exact_window(int i) { std::printf("exact engine: window %d\n", i); }

// per window i (8 lanes): the lanes that need the exact engine (z > 0 where `zeros`, or a tiny
// m), with 1 / m for the others; returns how many windows had such a lane
__attribute__((noinline)) int windows(const double* m, const double* z, double* out, bool zeros,
                                      int n) {
  int found = 0;
  for (int i = 0; i < n; ++i) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int l = 0; l < 8; ++l) {
      const int k = i * 8 + l;
      const bool slow = (zeros && z[k] > 0.0) || !(m[k] >= 1e-250);
      out[k] = slow ? 0.0 : 1.0 / m[k];
      s += slow ? 1.0 : 0.0;
    }
    if (s > 0.0) {
      exact_window(i);
      ++found;
    }
  }
  return found;
}

int main() {
  double m[24], z[24] = {}, out[24];
  for (int k = 0; k < 24; ++k) m[k] = 1.0 + k;
  z[11] = 1.0;  // window 1, lane 3
  const int found = windows(m, z, out, true, 3);
  std::printf("windows with a flagged lane: %d (want 1)\n", found);
  return found == 1 ? 0 : 1;
}
