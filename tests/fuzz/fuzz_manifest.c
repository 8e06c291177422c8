/* libFuzzer target: the manifest layout (the CSV/TSV table reader, column
 * choice, path, label and fold checks) through sono_dataset_scan. The first
 * byte picks CSV or TSV; the rest is the manifest. */
#include "fuzz_common.h"
#include "sonodream/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *path = fuzz_scratch_path(data[0] & 1 ? ".tsv" : ".csv");
    if (!fuzz_write_scratch(path, data + 1, size - 1)) return 0;
    static const char *const classes[] = {"gull", "crow"};
    sono_scan_options opt = {.layout = SONO_LAYOUT_MANIFEST, .skip_missing = 1};
    if (data[0] & 2) opt.classes = classes, opt.class_list_count = 2;
    sono_clip_list *list = NULL;
    sono_error err = {0};
    sono_status s = sono_dataset_scan(path, &opt, &list, &err);
    fuzz_check_refusal(s, &err);
    for (int i = 0; s == SONO_OK && i < list->count; i++) /* what is accepted holds what it promises */
        if (!list->clips[i].path || list->clips[i].label < 0 || list->clips[i].label >= list->class_count ||
            list->clips[i].fold < 1 || list->clips[i].fold > list->fold_count)
            abort();
    sono_clip_list_free(list);
    return 0;
}
