/* verto privacy: what a DP-SGD run spends (ε at δ for a noise multiplier), or
 * the noise multiplier that keeps it within a budget, from the library's RDP
 * accountant (include/verto/privacy.h). */
#include <math.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/format.h"
#include "verto/privacy.h"

#define MAX_STEPS 9007199254740992.0 /* 2^53: steps stay exact in a double */

static void json_number(const char *key, double v, const char *sep) {
    printf("\"%s\": ", key);
    vt_print_json_number(stdout, v); /* null for infinity (no privacy) and NaN */
    fputs(sep, stdout);
}

int cmd_privacy(int argc, char **argv) {
    double noise = NAN, rate = NAN, delta = NAN, target = NAN, tolerance = 0.01;
    int64_t steps = 0;
    bool json = false;
    const cli_option opts[] = {
        {"--noise-multiplier", CLI_FLOAT, &noise, "S", "noise standard deviation over the clipping bound: prints epsilon", 0,
         1e300},
        {"--epsilon", CLI_FLOAT, &target, "E", "the budget: prints the noise multiplier that spends at most E"},
        {"--sample-rate", CLI_FLOAT, &rate, "Q", "probability that an example joins a batch (expected batch / set size)",
         0, 1},
        {"--steps", CLI_INT, &steps, "N", "training steps (batches)", 1, MAX_STEPS},
        {"--delta", CLI_FLOAT, &delta, "D", "the guarantee's delta, in (0, 1) (commonly below 1 / training set size)"},
        {"--epsilon-tolerance", CLI_FLOAT, &tolerance, "T",
         "with --epsilon: stop when the solved noise spends within T below E (Opacus' default 0.01)"},
        {"--json", CLI_FLAG, &json, NULL,
         "one JSON object: epsilon, delta, noise_multiplier, sample_rate, steps, best_order"},
        {0}};
    const char *usage = "verto privacy (--noise-multiplier S | --epsilon E) --sample-rate Q --steps N --delta D [--json]\n"
                        "  The RDP accountant of DP-SGD's sampled Gaussian mechanism, as Opacus' RDPAccountant.";
    int rc = cli_parse(argc, argv, opts, usage, NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    bool solve = !isnan(target);
    if (solve == !isnan(noise)) return cli_fail("privacy needs exactly one of --noise-multiplier S and --epsilon E");
    if (isnan(rate)) return cli_fail("privacy needs --sample-rate Q");
    if (steps == 0) return cli_fail("privacy needs --steps N");
    if (isnan(delta)) return cli_fail("privacy needs --delta D");
    if (!(delta > 0 && delta < 1)) return cli_fail("--delta must be in (0, 1), got %g", delta);

    if (solve) {
        if (!(target > 0)) return cli_fail("--epsilon must be > 0, got %g", target);
        if (!(tolerance > 0)) return cli_fail("--epsilon-tolerance must be > 0, got %g", tolerance);
        if (!(rate > 0)) return cli_fail("--sample-rate must be > 0 to solve for the noise multiplier");
        if (vt_privacy_noise_multiplier(target, delta, rate, steps, tolerance, &noise) != VT_OK)
            return cli_fail("%s", vt_last_error());
    }
    vt_privacy_accountant *acc = vt_privacy_accountant_new();
    vt_privacy_spent s;
    if (!acc || vt_privacy_accountant_step(acc, noise, rate, steps) != VT_OK ||
        vt_privacy_accountant_spent(acc, delta, &s) != VT_OK) {
        vt_privacy_accountant_free(acc);
        return cli_fail("%s", vt_last_error());
    }
    vt_privacy_accountant_free(acc);

    if (json) {
        printf("{");
        json_number("epsilon", s.epsilon, ", ");
        json_number("delta", delta, ", ");
        json_number("noise_multiplier", noise, ", ");
        json_number("sample_rate", rate, ", ");
        printf("\"steps\": %lld, ", (long long)steps);
        if (solve) {
            json_number("target_epsilon", target, ", ");
            json_number("epsilon_tolerance", tolerance, ", ");
        }
        json_number("best_order", s.best_order, "}\n");
    } else {
        if (solve) printf("noise multiplier %.8g: ", noise);
        if (isinf(s.epsilon)) printf("epsilon infinite (no privacy: noise multiplier 0)");
        else printf("epsilon %.8g", s.epsilon);
        printf(" at delta %g, best RDP order %g", delta, s.best_order);
        if (solve) printf(" (target %g, tolerance %g)", target, tolerance);
        printf("; %lld steps at sample rate %g", (long long)steps, rate);
        if (!solve) printf(", noise multiplier %g", noise);
        printf("\n");
    }
    if (s.order_at_edge && isfinite(s.epsilon))
        fprintf(stderr, "note: the best RDP order %g is at the end of the orders searched (1.1 to 63), as Opacus "
                        "warns: a wider range could give a smaller epsilon\n", s.best_order);
    return 0;
}
