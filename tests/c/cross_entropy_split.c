/* One cross-entropy row split across threads in three steps (twopass_cross_entropy_row_init
 * and _update_* per thread, twopass_cross_entropy_row_merge, then _finish and _gradient_* per
 * chunk), on four POSIX threads: against an f64 reference and the whole-row call, with every
 * option, in place, an ignored row, a NaN in one chunk, bf16, a heavy class weight with label
 * smoothing, and the status codes with nothing written on an error. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"

#define N 100003
#define THREADS 4

static float x[N], g[N], h[N], w[N], ref_grad[N];
static uint16_t xb[N], gb[N], hb[N];

struct part {
    size_t from, to;
    const float *x;
    float *g;
    const twopass_cross_entropy_options *options;
    int64_t target;
    float scale;
    twopass_cross_entropy_state own;           /* step 1's result */
    const twopass_cross_entropy_state *merged; /* step 3's input */
    int status;
};

/* Step 1: the part's columns in two updates, the second half first. */
static void *partial(void *arg) {
    struct part *p = arg;
    size_t mid = (p->from + p->to) / 2;
    p->status = twopass_cross_entropy_row_init(&p->own, N, p->target, p->options);
    if (p->status == TWOPASS_OK)
        p->status = twopass_cross_entropy_row_update_f32(&p->own, p->options, mid, p->x + mid,
                                                         p->to - mid);
    if (p->status == TWOPASS_OK)
        p->status = twopass_cross_entropy_row_update_f32(&p->own, p->options, p->from,
                                                         p->x + p->from, mid - p->from);
    return NULL;
}

/* Step 3: the part's gradient. */
static void *gradient(void *arg) {
    struct part *p = arg;
    p->status = twopass_cross_entropy_row_gradient_f32(p->merged, p->options, p->from,
                                                       p->x + p->from, p->g + p->from,
                                                       p->to - p->from, p->scale);
    return NULL;
}

/* The three steps on x[0..N) with `target`, the gradient into grad (== in for in place);
 * the row's loss and lse. */
static void split_row(const float *in, float *grad, int64_t target,
                      const twopass_cross_entropy_options *o, float scale, float *loss,
                      float *lse) {
    struct part p[THREADS];
    pthread_t t[THREADS];
    twopass_cross_entropy_state merged;
    size_t k;
    for (k = 0; k < THREADS; k++) {
        p[k].from = N * k / THREADS;
        p[k].to = N * (k + 1) / THREADS;
        p[k].x = in;
        p[k].g = grad;
        p[k].options = o;
        p[k].target = target;
        p[k].scale = scale;
        p[k].merged = &merged;
        CHECK(pthread_create(&t[k], NULL, partial, &p[k]) == 0);
    }
    for (k = 0; k < THREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK_STATUS(p[k].status, TWOPASS_OK);
    }
    merged = p[THREADS - 1].own;
    for (k = THREADS - 1; k-- > 0;)
        CHECK_STATUS(twopass_cross_entropy_row_merge(&merged, &p[k].own), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&merged, o, loss, lse), TWOPASS_OK);
    for (k = 0; k < THREADS; k++) CHECK(pthread_create(&t[k], NULL, gradient, &p[k]) == 0);
    for (k = 0; k < THREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK_STATUS(p[k].status, TWOPASS_OK);
    }
}

/* |a - b| <= rel * |b| + abs everywhere. */
static int close_all(const float *a, const float *b, size_t n, double rel, double abs) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= rel * fabs(b[i]) + abs)) {
            fprintf(stderr, "at %zu: %g against %g\n", i, a[i], b[i]);
            return 0;
        }
    return 1;
}

/* No options: against the f64 reference (loss = lse - x_t, grad = scale * (p - onehot)). */
static void test_reference(void) {
    uint64_t s = 3;
    size_t i;
    int64_t t = 77777;
    float loss, lse, scale = 0.5f;
    double ref;
    for (i = 0; i < N; i++) x[i] = uniform(&s, -30.0f, 30.0f);
    x[5] = -INFINITY;
    split_row(x, g, t, NULL, scale, &loss, &lse);
    ref = ref_lse(x, N);
    CHECK(lse_ok(lse, ref));
    CHECK(lse_ok(loss, ref - x[t]));
    for (i = 0; i < N; i++) ref_grad[i] = (float)(scale * exp((double)x[i] - ref));
    ref_grad[t] -= scale;
    CHECK(close_all(g, ref_grad, N, 1e-5, 1e-12));
    CHECK(g[5] == 0.0f);
    /* In place: the same bits as into another buffer. */
    memcpy(h, x, sizeof x);
    split_row(h, h, t, NULL, scale, &loss, &lse);
    CHECK(memcmp(g, h, sizeof g) == 0);
}

/* Smoothing, class weights with zeros and z-loss: against the whole-row call. */
static void test_options(void) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    uint64_t s = 5;
    size_t i;
    float loss, lse, want_loss, want_lse, scale = 3.0f;
    for (i = 0; i < N; i++) {
        x[i] = 1e4f + uniform(&s, -8.0f, 8.0f);
        w[i] = (float)(i % 4) * 0.5f;
    }
    o.label_smoothing = 0.1f;
    o.z_loss = 1e-4f;
    o.class_weights = w;
    o.reduction = TWOPASS_REDUCTION_SUM;
    split_row(x, g, N - 2, &o, scale, &loss, &lse);
    CHECK_STATUS(twopass_cross_entropy_f32(x, N, 1, N, &(int64_t){N - 2}, &o, &want_loss, &want_lse,
                                           NULL, ref_grad, N, &scale),
                 TWOPASS_OK);
    CHECK(fabs(loss - want_loss) <= 4e-6 * fmax(1.0, fabs(want_loss)));
    CHECK(fabs(lse - want_lse) <= 2e-6 * fabs(want_lse));
    CHECK(close_all(g, ref_grad, N, 4e-6, 4e-7 * scale * 1.5));
    /* An ignored row: loss 0, gradient 0, its log-sum-exp all the same. */
    split_row(x, g, -100, &o, scale, &loss, &lse);
    CHECK(loss == 0.0f && all_equal(g, N, 0.0f));
    CHECK(lse_ok(lse, ref_lse(x, N)));
    /* A NaN in the last chunk: NaN loss and gradient in every chunk. */
    x[N - 3] = NAN;
    split_row(x, g, 0, NULL, 1.0f, &loss, &lse);
    CHECK(isnan(loss) && isnan(lse) && all_nan(g, N));
}

/* bf16: two states, against the whole-row bf16 call. */
static void test_bf16(void) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    twopass_cross_entropy_state a, b;
    uint64_t s = 9;
    size_t i, half = N / 2;
    float loss, lse, want_loss, want_lse, one = 1.0f;
    for (i = 0; i < N; i++) {
        float v = uniform(&s, -20.0f, 20.0f);
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        xb[i] = (uint16_t)(u >> 16);
    }
    o.reduction = TWOPASS_REDUCTION_SUM;
    CHECK_STATUS(twopass_cross_entropy_row_init(&a, N, 4242, &o), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_init(&b, N, 4242, &o), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_bf16(&b, &o, half, xb + half, N - half),
                 TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_bf16(&a, &o, 0, xb, half), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&a, &b), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&a, &o, &loss, &lse), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_bf16(&a, &o, 0, xb, gb, half, 1.0f),
                 TWOPASS_OK);
    CHECK_STATUS(
        twopass_cross_entropy_row_gradient_bf16(&a, &o, half, xb + half, gb + half, N - half, 1.0f),
        TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_bf16(xb, N, 1, N, &(int64_t){4242}, &o, &want_loss,
                                            &want_lse, NULL, hb, N, &one),
                 TWOPASS_OK);
    CHECK(fabs(loss - want_loss) <= 4e-6 * fmax(1.0, fabs(want_loss)));
    CHECK(fabs(lse - want_lse) <= 2e-6 * fabs(want_lse));
    for (i = 0; i < N; i++) {
        float p = bf16_to_float(gb[i]), q = bf16_to_float(hb[i]);
        if (!(fabsf(p - q) <= fabsf(q) / 64 + 1e-30f)) {
            CHECK(fabsf(p - q) <= fabsf(q) / 64 + 1e-30f);
            break;
        }
    }
}

static void test_errors(void) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    twopass_cross_entropy_state st[2], other, zero, before, twice;
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8], loss = 9.0f, lse = 9.0f;
    memset(&zero, 0, sizeof zero);
    CHECK_STATUS(twopass_cross_entropy_row_init(NULL, 8, 1, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_cross_entropy_row_init(&st[0], 0, 0, NULL), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_row_init(&st[0], 8, 8, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    o.label_smoothing = 2.0f;
    CHECK_STATUS(twopass_cross_entropy_row_init(&st[0], 8, 1, &o), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_init((twopass_cross_entropy_state *)((char *)st + 4),
                                                8, 1, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_init(&st[0], 8, 1, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_init(&other, 8, 2, NULL), TWOPASS_OK);
    before = st[0];
    /* Past the row's end, a NULL chunk, a state no init set: the state is kept. */
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[0], NULL, 4, in, 5), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[0], NULL, 0, NULL, 4),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK(memcmp(&st[0], &before, sizeof before) == 0);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&zero, NULL, 0, in, 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[0], NULL, 0, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[0], NULL, 0, in, 4), TWOPASS_OK);
    /* Not every column seen: nothing written. */
    CHECK_STATUS(twopass_cross_entropy_row_finish(&st[0], NULL, &loss, &lse), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[0], NULL, 0, in, out, 4, 1.0f),
                 TWOPASS_ERROR_SHAPE);
    CHECK(loss == 9.0f && lse == 9.0f);
    /* Columns 0..4 twice: eight columns counted, but target 5 never came. */
    CHECK_STATUS(twopass_cross_entropy_row_init(&twice, 8, 5, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&twice, NULL, 0, in, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&twice, NULL, 0, in, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&twice, NULL, &loss, &lse), TWOPASS_ERROR_SHAPE);
    CHECK(loss == 9.0f && lse == 9.0f);
    /* Merging: another target, the state itself, more columns than the row. */
    before = st[0];
    CHECK_STATUS(twopass_cross_entropy_row_merge(&st[0], &other), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&st[0], &st[0]), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&st[0], &zero), TWOPASS_ERROR_INVALID_ARGUMENT);
    st[1] = st[0];
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[1], NULL, 4, in + 4, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&st[1], &st[0]), TWOPASS_ERROR_SHAPE);
    CHECK(memcmp(&st[0], &before, sizeof before) == 0);
    /* st[1] saw columns 0..8: complete. */
    CHECK_STATUS(twopass_cross_entropy_row_finish(&st[1], NULL, &loss, NULL), TWOPASS_OK);
    CHECK(lse_ok(loss, ref_lse(in, 8) - in[1]));
    CHECK_STATUS(twopass_cross_entropy_row_finish(&st[1], NULL, NULL, NULL), TWOPASS_OK);
    /* Gradients: past the end, over the state, overlapping the input, empty. */
    fill(out, 8, 9.0f);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], NULL, 6, in, out, 4, 1.0f),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], NULL, 0, in, (float *)&st[1], 4,
                                                        1.0f),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], NULL, 0, in, in + 1, 4, 1.0f),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_equal(out, 8, 9.0f));
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], NULL, 0, NULL, NULL, 0, 1.0f),
                 TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], NULL, 0, in, out, 8, 1.0f),
                 TWOPASS_OK);
    CHECK(fabs(out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7]) < 1e-6);
    /* Options init refuses are refused by the later steps too, with nothing written. */
    o = twopass_cross_entropy_options_default();
    o.label_smoothing = 2.0f;
    before = st[1];
    loss = lse = 9.0f;
    fill(out, 8, 9.0f);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&st[1], &o, 0, in, 0),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&st[1], &o, &loss, &lse),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    o.label_smoothing = 0.0f;
    o.z_loss = -1.0f;
    CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&st[1], &o, 0, in, out, 8, 1.0f),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(memcmp(&st[1], &before, sizeof before) == 0);
    CHECK(loss == 9.0f && lse == 9.0f && all_equal(out, 8, 9.0f));
}

/* A heavy class weight on a non-target class at the row's max, with label smoothing (16
 * classes, weight 1e8 on one 12 above the rest): the row split in two states and merged keeps
 * the loss within 2e-6 * max(1, |loss|) of an f64 reference that forms ln s as ln(1 + the
 * other terms). */
static void test_heavy_weight(void) {
    enum { C = 16, HEAVY = 6, TARGET = 1 };
    float in[C], wt[C], loss = 0.0f;
    double m = 0.0, rest = 0.0, ln_s, big_w = 0.0, spread = 0.0, want;
    const double eps = 0.1;
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    twopass_cross_entropy_state a, b;
    int j;
    for (j = 0; j < C; j++) {
        in[j] = 0.25f * (float)(j % 5);
        wt[j] = 1.0f;
    }
    in[HEAVY] = 13.0f;
    wt[HEAVY] = 1e8f;
    o.label_smoothing = (float)eps;
    o.class_weights = wt;
    o.reduction = TWOPASS_REDUCTION_NONE;
    for (j = 0; j < C; j++) {
        m = in[j] > m ? in[j] : m;
    }
    for (j = 0; j < C; j++) {
        if (j != HEAVY) rest += exp(in[j] - m);
        big_w += wt[j];
        spread += wt[j] * (m - in[j]);
    }
    ln_s = log1p(rest);
    want = (1 - eps) * wt[TARGET] * ((m - in[TARGET]) + ln_s) + eps / C * (spread + big_w * ln_s);
    CHECK_STATUS(twopass_cross_entropy_row_init(&a, C, TARGET, &o), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_init(&b, C, TARGET, &o), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&a, &o, 0, in, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_update_f32(&b, &o, 4, in + 4, C - 4), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_merge(&a, &b), TWOPASS_OK);
    CHECK_STATUS(twopass_cross_entropy_row_finish(&a, &o, &loss, NULL), TWOPASS_OK);
    if (!(fabs(loss - want) <= 2e-6 * fmax(1.0, fabs(want)))) {
        fprintf(stderr, "heavy weight: loss %.9g, want %.9g\n", loss, want);
        CHECK(fabs(loss - want) <= 2e-6 * fmax(1.0, fabs(want)));
    }
}

int main(void) {
    test_reference();
    test_options();
    test_bf16();
    test_errors();
    test_heavy_weight();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
