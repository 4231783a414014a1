/* A few helpers shared by the C tests: CHECK macros that count failures, a deterministic
 * generator and f64 references. */
#ifndef TWOPASS_TEST_CHECK_H
#define TWOPASS_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "twopass.h"

static int failures = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
            failures++;                                                                \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(call, want)                                                       \
    do {                                                                               \
        int32_t got_ = (call);                                                         \
        if (got_ != (want)) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__,    \
                    __LINE__, #call, (int)got_, twopass_status_message(got_),          \
                    (int)(want), twopass_status_message(want));                        \
            failures++;                                                                \
        }                                                                              \
    } while (0)

/* Uniform in [lo, hi), from a 64-bit LCG: the same numbers on every run. */
static inline float uniform(uint64_t *s, float lo, float hi) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((double)(*s >> 11) / 9007199254740992.0);
}

static inline void fill(float *x, size_t n, float v) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = v;
}

/* Every element equals v (bitwise for NaN-free v). */
static inline int all_equal(const float *x, size_t n, float v) {
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] != v) return 0;
    return 1;
}

static inline int all_nan(const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!isnan(x[i])) return 0;
    return 1;
}

/* ln(sum exp(x)) in double, for rows of finite values and -inf. */
static inline double ref_lse(const float *x, size_t n) {
    double m = -INFINITY, s = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] > m) m = x[i];
    if (m == -INFINITY) return -INFINITY;
    for (i = 0; i < n; i++) s += exp((double)x[i] - m);
    return m + log(s);
}

/* y meets docs/accuracy.md's softmax bounds for x (finite rows). */
static inline int softmax_ok(const float *x, const float *y, size_t n) {
    double m = -INFINITY, s = 0.0, mass = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] > m) m = x[i];
    for (i = 0; i < n; i++) s += exp((double)x[i] - m);
    for (i = 0; i < n; i++) {
        double ref = exp((double)x[i] - m) / s, err = fabs(y[i] - ref);
        mass += err;
        if (!(y[i] >= 0.0f && y[i] <= 1.0f) || err > 1e-5 * ref + 1e-37) return 0;
    }
    return mass <= 2e-6;
}

/* y meets docs/accuracy.md's log-softmax bound for x (finite rows, -inf allowed). */
static inline int log_softmax_ok(const float *x, const float *y, size_t n) {
    double lse = ref_lse(x, n);
    size_t i;
    for (i = 0; i < n; i++) {
        double ref = (double)x[i] - lse;
        if (x[i] == -INFINITY) {
            if (y[i] != -INFINITY) return 0;
            continue;
        }
        if (!(fabs(y[i] - ref) <= 2e-6 * fmax(1.0, fabs(ref)))) return 0;
    }
    return 1;
}

static inline int lse_ok(double v, double ref) {
    if (isinf(ref) || isnan(ref)) return v == ref || (isnan(v) && isnan(ref));
    return fabs(v - ref) <= 2e-6 * fmax(1.0, fabs(ref));
}

/* IEEE binary16 bits to float (exact). */
static inline float f16_to_float(uint16_t h) {
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexpf((float)m, -24);
    else v = ldexpf((float)(m | 1024), e - 25);
    return sign ? -v : v;
}

/* bfloat16 bits to float (exact). */
static inline float bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float to bfloat16 bits, rounded to nearest even (finite inputs). */
static inline uint16_t float_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

#endif
