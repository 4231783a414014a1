/* The fused linear + cross-entropy through the C ABI: loss, row losses and lse, d_hidden,
 * d_weight and d_bias against a double reference of logits = H W^T + b (past one class
 * tile), with label smoothing, class weights, z-loss and an ignored row; the status codes,
 * with nothing written on an error. */
#include <stdlib.h>

#include "check.h"

#define N 37
#define D 19
#define V 2100

static float h[N * D], w[V * D], b[V], cw[V], dh[N * D], dw[V * D], db[V];
static uint16_t hb[N * D], wb[V * D], bb[V];
static double rdh[N * D], rdw[V * D], rdb[V], x[V];

/* |got - want| <= rel * max |want| over the array. */
static int close_all(const float *got, const double *want, size_t n, double rel) {
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

static void test_reference(void) {
    twopass_cross_entropy_options o = twopass_cross_entropy_options_default();
    const double eps = 0.1, z = 1e-3;
    int64_t t[N];
    float rows[N], lse[N], loss = 0.0f;
    double ref_loss = 0.0, total = 0.0, big_w = 0.0;
    uint64_t s = 3;
    size_t i, c, q;
    for (i = 0; i < N * D; i++) h[i] = uniform(&s, -1.0f, 1.0f);
    for (i = 0; i < V * D; i++) w[i] = uniform(&s, -0.5f, 0.5f);
    for (c = 0; c < V; c++) {
        b[c] = uniform(&s, -2.0f, 2.0f);
        cw[c] = (float)(c % 3);
        big_w += cw[c];
    }
    for (i = 0; i < N; i++) t[i] = i == 5 ? -100 : (int64_t)((i * 7919 + 1) % V);
    o.label_smoothing = (float)eps;
    o.z_loss = (float)z;
    o.class_weights = cw;
    for (i = 0; i < N; i++) total += t[i] < 0 ? 0.0 : cw[t[i]];
    memset(rdh, 0, sizeof rdh);
    memset(rdw, 0, sizeof rdw);
    memset(rdb, 0, sizeof rdb);
    for (i = 0; i < N; i++) {
        double m = -INFINITY, sum = 0.0, l, smooth = 0.0, a;
        if (t[i] < 0) continue;
        for (c = 0; c < V; c++) {
            x[c] = b[c];
            for (q = 0; q < D; q++) x[c] += (double)h[i * D + q] * w[c * D + q];
            m = fmax(m, x[c]);
        }
        for (c = 0; c < V; c++) sum += exp(x[c] - m);
        l = m + log(sum);
        for (c = 0; c < V; c++) smooth += cw[c] * (l - x[c]);
        ref_loss += (1 - eps) * cw[t[i]] * (l - x[t[i]]) + eps / V * smooth + z * l * l;
        a = (1 - eps) * cw[t[i]] + eps / V * big_w + 2 * z * l;
        for (c = 0; c < V; c++) {
            double g = a * exp(x[c] - l) - eps / V * cw[c] - (c == (size_t)t[i] ? (1 - eps) * cw[c] : 0);
            g /= total; /* the mean's denominator, upstream gradient 1 */
            for (q = 0; q < D; q++) {
                rdh[i * D + q] += g * w[c * D + q];
                rdw[c * D + q] += g * h[i * D + q];
            }
            rdb[c] += g;
        }
    }
    ref_loss /= total;
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, b, N, D, V, t, &o, rows, lse, &loss, dh,
                                                  dw, db, NULL),
                 TWOPASS_OK);
    CHECK(fabs(loss - ref_loss) <= 2e-6 * fmax(1.0, fabs(ref_loss)));
    CHECK(rows[5] == 0.0f && lse[5] == 0.0f);
    CHECK(close_all(dh, rdh, N * D, 1e-5));
    CHECK(close_all(dw, rdw, V * D, 1e-5));
    CHECK(close_all(db, rdb, V, 1e-5));
}

/* bf16 inputs: the same as the f32 call on their widened values, within the f32 bounds. */
static void test_bf16(void) {
    int64_t t[N];
    float loss_b, loss_f;
    size_t i;
    for (i = 0; i < N * D; i++) h[i] = bf16_to_float(hb[i] = float_to_bf16(h[i]));
    for (i = 0; i < V * D; i++) w[i] = bf16_to_float(wb[i] = float_to_bf16(w[i]));
    for (i = 0; i < V; i++) b[i] = bf16_to_float(bb[i] = float_to_bf16(b[i]));
    for (i = 0; i < N; i++) t[i] = (int64_t)((i * 131) % V);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, b, N, D, V, t, NULL, NULL, NULL, &loss_f,
                                                  NULL, dw, NULL, NULL),
                 TWOPASS_OK);
    for (i = 0; i < V * D; i++) rdw[i] = dw[i];
    CHECK_STATUS(twopass_linear_cross_entropy_bf16(hb, wb, bb, N, D, V, t, NULL, NULL, NULL,
                                                   &loss_b, NULL, dw, NULL, NULL),
                 TWOPASS_OK);
    CHECK(fabs(loss_b - loss_f) <= 4e-6 * fmax(1.0, fabs(loss_f)));
    CHECK(close_all(dw, rdw, V * D, 2e-5));
    CHECK_STATUS(twopass_linear_cross_entropy_bf16(NULL, wb, NULL, N, D, V, t, NULL, NULL, NULL,
                                                   &loss_b, NULL, NULL, NULL, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
}

static void test_errors(void) {
    int64_t t[N] = {0}, bad[N] = {0};
    float loss = 9.0f;
    size_t i;
    bad[3] = V;
    for (i = 0; i < N * D; i++) dh[i] = 9.0f;
    CHECK_STATUS(twopass_linear_cross_entropy_f32(NULL, w, NULL, N, D, V, t, NULL, NULL, NULL,
                                                  &loss, dh, NULL, NULL, NULL),
                 TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, NULL, N, D, 0, t, NULL, NULL, NULL, &loss,
                                                  dh, NULL, NULL, NULL),
                 TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, NULL, N, SIZE_MAX, V, t, NULL, NULL, NULL,
                                                  &loss, dh, NULL, NULL, NULL),
                 TWOPASS_ERROR_SHAPE);
    /* d_hidden over the weights: overlap. */
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, NULL, N, D, V, t, NULL, NULL, NULL, &loss,
                                                  w + 5, NULL, NULL, NULL),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_linear_cross_entropy_f32(h, w, NULL, N, D, V, bad, NULL, NULL, NULL,
                                                  &loss, dh, NULL, NULL, NULL),
                 TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    CHECK(loss == 9.0f && all_equal(dh, N * D, 9.0f));
    /* No token: NULL inputs of no element; the mean over no row is NaN, d_weight is 0. */
    for (i = 0; i < V * D; i++) dw[i] = 9.0f;
    CHECK_STATUS(twopass_linear_cross_entropy_f32(NULL, w, NULL, 0, D, V, NULL, NULL, NULL, NULL,
                                                  &loss, NULL, dw, NULL, NULL),
                 TWOPASS_OK);
    CHECK(isnan(loss) && all_equal(dw, V * D, 0.0f));
}

int main(void) {
    test_reference();
    test_bf16();
    test_errors();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
