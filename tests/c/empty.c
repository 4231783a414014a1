/* Empty tensors (issue #13): every entry point that takes arrays accepts NULL for an array of no
 * element (n == 0, rows == 0, cols == 0, or an axis tensor with a 0 dimension), writes only
 * the outputs it has (-inf log-sum-exps of empty rows), and still refuses NULL where an array
 * has elements. */
#include "check.h"

int main(void) {
    float out[3] = {7, 7, 7}, loss = 7;
    struct twopass_lse_state st;
    int a;
    CHECK_STATUS(twopass_softmax_f32(NULL, NULL, 0), TWOPASS_OK);
    for (a = 0; a <= 5; a++) CHECK_STATUS(twopass_softmax_with_f32(a, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_f32(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_f32(NULL, 0, out), TWOPASS_OK);
    CHECK(out[0] == -INFINITY);
    /* Rows of no column, and no rows. */
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 5, NULL, 5, 3, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 0, NULL, 0, 3, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 9, NULL, 9, 0, 7), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_rows_f32(NULL, 5, NULL, 5, 3, 0), TWOPASS_OK);
    fill(out, 3, 7.0f);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(NULL, 4, 3, 0, out), TWOPASS_OK);
    CHECK(all_equal(out, 3, -INFINITY));
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(NULL, 4, 0, 5, NULL), TWOPASS_OK);
    /* Half precision. */
    CHECK_STATUS(twopass_softmax_f16(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_with_f16(1, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_f16(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_f16(NULL, 0, out), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_rows_f16(NULL, 3, NULL, 3, 4, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_bf16(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_with_bf16(2, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_bf16(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_bf16(NULL, 0, out), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_rows_bf16(NULL, 3, NULL, 3, 4, 0), TWOPASS_OK);
    /* The streaming state. */
    CHECK_STATUS(twopass_lse_init(&st), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&st, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f16(&st, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_bf16(&st, NULL, 0), TWOPASS_OK);
    CHECK(twopass_lse_value(&st) == -INFINITY);
    /* Cross-entropy of no rows: every array NULL, the mean NaN. */
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 0, 0, 5, NULL, NULL, NULL, NULL, &loss, NULL, 0, NULL),
                 TWOPASS_OK);
    CHECK(isnan(loss));
    CHECK_STATUS(twopass_cross_entropy_bf16(NULL, 0, 0, 5, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_OK);
    /* Axis tensors with a 0 dimension. */
    CHECK_STATUS(twopass_softmax_axis_f32(NULL, NULL, 2, 0, 3), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_axis_f16(NULL, NULL, 0, 4, 3), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_axis_bf16(NULL, NULL, 2, 4, 0), TWOPASS_OK);
    fill(out, 3, 7.0f);
    CHECK_STATUS(twopass_log_sum_exp_axis_f32(NULL, 1, 0, 3, out), TWOPASS_OK);
    CHECK(all_equal(out, 3, -INFINITY));
    /* The newer families: split rows, log-sum-exp rows and axes of half rows, cross-entropy's
     * log_prob and axis forms, its split row, the fused linear layer, all with nothing to read. */
    CHECK_STATUS(twopass_softmax_finish_f32(&st, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_finish_f16(&st, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_finish_bf16(&st, NULL, NULL, 0), TWOPASS_OK);
    fill(out, 3, 7.0f);
    CHECK_STATUS(twopass_log_sum_exp_rows_f16(NULL, 4, 3, 0, out), TWOPASS_OK);
    CHECK(all_equal(out, 3, -INFINITY));
    fill(out, 3, 7.0f);
    CHECK_STATUS(twopass_log_sum_exp_axis_bf16(NULL, 1, 0, 3, out), TWOPASS_OK);
    CHECK(all_equal(out, 3, -INFINITY));
    loss = 7;
    CHECK_STATUS(twopass_cross_entropy_log_prob_f32(NULL, 0, 0, 5, NULL, NULL, NULL, NULL, &loss,
                                                    NULL, 0, NULL, NULL, 0),
                 TWOPASS_OK);
    CHECK(isnan(loss));
    CHECK_STATUS(twopass_cross_entropy_log_prob_f16(NULL, 0, 0, 5, NULL, NULL, NULL, NULL, NULL,
                                                    NULL, 0, NULL, NULL, 0),
                 TWOPASS_OK);
    loss = 7;
    CHECK_STATUS(twopass_cross_entropy_axis_f32(NULL, 0, 5, 3, NULL, NULL, NULL, NULL, &loss, NULL,
                                                NULL, NULL),
                 TWOPASS_OK);
    CHECK(isnan(loss));
    CHECK_STATUS(twopass_cross_entropy_axis_bf16(NULL, 2, 5, 0, NULL, NULL, NULL, NULL, NULL, NULL,
                                                 NULL, NULL),
                 TWOPASS_OK);
    {
        struct twopass_cross_entropy_state cs;
        CHECK_STATUS(twopass_cross_entropy_row_init(&cs, 3, 0, NULL), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_update_f32(&cs, NULL, 0, NULL, 0), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_update_f16(&cs, NULL, 3, NULL, 0), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_update_bf16(&cs, NULL, 1, NULL, 0), TWOPASS_OK);
    }
    loss = 7;
    CHECK_STATUS(twopass_linear_cross_entropy_f32(NULL, NULL, NULL, 0, 4, 0, NULL, NULL, NULL, NULL,
                                                  &loss, NULL, NULL, NULL, NULL),
                 TWOPASS_OK);
    CHECK(isnan(loss));
    /* Still refused where an array has elements. */
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 5, out, 5, 1, 1), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(out, 4, 1, 0, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 5, 1, 5, NULL, NULL, NULL, NULL, &loss, NULL, 0, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_axis_f32(NULL, NULL, 1, 1, 1), TWOPASS_ERROR_NULL_POINTER);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
