/* One long row split across threads in three steps (twopass_lse_init / twopass_lse_update_*
 * per chunk, twopass_lse_merge, then twopass_softmax_finish_* / twopass_log_softmax_finish_*
 * per chunk), on four POSIX threads: f32 against the f64 reference, in place, special values
 * in one chunk reaching every chunk, bf16 against the whole-row call, and the status codes
 * with nothing written on an error. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"

#define N 100003
#define THREADS 4

static float x[N], y[N], z[N];
static uint16_t xb[N], yb[N], wb[N];

struct chunk {
    const float *x;
    float *y;
    size_t n;
    twopass_lse_state own;           /* step 1's result */
    const twopass_lse_state *merged; /* step 3's input */
    int log, status;
};

static void *partial(void *arg) {
    struct chunk *c = arg;
    c->status = twopass_lse_init(&c->own);
    if (c->status == TWOPASS_OK) c->status = twopass_lse_update_f32(&c->own, c->x, c->n);
    return NULL;
}

static void *finish(void *arg) {
    struct chunk *c = arg;
    c->status = c->log ? twopass_log_softmax_finish_f32(c->merged, c->x, c->y, c->n)
                       : twopass_softmax_finish_f32(c->merged, c->x, c->y, c->n);
    return NULL;
}

/* The three steps over x[0..n) into out, chunked at bounds[0..THREADS]. */
static void split_row(const float *in, float *out, size_t n, int log) {
    struct chunk c[THREADS];
    pthread_t t[THREADS];
    twopass_lse_state merged;
    size_t k;
    for (k = 0; k < THREADS; k++) {
        size_t from = n * k / THREADS, to = n * (k + 1) / THREADS;
        c[k].x = in + from;
        c[k].y = out + from;
        c[k].n = to - from;
        c[k].merged = &merged;
        c[k].log = log;
        CHECK(pthread_create(&t[k], NULL, partial, &c[k]) == 0);
    }
    for (k = 0; k < THREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK_STATUS(c[k].status, TWOPASS_OK);
    }
    CHECK_STATUS(twopass_lse_init(&merged), TWOPASS_OK);
    for (k = THREADS; k-- > 0;) CHECK_STATUS(twopass_lse_merge(&merged, &c[k].own), TWOPASS_OK);
    for (k = 0; k < THREADS; k++) CHECK(pthread_create(&t[k], NULL, finish, &c[k]) == 0);
    for (k = 0; k < THREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK_STATUS(c[k].status, TWOPASS_OK);
    }
}

static void test_f32(void) {
    uint64_t s = 7;
    size_t i;
    for (i = 0; i < N; i++) x[i] = uniform(&s, -40.0f, 40.0f);
    x[12345] = -INFINITY;
    split_row(x, y, N, 0);
    CHECK(softmax_ok(x, y, N));
    CHECK(y[12345] == 0.0f);
    split_row(x, z, N, 1);
    CHECK(log_softmax_ok(x, z, N));
    /* In place: the same bits as into another buffer. */
    memcpy(z, x, sizeof x);
    split_row(z, z, N, 0);
    CHECK(memcmp(y, z, sizeof y) == 0);
    /* A NaN in the last chunk makes every chunk NaN; so does +inf. */
    x[N - 5] = NAN;
    split_row(x, y, N, 0);
    CHECK(all_nan(y, N));
    x[N - 5] = INFINITY;
    split_row(x, y, N, 1);
    CHECK(all_nan(y, N));
}

/* bf16: two chunks, within 2^-7 of the whole-row softmax (each within an ulp or two). */
static void test_bf16(void) {
    uint64_t s = 11;
    size_t i, half = N / 2;
    twopass_lse_state a, b;
    for (i = 0; i < N; i++) {
        float v = uniform(&s, -20.0f, 20.0f);
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        xb[i] = (uint16_t)(u >> 16);
    }
    CHECK_STATUS(twopass_lse_init(&a), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_init(&b), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_bf16(&a, xb, half), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_bf16(&b, xb + half, N - half), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_merge(&a, &b), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_finish_bf16(&a, xb, yb, half), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_finish_bf16(&a, xb + half, yb + half, N - half), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_bf16(xb, wb, N), TWOPASS_OK);
    for (i = 0; i < N; i++) {
        float p = bf16_to_float(yb[i]), q = bf16_to_float(wb[i]);
        if (!(fabsf(p - q) <= q / 64 + 1e-30f)) {
            CHECK(fabsf(p - q) <= q / 64 + 1e-30f);
            break;
        }
    }
    CHECK_STATUS(twopass_log_softmax_finish_bf16(&a, xb, yb, half), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_bf16(xb, wb, N), TWOPASS_OK);
    for (i = 0; i < half; i++) {
        float p = bf16_to_float(yb[i]), q = bf16_to_float(wb[i]);
        if (!(fabsf(p - q) <= fabsf(q) / 64 + 1e-6f)) {
            CHECK(fabsf(p - q) <= fabsf(q) / 64 + 1e-6f);
            break;
        }
    }
}

static void test_errors(void) {
    twopass_lse_state st[2];
    float in[4] = {1, 2, 3, 4}, out[4] = {9, 9, 9, 9};
    CHECK_STATUS(twopass_lse_init(&st[0]), TWOPASS_OK);
    CHECK_STATUS(twopass_lse_update_f32(&st[0], in, 4), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_finish_f32(NULL, in, out, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_finish_f32(&st[0], NULL, out, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_log_softmax_finish_f32(&st[0], in, NULL, 4), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_softmax_finish_f32(&st[0], in, out + 1, 3), TWOPASS_OK);
    CHECK_STATUS(twopass_softmax_finish_f32(&st[0], in, in + 1, 3),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    /* The output over the state itself. */
    CHECK_STATUS(twopass_softmax_finish_f32(&st[0], in, (float *)&st[0], 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(out[0] == 9.0f);
    fill(out, 4, 9.0f);
    CHECK_STATUS(twopass_softmax_finish_f32((const twopass_lse_state *)((char *)st + 4), in, out, 4),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_equal(out, 4, 9.0f));
    /* NULL with no element. */
    CHECK_STATUS(twopass_softmax_finish_f32(&st[0], NULL, NULL, 0), TWOPASS_OK);
    CHECK_STATUS(twopass_log_softmax_finish_f16(&st[0], NULL, NULL, 0), TWOPASS_OK);
}

int main(void) {
    test_f32();
    test_bf16();
    test_errors();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
