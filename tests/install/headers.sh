#!/usr/bin/env bash
# Each public header compiles by itself as C11 (-pedantic -Wall -Wextra
# -Werror) and as C++11; and a C++ program links against libsonodream.so
# (the declarations have C linkage).
set -euo pipefail
source_dir=${SONO_SOURCE_DIR:?set by CTest}
cc=${CC:-cc}
cxx=${CXX:-c++}
command -v "$cxx" >/dev/null || { echo "headers: no C++ compiler ($cxx)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
for header in "$source_dir"/include/sonodream/*.h; do
  name=sonodream/$(basename "$header")
  printf '#include "%s"\ntypedef int not_empty; /* export.h alone declares nothing */\n' "$name" > "$work/one.c"
  "$cc" -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I "$source_dir/include" "$work/one.c" ||
    { echo "headers: $name does not compile alone as C11" >&2; exit 1; }
  "$cxx" -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I "$source_dir/include" -x c++ "$work/one.c" ||
    { echo "headers: $name does not compile alone as C++" >&2; exit 1; }
  count=$((count + 1))
done
linked="C++ links against the library"
if [ -n "${SONO_SHARED_LIBRARY:-}" ] && ldd "$SONO_SHARED_LIBRARY" > "$work/ldd.txt" && grep -q libasan "$work/ldd.txt"; then
  linked="C++ link not tried (a sanitizer build needs the runtime linked first)"
elif [ -n "${SONO_SHARED_LIBRARY:-}" ]; then
  cat > "$work/link.cpp" <<'CPP'
#include "sonodream/error.h"
#include "sonodream/nn.h"
#include <cstdio>
int main() {
    sono_error err = {};
    sono_net *net = nullptr;
    sono_shape input = {1, 8, 8};
    sono_status s = sono_net_new(&net, "c4,f8", input, 3, 1, 1, &err);
    std::printf("%s\n", s == SONO_OK ? "built" : err.message);
    sono_net_free(net);
    return s == SONO_OK ? 0 : 1;
}
CPP
  "$cxx" -std=c++11 -I "$source_dir/include" "$work/link.cpp" "$SONO_SHARED_LIBRARY" \
    -Wl,-rpath,"$(dirname "$SONO_SHARED_LIBRARY")" -o "$work/link" && "$work/link" >/dev/null ||
    { echo "headers: a C++ program does not link and run against $SONO_SHARED_LIBRARY" >&2; exit 1; }
fi
echo "headers: $count headers compile alone as C11 and C++; $linked"
