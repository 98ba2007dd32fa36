/* verto --version: verto's and oneDNN's versions, the CPU, and the instruction
 * sets in use on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "verto/platform.h"

/* The CPU's model name from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *out, size_t size) {
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon) continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "%s", colon);
        break;
    }
    fclose(f);
}

int cmd_version(int argc, char **argv) {
    char model[256];
    cpu_model(model, sizeof model);
    const char *cap = getenv("VERTO_MAX_ISA");
    printf("verto %s\n", VERTO_VERSION);
    printf("oneDNN %s (kernels: %s)\n", vt_onednn_version(), vt_onednn_isa());
    printf("CPU: %s (widest instruction set verto uses: %s)\n", model, vt_isa_name(vt_isa_of_cpu()));
    printf("verto kernels: %s%s%s%s\n", vt_isa_name(vt_isa_in_use()), cap && *cap ? " (VERTO_MAX_ISA=" : "",
           cap && *cap ? cap : "", cap && *cap ? ")" : "");
    printf("bf16 products: %s\n", vt_bf16_native() ? "oneDNN's bf16 kernels"
                                                   : "emulated in f32 (no bf16 matrix instructions in use)");
    const char *gemm = getenv("VT_GEMM");
    printf("f32 products: %s (BLIS %s, OpenBLAS %s)\n",
           gemm && *gemm ? gemm : "auto: the library measured fastest per shape on this ISA",
           vt_gemm_library_info(VT_GEMM_BLIS), vt_gemm_library_info(VT_GEMM_OPENBLAS));
    return 0;
}
