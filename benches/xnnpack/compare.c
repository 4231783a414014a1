/* twopass's Auto softmax (through the C ABI) against XNNPACK's f32 softmax operator (three-pass
   reload: rmax, raddstoreexpminusmax, vmulc, with the microkernels XNNPACK picks for this CPU),
   one thread, inputs uniform in [-1000, 1000], hot buffers, the two taking turns repetition by
   repetition; in the default floating-point environment and with FTZ/DAZ on (XNNPACK's kernels
   make subnormals, which cost microcode assists on Intel CPUs without FTZ).

   Debian's XNNPACK (not built by CI):
     apt-get install libxnnpack-dev libpthreadpool-dev
     cargo build --release
     cc -O2 -I include benches/xnnpack/compare.c -L target/release -ltwopass -lXNNPACK \
        -Wl,-rpath,"$PWD/target/release" -lm -o target/xnnpack-compare
     taskset -c 1 target/xnnpack-compare */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xmmintrin.h>
#include <xnnpack.h>
#include "twopass.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum { ROUNDS = 41 };

int main(void) {
  if (xnn_initialize(NULL) != xnn_status_success) {
    fprintf(stderr, "xnn_initialize failed (a CPU XNNPACK does not support?)\n");
    return 1;
  }
  const size_t sizes[] = {1024, 4096, 16384, 65536};
  const unsigned modes[] = {0x1F80, 0x1F80 | 0x8040};
  const char *mode_names[] = {"default", "FTZ/DAZ"};
  printf("n        env       twopass Auto   XNNPACK    twopass / XNNPACK (elements per ns; ratio of speeds)\n");
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint64_t r = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++) {
      r ^= r << 13; r ^= r >> 7; r ^= r << 17;
      x[i] = (float)((r >> 40) * 0x1.0p-24 * 2000.0 - 1000.0);
    }
    xnn_operator_t op = NULL;
    if (xnn_create_softmax_nc_f32(n, n, n, 0, &op) != xnn_status_success ||
        xnn_setup_softmax_nc_f32(op, 1, x, y, NULL) != xnn_status_success) {
      fprintf(stderr, "XNNPACK softmax setup failed at n = %zu\n", n);
      return 1;
    }
    int calls = (int)(2e6 / n) + 1;
    for (int m = 0; m < 2; m++) {
      _mm_setcsr(modes[m]);
      double tp[ROUNDS], xn[ROUNDS];
      for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int c = 0; c < calls; c++) twopass_softmax_f32(x, y, n);
        double t1 = now_ns();
        for (int c = 0; c < calls; c++) xnn_run_operator(op, NULL);
        double t2 = now_ns();
        tp[k] = (t1 - t0) / calls;
        xn[k] = (t2 - t1) / calls;
      }
      _mm_setcsr(0x1F80);
      qsort(tp, ROUNDS, sizeof *tp, cmp_double);
      qsort(xn, ROUNDS, sizeof *xn, cmp_double);
      double a = n / tp[ROUNDS / 2], b = n / xn[ROUNDS / 2];
      printf("%-8zu %-9s %12.2f %9.2f %12.2fx\n", n, mode_names[m], a, b, a / b);
    }
    xnn_delete_operator(op);
    free(x);
    free(y);
  }
  return 0;
}
