/* Every exported function of libtwopass through the C ABI: results on every ISA the CPU has,
 * in-place use, each status code and their precedence, nothing written on error.
 *
 * usage: abi BEST SUPPORTED...   (ISA names as in TWOPASS_ISA: scalar, avx2, avx512)
 * Compiled with -DTWOPASS_TEST_VERSION='"x.y.z"', the crate's version. */
#include <stdlib.h>

#include "check.h"

#define N_MAX 5000
#define SENTINEL 12345.0f

static const char *const ISA_NAMES[] = {"scalar", "avx2", "avx512"};
static const int32_t ISA_CODES[] = {TWOPASS_ISA_SCALAR, TWOPASS_ISA_AVX2, TWOPASS_ISA_AVX512};

static int32_t isa_code(const char *name) {
    int i;
    for (i = 0; i < 3; i++)
        if (strcmp(name, ISA_NAMES[i]) == 0) return ISA_CODES[i];
    fprintf(stderr, "unknown ISA name %s\n", name);
    exit(2);
}

static void test_version_and_messages(void) {
    int32_t a, b;
    const char *unknown = twopass_status_message(7);
    CHECK(TWOPASS_ABI_VERSION == 1);
    CHECK(strcmp(twopass_version(), TWOPASS_TEST_VERSION) == 0);
    CHECK(unknown != NULL && strstr(unknown, "unknown") != NULL);
    CHECK(strcmp(twopass_status_message(-1), unknown) == 0);
    CHECK(strcmp(twopass_status_message(1000), unknown) == 0);
    for (a = TWOPASS_OK; a <= TWOPASS_ERROR_INTERNAL; a++) {
        CHECK(twopass_status_message(a) != NULL && strlen(twopass_status_message(a)) > 0);
        CHECK(strcmp(twopass_status_message(a), unknown) != 0);
        for (b = TWOPASS_OK; b < a; b++)
            CHECK(strcmp(twopass_status_message(a), twopass_status_message(b)) != 0);
    }
}

/* Softmax, log-softmax and log-sum-exp of vectors, every algorithm, out of place and in place. */
static void test_vectors(uint64_t *seed) {
    static const size_t sizes[] = {1, 3, 16, 17, 100, 1000, N_MAX};
    static float x[N_MAX], y[N_MAX + 1], z[N_MAX];
    size_t k, i;
    int32_t algorithm;
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float out = 0.0f;
        for (i = 0; i < n; i++) x[i] = uniform(seed, -20.0f, 20.0f);
        if (n > 2) x[1] = -INFINITY;
        for (algorithm = TWOPASS_ALGORITHM_AUTO; algorithm <= TWOPASS_ALGORITHM_BLOCKED; algorithm++) {
            fill(y, n + 1, SENTINEL);
            CHECK_STATUS(twopass_softmax_with_f32(algorithm, x, y, n), TWOPASS_OK);
            CHECK(softmax_ok(x, y, n) && y[n] == SENTINEL);
            if (n > 2) CHECK(y[1] == 0.0f);
            memcpy(z, x, n * sizeof *x);
            CHECK_STATUS(twopass_softmax_with_f32(algorithm, z, z, n), TWOPASS_OK);
            CHECK(softmax_ok(x, z, n));
        }
        fill(y, n + 1, SENTINEL);
        CHECK_STATUS(twopass_softmax_f32(x, y, n), TWOPASS_OK);
        CHECK(softmax_ok(x, y, n) && y[n] == SENTINEL);
        memcpy(z, x, n * sizeof *x);
        CHECK_STATUS(twopass_softmax_f32(z, z, n), TWOPASS_OK);
        CHECK(softmax_ok(x, z, n));

        fill(y, n + 1, SENTINEL);
        CHECK_STATUS(twopass_log_softmax_f32(x, y, n), TWOPASS_OK);
        CHECK(log_softmax_ok(x, y, n) && y[n] == SENTINEL);
        if (n > 2) CHECK(y[1] == -INFINITY);
        memcpy(z, x, n * sizeof *x);
        CHECK_STATUS(twopass_log_softmax_f32(z, z, n), TWOPASS_OK);
        CHECK(log_softmax_ok(x, z, n));

        CHECK_STATUS(twopass_log_sum_exp_f32(x, n, &out), TWOPASS_OK);
        CHECK(lse_ok(out, ref_lse(x, n)));
    }
}

/* The special rows of docs/accuracy.md, and n == 0. */
static void test_special_values(void) {
    float nan_row[3] = {0.0f, NAN, 1.0f}, inf_row[3] = {0.0f, INFINITY, 1.0f};
    float neg_row[3] = {-INFINITY, -INFINITY, -INFINITY}, y[3], out;
    float huge[4] = {3.0e38f, -3.0e38f, 3.0e38f, 1.0f}, h[4];
    CHECK_STATUS(twopass_softmax_f32(nan_row, y, 3), TWOPASS_OK);
    CHECK(all_nan(y, 3));
    CHECK_STATUS(twopass_log_sum_exp_f32(nan_row, 3, &out), TWOPASS_OK);
    CHECK(isnan(out));
    CHECK_STATUS(twopass_softmax_f32(inf_row, y, 3), TWOPASS_OK);
    CHECK(all_nan(y, 3));
    CHECK_STATUS(twopass_log_softmax_f32(inf_row, y, 3), TWOPASS_OK);
    CHECK(all_nan(y, 3));
    CHECK_STATUS(twopass_log_sum_exp_f32(inf_row, 3, &out), TWOPASS_OK);
    CHECK(out == INFINITY);
    CHECK_STATUS(twopass_softmax_f32(neg_row, y, 3), TWOPASS_OK);
    CHECK(all_nan(y, 3));
    CHECK_STATUS(twopass_log_sum_exp_f32(neg_row, 3, &out), TWOPASS_OK);
    CHECK(out == -INFINITY);
    CHECK_STATUS(twopass_softmax_f32(huge, h, 4), TWOPASS_OK);
    CHECK(softmax_ok(huge, h, 4) && h[1] == 0.0f && h[3] == 0.0f);
    /* n == 0: NULL is fine, nothing is written, out is -inf */
    out = 0.0f;
    CHECK_STATUS(twopass_log_sum_exp_f32(NULL, 0, &out), TWOPASS_OK);
    CHECK(out == -INFINITY);
    fill(y, 3, SENTINEL);
    CHECK_STATUS(twopass_softmax_f32(NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_f32(nan_row, y, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_ONLINE, NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_f32(NULL, y, 0), TWOPASS_OK);
    CHECK(all_equal(y, 3, SENTINEL));
}

/* Row-wise functions with strides and padding, in place, and empty shapes. */
static void test_rows(uint64_t *seed) {
    enum { ROWS = 5, COLS = 37, XS = 40, YS = 41 };
    static float x[ROWS * XS], y[ROWS * YS], z[ROWS * XS];
    float out[ROWS + 1];
    size_t r, c;
    for (r = 0; r < ROWS * XS; r++) x[r] = uniform(seed, -30.0f, 30.0f);

    fill(y, ROWS * YS, SENTINEL);
    CHECK_STATUS(twopass_softmax_rows_f32(x, XS, y, YS, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK(softmax_ok(x + r * XS, y + r * YS, COLS));
        CHECK(all_equal(y + r * YS + COLS, YS - COLS, SENTINEL));
    }
    fill(y, ROWS * YS, SENTINEL);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, XS, y, YS, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK(log_softmax_ok(x + r * XS, y + r * YS, COLS));
        CHECK(all_equal(y + r * YS + COLS, YS - COLS, SENTINEL));
    }
    fill(out, ROWS + 1, SENTINEL);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, XS, ROWS, COLS, out), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) CHECK(lse_ok(out[r], ref_lse(x + r * XS, COLS)));
    CHECK(out[ROWS] == SENTINEL);

    /* in place, padding kept */
    memcpy(z, x, sizeof x);
    CHECK_STATUS(twopass_softmax_rows_f32(z, XS, z, XS, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK(softmax_ok(x + r * XS, z + r * XS, COLS));
        for (c = COLS; c < XS; c++) CHECK(z[r * XS + c] == x[r * XS + c]);
    }
    memcpy(z, x, sizeof x);
    CHECK_STATUS(twopass_log_softmax_rows_f32(z, XS, z, XS, ROWS, COLS), TWOPASS_OK);
    for (r = 0; r < ROWS; r++) CHECK(log_softmax_ok(x + r * XS, z + r * XS, COLS));

    /* stride == cols: rows packed */
    fill(y, ROWS * YS, SENTINEL);
    CHECK_STATUS(twopass_softmax_rows_f32(x, COLS, y, COLS, 2, COLS), TWOPASS_OK);
    CHECK(softmax_ok(x, y, COLS) && softmax_ok(x + COLS, y + COLS, COLS));
    CHECK(all_equal(y + 2 * COLS, ROWS * YS - 2 * COLS, SENTINEL));

    /* rows == 0: NULL allowed, any stride; cols == 0: nothing written, log-sum-exp -inf */
    fill(y, ROWS * YS, SENTINEL);
    fill(out, ROWS + 1, SENTINEL);
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 0, NULL, 0, 0, COLS), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_rows_f32(NULL, 0, NULL, 0, 0, COLS), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(NULL, 0, 0, COLS, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_rows_f32(x, XS, y, YS, ROWS, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, XS, y, YS, ROWS, 0), TWOPASS_OK);
    CHECK(all_equal(y, ROWS * YS, SENTINEL));
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, XS, ROWS, 0, out), TWOPASS_OK);
    CHECK(all_equal(out, ROWS, -INFINITY) && out[ROWS] == SENTINEL);
}

/* The streaming state: chunks, merges (also with itself), the empty state. */
static void test_lse_state(uint64_t *seed) {
    enum { N = 1000 };
    static float x[N];
    twopass_lse_state a, b, total, empty;
    double ref;
    size_t i;
    for (i = 0; i < N; i++) x[i] = uniform(seed, -50.0f, 50.0f);
    ref = ref_lse(x, N);

    CHECK(sizeof(twopass_lse_state) == 32);
    CHECK_STATUS(twopass_lse_init(&empty), TWOPASS_OK);
    CHECK(twopass_lse_value(&empty) == -INFINITY);
    CHECK_STATUS(twopass_lse_update_f32(&empty, NULL, 0), TWOPASS_OK);
    CHECK(twopass_lse_value(&empty) == -INFINITY);

    CHECK_STATUS(twopass_lse_init(&a), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_init(&b), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&a, x, 1), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&a, x + 1, 400), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&b, x + 401, N - 401), TWOPASS_OK);
    CHECK(lse_ok(twopass_lse_value(&a), ref_lse(x, 401)));
    total = empty;
    CHECK_STATUS(twopass_lse_merge(&total, &b), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_merge(&total, &a), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_merge(&total, &empty), TWOPASS_OK);
    CHECK(lse_ok(twopass_lse_value(&total), ref));
    /* merged with itself: ln(2 * sum) */
    CHECK_STATUS(twopass_lse_merge(&total, &total), TWOPASS_OK);
    CHECK(lse_ok(twopass_lse_value(&total), ref + log(2.0)));
    /* special values are remembered */
    x[7] = NAN;
    CHECK_STATUS(twopass_lse_update_f32(&a, x, N), TWOPASS_OK);
    CHECK(isnan(twopass_lse_value(&a)));
    x[7] = 0.0f;
    x[8] = INFINITY;
    CHECK_STATUS(twopass_lse_update_f32(&b, x, N), TWOPASS_OK);
    CHECK(twopass_lse_value(&b) == INFINITY);
    x[8] = 0.0f;
}

/* Every error code the f32 and state functions can return, their precedence, and that nothing
 * is written on error. */
static void test_errors(void) {
    static float buf[64], y[64];
    float out = SENTINEL, *x = buf + 16, *mis = (float *)((char *)x + 1);
    float *mis_y = (float *)((char *)y + 2);
    const size_t huge = SIZE_MAX / 2; /* n * sizeof(float) overflows */
    uint64_t words[9];
    twopass_lse_state *state = (twopass_lse_state *)words, before;
    twopass_lse_state *mis_state = (twopass_lse_state *)((char *)words + 4);
    twopass_lse_state *shifted = (twopass_lse_state *)(words + 1);
    int32_t bad;
    size_t i;
    memset(words, 0, sizeof words);
    for (i = 0; i < 64; i++) buf[i] = (float)i / 8.0f;
    fill(y, 64, SENTINEL);

    /* NULL_POINTER: a NULL array with elements, a NULL required output */
    CHECK_STATUS(twopass_softmax_f32(NULL, y, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_f32(x, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_TWO_PASS, NULL, y, 4),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_softmax_f32(NULL, y, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_f32(NULL, 4, &out), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 4, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_f32(NULL, 0, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 4, y, 4, 2, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 4, NULL, 4, 2, 4), TWOPASS_ERROR_NULL_POINTER);
    /* Rows of no column read and write nothing: NULL is fine (tests/c/empty.c has the rest). */
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 4, y, 4, 2, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_rows_f32(NULL, 4, y, 4, 2, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(NULL, 4, 2, 4, y), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 4, 2, 4, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_init(NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_update_f32(NULL, x, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_update_f32(NULL, NULL, 0), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_init(state), TWOPASS_OK);
    before = *state;
    CHECK_STATUS(twopass_lse_update_f32(state, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_merge(NULL, state), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_merge(state, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK(isnan(twopass_lse_value(NULL)));

    /* SHAPE: a stride below cols, a span that overflows */
    CHECK_STATUS(twopass_softmax_f32(x, y, huge), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_AUTO, x, y, huge), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_softmax_f32(x, y, huge), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, huge, &out), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_lse_update_f32(state, x, huge), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 3, y, 4, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 4, y, 3, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, 4, y, 3, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 3, 2, 4, y), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_rows_f32(x, SIZE_MAX / 2, y, 4, 3, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_rows_f32(x, SIZE_MAX, y, SIZE_MAX, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 4, huge, 4, y), TWOPASS_ERROR_SHAPE);

    /* INVALID_ARGUMENT: misaligned pointers */
    CHECK_STATUS(twopass_softmax_f32(mis, y, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_f32(x, mis_y, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_f32(mis, y, 0), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_softmax_f32(mis, y, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_f32(mis, 4, &out), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 4, mis_y), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_rows_f32(mis, 4, y, 4, 2, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x, 4, mis_y, 4, 2, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 4, 2, 4, mis_y), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_init(mis_state), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_update_f32(mis_state, x, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_update_f32(state, mis, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_merge(mis_state, state), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_merge(state, mis_state), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(isnan(twopass_lse_value(mis_state)));

    /* INVALID_ARGUMENT: unknown enum values */
    for (bad = -1; bad <= 99; bad += 100) {
        CHECK_STATUS(twopass_softmax_with_f32(bad, x, y, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
        CHECK_STATUS(twopass_softmax_with_f32(bad, NULL, NULL, 0), TWOPASS_ERROR_INVALID_ARGUMENT);
    }
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_BLOCKED + 1, x, y, 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);

    /* INVALID_ARGUMENT: overlap other than the in-place case */
    CHECK_STATUS(twopass_softmax_f32(x, x + 1, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_f32(x + 3, x, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_softmax_f32(x, x + 3, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_with_f32(TWOPASS_ALGORITHM_ONLINE, x, x - 2, 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 4, x + 3), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 1, x), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 4, x, 5, 2, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 8, x + 4, 8, 2, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_softmax_rows_f32(x + 1, 4, x, 4, 2, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(x, 8, 2, 4, x + 5), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_update_f32(state, (const float *)state + 6, 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_update_f32(state, (const float *)state, 8),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_merge(state, shifted), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_lse_merge(shifted, state), TWOPASS_ERROR_INVALID_ARGUMENT);
    /* adjacent buffers do not overlap */
    CHECK_STATUS(twopass_softmax_f32(x, x + 4, 4), TWOPASS_OK);
    CHECK(softmax_ok(x, x + 4, 4));
    CHECK_STATUS(twopass_softmax_f32(x + 4, x, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_log_sum_exp_f32(x, 4, x + 4), TWOPASS_OK);
    CHECK(lse_ok(x[4], ref_lse(x, 4)));
    for (i = 0; i < 64; i++) buf[i] = (float)i / 8.0f;

    /* precedence: NULL_POINTER, then SHAPE, then INVALID_ARGUMENT */
    CHECK_STATUS(twopass_softmax_rows_f32(NULL, 3, mis_y, 4, 2, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_rows_f32(mis, 3, NULL, 4, 2, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_with_f32(99, NULL, y, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_with_f32(99, mis, NULL, huge), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_sum_exp_f32(mis, huge, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_lse_update_f32(mis_state, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_rows_f32(mis, 3, mis_y, 4, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_rows_f32(x, 3, x, 3, 2, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_with_f32(99, mis, y, huge), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_log_sum_exp_rows_f32(mis, 3, 2, 4, mis_y), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_softmax_with_f32(99, mis, x, 4), TWOPASS_ERROR_INVALID_ARGUMENT);

    /* nothing written by any of the failing calls above */
    CHECK(all_equal(y, 64, SENTINEL));
    CHECK(out == SENTINEL);
    CHECK(memcmp(state, &before, sizeof before) == 0);
    for (i = 0; i < 64; i++) CHECK(buf[i] == (float)i / 8.0f);
}

/* twopass_set_isa for every ISA (those the CPU lacks refused), and the results on each. */
int main(int argc, char **argv) {
    int32_t best, last = 0, supported[3] = {0, 0, 0};
    uint64_t seed = 42;
    int i, k;
    if (argc < 3) {
        fprintf(stderr, "usage: abi BEST SUPPORTED...\n");
        return 2;
    }
    best = isa_code(argv[1]);
    for (i = 2; i < argc; i++) supported[isa_code(argv[i]) - 1] = 1;

    test_version_and_messages();
    CHECK(twopass_active_isa() == best);
    for (k = 0; k < 3; k++) {
        if (!supported[k]) {
            CHECK_STATUS(twopass_set_isa(ISA_CODES[k]), TWOPASS_ERROR_UNSUPPORTED_ISA);
            CHECK(twopass_active_isa() == best);
            printf("%s: not on this CPU (refused)\n", ISA_NAMES[k]);
            continue;
        }
        CHECK_STATUS(twopass_set_isa(ISA_CODES[k]), TWOPASS_OK);
        CHECK(twopass_active_isa() == ISA_CODES[k]);
        test_vectors(&seed);
        test_special_values();
        test_rows(&seed);
        test_lse_state(&seed);
        test_errors();
        CHECK(twopass_active_isa() == ISA_CODES[k]);
        last = ISA_CODES[k];
        printf("%s: tested\n", ISA_NAMES[k]);
    }
    CHECK_STATUS(twopass_set_isa(42), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_set_isa(-1), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(twopass_active_isa() == last);
    CHECK_STATUS(twopass_set_isa(TWOPASS_ISA_AUTO), TWOPASS_OK);
    CHECK(twopass_active_isa() == best);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
