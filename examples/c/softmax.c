/* Softmax, log-sum-exp and a streaming log-sum-exp through libtwopass's C ABI.
 *
 * Build the library, then link this against it (from the repository root):
 *   cargo build --release
 *   shared: cc -std=c99 -O2 -I include examples/c/softmax.c -o softmax \
 *             -L target/release -ltwopass -Wl,-rpath,"$PWD/target/release"
 *   static: cc -std=c99 -O2 -I include examples/c/softmax.c -o softmax \
 *             target/release/libtwopass.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
 * (the static libraries are those `cargo rustc --release -- --print native-static-libs` lists) */
#include <math.h>
#include <stdio.h>

#include "twopass.h"

int main(void) {
    const float logits[4] = {2.0f, 1.0f, 0.1f, -INFINITY};
    float p[4], lse;
    twopass_lse_state state;
    int32_t status;
    size_t i;

    status = twopass_softmax_f32(logits, p, 4);
    if (status != TWOPASS_OK) {
        fprintf(stderr, "softmax: %s\n", twopass_status_message(status));
        return 1;
    }
    status = twopass_log_sum_exp_f32(logits, 4, &lse);
    if (status != TWOPASS_OK) {
        fprintf(stderr, "log_sum_exp: %s\n", twopass_status_message(status));
        return 1;
    }
    printf("twopass %s, ISA %d\n", twopass_version(), (int)twopass_active_isa());
    for (i = 0; i < 4; i++) printf("p[%u] = %.6f\n", (unsigned)i, p[i]);
    printf("log_sum_exp = %.6f\n", lse);

    /* The same log-sum-exp from two chunks. */
    twopass_lse_init(&state);
    twopass_lse_update_f32(&state, logits, 2);
    twopass_lse_update_f32(&state, logits + 2, 2);
    printf("streamed    = %.6f\n", twopass_lse_value(&state));
    return 0;
}
