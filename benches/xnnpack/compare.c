/* twopass's softmax (through the C ABI: Auto and three-pass reload) against XNNPACK's f32
   softmax operator (three-pass reload: rmax, raddstoreexpminusmax, vmul, with the microkernels
   XNNPACK picks for this CPU), one thread, inputs uniform in [-1000, 1000], hot buffers, the
   three taking turns repetition by repetition, in the default floating-point environment and
   with FTZ/DAZ on (XNNPACK's kernels make subnormals, which cost microcode assists on Intel
   CPUs without FTZ). Medians of 41 rounds.

   The XNNPACK used is the one inside ExecuTorch's wheel on PyPI, which exports XNNPACK's C API
   (not built by CI; the prototypes below are the API's, declared here so no header is needed):
     pip download --no-deps --only-binary=:all: -d /tmp/et executorch==1.5.1
     (cd /tmp/et && unzip -q -o executorch-*.whl 'executorch/lib/*')
     cargo build --release
     cc -O2 -I include benches/xnnpack/compare.c -L target/release -ltwopass \
        /tmp/et/executorch/lib/libexecutorch_backend_xnnpack.so \
        -Wl,-rpath,"$PWD/target/release:/tmp/et/executorch/lib" -lm -o target/xnnpack-compare
     taskset -c 1 target/xnnpack-compare            # TWOPASS_ISA=avx2 forces twopass's AVX2 path */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xmmintrin.h>
#include "twopass.h"

typedef struct xnn_operator *xnn_operator_t;
int xnn_initialize(const void *allocator);
int xnn_create_softmax_nc_f32(uint32_t flags, xnn_operator_t *op);
int xnn_reshape_softmax_nc_f32(xnn_operator_t op, size_t channels, size_t input_stride,
                               size_t output_stride, size_t batch_size, void *threadpool);
int xnn_setup_softmax_nc_f32(xnn_operator_t op, const float *input, float *output);
int xnn_run_operator(xnn_operator_t op, void *threadpool);
int xnn_delete_operator(xnn_operator_t op);

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int len) {
  qsort(v, len, sizeof *v, cmp_double);
  return v[len / 2];
}

enum { ROUNDS = 41 };

int main(void) {
  if (xnn_initialize(NULL) != 0) {
    fprintf(stderr, "xnn_initialize failed (a CPU XNNPACK does not support?)\n");
    return 1;
  }
  const size_t sizes[] = {256, 1024, 4096, 16384, 65536};
  const unsigned modes[] = {0x1F80, 0x1F80 | 0x8040};
  const char *mode_names[] = {"default", "FTZ/DAZ"};
  printf("elements per ns (median); ratios are twopass / XNNPACK speed\n");
  printf("n        env        Auto  reload  XNNPACK   Auto/XNN  reload/XNN\n");
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint64_t r = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++) {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      x[i] = (float)((r >> 40) * 0x1.0p-24 * 2000.0 - 1000.0);
    }
    xnn_operator_t op = NULL;
    if (xnn_create_softmax_nc_f32(0, &op) != 0 ||
        xnn_reshape_softmax_nc_f32(op, n, n, n, 1, NULL) != 0 ||
        xnn_setup_softmax_nc_f32(op, x, y) != 0) {
      fprintf(stderr, "XNNPACK softmax setup failed at n = %zu\n", n);
      return 1;
    }
    int calls = (int)(4e6 / n) + 1;
    for (int m = 0; m < 2; m++) {
      _mm_setcsr(modes[m]);
      double au[ROUNDS], re[ROUNDS], xn[ROUNDS];
      for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int c = 0; c < calls; c++) twopass_softmax_f32(x, y, n);
        double t1 = now_ns();
        for (int c = 0; c < calls; c++)
          twopass_softmax_with_f32(TWOPASS_ALGORITHM_THREE_PASS_RELOAD, x, y, n);
        double t2 = now_ns();
        for (int c = 0; c < calls; c++) xnn_run_operator(op, NULL);
        double t3 = now_ns();
        au[k] = n / ((t1 - t0) / calls);
        re[k] = n / ((t2 - t1) / calls);
        xn[k] = n / ((t3 - t2) / calls);
      }
      _mm_setcsr(0x1F80);
      double a = median(au, ROUNDS), b = median(re, ROUNDS), c = median(xn, ROUNDS);
      printf("%-8zu %-9s %6.2f %7.2f %8.2f %9.2fx %10.2fx\n", n, mode_names[m], a, b, c, a / c,
             b / c);
    }
    xnn_delete_operator(op);
    free(x);
    free(y);
  }
  return 0;
}
