/* The TWOPASS_ISA environment variable, run with it set by the test driver.
 *
 * usage: isa_env active NAME     TWOPASS_ISA selects NAME (scalar, avx2, avx512)
 *        isa_env refused STATUS  TWOPASS_ISA is unusable: every computing call returns STATUS
 *                                (4 for an unknown name, 5 for an ISA the CPU lacks) until
 *                                twopass_set_isa overrides it */
#include <stdlib.h>

#include "check.h"

static void check_computing_calls(int32_t want) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8], out = 5.0f;
    const int64_t targets[2] = {0, 3};
    twopass_lse_state state, before;
    twopass_cross_entropy_state row;
    twopass_sample_params params = twopass_sample_params_default();
    twopass_rng_state rng = {1, 2};
    size_t tokens[2] = {99, 99};
    fill(y, 8, 5.0f);
    CHECK_STATUS(twopass_lse_init(&state), TWOPASS_OK);
    before = state;
    /* valid arguments */
    CHECK_STATUS(twopass_softmax_f32(x, y, 8), want);
    CHECK_STATUS(twopass_softmax_f32(y, y, 8), want);
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_TWO_PASS, x, y, 8), want);
    CHECK_STATUS(twopass_log_softmax_f32(x, y, 8), want);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 8, &out), want);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 4, y, 4, 2, 4), want);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, 4, y, 4, 2, 4), want);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 4, 2, 4, y), want);
    CHECK_STATUS(twopass_lse_update_f32(&state, x, 8), want);
    CHECK_STATUS(twopass_cross_entropy_f32(x, 4, 2, 4, targets, NULL, y, NULL, &out, NULL, 0, NULL),
                 want);
    CHECK_STATUS(twopass_sample_f32(x, 8, &params, &rng, tokens), want);
    CHECK_STATUS(twopass_sample_rows_f32(x, 4, 2, 4, &params, &rng, tokens), want);
    /* a split cross-entropy row: init is refused too, so the later calls see no state */
    memset(&row, 0, sizeof row);
    CHECK_STATUS(twopass_cross_entropy_row_init(&row, 8, 2, NULL), want);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&row, NULL, 0, x, 8), want);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&row, &row), want);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&row, NULL, &out, NULL), want);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&row, NULL, 0, x, y, 8, 1.0f), want);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_bf16(NULL, NULL, 0, NULL, NULL, 8, 1.0f), want);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(x, x, NULL, 2, 2, 4, targets, NULL, NULL, NULL,
                                                  &out, y, NULL, NULL, NULL),
                 want);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(NULL, NULL, NULL, 2, 2, 0, NULL, NULL, NULL, NULL,
                                                  NULL, NULL, NULL, NULL, NULL),
                 want);
    /* empty arrays, and arguments that are wrong in every other way: the ISA comes first */
    CHECK_STATUS(twopass_softmax_f32(NULL, NULL, 0), want);
    CHECK_STATUS(twopass_softmax_f32(NULL, y, 8), want);
    CHECK_STATUS(twopass_softmax_with_f32(99, NULL, y, SIZE_MAX), want);
    CHECK_STATUS(twopass_log_softmax_f32(x, NULL, 8), want);
    CHECK_STATUS(twopass_log_sum_exp_f32(NULL, 0, NULL), want);
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 1, y, 4, 2, 4), want);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, 1, y, 4, 2, 4), want);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 4, 2, 4, NULL), want);
    CHECK_STATUS(twopass_lse_update_f32(NULL, NULL, 8), want);
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 0, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL),
                 want);
    CHECK_STATUS(twopass_sample_f32(NULL, 0, NULL, NULL, NULL), want);
    CHECK_STATUS(twopass_sample_rows_f32(NULL, 1, 2, 4, NULL, NULL, NULL), want);
    CHECK(all_equal(y, 8, 5.0f) && out == 5.0f);
    CHECK(tokens[0] == 99 && tokens[1] == 99 && rng.seed == 1 && rng.counter == 2);
    CHECK(memcmp(&state, &before, sizeof state) == 0);
}

int main(int argc, char **argv) {
    float x[4] = {0, 1, 2, 3}, y[4];
    twopass_lse_state a;
    if (argc != 3) {
        fprintf(stderr, "usage: isa_env active NAME | isa_env refused STATUS\n");
        return 2;
    }
    if (strcmp(argv[1], "active") == 0) {
        int32_t want = strcmp(argv[2], "scalar") == 0 ? TWOPASS_ISA_SCALAR
                       : strcmp(argv[2], "avx2") == 0 ? TWOPASS_ISA_AVX2
                       : strcmp(argv[2], "avx512") == 0 ? TWOPASS_ISA_AVX512
                                                        : -1;
        CHECK(twopass_active_isa() == want);
        CHECK_STATUS(twopass_softmax_f32(x, y, 4), TWOPASS_OK);
        CHECK(softmax_ok(x, y, 4));
    } else {
        int32_t want = (int32_t)atoi(argv[2]);
        CHECK(want == TWOPASS_ERROR_INVALID_ARGUMENT || want == TWOPASS_ERROR_UNSUPPORTED_ISA);
        CHECK(twopass_active_isa() == 0);
        check_computing_calls(want);
        /* the calls that do not depend on the ISA work */
        CHECK_STATUS(twopass_lse_init(&a), TWOPASS_OK);
        CHECK_STATUS(twopass_lse_merge(&a, &a), TWOPASS_OK);
        CHECK(twopass_lse_value(&a) == -INFINITY);
        /* a refused twopass_set_isa changes nothing */
        CHECK_STATUS(twopass_set_isa(42), TWOPASS_ERROR_INVALID_ARGUMENT);
        CHECK(twopass_active_isa() == 0);
        check_computing_calls(want);
        /* an accepted one overrides the variable */
        CHECK_STATUS(twopass_set_isa(TWOPASS_ISA_SCALAR), TWOPASS_OK);
        CHECK(twopass_active_isa() == TWOPASS_ISA_SCALAR);
        CHECK_STATUS(twopass_softmax_f32(x, y, 4), TWOPASS_OK);
        CHECK(softmax_ok(x, y, 4));
        CHECK_STATUS(twopass_set_isa(TWOPASS_ISA_AUTO), TWOPASS_OK);
        CHECK(twopass_active_isa() != 0);
        CHECK_STATUS(twopass_log_sum_exp_f32(x, 4, y), TWOPASS_OK);
        CHECK(lse_ok(y[0], ref_lse(x, 4)));
    }
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
