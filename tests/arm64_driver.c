/* The kernel on another machine: a driver that loads a build of ppool_kernel.cpp, runs the
 * cases of a file written by tests/arm64_check.py (ppv_forward, then ppv_backward) and writes
 * the results, so that a build for ARM64 can be run under qemu-aarch64 on an x86 machine and
 * its outputs compared with this machine's. Compiled with the same cross compiler.
 *
 * Input file: int64 count, then per case int64 plan_len, x_bytes, param_len, y_bytes, nthreads,
 * mode, jac_bytes, dw_len, state_len, ref_len, then plan (plan_len int64), x (x_bytes), param
 * (param_len doubles), gy (y_bytes). Mode 0: ppv_forward then ppv_backward; 1: the disjoint
 * state's pair, ppv_forward_saved (jac of jac_bytes, zeroed first; dw of dw_len doubles) then
 * ppv_backward_saved; 2: the overlap state's pair (weights of state_len floats, dw of dw_len
 * floats, ref of ref_len doubles). Output file: per case int32 forward status, int32 backward status, y (y_bytes),
 * gx (x_bytes), dparam (param_len doubles). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*forward_fn)(const int64_t*, const void*, const double*, void*, int);
typedef int (*backward_fn)(const int64_t*, const void*, const double*, const void*, void*,
                           double*, int);
typedef int (*forward_saved_fn)(const int64_t*, const void*, const double*, void*, void*,
                                double*, int);
typedef int (*backward_saved_fn)(const int64_t*, const void*, const double*, const void*, void*,
                                 double*, int);
typedef int (*forward_overlap_fn)(const int64_t*, const void*, const double*, void*, float*,
                                  float*, double*, int);
typedef int (*backward_overlap_fn)(const int64_t*, const void*, const double*, const float*,
                                   const float*, const double*, const void*, void*, double*,
                                   int);

static void* read_exactly(FILE* f, int64_t n) {
  void* p = malloc(n > 0 ? (size_t)n : 1);
  if (!p || (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n)) {
    fprintf(stderr, "short read\n");
    exit(2);
  }
  return p;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s KERNEL.so CASES.bin OUT.bin\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "%s\n", dlerror());
    return 2;
  }
  forward_fn fwd = (forward_fn)dlsym(lib, "ppv_forward");
  backward_fn bwd = (backward_fn)dlsym(lib, "ppv_backward");
  int64_t (*isa)(void) = (int64_t(*)(void))dlsym(lib, "ppv_vector_isa");
  forward_saved_fn sfwd = (forward_saved_fn)dlsym(lib, "ppv_forward_saved");
  backward_saved_fn sbwd = (backward_saved_fn)dlsym(lib, "ppv_backward_saved");
  forward_overlap_fn ofwd = (forward_overlap_fn)dlsym(lib, "ppv_forward_overlap_saved");
  backward_overlap_fn obwd = (backward_overlap_fn)dlsym(lib, "ppv_backward_overlap_saved");
  if (!fwd || !bwd || !isa || !sfwd || !sbwd || !ofwd || !obwd) {
    fprintf(stderr, "missing entry points\n");
    return 2;
  }
  FILE* in = fopen(argv[2], "rb");
  FILE* out = fopen(argv[3], "wb");
  if (!in || !out) {
    fprintf(stderr, "cannot open the files\n");
    return 2;
  }
  int64_t count;
  if (fread(&count, 8, 1, in) != 1) return 2;
  for (int64_t c = 0; c < count; ++c) {
    int64_t h[10];
    if (fread(h, 8, 10, in) != 10) return 2;
    int64_t* plan = read_exactly(in, h[0] * 8);
    void* x = read_exactly(in, h[1]);
    double* param = read_exactly(in, h[2] * 8);
    void* gy = read_exactly(in, h[3]);
    void* y = calloc(1, (size_t)h[3] + 1);
    void* gx = calloc(1, (size_t)h[1] + 1);
    double* dparam = calloc((size_t)h[2] + 1, 8);
    int32_t st[2];
    const int nt = (int)h[4];
    if (h[5] == 1) {
      void* jac = calloc(1, (size_t)h[6] + 1);
      double* dw = calloc((size_t)h[7] + 1, 8);
      st[0] = sfwd(plan, x, param, y, jac, dw, nt);
      st[1] = sbwd(plan, jac, dw, gy, gx, dparam, nt);
      free(jac); free(dw);
    } else if (h[5] == 2) {
      float* weights = calloc((size_t)h[8] + 1, 4);
      float* dw = calloc((size_t)h[7] + 1, 4);
      double* ref = calloc((size_t)h[9] + 1, 8);
      st[0] = ofwd(plan, x, param, y, weights, dw, ref, nt);
      st[1] = obwd(plan, x, param, weights, dw, ref, gy, gx, dparam, nt);
      free(weights); free(dw); free(ref);
    } else {
      st[0] = fwd(plan, x, param, y, nt);
      st[1] = bwd(plan, x, param, gy, gx, dparam, nt);
    }
    fwrite(st, 4, 2, out);
    fwrite(y, 1, (size_t)h[3], out);
    fwrite(gx, 1, (size_t)h[1], out);
    fwrite(dparam, 8, (size_t)h[2], out);
    free(plan); free(x); free(param); free(gy); free(y); free(gx); free(dparam);
  }
  fclose(out);
  printf("%lld cases, vector code %lld\n", (long long)count, (long long)isa());
  return 0;
}
