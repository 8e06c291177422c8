# Shared by the serve tests (sourced): start a server on a free port, ask it
# with curl, read its JSON with node, and stop it whatever happens.
top=${SONO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
bin=${SONO_BINARY:-$top/build/sonodream}
make_audio=${SONO_MAKE_AUDIO:-$top/build/make_audio}
model=$top/models/us8k-seed.model
siren=$top/examples/siren-102871-8-0-0.flac
dog=$top/examples/dog_bark-100652-3-0-0.flac
tmp=$(mktemp -d)
servers=()
stop_servers() {
  for pid in "${servers[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
  rm -rf "$tmp"
}
trap stop_servers EXIT

fail() { echo "$test_name: FAIL: $*" >&2; exit 1; }

# start_server NAME ARGS...: a server with its own TMPDIR ($tmp/NAME/tmp);
# sets url, pid, and log ($tmp/NAME/out, $tmp/NAME/err).
start_server() {
  local name=$1
  shift
  mkdir -p "$tmp/$name/tmp"
  TMPDIR=$tmp/$name/tmp "$bin" serve --port 0 "$@" > "$tmp/$name/out" 2> "$tmp/$name/err" &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[^ #]*' "$tmp/$name/out" 2> /dev/null || true)
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2> /dev/null || fail "server $name did not start: $(cat "$tmp/$name/err")"
    sleep 0.1
  done
  fail "server $name printed no URL in 60 s"
}

# json EXPRESSION < body: a value of a JSON document: '.state', '.layers.length', or
# any expression of the document o ('o.a > o.b').
json() {
  node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{const o=JSON.parse(t);const e=process.argv[1];const v=eval(/^[.[]/.test(e)?"o"+e:e);console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"
}

# request ARGS...: curl; prints the body, then the status code on its own line.
request() {
  curl -s -S --max-time 120 -w '\n%{http_code}' "$@"
}
code_of() { tail -n 1 <<< "$1"; }
body_of() { sed '$d' <<< "$1"; }

# expect CODE RESPONSE WHAT: the status code and, for errors, a message.
expect() {
  local want=$1 got
  got=$(code_of "$2")
  [ "$got" = "$want" ] || fail "$3: expected $want, got $got: $(body_of "$2")"
  if [ "$want" -ge 400 ]; then
    local message
    message=$(body_of "$2" | json .error)
    [ -n "$message" ] && [ "$message" != undefined ] || fail "$3: $want without a message"
    echo "$test_name: $3 -> $want: $message"
  fi
}

# wait_final URL ID [SECONDS]: polls until done, failed or cancelled; prints the state.
wait_final() {
  local state
  for _ in $(seq 1 $((${3:-300} * 5))); do
    state=$(curl -s --max-time 10 "$1api/dreams/$2" | json .state)
    case "$state" in done | failed | cancelled) echo "$state"; return 0 ;; esac
    sleep 0.2
  done
  echo "timeout"
}

# vm_hwm_kb PID: the process's peak resident memory so far, in kB.
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
