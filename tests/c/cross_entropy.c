/* twopass_cross_entropy_f32 through the C ABI: options (defaults, every field, shorter and
 * longer structs), reductions, optional outputs, the gradient out of place and in place, every
 * status code and its precedence, nothing written on error. Accuracy is conformance.py's job:
 * the bounds here are loose. usage: cross_entropy */
#include <stdlib.h>

#include "check.h"

enum { ROWS = 4, COLS = 7, STRIDE = 9 };
#define SENTINEL 12345.0f

struct expected {
    double row_loss[ROWS], row_lse[ROWS], loss, grad[ROWS][COLS];
};

/* docs/accuracy.md's cross-entropy in double, for finite logits. */
static struct expected reference(const float *x, const int64_t *t,
                                 const twopass_cross_entropy_options *o, const float *g_out) {
    struct expected e;
    double total_w = 0.0, denom = 0.0, sum = 0.0, eps = o->label_smoothing, z = o->z_loss;
    size_t r, c;
    memset(&e, 0, sizeof e);
    for (c = 0; c < COLS; c++) total_w += o->class_weights ? o->class_weights[c] : 1.0;
    for (r = 0; r < ROWS; r++) {
        const float *row = x + r * STRIDE;
        double lse = ref_lse(row, COLS), wt, wx = 0.0;
        if (t[r] == o->ignore_index) continue; /* row_lse 0 for ignored rows */
        e.row_lse[r] = lse;
        wt = o->class_weights ? o->class_weights[t[r]] : 1.0;
        for (c = 0; c < COLS; c++) wx += (o->class_weights ? o->class_weights[c] : 1.0) * row[c];
        e.row_loss[r] = (1 - eps) * wt * (lse - row[t[r]]) + (eps / COLS) * (total_w * lse - wx)
                        + z * lse * lse;
        denom += wt;
        sum += e.row_loss[r];
    }
    e.loss = o->reduction == TWOPASS_REDUCTION_MEAN ? sum / denom : sum;
    for (r = 0; r < ROWS; r++) {
        const float *row = x + r * STRIDE;
        double lse = e.row_lse[r], wt, k;
        if (t[r] == o->ignore_index) continue;
        wt = o->class_weights ? o->class_weights[t[r]] : 1.0;
        k = o->reduction == TWOPASS_REDUCTION_NONE ? (g_out ? g_out[r] : 1.0)
                                                   : (g_out ? g_out[0] : 1.0);
        if (o->reduction == TWOPASS_REDUCTION_MEAN) k /= denom;
        for (c = 0; c < COLS; c++) {
            double p = exp(row[c] - lse), w = o->class_weights ? o->class_weights[c] : 1.0;
            e.grad[r][c] = k * ((1 - eps) * wt * (p - (c == (size_t)t[r])) +
                                (eps / COLS) * (total_w * p - w) + 2 * z * lse * p);
        }
    }
    return e;
}

static int close_to(double got, double want) { return fabs(got - want) <= 1e-5 * (1 + fabs(want)); }

/* Runs one configuration (gradient out of place, then in place) and compares every output. */
static void check_against_reference(const float *x, const int64_t *t,
                                    const twopass_cross_entropy_options *o, const float *g_out) {
    struct expected e = reference(x, t, o, g_out);
    float losses[ROWS], lses[ROWS], loss = SENTINEL, grad[ROWS * STRIDE], inplace[ROWS * STRIDE];
    size_t r, c;
    fill(grad, ROWS * STRIDE, SENTINEL);
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, o, losses, lses, &loss, grad,
                                           STRIDE, g_out),
                 TWOPASS_OK);
    CHECK(close_to(loss, e.loss));
    memcpy(inplace, x, sizeof inplace);
    CHECK_STATUS(twopass_cross_entropy_f32(inplace, STRIDE, ROWS, COLS, t, o, NULL, NULL, NULL,
                                           inplace, STRIDE, g_out),
                 TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK(close_to(losses[r], e.row_loss[r]));
        CHECK(close_to(lses[r], e.row_lse[r]));
        for (c = 0; c < COLS; c++) {
            CHECK(close_to(grad[r * STRIDE + c], e.grad[r][c]));
            CHECK(inplace[r * STRIDE + c] == grad[r * STRIDE + c]);
        }
        for (c = COLS; c < STRIDE; c++) {
            CHECK(grad[r * STRIDE + c] == SENTINEL);
            CHECK(inplace[r * STRIDE + c] == x[r * STRIDE + c]);
        }
    }
}

static void test_values(const float *x) {
    const int64_t t[ROWS] = {3, -100, 0, 6};
    const float weights[COLS] = {0.5f, 1.0f, 2.0f, 1.5f, 1.0f, 0.25f, 3.0f};
    const float g_rows[ROWS] = {1.0f, 2.0f, -0.5f, 0.75f}, g_one = 1.5f;
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    int32_t reduction;
    float loss = SENTINEL;
    CHECK(o.size == sizeof(twopass_cross_entropy_options));
    CHECK(o.reduction == TWOPASS_REDUCTION_MEAN && o.ignore_index == -100);
    CHECK(o.label_smoothing == 0.0f && o.z_loss == 0.0f && o.class_weights == NULL);
    check_against_reference(x, t, &o, NULL);
    /* NULL options are the defaults */
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, NULL, NULL, NULL, &loss, NULL,
                                           0, NULL),
                 TWOPASS_OK);
    CHECK(close_to(loss, reference(x, t, &o, NULL).loss));
    for (reduction = TWOPASS_REDUCTION_NONE; reduction <= TWOPASS_REDUCTION_SUM; reduction++) {
        o = twopass_cross_entropy_options_default();
        o.reduction = reduction;
        o.label_smoothing = 0.1f;
        o.z_loss = 1e-3f;
        o.class_weights = weights;
        check_against_reference(x, t, &o, NULL);
        check_against_reference(x, t, &o, reduction == TWOPASS_REDUCTION_NONE ? g_rows : &g_one);
        o.ignore_index = 0; /* row 2 ignored, row 1's target -100 is now out of range */
        CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss,
                                               NULL, 0, NULL),
                     TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    }
}

/* rows == 0: NULL arrays allowed; loss NaN for MEAN, 0 for SUM and NONE. */
static void test_no_rows(void) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    float loss = SENTINEL;
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 0, 0, 5, NULL, &o, NULL, NULL, &loss, NULL, 0, NULL),
                 TWOPASS_OK);
    CHECK(isnan(loss));
    o.reduction = TWOPASS_REDUCTION_SUM;
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 0, 0, 0, NULL, &o, NULL, NULL, &loss, NULL, 0, NULL),
                 TWOPASS_OK);
    CHECK(loss == 0.0f);
    o.reduction = TWOPASS_REDUCTION_NONE;
    loss = SENTINEL;
    CHECK_STATUS(twopass_cross_entropy_f32(NULL, 0, 0, 5, NULL, &o, NULL, NULL, &loss, NULL, 0, NULL),
                 TWOPASS_OK);
    CHECK(loss == 0.0f);
}

/* options->size: below 8 refused; shorter structs read as far as they go; longer ones fine. */
static void test_options_size(const float *x) {
    const int64_t t[ROWS] = {1, 2, 3, 4};
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    union {
        twopass_cross_entropy_options o;
        unsigned char bytes[64];
    } big;
    float loss, want;
    o.reduction = TWOPASS_REDUCTION_SUM;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &want, NULL, 0,
                                           NULL),
                 TWOPASS_OK);
    /* 16 bytes: size, reduction, ignore_index; the smoothing after them is not read */
    o.size = 16;
    o.label_smoothing = 0.5f;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss, NULL, 0,
                                           NULL),
                 TWOPASS_OK);
    CHECK(loss == want);
    /* 8 bytes: the reduction is read */
    o.size = 8;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss, NULL, 0,
                                           NULL),
                 TWOPASS_OK);
    CHECK(loss == want);
    o.size = 7;
    loss = SENTINEL;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss, NULL, 0,
                                           NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(loss == SENTINEL);
    /* a newer, longer struct: unknown bytes ignored */
    memset(big.bytes, 0xA5, sizeof big.bytes);
    big.o = twopass_cross_entropy_options_default();
    big.o.size = sizeof big.bytes;
    big.o.reduction = TWOPASS_REDUCTION_SUM;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &big.o, NULL, NULL, &loss, NULL,
                                           0, NULL),
                 TWOPASS_OK);
    CHECK(loss == want);
}

/* ONNX's surface (twopass_cross_entropy_log_prob_f32): the log_prob output of every row
 * (ignored ones too; within log-softmax's bound, written before an in-place gradient), row_lse
 * of every row, ignored ones too; and no ignore index (TWOPASS_NO_IGNORE_INDEX). */
#define CE_LP twopass_cross_entropy_log_prob_f32
static void test_onnx_outputs(const float *x) {
    enum { LP = COLS + 2 };
    int64_t t[ROWS] = {3, -100, 0, 6};
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    float lp[ROWS * LP], want_lp[ROWS * LP], lses[ROWS], loss, loss2, grad[ROWS * STRIDE],
        inplace[ROWS * STRIDE];
    size_t r, c;
    fill(lp, ROWS * LP, SENTINEL);
    CHECK_STATUS(CE_LP(x, STRIDE, ROWS, COLS, t, &o, NULL, lses, &loss, grad, STRIDE, NULL, lp, LP),
                 TWOPASS_OK);
    for (r = 0; r < ROWS; r++) {
        CHECK(log_softmax_ok(x + r * STRIDE, lp + r * LP, COLS));
        for (c = COLS; c < LP; c++) CHECK(lp[r * LP + c] == SENTINEL);
        CHECK(close_to(lses[r], ref_lse(x + r * STRIDE, COLS)));
    }
    /* The same loss as without log_prob; NULL log_prob is the plain call. */
    CHECK_STATUS(CE_LP(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, NULL, 0, NULL, NULL, 0),
                 TWOPASS_OK);
    CHECK(loss2 == loss);
    /* In place: log_prob from the logits, before the gradient overwrites them (the same bits). */
    memcpy(want_lp, lp, sizeof lp);
    memcpy(inplace, x, sizeof inplace);
    fill(lp, ROWS * LP, SENTINEL);
    CHECK_STATUS(CE_LP(inplace, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, inplace, STRIDE,
                       NULL, lp, LP),
                 TWOPASS_OK);
    CHECK(loss2 == loss);
    for (r = 0; r < ROWS; r++) {
        CHECK(memcmp(lp + r * LP, want_lp + r * LP, COLS * sizeof(float)) == 0);
        CHECK(memcmp(inplace + r * STRIDE, grad + r * STRIDE, COLS * sizeof(float)) == 0);
    }
    /* log_prob over the logits, or with a short stride: refused, nothing written. */
    loss2 = SENTINEL;
    CHECK_STATUS(CE_LP(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, NULL, 0, NULL, (float *)x,
                       STRIDE),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE_LP(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, NULL, 0, NULL, lp, COLS - 1),
                 TWOPASS_ERROR_SHAPE);
    CHECK(loss2 == SENTINEL);
    /* No ignore index: -100 is then out of range, and a target equal to any value counts. */
    o.ignore_index = TWOPASS_NO_IGNORE_INDEX;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, NULL,
                                           0, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    t[1] = 2;
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss2, NULL,
                                           0, NULL),
                 TWOPASS_OK);
    o = twopass_cross_entropy_options_default();
    CHECK_STATUS(twopass_cross_entropy_f32(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, &loss, NULL,
                                           0, NULL),
                 TWOPASS_OK);
    CHECK(loss == loss2); /* no target is -100 now: every row counts either way */
}

/* (N, C, d) logits: ROWS rows as (outer, inner) = (2, 2), classes on the middle axis; every
 * output as the packed-rows call gives it, bit for bit (one chunk of classes), separate and in
 * place; and the shape errors. */
static void test_axis(const float *x) {
    enum { OUTER = 2, INNER = 2, N = ROWS * COLS };
    const int64_t t[ROWS] = {3, -100, 0, 6};
    const float weights[COLS] = {0.5f, 1.0f, 2.0f, 1.5f, 1.0f, 0.25f, 3.0f};
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    float packed[N], tensor[N], l1[ROWS], l2[ROWS], e1[ROWS], e2[ROWS], loss1, loss2, g1[N], g2[N],
        p1[N], p2[N], inplace[N];
    size_t r, c;
#define AT(r, c) ((((r) / INNER) * COLS + (c)) * INNER + (r) % INNER)
    for (r = 0; r < ROWS; r++)
        for (c = 0; c < COLS; c++) packed[r * COLS + c] = tensor[AT(r, c)] = x[r * STRIDE + c];
    o.label_smoothing = 0.1f;
    o.z_loss = 1e-3f;
    o.class_weights = weights;
    CHECK_STATUS(twopass_cross_entropy_log_prob_f32(packed, COLS, ROWS, COLS, t, &o, l1, e1, &loss1,
                                                    g1, COLS, NULL, p1, COLS),
                 TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_axis_f32(tensor, OUTER, COLS, INNER, t, &o, l2, e2, &loss2, g2,
                                                NULL, p2),
                 TWOPASS_OK);
    CHECK(loss1 == loss2 && memcmp(l1, l2, sizeof l1) == 0 && memcmp(e1, e2, sizeof e1) == 0);
    for (r = 0; r < ROWS; r++)
        for (c = 0; c < COLS; c++) {
            CHECK(g2[AT(r, c)] == g1[r * COLS + c]);
            CHECK(p2[AT(r, c)] == p1[r * COLS + c]);
        }
    memcpy(inplace, tensor, sizeof tensor);
    CHECK_STATUS(twopass_cross_entropy_axis_f32(inplace, OUTER, COLS, INNER, t, &o, NULL, NULL, &loss2,
                                                inplace, NULL, NULL),
                 TWOPASS_OK);
    CHECK(loss1 == loss2 && memcmp(inplace, g2, sizeof g2) == 0);
    /* Errors, nothing written. */
    loss2 = SENTINEL;
    CHECK_STATUS(twopass_cross_entropy_axis_f32(tensor, OUTER, COLS, INNER, NULL, &o, NULL, NULL,
                                                &loss2, NULL, NULL, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_cross_entropy_axis_f32(tensor, OUTER, 0, INNER, t, &o, NULL, NULL, &loss2,
                                                NULL, NULL, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_axis_f32(tensor, SIZE_MAX, COLS, 2, t, &o, NULL, NULL, &loss2,
                                                NULL, NULL, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_axis_f32(tensor, OUTER, COLS, INNER, t, &o, NULL, NULL, &loss2,
                                                tensor + 1, NULL, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(loss2 == SENTINEL);
    /* No rows: NULL everywhere. */
    CHECK_STATUS(twopass_cross_entropy_axis_f32(NULL, 0, COLS, INNER, NULL, NULL, NULL, NULL, NULL,
                                                NULL, NULL, NULL),
                 TWOPASS_OK);
#undef AT
}

static void test_errors(float *x) {
    static float out[4 * ROWS * STRIDE];
    const int64_t t[ROWS] = {1, 2, 3, 4}, bad_t[ROWS] = {1, 2, 7, 4};
    const float neg_w[COLS] = {1, 1, -1, 1, 1, 1, 1};
    int64_t t_buf[ROWS + 1];
    const int64_t *mis_t = (const int64_t *)((const char *)t_buf + 4);
    float *losses = out, *lses = out + ROWS, *grad = out + 2 * ROWS, loss = SENTINEL;
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default(), bad = o;
    twopass_cross_entropy_options opt_buf[2];
    const twopass_cross_entropy_options *mis_o =
        (const twopass_cross_entropy_options *)((const char *)opt_buf + 4);
    float x_before[ROWS * STRIDE];
    memcpy(x_before, x, sizeof x_before);
    memset(t_buf, 0, sizeof t_buf);
    opt_buf[0] = opt_buf[1] = o;
    fill(out, 4 * ROWS * STRIDE, SENTINEL);

#define CE(logits, stride, rows, cols, targets, options, rl, rs, lp, g, gs, go) \
    twopass_cross_entropy_f32(logits, stride, rows, cols, targets, options, rl, rs, lp, g, gs, go)
    /* NULL_POINTER */
    CHECK_STATUS(CE(NULL, STRIDE, ROWS, COLS, t, &o, losses, lses, &loss, grad, STRIDE, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, NULL, &o, losses, lses, &loss, grad, STRIDE, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    /* Logits of no column may be NULL (no element), but rows need classes: SHAPE. */
    CHECK_STATUS(CE(NULL, STRIDE, ROWS, 0, t, &o, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_SHAPE);
    /* SHAPE: cols == 0 with rows, a stride below cols (also grad's), overflow */
    CHECK_STATUS(CE(x, STRIDE, ROWS, 0, t, &o, losses, lses, &loss, grad, STRIDE, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(CE(x, COLS - 1, ROWS, COLS, t, &o, losses, lses, &loss, grad, STRIDE, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, losses, lses, &loss, grad, COLS - 1, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(CE(x, SIZE_MAX / 2, ROWS, COLS, t, &o, NULL, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_SHAPE);
    /* the stride of a NULL gradient is ignored */
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, NULL, NULL, 0, NULL), TWOPASS_OK);
    /* INVALID_ARGUMENT: misaligned, overlapping, bad options */
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, mis_t, &o, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, mis_o, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, x + 2, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, losses, losses, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, losses, NULL, losses + 1, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, NULL, x, STRIDE + 1, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, grad, NULL, NULL, grad, STRIDE, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, (float *)t, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &o, NULL, NULL, NULL, NULL, 0, x + 3),
                 TWOPASS_OK);
    bad.reduction = 3;
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    bad = o;
    bad.label_smoothing = 1.5f;
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    bad.label_smoothing = NAN;
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    bad = o;
    bad.z_loss = -1.0f;
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    bad = o;
    bad.class_weights = neg_w;
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    bad.class_weights = (const float *)((const char *)neg_w + 1);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    /* TARGET_OUT_OF_RANGE */
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, bad_t, &o, losses, lses, &loss, grad, STRIDE, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, bad_t, &o, NULL, NULL, NULL, x, STRIDE, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    /* precedence */
    CHECK_STATUS(CE(NULL, COLS - 1, ROWS, COLS, mis_t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(CE(x, COLS - 1, ROWS, COLS, mis_t, mis_o, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, bad_t, &bad, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(CE(x, STRIDE, ROWS, COLS, bad_t, mis_o, losses, NULL, NULL, NULL, 0, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
#undef CE
    /* nothing written */
    CHECK(all_equal(out, 4 * ROWS * STRIDE, SENTINEL) && loss == SENTINEL);
    CHECK(memcmp(x, x_before, sizeof x_before) == 0);
}

int main(void) {
    static float x[ROWS * STRIDE];
    uint64_t seed = 7;
    size_t i;
    for (i = 0; i < ROWS * STRIDE; i++) x[i] = uniform(&seed, -8.0f, 8.0f);
    test_values(x);
    test_no_rows();
    test_options_size(x);
    test_onnx_outputs(x);
    test_axis(x);
    test_errors(x);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
