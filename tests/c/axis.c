/* The axis entry points (softmax, log-softmax and log-sum-exp along the middle axis of an
 * (outer, len, inner) tensor), f32 against f64 references per row, in place, f16 and bf16
 * against the contiguous entry points on the gathered rows, and the status codes (NULL with and
 * without elements, overflowing shapes, overlap), with nothing written on an error. */
#include "check.h"

#define OUTER 2
#define LEN 23
#define INNER 37
#define TOTAL (OUTER * LEN * INNER)

/* Row (o, j) of the tensor t into row[0..LEN). */
static void gather(const float *t, size_t o, size_t j, float *row) {
    size_t k;
    for (k = 0; k < LEN; k++) row[k] = t[(o * LEN + k) * INNER + j];
}

static void gather16(const uint16_t *t, size_t o, size_t j, uint16_t *row) {
    size_t k;
    for (k = 0; k < LEN; k++) row[k] = t[(o * LEN + k) * INNER + j];
}

static float x[TOTAL], y[TOTAL], z[TOTAL], lse[OUTER * INNER];

static void test_f32(void) {
    uint64_t s = 42;
    size_t i, o, j;
    float row[LEN], out[LEN];
    for (i = 0; i < TOTAL; i++) x[i] = uniform(&s, -30.0f, 30.0f);
    x[5 * INNER + 3] = -INFINITY; /* a masked element in row (0, 3) */
    CHECK_STATUS(twopass_softmax_axis_f32(x, y, OUTER, LEN, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_axis_f32(x, z, OUTER, LEN, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(x, OUTER, LEN, INNER, lse), TWOPASS_OK);
    for (o = 0; o < OUTER; o++)
        for (j = 0; j < INNER; j++) {
            gather(x, o, j, row);
            gather(y, o, j, out);
            CHECK(softmax_ok(row, out, LEN));
            gather(z, o, j, out);
            CHECK(log_softmax_ok(row, out, LEN));
            CHECK(lse_ok(lse[o * INNER + j], ref_lse(row, LEN)));
        }
    /* In place: the same bits. */
    memcpy(z, x, sizeof x);
    CHECK_STATUS(twopass_softmax_axis_f32(z, z, OUTER, LEN, INNER), TWOPASS_OK);
    CHECK(memcmp(y, z, sizeof y) == 0);
    /* A NaN makes its row NaN, and only its row. */
    memcpy(z, x, sizeof x);
    z[(1 * LEN + 4) * INNER + 10] = NAN;
    CHECK_STATUS(twopass_softmax_axis_f32(z, z, OUTER, LEN, INNER), TWOPASS_OK);
    gather(z, 1, 10, out);
    CHECK(all_nan(out, LEN));
    gather(z, 1, 11, out);
    gather(y, 1, 11, row);
    CHECK(memcmp(out, row, sizeof out) == 0);
}

static void test_errors(void) {
    float out[4];
    fill(z, TOTAL, 7.0f);
    fill(out, 4, 7.0f);
    /* Empty tensors: NULL accepted, nothing written. */
    CHECK_STATUS(twopass_softmax_axis_f32(NULL, NULL, 0, LEN, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_axis_f32(NULL, NULL, OUTER, 0, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(NULL, OUTER, LEN, 0, NULL), TWOPASS_OK);
    /* len == 0 with rows: -inf for each. */
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(NULL, 1, 0, 4, out), TWOPASS_OK);
    CHECK(all_equal(out, 4, -INFINITY));
    CHECK_STATUS(twopass_softmax_axis_f32(NULL, z, OUTER, LEN, INNER), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(x, OUTER, LEN, INNER, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_axis_f32(x, z, SIZE_MAX, 2, 2), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(x, SIZE_MAX / 2, 1, 3, z), TWOPASS_ERROR_SHAPE);
    /* Overlap other than in place; misaligned. */
    CHECK_STATUS(twopass_softmax_axis_f32(z, z + 1, 1, LEN, INNER), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(z, 1, LEN, INNER, z + 3), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_axis_f32((const float *)((const char *)x + 1), y, 1, 2, 2),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_equal(z, TOTAL, 7.0f));
}

/* f16 and bf16 (raw bits): each row as the contiguous entry point gives it, within 4 ulp. */
typedef int32_t (*axis_fn)(const uint16_t *, uint16_t *, size_t, size_t, size_t);
typedef int32_t (*row_fn)(const uint16_t *, uint16_t *, size_t);
typedef int32_t (*lse_axis_fn)(const uint16_t *, size_t, size_t, size_t, float *);
typedef int32_t (*lse_fn)(const uint16_t *, size_t, float *);

static uint16_t h[TOTAL], hy[TOTAL];

static void test_half(const char *name, float (*decode)(uint16_t), double ulp, axis_fn softmax_axis,
                      row_fn softmax, axis_fn log_softmax_axis, row_fn log_softmax,
                      lse_axis_fn lse_axis, lse_fn lse_row) {
    uint64_t s = 7;
    size_t i, o, j, k;
    uint16_t row[LEN], got[LEN], want[LEN];
    for (i = 0; i < TOTAL; i++) h[i] = (uint16_t)(0x3000 + (uniform(&s, 0.0f, 4096.0f)));
    for (i = 0; i < 2; i++) {
        axis_fn axis = i ? log_softmax_axis : softmax_axis;
        row_fn contiguous = i ? log_softmax : softmax;
        CHECK_STATUS(axis(h, hy, OUTER, LEN, INNER), TWOPASS_OK);
        for (o = 0; o < OUTER; o++)
            for (j = 0; j < INNER; j++) {
                gather16(h, o, j, row);
                gather16(hy, o, j, got);
                CHECK_STATUS(contiguous(row, want, LEN), TWOPASS_OK);
                for (k = 0; k < LEN; k++) {
                    double a = decode(got[k]), b = decode(want[k]);
                    if (!(fabs(a - b) <= 4 * ulp * fmax(fabs(a), fabs(b)) + (i ? 4e-6 * fmax(1.0, fabs(b)) : 0))) {
                        fprintf(stderr, "%s %s row (%zu, %zu) [%zu]: %g vs %g\n", name,
                                i ? "log_softmax" : "softmax", o, j, k, a, b);
                        failures++;
                    }
                }
            }
    }
    CHECK_STATUS(lse_axis(h, OUTER, LEN, INNER, lse), TWOPASS_OK);
    for (o = 0; o < OUTER; o++)
        for (j = 0; j < INNER; j++) {
            float want_lse;
            gather16(h, o, j, row);
            CHECK_STATUS(lse_row(row, LEN, &want_lse), TWOPASS_OK);
            CHECK(fabs(lse[o * INNER + j] - want_lse) <= 4e-6 * fmax(1.0, fabs(want_lse)));
        }
}

int main(void) {
    test_f32();
    test_errors();
    test_half("f16", f16_to_float, 1.0 / 1024, twopass_softmax_axis_f16, twopass_softmax_f16,
              twopass_log_softmax_axis_f16, twopass_log_softmax_f16, twopass_log_sum_exp_axis_f16,
              twopass_log_sum_exp_f16);
    test_half("bf16", bf16_to_float, 1.0 / 128, twopass_softmax_axis_bf16, twopass_softmax_bf16,
              twopass_log_softmax_axis_bf16, twopass_log_softmax_bf16,
              twopass_log_sum_exp_axis_bf16, twopass_log_sum_exp_bf16);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
