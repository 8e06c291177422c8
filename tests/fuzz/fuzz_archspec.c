/* libFuzzer target: the architecture spec parser. What it accepts must
 * format to a canonical text that parses back to the same architecture. */
#include "fuzz_common.h"
#include "sonodream/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sono_arch arch, again;
    memset(&arch, 0, sizeof arch);
    memset(&again, 0, sizeof again);
    sono_error err = {0};
    sono_status s = sono_arch_parse(text, &arch, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK) {
        char canonical[4 * SONO_ARCH_TEXT_MAX];
        int need = sono_arch_format(&arch, canonical, sizeof canonical);
        if (need < 0 || (size_t)need >= sizeof canonical) abort();
        if (sono_arch_parse(canonical, &again, &err) != SONO_OK) {
            fprintf(stderr, "canonical '%s' refused: %s\n", canonical, err.message);
            abort();
        }
        if (again.count != arch.count || memcmp(again.layers, arch.layers, (size_t)arch.count * sizeof arch.layers[0]) != 0)
            abort();
    }
    free(text);
    return 0;
}
