/* libFuzzer target: the UrbanSound8K metadata CSV reader. The input is not
 * NUL-terminated, as a file read into memory need not be. */
#include "fuzz_common.h"
#include "sonodream/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sono_us8k_row *rows = NULL;
    int count = 0;
    sono_error err = {0};
    sono_status s = sono_us8k_parse_csv((const char *)data, size, "fuzz.csv", &rows, &count, &err);
    fuzz_check_refusal(s, &err);
    for (int i = 0; s == SONO_OK && i < count; i++) {
        /* What the parser accepts must hold what it promises. */
        if (!rows[i].file || !rows[i].class_name || rows[i].fold < 1 || rows[i].fold > 10 || rows[i].class_id < 0)
            abort();
    }
    if (s == SONO_OK) sono_us8k_rows_free(rows, count);
    return 0;
}
