#!/usr/bin/env bash
# libsonodream.so: soname libsonodream.so.<major>, and it exports exactly the
# functions and variables the public headers declare (static inline helpers
# excepted), nothing else.
set -euo pipefail
library=${SONO_SHARED_LIBRARY:?set by CTest}
include=${SONO_SOURCE_DIR:?}/include/sonodream
readelf -d "$library" | grep -q 'SONAME.*\[libsonodream\.so\.[0-9]*\]' ||
  { echo "exports: $library has no libsonodream.so.N soname" >&2; exit 1; }
exported=$(nm -D --defined-only "$library" | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
# Names followed by "(" in the headers, less those defined static inline.
declared=$(sed 's|/\*.*\*/||' "$include"/*.h | grep -oE '\bsono_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
inline=$(grep -hoE 'static inline [^(]*\bsono_[a-z0-9_]+ *\(' "$include"/*.h | grep -oE 'sono_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u)
declared=$(comm -23 <(echo "$declared") <(echo "$inline"))
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
status=0
[ -z "$extra" ] || { echo "exports: exported but not in a public header:" $extra >&2; status=1; }
[ -z "$missing" ] || { echo "exports: declared in a public header but not exported:" $missing >&2; status=1; }
[ $status = 0 ] && echo "exports: $(echo "$exported" | wc -l) symbols, exactly the public API"
exit $status
