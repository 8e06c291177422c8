/* sonodream: how much memory a job may take, so that work too large for the
 * machine is refused up front with the size it needs, not killed part way. */
#ifndef SONODREAM_MEMORY_H
#define SONODREAM_MEMORY_H

#include <stddef.h>

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* Bytes this process may still allocate: MemAvailable (physical memory when
 * unknown), capped by a container's cgroup limit (memory.max less
 * memory.current) and by RLIMIT_AS, since either stops us long before
 * MemAvailable runs out. */
unsigned long long sono_memory_available(void);

/* "24.0 KiB", "1.5 GiB": a size in the unit a reader takes in at a glance. */
void sono_format_bytes(unsigned long long bytes, char *buf, size_t size);

SONO_END_DECLS
#endif
