/* The f16 / bf16 entry points: values against f64 references on the decoded inputs, in place,
 * every algorithm, rows (softmax, log-softmax, log-sum-exp), the streaming state, f16 and bf16
 * cross-entropy against the f32 one, and the status codes (NULL, misaligned, unknown
 * algorithm). */
#include "check.h"

#define N 37
static const uint16_t F16[5] = {0x3C00 /* 1 */, 0x4000 /* 2 */, 0x4200 /* 3 */, 0xBC00 /* -1 */, 0xFC00 /* -inf */};

static void test_f16(void) {
    uint16_t x[N], y[N], z[N];
    float xf[N];
    double lse, sum = 0;
    float out = 0;
    size_t i;
    int a;
    twopass_lse_state st;
    for (i = 0; i < N; i++) { x[i] = F16[i % 5]; xf[i] = f16_to_float(x[i]); }
    lse = ref_lse(xf, N);
    CHECK_STATUS(twopass_softmax_f16(x, y, N), TWOPASS_OK);
    for (i = 0; i < N; i++) {
        double want = exp((double)xf[i] - lse), got = f16_to_float(y[i]);
        CHECK(fabs(got - want) <= 2e-3 * want + 1e-7);
        sum += got;
    }
    CHECK(fabs(sum - 1.0) < 1e-2);
    CHECK(y[4] == 0); /* -inf gives 0 */
    memcpy(z, x, sizeof x);
    CHECK_STATUS(twopass_softmax_f16(z, z, N), TWOPASS_OK);
    CHECK(memcmp(y, z, sizeof y) == 0);
    for (a = 0; a <= 5; a++) {
        CHECK_STATUS(twopass_softmax_with_f16(a, x, z, N), TWOPASS_OK);
        for (i = 0; i < N; i++) CHECK(fabs(f16_to_float(z[i]) - f16_to_float(y[i])) <= 2e-3 * f16_to_float(y[i]) + 1e-7);
    }
    CHECK_STATUS(twopass_softmax_with_f16(99, x, z, N), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_softmax_f16(x, y, N), TWOPASS_OK);
    for (i = 0; i < N; i++) {
        double want = (double)xf[i] - lse, got = f16_to_float(y[i]);
        if (isinf(want)) CHECK(isinf(got) && got < 0);
        else CHECK(fabs(got - want) <= 2e-3 * fabs(want) + 2e-6);
    }
    CHECK_STATUS(twopass_log_sum_exp_f16(x, N, &out), TWOPASS_OK);
    CHECK(fabs(out - lse) <= 2e-6 * fabs(lse) + 2e-6);
    CHECK_STATUS(twopass_lse_init(&st), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f16(&st, x, 20), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f16(&st, x + 20, N - 20), TWOPASS_OK);
    CHECK(fabs(twopass_lse_value(&st) - lse) <= 2e-6 * fabs(lse) + 2e-6);
    /* errors: NULL with n > 0, misaligned, nothing written */
    memset(z, 0xAB, sizeof z);
    CHECK_STATUS(twopass_softmax_f16(NULL, z, N), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_f16((const uint16_t *)((const char *)x + 1), z, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_f16(x, N, NULL), TWOPASS_ERROR_NULL_POINTER);
    for (i = 0; i < N; i++) CHECK(z[i] == 0xABAB);
    /* a NaN makes the row NaN */
    x[7] = 0x7E00;
    CHECK_STATUS(twopass_softmax_f16(x, y, N), TWOPASS_OK);
    for (i = 0; i < N; i++) CHECK(isnan(f16_to_float(y[i])));
}

static void test_bf16(void) {
    enum { ROWS = 3, COLS = 19, STRIDE = 24 };
    uint16_t x[ROWS * STRIDE], y[ROWS * STRIDE], g[ROWS * STRIDE], gi[ROWS * STRIDE];
    float xf[ROWS * STRIDE], gf[ROWS * STRIDE], losses[ROWS], losses32[ROWS], loss = 0, loss32 = 0, out;
    int64_t targets[ROWS] = {3, -100, 18};
    uint64_t seed = 11;
    size_t r, i;
    for (i = 0; i < ROWS * STRIDE; i++) {
        x[i] = float_to_bf16(bf16_to_float(float_to_bf16(uniform(&seed, -6.0f, 6.0f))));
        xf[i] = bf16_to_float(x[i]);
    }
    memset(y, 0xCD, sizeof y);
    CHECK_STATUS(twopass_softmax_rows_bf16(x, STRIDE, y, STRIDE, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        double lse = ref_lse(xf + r * STRIDE, COLS);
        for (i = 0; i < COLS; i++) {
            double want = exp((double)xf[r * STRIDE + i] - lse), got = bf16_to_float(y[r * STRIDE + i]);
            CHECK(fabs(got - want) <= 1.6e-2 * want + 1e-7);
        }
        for (i = COLS; i < STRIDE; i++) CHECK(y[r * STRIDE + i] == 0xCDCD); /* padding untouched */
        CHECK_STATUS(twopass_log_sum_exp_bf16(x + r * STRIDE, COLS, &out), TWOPASS_OK);
        CHECK(fabs(out - lse) <= 2e-6 * fabs(lse) + 2e-6);
    }
    CHECK_STATUS(twopass_softmax_bf16(x, y, COLS), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_bf16(x, y, COLS), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_with_bf16(TWOPASS_ALGORITHM_BLOCKED, x, y, COLS), TWOPASS_OK);
    /* cross-entropy: bf16 == f32 on the widened logits, the gradient rounded once */
    CHECK_STATUS(twopass_cross_entropy_bf16(x, STRIDE, ROWS, COLS, targets, NULL, losses, NULL, &loss, g, STRIDE, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_f32(xf, STRIDE, ROWS, COLS, targets, NULL, losses32, NULL, &loss32, gf, STRIDE, NULL), TWOPASS_OK);
    CHECK(loss == loss32 && memcmp(losses, losses32, sizeof losses) == 0);
    for (r = 0; r < ROWS; r++)
        for (i = 0; i < COLS; i++) {
            float want = gf[r * STRIDE + i], got = bf16_to_float(g[r * STRIDE + i]);
            CHECK(fabs(got - want) <= 4e-3 * fabs(want));
        }
    memcpy(gi, x, sizeof x);
    CHECK_STATUS(twopass_cross_entropy_bf16(gi, STRIDE, ROWS, COLS, targets, NULL, NULL, NULL, NULL, gi, STRIDE, NULL), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) CHECK(memcmp(gi + r * STRIDE, g + r * STRIDE, COLS * sizeof g[0]) == 0);
    targets[1] = COLS;
    CHECK_STATUS(twopass_cross_entropy_bf16(x, STRIDE, ROWS, COLS, targets, NULL, losses, NULL, &loss, g, STRIDE, NULL), TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
}

/* The row-wise twins of both 16-bit types: each row of log_softmax_rows and log_sum_exp_rows as
 * the single-row call gives it (the same bits), padding untouched; and cross_entropy_f16 against
 * the f32 one on the widened logits (the same losses, the gradient rounded once). */
typedef int32_t (*rows_fn)(const uint16_t *, size_t, uint16_t *, size_t, size_t, size_t);
typedef int32_t (*row_fn)(const uint16_t *, uint16_t *, size_t);
typedef int32_t (*lse_rows_fn)(const uint16_t *, size_t, size_t, size_t, float *);
typedef int32_t (*lse_fn)(const uint16_t *, size_t, float *);

static void test_rows_twins(rows_fn log_softmax_rows, row_fn log_softmax, lse_rows_fn lse_rows, lse_fn lse) {
    enum { ROWS = 4, COLS = 21, STRIDE = 26 };
    uint16_t x[ROWS * STRIDE], y[ROWS * STRIDE], want[COLS];
    float out[ROWS], one;
    uint64_t seed = 5;
    size_t r, i;
    for (i = 0; i < ROWS * STRIDE; i++)
        x[i] = (uint16_t)(((uint64_t)uniform(&seed, 0.0f, 2.0f) << 15) | (0x3800 + (uint16_t)uniform(&seed, 0.0f, 4096.0f)));
    memset(y, 0xCD, sizeof y);
    CHECK_STATUS(log_softmax_rows(x, STRIDE, y, STRIDE, ROWS, COLS), TWOPASS_OK);
    CHECK_STATUS(lse_rows(x, STRIDE, ROWS, COLS, out), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK_STATUS(log_softmax(x + r * STRIDE, want, COLS), TWOPASS_OK);
        CHECK(memcmp(y + r * STRIDE, want, sizeof want) == 0);
        for (i = COLS; i < STRIDE; i++) CHECK(y[r * STRIDE + i] == 0xCDCD);
        CHECK_STATUS(lse(x + r * STRIDE, COLS, &one), TWOPASS_OK);
        CHECK(memcmp(&out[r], &one, sizeof one) == 0);
    }
    /* In place, same stride. */
    memcpy(y, x, sizeof x);
    CHECK_STATUS(log_softmax_rows(y, STRIDE, y, STRIDE, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK_STATUS(log_softmax(x + r * STRIDE, want, COLS), TWOPASS_OK);
        CHECK(memcmp(y + r * STRIDE, want, sizeof want) == 0);
    }
    CHECK_STATUS(lse_rows(NULL, STRIDE, ROWS, COLS, out), TWOPASS_ERROR_NULL_POINTER);
}

static void test_cross_entropy_f16(void) {
    enum { ROWS = 3, COLS = 19, STRIDE = 24 };
    uint16_t x[ROWS * STRIDE], g[ROWS * STRIDE], gi[ROWS * STRIDE];
    float xf[ROWS * STRIDE], gf[ROWS * STRIDE], losses[ROWS], losses32[ROWS], loss = 0, loss32 = 0;
    int64_t targets[ROWS] = {3, -100, 18};
    uint64_t seed = 13;
    size_t r, i;
    for (i = 0; i < ROWS * STRIDE; i++) {
        x[i] = (uint16_t)(((uint64_t)uniform(&seed, 0.0f, 2.0f) << 15) | (0x3800 + (uint16_t)uniform(&seed, 0.0f, 4096.0f)));
        xf[i] = f16_to_float(x[i]);
    }
    CHECK_STATUS(twopass_cross_entropy_f16(x, STRIDE, ROWS, COLS, targets, NULL, losses, NULL, &loss, g, STRIDE, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_f32(xf, STRIDE, ROWS, COLS, targets, NULL, losses32, NULL, &loss32, gf, STRIDE, NULL), TWOPASS_OK);
    CHECK(loss == loss32 && memcmp(losses, losses32, sizeof losses) == 0);
    for (r = 0; r < ROWS; r++)
        for (i = 0; i < COLS; i++) {
            float want = gf[r * STRIDE + i], got = f16_to_float(g[r * STRIDE + i]);
            CHECK(fabs(got - want) <= 4.9e-4 * fabs(want) + 3e-8);
        }
    memcpy(gi, x, sizeof x);
    CHECK_STATUS(twopass_cross_entropy_f16(gi, STRIDE, ROWS, COLS, targets, NULL, NULL, NULL, NULL, gi, STRIDE, NULL), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) CHECK(memcmp(gi + r * STRIDE, g + r * STRIDE, COLS * sizeof g[0]) == 0);
    /* log_prob, ignored row included: each row within 4 ulp of f16 (plus log-softmax's
     * 2e-6 * max(1, |y|)) of the single-row f16 log-softmax. */
    {
        uint16_t lp[ROWS * STRIDE], want[COLS];
        float loss2;
        CHECK_STATUS(twopass_cross_entropy_log_prob_f16(x, STRIDE, ROWS, COLS, targets, NULL, NULL, NULL, &loss2, NULL, 0, NULL, lp, STRIDE), TWOPASS_OK);
        CHECK(loss2 == loss);
        for (r = 0; r < ROWS; r++) {
            CHECK_STATUS(twopass_log_softmax_f16(x + r * STRIDE, want, COLS), TWOPASS_OK);
            for (i = 0; i < COLS; i++) {
                double a = f16_to_float(lp[r * STRIDE + i]), b = f16_to_float(want[i]);
                CHECK(fabs(a - b) <= 4.0 / 1024 * fabs(b) + 4e-6 * fmax(1.0, fabs(b)));
            }
        }
        CHECK_STATUS(twopass_cross_entropy_log_prob_bf16(x, STRIDE, ROWS, COLS, targets, NULL, NULL, NULL, &loss2, NULL, 0, NULL, lp, 3), TWOPASS_ERROR_SHAPE);
    }
    /* (1, COLS, ROWS) f16 and bf16 tensors: the packed rows' results, bit for bit. */
    {
        uint16_t tensor[ROWS * COLS], gt[ROWS * COLS], gp[ROWS * STRIDE];
        float l1[ROWS], l2[ROWS], loss1, loss2;
        int bf;
        for (r = 0; r < ROWS; r++)
            for (i = 0; i < COLS; i++) tensor[i * ROWS + r] = x[r * STRIDE + i];
        for (bf = 0; bf < 2; bf++) {
            CHECK_STATUS((bf ? twopass_cross_entropy_log_prob_bf16 : twopass_cross_entropy_log_prob_f16)(
                             x, STRIDE, ROWS, COLS, targets, NULL, l1, NULL, &loss1, gp, STRIDE, NULL, NULL, 0),
                         TWOPASS_OK);
            CHECK_STATUS((bf ? twopass_cross_entropy_axis_bf16 : twopass_cross_entropy_axis_f16)(
                             tensor, 1, COLS, ROWS, targets, NULL, l2, NULL, &loss2, gt, NULL, NULL),
                         TWOPASS_OK);
            CHECK(loss1 == loss2 && memcmp(l1, l2, sizeof l1) == 0);
            for (r = 0; r < ROWS; r++)
                for (i = 0; i < COLS; i++) CHECK(gt[i * ROWS + r] == gp[r * STRIDE + i]);
        }
    }
    targets[1] = COLS;
    CHECK_STATUS(twopass_cross_entropy_f16(x, STRIDE, ROWS, COLS, targets, NULL, losses, NULL, &loss, g, STRIDE, NULL), TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
}

int main(void) {
    test_f16();
    test_bf16();
    test_rows_twins(twopass_log_softmax_rows_f16, twopass_log_softmax_f16, twopass_log_sum_exp_rows_f16, twopass_log_sum_exp_f16);
    test_rows_twins(twopass_log_softmax_rows_bf16, twopass_log_softmax_bf16, twopass_log_sum_exp_rows_bf16, twopass_log_sum_exp_bf16);
    test_cross_entropy_f16();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
