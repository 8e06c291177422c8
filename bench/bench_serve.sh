#!/usr/bin/env bash
# sonodream serve under load, beside its own reference in one run:
#   1. status-request latency (p50, p99) while a dream runs, beside the same
#      requests with no dream running (the ratio is what the dream costs);
#   2. requests/s for GET /api/models (wrk; a curl loop where wrk is missing),
#      beside GET /style.css, a static asset (the ratio is the API's cost);
#   3. the server's memory (VmRSS) after 10, 50 and 100 dreams: it must stay
#      flat (the leak check).
# Prints the machine's load first: the numbers mean little on a busy machine.
#   bench/bench_serve.sh [BINARY] [DREAMS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/sonodream}
dreams=${2:-100}
model=models/us8k-seed.model
clip=examples/siren-102871-8-0-0.flac
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null; rm -rf "$tmp"' EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
TMPDIR=$tmp "$bin" serve --port 0 --queue 200 --keep 20 -q "$model" > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 1 100); do grep -q http "$tmp/out" 2> /dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ #]*' "$tmp/out")
post() { curl -s -F "audio=@$clip" "$@" "${url}api/dreams" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/'; }
state() { # the state, or "gone" once expired (--keep)
  local status
  status=$(curl -s "${url}api/dreams/$1")
  case "$status" in *'"state":'*) sed 's/.*"state":"\([a-z]*\)".*/\1/' <<< "$status" ;; *) echo gone ;; esac
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }

# ---- 1. status latency ----
# One curl, many transfers over one kept-alive connection: time_total of
# each is the request's own time, without process start-up.
latencies() { # latencies ID COUNT -> one time per line, seconds
  local args=()
  for _ in $(seq 1 "$2"); do args+=(-o /dev/null "${url}api/dreams/$1"); done
  curl -s -w '%{time_total}\n' "${args[@]}"
}
percentile() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(p * NR + 0.999); if (i < 1) i = 1; printf "%.2f", 1000 * v[i] }'; }
short=$(post -F octaves=1 -F iterations=2)
while [ "$(state "$short")" != done ]; do sleep 0.1; done
latencies "$short" 500 > "$tmp/idle"
long=$(post -F octaves=4 -F iterations=200)
while [ "$(state "$long")" != running ]; do sleep 0.05; done
latencies "$short" 500 > "$tmp/busy"
[ "$(state "$long")" = running ] || echo "warning: the dream ended before the requests did"
curl -s -X DELETE "${url}api/dreams/$long" > /dev/null
idle50=$(percentile 0.5 < "$tmp/idle") idle99=$(percentile 0.99 < "$tmp/idle")
busy50=$(percentile 0.5 < "$tmp/busy") busy99=$(percentile 0.99 < "$tmp/busy")
echo "status latency, 500 requests: while a dream runs p50 $busy50 ms, p99 $busy99 ms;" \
     "idle p50 $idle50 ms, p99 $idle99 ms (p99 ratio $(awk -v a="$busy99" -v b="$idle99" 'BEGIN { printf "%.1f", a / b }')x)"
busiest=$(sort -g "$tmp/busy" | tail -1 | awk '{ printf "%.1f", 1000 * $1 }')
echo "  slowest status answer while dreaming: $busiest ms (the issue asks for < 100 ms)"

# ---- 2. requests per second ----
while [ "$(state "$long")" = running ]; do sleep 0.05; done
rps() { # rps PATH -> requests/s over 5 s
  if command -v wrk > /dev/null; then
    wrk -t2 -c8 -d5s "$url$1" | awk '/^Requests\/sec/ { printf "%.0f", $2 }'
  else
    local start end n=2000 urls=()
    for _ in $(seq 1 $n); do urls+=(-o /dev/null "$url$1"); done
    start=$(date +%s.%N)
    curl -s "${urls[@]}"
    end=$(date +%s.%N)
    awk -v n=$n -v t="$(echo "$end $start" | awk '{ print $1 - $2 }')" 'BEGIN { printf "%.0f", n / t }'
  fi
}
models_rps=$(rps api/models)
static_rps=$(rps style.css)
echo "GET /api/models: $models_rps requests/s ($(command -v wrk > /dev/null && echo "wrk -t2 -c8 -d5s" || echo "one curl, 2000 requests"));" \
     "GET /style.css $static_rps requests/s (ratio $(awk -v a="$models_rps" -v b="$static_rps" 'BEGIN { printf "%.2f", a / b }'))"

# ---- 3. memory after many dreams ----
# The dreams are queued at once and followed to their end; memory is read
# after 10, 50 and all of them. --keep 20: older results are expired, so
# what the server holds is bounded and any growth is a leak.
run_dreams() { # run_dreams COUNT
  local ids=() k
  for k in $(seq 1 "$1"); do ids+=("$(post -F octaves=1 -F iterations=2 -F "seed=$k")"); done
  for id in "${ids[@]}"; do
    while :; do
      case "$(state "$id")" in done | failed | cancelled | gone) break ;; esac
      sleep 0.1
    done
  done
}
start=$(date +%s)
run_dreams 10
rss10=$(rss_kb)
run_dreams 40
rss50=$(rss_kb)
run_dreams $((dreams - 50))
rss100=$(rss_kb)
echo "memory (VmRSS) after 10 dreams $((rss10 / 1024)) MiB, after 50 $((rss50 / 1024)) MiB, after $dreams $((rss100 / 1024)) MiB" \
     "(growth from 10 to $dreams: $(((rss100 - rss10) / 1024)) MiB; $(( $(date +%s) - start )) s of dreams)"
echo "machine load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
