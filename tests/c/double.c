/* The f64 entry points: values against a double reference, the row and axis forms against the
 * single-row call (same bits), in place, empty and special rows, and the status codes. */
#include "check.h"

#define OUTER 2
#define LEN 13
#define INNER 5
#define TOTAL (OUTER * LEN * INNER)

static double x[TOTAL], y[TOTAL], z[TOTAL];

int main(void) {
    uint64_t s = 3;
    size_t i, o, j, k;
    double row[LEN], a[LEN], b[LEN], lse[OUTER * INNER], out, m = -INFINITY, sum = 0;
    for (i = 0; i < TOTAL; i++) x[i] = 50.0 * (double)uniform(&s, -1.0f, 1.0f) + 1e5;
    /* One row against the reference. */
    CHECK_STATUS(twopass_softmax_f64(x, y, LEN), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_f64(x, z, LEN), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_f64(x, LEN, &out), TWOPASS_OK);
    for (k = 0; k < LEN; k++) m = fmax(m, x[k]);
    for (k = 0; k < LEN; k++) sum += exp(x[k] - m);
    CHECK(fabs(out - (m + log(sum))) <= 1e-15 * fabs(m + log(sum)));
    for (k = 0; k < LEN; k++) {
        double p = exp(x[k] - m) / sum, q = (x[k] - m) - log(sum);
        CHECK(fabs(y[k] - p) <= 1e-13 * p);
        CHECK(fabs(z[k] - q) <= 1e-13 * fmax(1.0, fabs(q)));
    }
    /* In place. */
    memcpy(z, x, sizeof x);
    CHECK_STATUS(twopass_softmax_f64(z, z, LEN), TWOPASS_OK);
    CHECK(memcmp(z, y, LEN * sizeof(double)) == 0);
    /* The axis forms, row by row, as the single-row call. */
    CHECK_STATUS(twopass_softmax_axis_f64(x, y, OUTER, LEN, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_axis_f64(x, z, OUTER, LEN, INNER), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_axis_f64(x, OUTER, LEN, INNER, lse), TWOPASS_OK);
    for (o = 0; o < OUTER; o++)
        for (j = 0; j < INNER; j++) {
            for (k = 0; k < LEN; k++) row[k] = x[(o * LEN + k) * INNER + j];
            CHECK_STATUS(twopass_softmax_f64(row, a, LEN), TWOPASS_OK);
            CHECK_STATUS(twopass_log_softmax_f64(row, b, LEN), TWOPASS_OK);
            CHECK_STATUS(twopass_log_sum_exp_f64(row, LEN, &out), TWOPASS_OK);
            for (k = 0; k < LEN; k++) {
                CHECK(y[(o * LEN + k) * INNER + j] == a[k]);
                CHECK(z[(o * LEN + k) * INNER + j] == b[k]);
            }
            CHECK(lse[o * INNER + j] == out);
        }
    /* Rows with a stride. */
    CHECK_STATUS(twopass_log_sum_exp_rows_f64(x, 7, 3, 5, lse), TWOPASS_OK);
    for (i = 0; i < 3; i++) {
        CHECK_STATUS(twopass_log_sum_exp_f64(x + 7 * i, 5, &out), TWOPASS_OK);
        CHECK(lse[i] == out);
    }
    /* Special and empty rows. */
    row[0] = 1;
    row[1] = NAN;
    CHECK_STATUS(twopass_log_sum_exp_f64(row, 2, &out), TWOPASS_OK);
    CHECK(isnan(out));
    row[1] = INFINITY;
    CHECK_STATUS(twopass_softmax_f64(row, a, 2), TWOPASS_OK);
    CHECK(isnan(a[0]) && isnan(a[1]));
    CHECK_STATUS(twopass_log_sum_exp_f64(NULL, 0, &out), TWOPASS_OK);
    CHECK(out == -INFINITY);
    CHECK_STATUS(twopass_softmax_axis_f64(NULL, NULL, 3, 0, 2), TWOPASS_OK);
    /* Errors, nothing written. */
    for (i = 0; i < TOTAL; i++) z[i] = 7;
    CHECK_STATUS(twopass_softmax_f64(NULL, z, 3), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_f64(x, 3, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_softmax_axis_f64(x, z, SIZE_MAX, 2, 2), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_rows_f64(x, 4, 3, 5, z), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_f64(z, z + 1, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_axis_f64(z, 1, 4, 2, z + 1), TWOPASS_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < TOTAL; i++) CHECK(z[i] == 7);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
