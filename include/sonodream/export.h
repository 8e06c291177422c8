/* sonodream: what libsonodream.so exports.
 *
 * The library is compiled with -fvisibility=hidden, so only what a public
 * header declares between SONO_BEGIN_DECLS and SONO_END_DECLS is exported
 * from libsonodream.so; everything else (src/ internal headers) stays
 * private. Every header in include/sonodream/ wraps its declarations so:
 *
 *     #include <stdint.h>              (other includes first, outside the block)
 *     #include "sonodream/export.h"
 *     SONO_BEGIN_DECLS
 *     ... declarations: all exported, with C linkage from C++ ...
 *     SONO_END_DECLS
 *
 * SONO_API marks a single declaration outside such a block. */
#ifndef SONODREAM_EXPORT_H
#define SONODREAM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SONO_API __attribute__((visibility("default")))
#define SONO_VISIBILITY_PUSH_ _Pragma("GCC visibility push(default)")
#define SONO_VISIBILITY_POP_ _Pragma("GCC visibility pop")
#else
#define SONO_API
#define SONO_VISIBILITY_PUSH_
#define SONO_VISIBILITY_POP_
#endif

#ifdef __cplusplus
#define SONO_BEGIN_DECLS SONO_VISIBILITY_PUSH_ extern "C" {
#define SONO_END_DECLS } SONO_VISIBILITY_POP_
#else
#define SONO_BEGIN_DECLS SONO_VISIBILITY_PUSH_
#define SONO_END_DECLS SONO_VISIBILITY_POP_
#endif

#endif
