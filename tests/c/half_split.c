/* The f16 and bf16 forms of the split-row and fused linear entry points against their f32 forms
 * on the same values (exact in both 16-bit types): twopass_softmax_finish_* and
 * twopass_log_softmax_finish_* (within 2 ulp of the type), twopass_cross_entropy_row_update_*
 * and _row_gradient_* with every option (the gradient the f32 one rounded once), and
 * twopass_linear_cross_entropy_*; in place, an ignored row, and the status codes (NULL,
 * misaligned, a chunk past the row, a length whose bytes overflow, overlap, bad options and
 * targets) with nothing written on an error. */
#include "check.h"

#define N 1000 /* a split row's columns */
#define CUT 333
#define TOKENS 9
#define FEATURES 7
#define CLASSES 300 /* past the f16 / bf16 weight tile of 256 classes */

/* A 16-bit float type: its conversions, its ulp relative to a normal value, its smallest
 * subnormal, -inf, and its entry points. */
struct half {
    const char *name;
    float (*decode)(uint16_t);
    uint16_t (*encode)(float);
    double ulp, tiny;
    uint16_t minus_inf;
    int32_t (*lse_update)(twopass_lse_state *, const uint16_t *, size_t);
    int32_t (*softmax_finish)(const twopass_lse_state *, const uint16_t *, uint16_t *, size_t);
    int32_t (*log_softmax_finish)(const twopass_lse_state *, const uint16_t *, uint16_t *,
                                  size_t);
    int32_t (*row_update)(twopass_cross_entropy_state *, const twopass_cross_entropy_options *,
                          size_t, const uint16_t *, size_t);
    int32_t (*row_gradient)(const twopass_cross_entropy_state *,
                            const twopass_cross_entropy_options *, size_t, const uint16_t *,
                            uint16_t *, size_t, float);
    int32_t (*linear)(const uint16_t *, const uint16_t *, const uint16_t *, size_t, size_t,
                      size_t, const int64_t *, const twopass_cross_entropy_options *, float *,
                      float *, float *, float *, float *, float *, const float *);
};

/* float to binary16 bits, for a value binary16 holds exactly (finite). */
static uint16_t f16_exact(float v) {
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    float a = fabsf(v), m;
    int e;
    if (a == 0.0f) return sign;
    m = frexpf(a, &e); /* a = m 2^e, m in [0.5, 1) */
    if (e + 14 <= 0) return (uint16_t)(sign | (uint16_t)ldexpf(a, 24));
    return (uint16_t)(sign | (e + 14) << 10 | (uint16_t)ldexpf(2 * m - 1, 10));
}

static const struct half F16 = {
    "f16", f16_to_float, f16_exact, 1.0 / 1024, 0x1p-24, 0xFC00,
    twopass_lse_update_f16, twopass_softmax_finish_f16, twopass_log_softmax_finish_f16,
    twopass_cross_entropy_row_update_f16, twopass_cross_entropy_row_gradient_f16,
    twopass_linear_cross_entropy_f16,
};

static const struct half BF16 = {
    "bf16", bf16_to_float, float_to_bf16, 1.0 / 128, 0x1p-133, 0xFF80,
    twopass_lse_update_bf16, twopass_softmax_finish_bf16, twopass_log_softmax_finish_bf16,
    twopass_cross_entropy_row_update_bf16, twopass_cross_entropy_row_gradient_bf16,
    twopass_linear_cross_entropy_bf16,
};

static uint16_t xh[N], yh[N], zh[N];
static float xf[N], yf[N], w[N];

/* k / scale with |k| < 256: exact in f16 and bf16 alike; `to` holds the bits, `as` the value. */
static void exact_values(const struct half *t, uint64_t *s, float scale, uint16_t *to, float *as,
                         size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        as[i] = (float)(int)uniform(s, -255.0f, 256.0f) / scale;
        to[i] = t->encode(as[i]);
        if (t->decode(to[i]) != as[i]) {
            fprintf(stderr, "%s: %g is not exact\n", t->name, as[i]);
            failures++;
            return;
        }
    }
}

/* |decode(got) - want| <= rel * |want| + abs everywhere (equal infinities pass). */
static int close16(const struct half *t, const uint16_t *got, const float *want, size_t n,
                   double rel, double abs) {
    size_t i;
    for (i = 0; i < n; i++) {
        double g = t->decode(got[i]);
        if (g == want[i]) continue;
        if (!(fabs(g - want[i]) <= rel * fabs(want[i]) + abs)) {
            fprintf(stderr, "%s at %zu: %g against %g\n", t->name, i, g, want[i]);
            return 0;
        }
    }
    return 1;
}

static int all_bits(const uint16_t *x, size_t n, uint16_t v) {
    size_t i;
    for (i = 0; i < n; i++)
        if (x[i] != v) return 0;
    return 1;
}

/* Two chunks' states merged, against one f32 state of the widened row. */
static void test_softmax_finish(const struct half *t) {
    twopass_lse_state a, b, s32, before;
    double value;
    size_t i;
    int log;
    uint64_t s = 3;
    exact_values(t, &s, 32.0f, xh, xf, N);
    xh[17] = t->minus_inf;
    xf[17] = -INFINITY;
    CHECK_STATUS(twopass_lse_init(&a), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_init(&b), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_init(&s32), TWOPASS_OK);
    CHECK_STATUS(t->lse_update(&b, xh + CUT, N - CUT), TWOPASS_OK);
    CHECK_STATUS(t->lse_update(&a, xh, CUT), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_merge(&a, &b), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&s32, xf, N), TWOPASS_OK);
    value = twopass_lse_value(&s32);
    CHECK(fabs(twopass_lse_value(&a) - value) <= 4e-6 * fmax(1.0, fabs(value)));
    for (log = 0; log < 2; log++) {
        int32_t (*finish)(const twopass_lse_state *, const uint16_t *, uint16_t *, size_t) =
            log ? t->log_softmax_finish : t->softmax_finish;
        CHECK_STATUS(finish(&a, xh, yh, CUT), TWOPASS_OK);
        CHECK_STATUS(finish(&a, xh + CUT, yh + CUT, N - CUT), TWOPASS_OK);
        CHECK_STATUS((log ? twopass_log_softmax_finish_f32 : twopass_softmax_finish_f32)(&s32, xf,
                                                                                         yf, N),
                     TWOPASS_OK);
        CHECK(t->decode(yh[17]) == (log ? -INFINITY : 0.0f));
        /* 2 ulp of the type (log-softmax: or 2e-6 * max(1, |y|)) from the exact value, and
         * the f32 form within 1e-5 relative (log-softmax: 2e-6 * max(1, |y|)) of it. */
        if (log) {
            CHECK(close16(t, yh, yf, N, 2 * t->ulp + 4e-6, 2 * t->tiny + 4e-6));
        } else {
            CHECK(close16(t, yh, yf, N, 2 * t->ulp + 1e-5, 2 * t->tiny));
            for (i = 0; i < N; i++) CHECK(t->decode(yh[i]) >= 0.0f && t->decode(yh[i]) <= 1.0f);
        }
        /* In place, chunked alike: the same bits. */
        memcpy(zh, xh, sizeof xh);
        CHECK_STATUS(finish(&a, zh, zh, CUT), TWOPASS_OK);
        CHECK_STATUS(finish(&a, zh + CUT, zh + CUT, N - CUT), TWOPASS_OK);
        CHECK(memcmp(zh, yh, sizeof yh) == 0);
    }
    /* Errors: nothing written, the state unchanged. */
    memset(zh, 0xAB, sizeof zh);
    before = a;
    CHECK_STATUS(t->softmax_finish(&a, NULL, zh, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->softmax_finish(&a, xh, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->log_softmax_finish(NULL, xh, zh, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->softmax_finish(&a, xh, zh, SIZE_MAX / 2), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->softmax_finish(&a, xh, (uint16_t *)((char *)zh + 1), 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->log_softmax_finish(&a, zh, zh + 1, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->softmax_finish(&a, xh, (uint16_t *)&a, 4), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->lse_update(&a, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->lse_update(&a, xh, SIZE_MAX / 2), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->lse_update(&a, (const uint16_t *)((const char *)xh + 1), 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_bits(zh, N, 0xABAB));
    CHECK(memcmp(&a, &before, sizeof a) == 0);
}

/* A row of N classes with smoothing, class weights (zeros among them) and z-loss: two 16-bit
 * chunks' states merged, against one f32 state of the widened row. */
static void test_cross_entropy_row(const struct half *t) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    twopass_cross_entropy_state a, b, s32, fresh, before;
    const int64_t targets[2] = {600, -100};
    const float scale = 0.75f;
    float loss, lse, loss32, lse32;
    size_t i, k;
    uint64_t s = 5;
    exact_values(t, &s, 16.0f, xh, xf, N);
    for (i = 0; i < N; i++) w[i] = (float)(i % 5) * 0.25f;
    o.label_smoothing = 0.1f;
    o.z_loss = 1e-3f;
    o.class_weights = w;
    o.reduction = TWOPASS_REDUCTION_SUM;
    for (k = 0; k < 2; k++) {
        CHECK_STATUS(twopass_cross_entropy_row_init(&a, N, targets[k], &o), TWOPASS_OK);
        b = a;
        s32 = a;
        CHECK_STATUS(t->row_update(&b, &o, CUT, xh + CUT, N - CUT), TWOPASS_OK);
        CHECK_STATUS(t->row_update(&a, &o, 0, xh, CUT), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_merge(&a, &b), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_update_f32(&s32, &o, 0, xf, N), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_finish(&a, &o, &loss, &lse), TWOPASS_OK);
        CHECK_STATUS(twopass_cross_entropy_row_finish(&s32, &o, &loss32, &lse32), TWOPASS_OK);
        CHECK(fabs(loss - loss32) <= 4e-6 * fmax(1.0, fabs(loss32)));
        CHECK(fabs(lse - lse32) <= 2e-6 * fmax(1.0, fabs(lse32)));
        CHECK_STATUS(twopass_cross_entropy_row_gradient_f32(&s32, &o, 0, xf, yf, N, scale),
                     TWOPASS_OK);
        /* From the f32 state: the f32 gradient rounded once (within half an ulp). */
        CHECK_STATUS(t->row_gradient(&s32, &o, 0, xh, yh, N, scale), TWOPASS_OK);
        CHECK(close16(t, yh, yf, N, t->ulp / 2, t->tiny / 2));
        /* From the 16-bit chunks' state, chunk by chunk: also within the split row's bound. */
        CHECK_STATUS(t->row_gradient(&a, &o, CUT, xh + CUT, yh + CUT, N - CUT, scale),
                     TWOPASS_OK);
        CHECK_STATUS(t->row_gradient(&a, &o, 0, xh, yh, CUT, scale), TWOPASS_OK);
        CHECK(close16(t, yh, yf, N, t->ulp / 2 + 4e-6, t->tiny / 2 + 4e-7 * scale));
        if (targets[k] < 0) CHECK(loss == 0.0f && all_bits(yh, N, 0));
        /* In place, chunked alike: the same bits. */
        memcpy(zh, xh, sizeof xh);
        CHECK_STATUS(t->row_gradient(&a, &o, CUT, zh + CUT, zh + CUT, N - CUT, scale),
                     TWOPASS_OK);
        CHECK_STATUS(t->row_gradient(&a, &o, 0, zh, zh, CUT, scale), TWOPASS_OK);
        CHECK(memcmp(zh, yh, sizeof yh) == 0);
    }
    /* Errors: nothing written, the states unchanged. */
    CHECK_STATUS(twopass_cross_entropy_row_init(&fresh, N, 1, &o), TWOPASS_OK);
    before = fresh;
    CHECK_STATUS(t->row_update(&fresh, &o, 0, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->row_update(&fresh, &o, N - 2, xh, 4), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->row_update(&fresh, &o, 0, xh, SIZE_MAX / 2), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->row_update(&fresh, &o, 0, (const uint16_t *)((const char *)xh + 1), 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(memcmp(&fresh, &before, sizeof fresh) == 0);
    before = a;
    memset(zh, 0xAB, sizeof zh);
    CHECK_STATUS(t->row_gradient(&fresh, &o, 0, xh, zh, 4, 1.0f), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->row_gradient(&a, &o, 0, xh, NULL, 4, 1.0f), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->row_gradient(&a, &o, 0, NULL, zh, 4, 1.0f), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->row_gradient(&a, &o, N - 2, xh, zh, 4, 1.0f), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->row_gradient(&a, &o, 0, xh, zh, SIZE_MAX / 2, 1.0f), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->row_gradient(&a, &o, 0, zh, zh + 1, 4, 1.0f), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->row_gradient(&a, &o, 0, xh, (uint16_t *)&a, 4, 1.0f),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_bits(zh, N, 0xABAB));
    CHECK(memcmp(&a, &before, sizeof a) == 0);
}

static uint16_t hh[TOKENS * FEATURES], wh[CLASSES * FEATURES], bh[CLASSES];
static float hf[TOKENS * FEATURES], wf[CLASSES * FEATURES], bf[CLASSES], cw[CLASSES];

/* Outputs of one linear call: row losses, row lse, loss, d_hidden, d_weight, d_bias. */
struct linear_out {
    float rows[TOKENS], lse[TOKENS], loss, dh[TOKENS * FEATURES], dw[CLASSES * FEATURES],
        db[CLASSES];
};

/* |got - want| <= rel * max |want| over the array. */
static int close_to_largest(const float *got, const float *want, size_t n, double rel) {
    double top = 1e-30;
    size_t i;
    for (i = 0; i < n; i++) top = fmax(top, fabs(want[i]));
    for (i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rel * top)) {
            fprintf(stderr, "at %zu: %g against %g (largest %g)\n", i, got[i], want[i], top);
            return 0;
        }
    return 1;
}

/* With a bias, smoothing, class weights, z-loss, an ignored token and an upstream gradient:
 * the 16-bit call against the f32 one on the widened values (linear.c's bf16 bounds). */
static void test_linear(const struct half *t) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default(), bad;
    static struct linear_out got, want;
    int64_t targets[TOKENS], wrong[TOKENS];
    const float upstream = 2.0f;
    size_t i;
    uint64_t s = 7;
    exact_values(t, &s, 64.0f, hh, hf, TOKENS * FEATURES);
    exact_values(t, &s, 128.0f, wh, wf, CLASSES * FEATURES);
    exact_values(t, &s, 16.0f, bh, bf, CLASSES);
    for (i = 0; i < CLASSES; i++) cw[i] = (float)(i % 4) * 0.5f;
    for (i = 0; i < TOKENS; i++) targets[i] = i == 4 ? -100 : (int64_t)((i * 71 + 3) % CLASSES);
    o.label_smoothing = 0.05f;
    o.z_loss = 1e-3f;
    o.class_weights = cw;
    CHECK_STATUS(twopass_linear_cross_entropy_f32(hf, wf, bf, TOKENS, FEATURES, CLASSES, targets,
                                                  &o, want.rows, want.lse, &want.loss, want.dh,
                                                  want.dw, want.db, &upstream),
                 TWOPASS_OK);
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, FEATURES, CLASSES, targets, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, &upstream),
                 TWOPASS_OK);
    CHECK(fabs(got.loss - want.loss) <= 4e-6 * fmax(1.0, fabs(want.loss)));
    for (i = 0; i < TOKENS; i++) {
        CHECK(fabs(got.rows[i] - want.rows[i]) <= 4e-6 * fmax(1.0, fabs(want.rows[i])));
        CHECK(fabs(got.lse[i] - want.lse[i]) <= 2e-6 * fmax(1.0, fabs(want.lse[i])));
    }
    CHECK(got.rows[4] == 0.0f && got.lse[4] == 0.0f);
    CHECK(close_to_largest(got.dh, want.dh, TOKENS * FEATURES, 2e-5));
    CHECK(close_to_largest(got.dw, want.dw, CLASSES * FEATURES, 2e-5));
    CHECK(close_to_largest(got.db, want.db, CLASSES, 2e-5));
    /* Errors: nothing written. */
    memcpy(wrong, targets, sizeof targets);
    wrong[2] = CLASSES;
    bad = o;
    bad.z_loss = -1.0f;
    fill((float *)&got, sizeof got / sizeof(float), 9.0f);
    CHECK_STATUS(t->linear(NULL, wh, bh, TOKENS, FEATURES, CLASSES, targets, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->linear(hh, NULL, bh, TOKENS, FEATURES, CLASSES, targets, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, FEATURES, CLASSES, NULL, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(t->linear(hh, wh, NULL, TOKENS, FEATURES, 0, targets, NULL, got.rows, got.lse,
                           &got.loss, got.dh, NULL, NULL, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, SIZE_MAX, CLASSES, targets, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(t->linear((const uint16_t *)((const char *)hh + 1), wh, bh, TOKENS, FEATURES,
                           CLASSES, targets, &o, got.rows, got.lse, &got.loss, got.dh, got.dw,
                           got.db, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    /* Row losses over the row lse. */
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, FEATURES, CLASSES, targets, &o, got.lse + 1, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, FEATURES, CLASSES, targets, &bad, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(t->linear(hh, wh, bh, TOKENS, FEATURES, CLASSES, wrong, &o, got.rows, got.lse,
                           &got.loss, got.dh, got.dw, got.db, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    CHECK(all_equal((float *)&got, sizeof got / sizeof(float), 9.0f));
}

int main(void) {
    const struct half *types[2] = {&F16, &BF16};
    size_t i;
    for (i = 0; i < 2; i++) {
        test_softmax_finish(types[i]);
        test_cross_entropy_row(types[i]);
        test_linear(types[i]);
    }
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
