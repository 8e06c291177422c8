#include "sonodream/memory.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* A number from the first line of a file (cgroup v2 memory.max,
 * memory.current); 0 when absent or "max". */
static unsigned long long read_number_file(const char *path) {
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

unsigned long long sono_memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    unsigned long long have = kb ? kb * 1024ull
                                 : (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
    unsigned long long limit = read_number_file("/sys/fs/cgroup/memory.max");
    if (limit) {
        unsigned long long used = read_number_file("/sys/fs/cgroup/memory.current");
        unsigned long long left = limit > used ? limit - used : 0;
        if (left < have) have = left;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < have) have = rl.rlim_cur;
    return have;
}

void sono_format_bytes(unsigned long long bytes, char *buf, size_t size) {
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, size, "%llu bytes", bytes);
    else snprintf(buf, size, "%.1f %s", v, units[u]);
}
