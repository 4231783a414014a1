/* Log-sum-exp through the C ABI against a plain read pass over the same row, the pair #12's
   acceptance compares ("log_sum_exp >= 0.8x a plain read pass at 16M"). The read pass is what a
   C programmer would write to touch every float once: AVX2 loads into four running sums, no
   software prefetch. Inputs uniform in [-1000, 1000], the same hot buffer for every call, the
   two taking turns round by round, in the default floating-point environment and with FTZ/DAZ
   on. Medians of 21 rounds.

   build (from the project root, after cargo build --release):
     cc -O2 -mavx2 -I include benches/c/lse_read.c -L target/release -ltwopass \
        -Wl,-rpath,"$PWD/target/release" -lm -o target/lse-read
   run:  taskset -c 1 target/lse-read        (TWOPASS_ISA=avx2 forces twopass's AVX2 path) */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "twopass.h"

enum { ROUNDS = 21 };

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float read_pass(const float *x, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
  }
  float lanes[8], s = 0;
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (int k = 0; k < 8; k++) s += lanes[k];
  for (; i < n; i++) s += x[i];
  return s;
}

int main(void) {
  const size_t sizes[] = {1u << 20, 1u << 22, 1u << 24, 1u << 26};
  const size_t max_n = sizes[3];
  float *x = malloc(max_n * sizeof *x);
  if (!x) return 1;
  uint64_t state = 42;
  for (size_t i = 0; i < max_n; i++) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    x[i] = (float)((double)(state >> 40) / (double)(1u << 24) * 2000.0 - 1000.0);
  }
  const unsigned modes[] = {0x1F80, 0x1F80 | 0x8040};
  const char *mode_names[] = {"default", "FTZ/DAZ"};
  printf("elements per ns (median of %d rounds); GB/s = 4 bytes per element\n", ROUNDS);
  printf("n        env        read pass (GB/s)   log_sum_exp (GB/s)   lse / read\n");
  volatile float sink = 0;
  for (size_t si = 0; si < 4; si++) {
    size_t n = sizes[si];
    int calls = (int)((1u << 26) / n);
    for (int m = 0; m < 2; m++) {
      _mm_setcsr(modes[m]);
      double t_read[ROUNDS], t_lse[ROUNDS];
      for (int r = -2; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int c = 0; c < calls; c++) sink += read_pass(x, n);
        double t1 = now_ns();
        for (int c = 0; c < calls; c++) {
          float out;
          if (twopass_log_sum_exp_f32(x, n, &out) != 0) return 1;
          sink += out;
        }
        double t2 = now_ns();
        if (r >= 0) {
          t_read[r] = (t1 - t0) / calls;
          t_lse[r] = (t2 - t1) / calls;
        }
      }
      qsort(t_read, ROUNDS, sizeof(double), cmp_double);
      qsort(t_lse, ROUNDS, sizeof(double), cmp_double);
      double read = n / t_read[ROUNDS / 2], lse = n / t_lse[ROUNDS / 2];
      printf("%-8zu %-9s %6.2f (%5.1f)       %6.2f (%5.1f)         %.2fx\n", n, mode_names[m], read,
             4 * read, lse, 4 * lse, lse / read);
    }
  }
  _mm_setcsr(modes[0]);
  free(x);
  return 0;
}
