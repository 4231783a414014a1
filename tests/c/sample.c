/* The sampling entry points through the C ABI: defaults, greedy, each filter drawing only kept
 * tokens, the same seed and counter giving the same token as the counter advances, rows against
 * single draws, the kept probabilities, f16 / bf16 against f32 on the same values, frequencies
 * against the distribution, and every status code with nothing written. (tests/capi_sample.rs
 * checks the tokens against the Rust API's.) usage: sample */
#include "check.h"

enum { N = 37, ROWS = 5, STRIDE = N + 3 };
#define NONE ((size_t)-1) /* a token sentinel */

/* Values exact in float, binary16 and bfloat16, with their 16-bit encodings. */
static const struct {
    float f;
    uint16_t h, b;
} VALUES[8] = {{1.0f, 0x3C00, 0x3F80},  {2.0f, 0x4000, 0x4000}, {3.0f, 0x4200, 0x4040},
               {0.5f, 0x3800, 0x3F00},  {-1.0f, 0xBC00, 0xBF80}, {1.5f, 0x3E00, 0x3FC0},
               {2.5f, 0x4100, 0x4020}, {-INFINITY, 0xFC00, 0xFF80}};

static twopass_rng_state rng_at(uint64_t seed, uint64_t counter) {
    twopass_rng_state r;
    r.seed = seed;
    r.counter = counter;
    return r;
}

static twopass_sample_params with(float temperature, size_t top_k, float top_p, float min_p) {
    twopass_sample_params p = twopass_sample_params_default();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    return p;
}

/* A float draw at (seed, counter); NONE unless it succeeds and advances the counter by one. */
static size_t draw(const float *x, size_t n, const twopass_sample_params *p, uint64_t seed,
                   uint64_t counter) {
    twopass_rng_state rng = rng_at(seed, counter);
    size_t token = NONE;
    CHECK_STATUS(twopass_sample_f32(x, n, p, &rng, &token), TWOPASS_OK);
    CHECK(rng.seed == seed && rng.counter == counter + 1);
    return token;
}

/* How many of x[0..n) are above x[i]. */
static size_t rank(const float *x, size_t n, size_t i) {
    size_t j, above = 0;
    for (j = 0; j < n; j++) above += x[j] > x[i];
    return above;
}

static void random_row(float *x, size_t n, uint64_t *s) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = uniform(s, -4.0f, 4.0f);
}

static void test_defaults(void) {
    twopass_sample_params p = twopass_sample_params_default();
    CHECK(p.size == sizeof(twopass_sample_params));
    CHECK(p.temperature == 1.0f && p.top_k == 0 && p.top_p == 1.0f && p.min_p == 0.0f);
}

/* Temperature 0: the first index of the max, the counter advancing all the same. */
static void test_greedy(void) {
    const float x[6] = {1.0f, 3.0f, -INFINITY, 2.0f, 3.0f, 0.0f}, one = -5.0f;
    const uint16_t h[6] = {0x3C00, 0x4200, 0xFC00, 0x4000, 0x4200, 0x0000};
    const uint16_t b[6] = {0x3F80, 0x4040, 0xFF80, 0x4000, 0x4040, 0x0000};
    twopass_sample_params p = with(0.0f, 0, 1.0f, 0.0f);
    twopass_rng_state rng = rng_at(3, 5);
    size_t token = NONE;
    CHECK(draw(x, 6, &p, 3, 5) == 1);
    CHECK(draw(x, 6, &p, 99, UINT64_MAX) == 1); /* the counter wraps to 0 */
    CHECK(draw(&one, 1, &p, 3, 5) == 0);
    CHECK_STATUS(twopass_sample_f16(h, 6, &p, &rng, &token), TWOPASS_OK);
    CHECK(token == 1 && rng.counter == 6);
    token = NONE;
    CHECK_STATUS(twopass_sample_bf16(b, 6, &p, &rng, &token), TWOPASS_OK);
    CHECK(token == 1 && rng.counter == 7);
}

/* Each filter draws only the tokens it keeps, over many draws. */
static void test_filters(void) {
    float x[N];
    uint64_t s = 11, c;
    size_t i, top = 0;
    twopass_sample_params top1 = with(1.0f, 1, 1.0f, 0.0f), top3 = with(2.0f, 3, 1.0f, 0.0f);
    twopass_sample_params tiny_p = with(1.0f, 0, 1e-6f, 0.0f), min1 = with(1.0f, 0, 1.0f, 1.0f);
    twopass_sample_params half_p = with(1.0f, 0, 1.0f, 0.5f), hot = with(100.0f, 0, 1.0f, 0.0f);
    random_row(x, N, &s);
    for (i = 1; i < N; i++)
        if (x[i] > x[top]) top = i;
    for (c = 0; c < 200; c++) {
        size_t t;
        CHECK(draw(x, N, &top1, 1, c) == top);
        CHECK(draw(x, N, &tiny_p, 2, c) == top);
        CHECK(draw(x, N, &min1, 3, c) == top);
        t = draw(x, N, &top3, 4, c);
        CHECK(t < N && rank(x, N, t) < 3);
        /* min-p 0.5: x[t] >= max + ln(0.5) (rounded up to a float) */
        t = draw(x, N, &half_p, 5, c);
        CHECK(t < N && x[t] >= x[top] - 0.6931472f);
    }
    /* -inf logits are never drawn, even where the rest is nearly uniform. */
    for (i = 0; i < N; i += 3) x[i] = -INFINITY;
    for (c = 0; c < 500; c++) CHECK(draw(x, N, &hot, 6, c) % 3 != 0);
}

/* The same (seed, counter) gives the same token; other counters and seeds give others. */
static void test_reproducible(void) {
    float x[N];
    uint64_t s = 5, c;
    size_t seen[N] = {0}, kinds = 0, i, other_seed = 0;
    twopass_sample_params p = twopass_sample_params_default();
    random_row(x, N, &s);
    for (i = 0; i < N; i++) x[i] *= 0.25f; /* flat: many tokens likely */
    for (c = 0; c < 300; c++) {
        size_t t = draw(x, N, &p, 42, c);
        CHECK(t < N && draw(x, N, &p, 42, c) == t);
        kinds += seen[t % N]++ == 0;
        other_seed += draw(x, N, &p, 43, c) != t;
    }
    CHECK(kinds > N / 2 && other_seed > 200);
}

/* Frequencies of 20000 draws within 0.02 (about 6 standard deviations) of 1/10 .. 4/10. */
static void test_frequencies(void) {
    const float x[4] = {0.0f, 0.69314718f, 1.0986123f, 1.3862944f}; /* ln 1 .. ln 4 */
    twopass_sample_params p = twopass_sample_params_default();
    size_t counts[4] = {0}, i;
    uint64_t c;
    for (c = 0; c < 20000; c++) counts[draw(x, 4, &p, 2024, c) % 4]++;
    for (i = 0; i < 4; i++) CHECK(fabs(counts[i] / 20000.0 - (i + 1) / 10.0) < 0.02);
}

/* Rows: row r is the single draw at counter + r; padding (NaN) is not read. */
static void test_rows(void) {
    float x[ROWS * STRIDE];
    uint16_t h[ROWS * STRIDE], b[ROWS * STRIDE];
    size_t tokens[ROWS], th[ROWS], tb[ROWS], r, i;
    uint64_t s = 3;
    twopass_sample_params p = with(0.8f, 5, 0.9f, 0.0f);
    twopass_rng_state rng = rng_at(17, 1000), rh = rng, rb = rng;
    for (i = 0; i < ROWS * STRIDE; i++) {
        size_t v = i % STRIDE == 0 ? 2 : (size_t)(uniform(&s, 0.0f, 8.0f)) % 8;
        x[i] = i % STRIDE >= N ? NAN : VALUES[v].f;
        h[i] = i % STRIDE >= N ? 0x7E00 : VALUES[v].h;
        b[i] = i % STRIDE >= N ? 0x7FC0 : VALUES[v].b;
    }
    CHECK_STATUS(twopass_sample_rows_f32(x, STRIDE, ROWS, N, &p, &rng, tokens), TWOPASS_OK);
    CHECK(rng.seed == 17 && rng.counter == 1000 + ROWS);
    for (r = 0; r < ROWS; r++) CHECK(tokens[r] == draw(x + r * STRIDE, N, &p, 17, 1000 + r));
    CHECK_STATUS(twopass_sample_rows_f16(h, STRIDE, ROWS, N, &p, &rh, th), TWOPASS_OK);
    CHECK_STATUS(twopass_sample_rows_bf16(b, STRIDE, ROWS, N, &p, &rb, tb), TWOPASS_OK);
    CHECK(rh.counter == 1000 + ROWS && rb.counter == 1000 + ROWS);
    CHECK(memcmp(tokens, th, sizeof tokens) == 0 && memcmp(tokens, tb, sizeof tokens) == 0);
    /* No rows: NULL matrix and tokens, nothing drawn */
    CHECK_STATUS(twopass_sample_rows_f32(NULL, 0, 0, N, &p, &rng, NULL), TWOPASS_OK);
    CHECK_STATUS(twopass_sample_rows_f16(NULL, 0, 0, 0, &p, &rng, NULL), TWOPASS_OK);
    CHECK(rng.counter == 1000 + ROWS);
}

/* A row of N values from VALUES (x[0] = 3, the max), as float, binary16 and bfloat16. */
static void value_row(float *x, uint16_t *h, uint16_t *b, uint64_t *s) {
    size_t i;
    for (i = 0; i < N; i++) {
        size_t v = i == 0 ? 2 : (size_t)(uniform(s, 0.0f, 8.0f)) % 8;
        x[i] = VALUES[v].f;
        h[i] = VALUES[v].h;
        b[i] = VALUES[v].b;
    }
}

/* Greedy, temperature 1, top-k 4, top-p 0.8, min-p 0.2. */
static void five_modes(twopass_sample_params m[5]) {
    m[0] = with(0.0f, 0, 1.0f, 0.0f);
    m[1] = with(1.0f, 0, 1.0f, 0.0f);
    m[2] = with(0.7f, 4, 1.0f, 0.0f);
    m[3] = with(1.3f, 0, 0.8f, 0.0f);
    m[4] = with(1.0f, 0, 1.0f, 0.2f);
}

/* f16 and bf16 logits draw the token f32 draws from the same values, for every mode. */
static void test_half(void) {
    float x[N];
    uint16_t h[N], b[N];
    uint64_t s = 9, c;
    size_t m;
    twopass_sample_params modes[5];
    five_modes(modes);
    for (c = 0; c < 100; c++) {
        value_row(x, h, b, &s);
        for (m = 0; m < 5; m++) {
            twopass_rng_state rh = rng_at(c, 7 * c), rb = rh;
            size_t want = draw(x, N, &modes[m], c, 7 * c), th = NONE, tb = NONE;
            CHECK_STATUS(twopass_sample_f16(h, N, &modes[m], &rh, &th), TWOPASS_OK);
            CHECK_STATUS(twopass_sample_bf16(b, N, &modes[m], &rb, &tb), TWOPASS_OK);
            CHECK(th == want && tb == want && rh.counter == 7 * c + 1 && rb.counter == 7 * c + 1);
        }
    }
}

/* params->size: the whole struct or more (a newer header's; unknown bytes ignored). */
static void test_params_size(void) {
    float x[N];
    uint64_t s = 1;
    union {
        twopass_sample_params p;
        unsigned char bytes[64];
    } big;
    twopass_rng_state rng = rng_at(8, 8);
    size_t token = NONE;
    random_row(x, N, &s);
    memset(big.bytes, 0xAB, sizeof big.bytes);
    big.p = with(0.9f, 7, 0.95f, 0.01f);
    big.p.size = sizeof big.bytes;
    CHECK_STATUS(twopass_sample_f32(x, N, &big.p, &rng, &token), TWOPASS_OK);
    CHECK(token == draw(x, N, &big.p, 8, 8) && rng.counter == 9);
}

/* Runs `call`, which must return `want` and leave `token` and `rng` as they were. */
#define CHECK_REFUSED(call, want)                                                          \
    do {                                                                                   \
        token = NONE;                                                                      \
        rng = rng_at(9, 4);                                                                \
        CHECK_STATUS(call, want);                                                          \
        CHECK(token == NONE && rng.seed == 9 && rng.counter == 4);                         \
    } while (0)

static void test_errors(void) {
    union {
        float f[16];
        uint16_t h[32];
        size_t z[8];
    } buf;
    const float nan_row[3] = {1.0f, NAN, 2.0f}, inf_row[3] = {1.0f, INFINITY, 2.0f};
    const float masked[3] = {-INFINITY, -INFINITY, -INFINITY};
    const uint16_t h_nan[2] = {0x3C00, 0x7E00}, b_nan[2] = {0x3F80, 0x7FC0};
    const uint16_t h_masked[2] = {0xFC00, 0xFC00}, b_masked[2] = {0xFF80, 0xFF80};
    const float bad_t[4] = {-1.0f, NAN, INFINITY, 1e-40f};      /* negative, NaN, inf, subnormal */
    const float bad_p[4] = {0.0f, -0.5f, 1.5f, NAN};            /* top_p outside (0, 1] */
    const float bad_min_p[3] = {-0.1f, 1.1f, NAN};              /* min_p outside [0, 1] */
    const float *x = buf.f;
    twopass_sample_params p = twopass_sample_params_default(), bad, zero;
    twopass_rng_state rng;
    size_t token, tokens[3], i;
    fill(buf.f, 16, 1.0f);
    memset(&zero, 0, sizeof zero);

    /* NULL_POINTER: logits with elements, params, rng, token; before every other error */
    CHECK_REFUSED(twopass_sample_f32(NULL, 4, &p, &rng, &token), TWOPASS_ERROR_NULL_POINTER);
    CHECK_REFUSED(twopass_sample_f32(x, 4, NULL, &rng, &token), TWOPASS_ERROR_NULL_POINTER);
    CHECK_REFUSED(twopass_sample_f32(x, 4, &p, NULL, &token), TWOPASS_ERROR_NULL_POINTER);
    token = NONE;
    rng = rng_at(9, 4);
    CHECK_STATUS(twopass_sample_f32(x, 4, &p, &rng, NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK(rng.seed == 9 && rng.counter == 4);
    CHECK_REFUSED(twopass_sample_f32(NULL, 4, &zero, &rng, &token), TWOPASS_ERROR_NULL_POINTER);
    CHECK_REFUSED(twopass_sample_f16(NULL, 4, &p, &rng, &token), TWOPASS_ERROR_NULL_POINTER);

    /* SHAPE: an empty row (NULL or not), before INVALID_ARGUMENT */
    CHECK_REFUSED(twopass_sample_f32(x, 0, &p, &rng, &token), TWOPASS_ERROR_SHAPE);
    CHECK_REFUSED(twopass_sample_f32(NULL, 0, &p, &rng, &token), TWOPASS_ERROR_SHAPE);
    CHECK_REFUSED(twopass_sample_f32(NULL, 0, &zero, &rng, &token), TWOPASS_ERROR_SHAPE);
    CHECK_REFUSED(twopass_sample_bf16(buf.h, 0, &p, &rng, &token), TWOPASS_ERROR_SHAPE);
    CHECK_REFUSED(twopass_sample_f32(x, SIZE_MAX / 2, &p, &rng, &token), TWOPASS_ERROR_SHAPE);

    /* INVALID_ARGUMENT: misaligned, overlapping */
    CHECK_REFUSED(twopass_sample_f32((const float *)((const char *)x + 1), 4, &p, &rng, &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f16((const uint16_t *)((const char *)x + 1), 4, &p, &rng, &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(x, 4, &p, &rng, (size_t *)((char *)&buf.z[6] + 4)),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(x, 4, &p, (twopass_rng_state *)((char *)&buf.z[4] + 4),
                                     &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(x, 4, &p, &rng, &buf.z[1]), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(x, 4, &p, (twopass_rng_state *)&buf.z[0], &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(x, 4, (const twopass_sample_params *)&buf.z[4], &rng,
                                     &buf.z[6]),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_equal(buf.f, 16, 1.0f));
    rng = rng_at(9, 4);
    CHECK_STATUS(twopass_sample_f32(x, 4, &p, &rng, (size_t *)&rng.counter),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(rng.seed == 9 && rng.counter == 4);

    /* INVALID_ARGUMENT: params->size, then each parameter out of its range */
    CHECK_REFUSED(twopass_sample_f32(x, 4, &zero, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    bad = p;
    bad.size = sizeof bad - 4;
    CHECK_REFUSED(twopass_sample_f32(x, 4, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < 4; i++) {
        bad = with(bad_t[i], 0, 1.0f, 0.0f);
        CHECK_REFUSED(twopass_sample_f32(x, 4, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
        bad = with(1.0f, 0, bad_p[i], 0.0f);
        CHECK_REFUSED(twopass_sample_f32(x, 4, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
        /* greedy checks them too */
        bad = with(0.0f, 0, bad_p[i], 0.0f);
        CHECK_REFUSED(twopass_sample_f32(x, 4, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    }
    for (i = 0; i < 3; i++) {
        bad = with(1.0f, 0, 1.0f, bad_min_p[i]);
        CHECK_REFUSED(twopass_sample_f32(x, 4, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    }

    /* INVALID_ARGUMENT: logits no token can be drawn from */
    CHECK_REFUSED(twopass_sample_f32(nan_row, 3, &p, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(inf_row, 3, &p, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(masked, 3, &p, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    bad = with(0.0f, 0, 1.0f, 0.0f); /* greedy too */
    CHECK_REFUSED(twopass_sample_f32(nan_row, 3, &bad, &rng, &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f32(masked, 3, &bad, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f16(h_nan, 2, &p, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_bf16(b_nan, 2, &p, &rng, &token), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_f16(h_masked, 2, &p, &rng, &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_REFUSED(twopass_sample_bf16(b_masked, 2, &p, &rng, &token),
                  TWOPASS_ERROR_INVALID_ARGUMENT);

    /* Rows: every row checked before any token is written */
    {
        float m[3 * 4];
        fill(m, 12, 0.5f);
        m[2 * 4 + 1] = NAN; /* the last row */
        tokens[0] = tokens[1] = tokens[2] = NONE;
        rng = rng_at(9, 4);
        CHECK_STATUS(twopass_sample_rows_f32(m, 4, 3, 4, &p, &rng, tokens),
                     TWOPASS_ERROR_INVALID_ARGUMENT);
        CHECK_STATUS(twopass_sample_rows_f32(m, 3, 2, 4, &p, &rng, tokens), TWOPASS_ERROR_SHAPE);
        CHECK_STATUS(twopass_sample_rows_f32(m, 4, 3, 0, &p, &rng, tokens), TWOPASS_ERROR_SHAPE);
        CHECK_STATUS(twopass_sample_rows_f32(NULL, 4, 3, 0, &p, &rng, tokens), TWOPASS_ERROR_SHAPE);
        CHECK_STATUS(twopass_sample_rows_f32(NULL, 4, 2, 4, &p, &rng, tokens),
                     TWOPASS_ERROR_NULL_POINTER);
        CHECK_STATUS(twopass_sample_rows_f32(m, 4, 2, 4, &p, &rng, NULL),
                     TWOPASS_ERROR_NULL_POINTER);
        CHECK_STATUS(twopass_sample_rows_f32(m, 4, 2, 4, NULL, &rng, tokens),
                     TWOPASS_ERROR_NULL_POINTER);
        CHECK_STATUS(twopass_sample_rows_f32(NULL, 0, 0, 4, &p, NULL, NULL),
                     TWOPASS_ERROR_NULL_POINTER);
        CHECK_STATUS(twopass_sample_rows_f32(NULL, 0, 0, 4, &zero, &rng, NULL),
                     TWOPASS_ERROR_INVALID_ARGUMENT);
        /* tokens inside the matrix: x spans buf.z[0..4), the bf16 matrix buf.z[0..2) */
        CHECK_STATUS(twopass_sample_rows_f32(x, 4, 2, 4, &p, &rng, &buf.z[3]),
                     TWOPASS_ERROR_INVALID_ARGUMENT);
        CHECK_STATUS(twopass_sample_rows_bf16(buf.h, 4, 2, 4, &p, &rng, &buf.z[1]),
                     TWOPASS_ERROR_INVALID_ARGUMENT);
        CHECK(tokens[0] == NONE && tokens[1] == NONE && tokens[2] == NONE);
        CHECK(rng.seed == 9 && rng.counter == 4 && all_equal(buf.f, 16, 1.0f));
    }
}

/* The kept probabilities: sum to 1, 0 exactly on the filtered tokens, every drawn token
   positive, greedy one-hot, f16 / bf16 as f32 on the same values; errors write nothing. */
static void test_kept_probabilities(void) {
    float x[N], pr[N], ph[N], pb[N], out[4];
    uint16_t h[N], b[N];
    uint64_t s = 21, c;
    size_t i, m;
    twopass_sample_params modes[5];
    twopass_sample_params bad = with(1.0f, 0, 2.0f, 0.0f);
    const float nan_row[3] = {1.0f, NAN, 2.0f};
    five_modes(modes);
    for (c = 0; c < 50; c++) {
        value_row(x, h, b, &s);
        for (m = 0; m < 5; m++) {
            double sum = 0.0;
            size_t kept = 0, d;
            CHECK_STATUS(twopass_kept_probabilities_f32(x, N, &modes[m], pr), TWOPASS_OK);
            CHECK_STATUS(twopass_kept_probabilities_f16(h, N, &modes[m], ph), TWOPASS_OK);
            CHECK_STATUS(twopass_kept_probabilities_bf16(b, N, &modes[m], pb), TWOPASS_OK);
            for (i = 0; i < N; i++) {
                sum += pr[i];
                kept += pr[i] > 0.0f;
                CHECK(pr[i] >= 0.0f && pr[i] == ph[i] && pr[i] == pb[i]);
                if (x[i] == -INFINITY) CHECK(pr[i] == 0.0f);
                /* top-k 4: kept when fewer than 4 are above; min-p 0.2 against the max, 3 */
                if (m == 2) CHECK((pr[i] > 0.0f) == (rank(x, N, i) < 4));
                if (m == 4) CHECK((pr[i] > 0.0f) == (x[i] >= 3.0 + log(0.2)));
            }
            CHECK(fabs(sum - 1.0) <= 4e-6);
            if (m == 0) CHECK(kept == 1 && pr[0] == 1.0f); /* x[0] = 3, the max */
            for (d = 0; d < 20; d++) CHECK(pr[draw(x, N, &modes[m], c, d)] > 0.0f);
        }
    }
    fill(out, 4, 7.0f);
    CHECK_STATUS(twopass_kept_probabilities_f32(nan_row, 3, &modes[1], out),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_kept_probabilities_f32(x, 4, &bad, out), TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(twopass_kept_probabilities_f32(x, 0, &modes[1], out), TWOPASS_ERROR_SHAPE);
    CHECK_STATUS(twopass_kept_probabilities_f32(x, 4, &modes[1], NULL), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_kept_probabilities_f32(x, 4, NULL, out), TWOPASS_ERROR_NULL_POINTER);
    CHECK_STATUS(twopass_kept_probabilities_f32(out, 4, &modes[1], out + 1),
                 TWOPASS_ERROR_INVALID_ARGUMENT);
    CHECK(all_equal(out, 4, 7.0f));
}

int main(void) {
    test_defaults();
    test_greedy();
    test_filters();
    test_reproducible();
    test_frequencies();
    test_rows();
    test_half();
    test_params_size();
    test_errors();
    test_kept_probabilities();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
