#!/usr/bin/env bash
# sonodream serve through its API, with curl: the models, a dream end to
# end, every hostile input (413 without storing the body, 422 for non-audio,
# corrupt and too long audio, 4xx with a message for bad fields, paths that
# try to reach files), 401 without the token beyond loopback, 503 with
# Retry-After when the queue is full, cancel, 16 dreams from 4 clients at
# once all ending in a final state, and SIGTERM during a dream (exit 0 within
# 10 s, temporary files gone).
set -euo pipefail
test_name=cli_serve
source "$(dirname "$0")/serve_lib.sh"
small=(-F octaves=1 -F iterations=2)

# ---- a server with small limits ----
start_server main "$model" --max-upload 1M --max-seconds 5 --max-channels 2 --max-rate 48000 --jobs 1 --queue 32 \
  --keep 20
main_url=$url
main_pid=$pid
main_tmp=$tmp/main/tmp

r=$(request "${main_url}api/models")
expect 200 "$r" "GET /api/models"
models=$(body_of "$r")
[ "$(json '.length' <<< "$models")" = 1 ] || fail "one model expected"
[ "$(json '[0].name' <<< "$models")" = us8k-seed ] || fail "model name"
[ "$(json '[0].classes.length' <<< "$models")" = 10 ] || fail "classes"
[ "$(json '[0].layers.find(l=>l.name==="conv3").channels' <<< "$models")" = 64 ] || fail "layers with channels"
[ "$(json '[0].sample_rate' <<< "$models")" = 16000 ] || fail "sample_rate"
[ "$(json '[0].features.n_mels' <<< "$models")" = 128 ] || fail "feature configuration"

# ---- decode bombs: refused while decoding, before anything but the upload is stored ----
# 30 min of Ogg Vorbis silence: 806 kB, under --max-upload, 317 MB decoded.
# The server must stop at --max-seconds, not decode it whole first (its
# peak memory, VmHWM, must not grow by the decoded size).
"$make_audio" "$tmp/bomb.ogg" ogg 2 22050 1800
hwm_before=$(vm_hwm_kb "$main_pid")
start=$(date +%s.%N)
r=$(request -F "audio=@$tmp/bomb.ogg" "${main_url}api/dreams")
seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
expect 422 "$r" "30 min of Ogg Vorbis silence"
grep -q -- '--max-seconds' <<< "$r" || fail "the bomb's refusal does not name --max-seconds: $r"
hwm_after=$(vm_hwm_kb "$main_pid")
echo "$test_name: Ogg bomb (317 MB decoded) refused in $seconds s; server peak RSS $((hwm_before / 1024)) -> $((hwm_after / 1024)) MiB"
[ $((hwm_after - hwm_before)) -lt 65536 ] || fail "peak memory grew by $(((hwm_after - hwm_before) / 1024)) MiB refusing a decode bomb"
"$make_audio" "$tmp/three.flac" flac 3 16000 1
r=$(request -F "audio=@$tmp/three.flac" "${main_url}api/dreams")
expect 422 "$r" "3 channels over --max-channels 2"
grep -q -- '--max-channels' <<< "$r" || fail "no --max-channels in: $r"
"$make_audio" "$tmp/fast.flac" flac 1 96000 1
r=$(request -F "audio=@$tmp/fast.flac" "${main_url}api/dreams")
expect 422 "$r" "96 kHz over --max-rate 48000"
grep -q -- '--max-rate' <<< "$r" || fail "no --max-rate in: $r"

# ---- one dream, end to end ----
r=$(curl -s -S --max-time 120 -D "$tmp/headers-202" -w '\n%{http_code}' -F "audio=@$siren" -F class=dog_bark \
    "${small[@]}" "${main_url}api/dreams")
expect 202 "$r" "POST /api/dreams"
grep -qi '^X-Content-Type-Options: nosniff' "$tmp/headers-202" || fail "202 without the common headers"
id=$(body_of "$r" | json .id)
[[ $id =~ ^[0-9a-f]{32}$ ]] || fail "id '$id' is not 32 hex digits"
[ "$(wait_final "$main_url" "$id")" = done ] || fail "the dream did not end done: $(curl -s "${main_url}api/dreams/$id")"
status=$(curl -s "${main_url}api/dreams/$id")
[ "$(json .progress <<< "$status")" = 1 ] || fail "progress of a done dream"
[ "$(json .report.class <<< "$status")" = dog_bark ] || fail "report names the class"
[ "$(json 'o.report.objective_after > o.report.objective_before' <<< "$status")" = true ] || fail "the objective rose"
curl -s -f -o "$tmp/dream.wav" "${main_url}api/dreams/$id/audio" || fail "GET audio"
curl -s -f -o "$tmp/input.wav" "${main_url}api/dreams/$id/input" || fail "GET input"
curl -s -f -o "$tmp/picture.png" "${main_url}api/dreams/$id/picture" || fail "GET picture"
"$bin" info "$tmp/dream.wav" | grep -q "16000 Hz" || fail "the dream is not a 16 kHz WAV"
"$bin" info "$tmp/input.wav" | grep -q "16000 Hz" || fail "the input copy is not a 16 kHz WAV"
[ "$(head -c 8 "$tmp/picture.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the picture is not a PNG"
# Ranges, for the players' seeking.
[ "$(curl -s -H 'Range: bytes=4-11' "${main_url}api/dreams/$id/audio" | od -An -c | tr -d ' \n')" = \
  "$(head -c 12 "$tmp/dream.wav" | tail -c 8 | od -An -c | tr -d ' \n')" ] || fail "range request"
events=$(curl -s -N --max-time 10 "${main_url}api/dreams/$id/events")
grep -q '^event: status' <<< "$events" && grep -q '"state":"done"' <<< "$events" || fail "event stream: $events"

# ---- hostile uploads ----
head -c 3000000 /dev/urandom > "$tmp/big.bin"
r=$(request -F "audio=@$tmp/big.bin" "${main_url}api/dreams")
expect 413 "$r" "upload over --max-upload"
# Without a Content-Length the server cannot refuse up front: it stops at
# the limit and closes the connection. Either way nothing is queued and no
# file beyond the limit is kept.
r=$(curl -s --max-time 60 -H 'Transfer-Encoding: chunked' -F "audio=@$tmp/big.bin" -w '\n%{http_code}' \
    "${main_url}api/dreams" || true)
case "$(code_of "$r")" in 413 | 000 | 100) ;; *) fail "chunked upload over the limit: $r" ;; esac
biggest=$(find "$main_tmp" -type f -size +1024k | head -1)
[ -z "$biggest" ] || fail "a file over the upload limit was stored: $biggest"

echo "this is not a recording" > "$tmp/text.wav"
r=$(request -F "audio=@$tmp/text.wav" "${main_url}api/dreams")
expect 422 "$r" "non-audio upload"
grep -q "text.wav" <<< "$r" || fail "the message names the upload"
grep -q "$main_tmp" <<< "$r" && fail "the message shows the server's folder"
head -c 30000 "$siren" > "$tmp/truncated.flac"
r=$(request -F "audio=@$tmp/truncated.flac" "${main_url}api/dreams")
expect 422 "$r" "truncated FLAC"
: > "$tmp/empty.wav"
r=$(request -F "audio=@$tmp/empty.wav" "${main_url}api/dreams")
expect 422 "$r" "empty upload"
"$bin" dream "$model" --noise 6 -o "$tmp/long.wav" --octaves 1 --iterations 1 --quiet > /dev/null
r=$(request -F "audio=@$tmp/long.wav" "${main_url}api/dreams")
expect 422 "$r" "6 s over --max-seconds 5"

# Bad fields: 400 with a message naming the field.
bad_fields=("octaves=0" "octaves=abc" "iterations=100000" "step=-1" "step=nan" "seed=-3" "render=fancy"
            "objective=everything" "layer=conv99" "class=cat" "model=nope" "colour=blue")
for field in "${bad_fields[@]}"; do
  r=$(request -F "audio=@$siren" -F "$field" "${main_url}api/dreams")
  expect 400 "$r" "field $field"
  grep -q "${field%%=*}" <<< "$r" || fail "the message for $field does not name the field"
done
r=$(request -F "audio=@$siren" -F objective=channel -F layer=conv3 -F channel=64 "${main_url}api/dreams")
expect 400 "$r" "channel 64 of a 64-channel layer"
r=$(request -F "audio=@$siren" -F class=siren -F layer=conv2 "${main_url}api/dreams")
expect 400 "$r" "class with a layer"
r=$(request -F octaves=2 "${main_url}api/dreams")
expect 400 "$r" "no audio field"
r=$(request -F "audio=@$siren" -F "audio=@$dog" "${main_url}api/dreams")
expect 400 "$r" "two audio files"
r=$(request -H 'Content-Type: application/json' -d '{"audio": 1}' "${main_url}api/dreams")
expect 415 "$r" "JSON instead of a form"
r=$(request -H 'Content-Type: multipart/form-data; boundary=xyz' --data-binary $'--xyz\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\nRIFF' "${main_url}api/dreams")
[ "$(code_of "$r")" -ge 400 ] && [ "$(code_of "$r")" -lt 500 ] || fail "a form cut short: $r"

# Paths: nothing in a URL reaches the file system.
for path in "api/dreams/..%2f..%2fetc%2fpasswd" "api/dreams/$id/..%2f..%2f..%2fetc%2fpasswd" \
            "api/dreams/${id}/audio%00" "api/dreams/${id^^}" "api/examples/..%2fREADME.md" "api/dreams/$id/upload"; do
  r=$(request "$main_url$path")
  expect 404 "$r" "GET /$path"
done
r=$(request -X PUT "${main_url}api/dreams/$id")
expect 405 "$r" "PUT a dream"
r=$(request -H 'Origin: http://elsewhere.example' "${main_url}api/models")
expect 403 "$r" "a request from another site"
r=$(request -H 'Host: rebound.example:80' "${main_url}api/models")
expect 403 "$r" "a DNS-rebound Host"
# A browser marks what a page of another site asks, Origin or not; another
# port of localhost is the same site, not the same origin.
for site in cross-site same-site; do
  r=$(request -H "Sec-Fetch-Site: $site" "${main_url}api/dreams/$id")
  expect 403 "$r" "Sec-Fetch-Site: $site"
done
r=$(request -H 'Sec-Fetch-Site: same-origin' "${main_url}api/models")
expect 200 "$r" "Sec-Fetch-Site: same-origin"
curl -s -D - -o /dev/null "$main_url" | grep -qi "^Content-Security-Policy:.*form-action 'self'" ||
  fail "the page's CSP lacks form-action 'self'"

# ---- DELETE: a finished dream is removed ----
r=$(request -X DELETE "${main_url}api/dreams/$id")
expect 200 "$r" "DELETE a done dream"
r=$(request "${main_url}api/dreams/$id")
expect 404 "$r" "GET a removed dream"
[ ! -e "$main_tmp"/*/"$id" ] || fail "the removed dream's folder is still there"

# ---- 16 dreams from 4 clients at once ----
client() {
  for k in 1 2 3 4; do
    curl -s --max-time 120 -F "audio=@$siren" -F "seed=$1$k" "${small[@]}" "${main_url}api/dreams" | json .id
  done > "$tmp/client-$1"
}
clients=()
for c in 1 2 3 4; do
  client "$c" &
  clients+=($!)
done
wait "${clients[@]}"
ids=$(cat "$tmp"/client-*)
[ "$(grep -cE '^[0-9a-f]{32}$' <<< "$ids")" = 16 ] || fail "16 dreams accepted: $ids"
[ "$(sort -u <<< "$ids" | wc -l)" = 16 ] || fail "16 distinct ids"
for id in $ids; do
  state=$(wait_final "$main_url" "$id" 600)
  [ "$state" = done ] || fail "dream $id ended $state"
done
echo "$test_name: 16 dreams from 4 clients: all done"

# ---- a full queue, cancel ----
start_server queue "$model" --jobs 1 --queue 1 --keep 2 --max-streams 1
r=$(request -F "audio=@$siren" -F octaves=8 -F iterations=200 "${url}api/dreams")
expect 202 "$r" "a long dream"
long=$(body_of "$r" | json .id)
for _ in $(seq 1 300); do
  [ "$(curl -s "${url}api/dreams/$long" | json .state)" = running ] && break
  sleep 0.1
done
# Event streams: one is allowed (--max-streams 1); a second gets 503 at once.
curl -s -N --max-time 60 "${url}api/dreams/$long/events" > /dev/null &
stream=$!
sleep 0.5
r=$(request --max-time 5 "${url}api/dreams/$long/events" || true)
expect 503 "$r" "an event stream beyond --max-streams 1"
kill "$stream"
wait "$stream" || true
# The last place is held from the first byte of an upload: one sent slowly
# (88 kB at 40 kB/s) holds it, and an upload that starts meanwhile is
# refused at once, not stored and decoded first.
curl -s -S --max-time 120 --limit-rate 40k -w '\n%{http_code}' -F "audio=@$siren" "${small[@]}" "${url}api/dreams" \
  > "$tmp/slow" &
slow=$!
sleep 0.7
r=$(request -F "audio=@$siren" "${small[@]}" "${url}api/dreams")
expect 503 "$r" "an upload while the last place is held by a slow one"
wait "$slow" || fail "the slow upload failed"
r=$(cat "$tmp/slow")
expect 202 "$r" "a second dream waits"
waiting=$(body_of "$r" | json .id)
[ "$(curl -s "${url}api/dreams/$waiting" | json .position)" = 1 ] || fail "position of the waiting dream"
r=$(curl -s -D "$tmp/headers" -w '\n%{http_code}' -F "audio=@$siren" "${small[@]}" "${url}api/dreams")
expect 503 "$r" "a third dream with the queue full"
grep -qi '^Retry-After: [0-9]' "$tmp/headers" || fail "503 without Retry-After"
grep -qi '^X-Content-Type-Options: nosniff' "$tmp/headers" || fail "503 without the common headers"
r=$(request -X DELETE "${url}api/dreams/$long")
expect 202 "$r" "DELETE a running dream"
[ "$(wait_final "$url" "$long" 60)" = cancelled ] || fail "the long dream was not cancelled"
[ "$(wait_final "$url" "$waiting")" = done ] || fail "the waiting dream did not run after the cancel"
# Expiry: beyond --keep 2 finished dreams, the oldest go with their folders.
for k in 1 2; do
  r=$(request -F "audio=@$siren" "${small[@]}" "${url}api/dreams")
  expect 202 "$r" "dream $k after the queue emptied"
  [ "$(wait_final "$url" "$(body_of "$r" | json .id)")" = done ] || fail "dream $k after the queue emptied"
done
r=$(request "${url}api/dreams/$long")
expect 404 "$r" "an expired dream"
kept=$(find "$tmp/queue/tmp" -mindepth 2 -maxdepth 2 -type d | wc -l)
[ "$kept" = 2 ] || fail "$kept dream folders kept with --keep 2"

# stop_server PID NAME: SIGTERM, exit 0 within 10 s (under ASan: no leak).
stop_server() {
  kill -TERM "$1"
  for _ in $(seq 1 100); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
  kill -0 "$1" 2> /dev/null && fail "server $2 still running 10 s after SIGTERM"
  local code=0
  wait "$1" || code=$?
  [ "$code" = 0 ] || fail "server $2 exited $code after SIGTERM: $(tail -20 "$tmp/$2/err")"
}
stop_server "$main_pid" main
stop_server "$pid" queue

# ---- connections: one address, a slow request ----
# --connections-per-ip 4: a fifth connection from 127.0.0.1 is closed at once.
start_server perip "$model" --connections-per-ip 4 --request-timeout 2
port=${url##*:}
port=${port%/}
for fd in 4 5 6 7; do eval "exec $fd<> /dev/tcp/127.0.0.1/$port"; done
sleep 0.3
r=$(curl -s --max-time 10 -w '\n%{http_code}' "${url}api/models" || true)
[ "$(code_of "$r")" = 000 ] || fail "a fifth connection from one address was served: $(code_of "$r")"
for fd in 4 5 6 7; do eval "exec $fd<&-"; done
sleep 0.3
r=$(request "${url}api/models")
expect 200 "$r" "a connection once the others closed"
# Slowloris: a header line a second passes the idle timeout (60 s), not
# --request-timeout 2: the connection is closed (EOF, not a read timeout).
exec 3<> "/dev/tcp/127.0.0.1/$port"
(
  trap '' PIPE
  printf 'GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n' >&3
  for k in 1 2 3 4 5; do sleep 1; printf 'X-Slow-%d: a\r\n' "$k" >&3 2> /dev/null || exit 0; done
)
read_status=0
read -r -t 2 -u 3 _ || read_status=$?
exec 3<&-
[ "$read_status" = 1 ] || fail "a request trickled over 5 s was not cut at --request-timeout 2 (read status $read_status)"
echo "$test_name: a request trickled a line a second: closed at --request-timeout 2"
r=$(request "${url}api/models")
expect 200 "$r" "a request after the slow one"
stop_server "$pid" perip

# ---- the disk budget ----
# A dream of the 4 s siren counts 8.6 MB (input and dream as 32-bit float,
# and the picture); --max-disk 10M holds one: the next expires the finished
# one, and 2 minutes of FLAC (23 MB counted) never fit: 507.
start_server disk "$model" --max-disk 10M --keep 20
r=$(request -F "audio=@$siren" "${small[@]}" "${url}api/dreams")
expect 202 "$r" "a dream within --max-disk"
first=$(body_of "$r" | json .id)
[ "$(wait_final "$url" "$first")" = done ] || fail "the first dream within --max-disk"
r=$(request -F "audio=@$siren" "${small[@]}" "${url}api/dreams")
expect 202 "$r" "a second dream, for which the first expires"
[ "$(wait_final "$url" "$(body_of "$r" | json .id)")" = done ] || fail "the second dream within --max-disk"
r=$(request "${url}api/dreams/$first")
expect 404 "$r" "the dream expired to make room on disk"
"$make_audio" "$tmp/two-minutes.flac" flac 1 16000 120
r=$(request -F "audio=@$tmp/two-minutes.flac" "${url}api/dreams")
expect 507 "$r" "2 minutes that do not fit --max-disk 10M"
grep -q -- '--max-disk' <<< "$r" || fail "no --max-disk in: $r"
used=$(du -sk "$tmp/disk/tmp" | cut -f1)
[ "$used" -le 10240 ] || fail "the server's folder holds $used kB with --max-disk 10M"
stop_server "$pid" disk

# ---- the token, bound beyond loopback ----
start_server open "$model" --host 0.0.0.0
open_url=$(grep -o 'http://[^ #]*' "$tmp/open/out" | sed 's#//0\.0\.0\.0:#//127.0.0.1:#')
token=$(grep -o 'generated): [0-9a-f]*' "$tmp/open/out" | sed 's/.*: //')
[ ${#token} = 32 ] || fail "no generated token printed: $(cat "$tmp/open/out")"
r=$(request "${open_url}api/models")
expect 401 "$r" "no token"
start=$(date +%s.%N)
r=$(request -H "Authorization: Bearer wrong-token-123" "${open_url}api/models")
expect 401 "$r" "a wrong token"
# Wrong tokens are answered after 1 s, one at a time: two at once take 2 s.
request -H "Authorization: Bearer wrong-token-456" "${open_url}api/models" > /dev/null &
guess=$!
r=$(request "${open_url}api/models?token=wrong-token-789")
wait "$guess"
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
awk -v e="$elapsed" 'BEGIN { exit !(e >= 2.9) }' || fail "three wrong tokens answered in $elapsed s (1 s each expected)"
echo "$test_name: three wrong tokens (two at once) answered in $elapsed s"
r=$(request -X DELETE "${open_url}api/dreams/0123456789abcdef0123456789abcdef")
expect 401 "$r" "DELETE without the token"
r=$(request -F "audio=@$siren" "${open_url}api/dreams")
expect 401 "$r" "POST without the token"
r=$(request -H "Authorization: Bearer $token" "${open_url}api/models")
expect 200 "$r" "the token as a header"
r=$(request "${open_url}api/models?token=$token")
expect 200 "$r" "the token as a query"
curl -s -f -o /dev/null "$open_url" || fail "the page itself needs no token"
timeout 20 "$bin" serve --host 0.0.0.0 --token fifteen-chars15 "$model" 2> "$tmp/short.err" &&
  fail "a 15-character token was accepted"
grep -q "16" "$tmp/short.err" || fail "short token message: $(cat "$tmp/short.err")"
stop_server "$pid" open
# The token from a file or the environment: never printed; from the command
# line: a warning, and the process's command line no longer shows it.
secret=0123456789abcdef-from-a-file
printf '%s\n' "$secret" > "$tmp/token"
start_server tokfile "$model" --host 127.0.0.1 --token-file "$tmp/token"
grep -q "$secret" "$tmp/tokfile/out" && fail "the token from --token-file was printed"
r=$(request -H "Authorization: Bearer $secret" "${url}api/models")
expect 200 "$r" "the token from --token-file"
r=$(request "${url}api/models")
expect 401 "$r" "no token with --token-file"
stop_server "$pid" tokfile
export SONODREAM_TOKEN=0123456789abcdef-from-the-environment
start_server tokenv "$model"
unset SONODREAM_TOKEN
r=$(request -H "Authorization: Bearer 0123456789abcdef-from-the-environment" "${url}api/models")
expect 200 "$r" "the token from SONODREAM_TOKEN"
r=$(request -H "Authorization: Bearer $secret" "${url}api/models")
expect 401 "$r" "another token with SONODREAM_TOKEN"
stop_server "$pid" tokenv
start_server tokarg "$model" --token 0123456789abcdef-on-the-command-line
grep -q "warning: a --token on the command line" "$tmp/tokarg/err" || fail "no warning for --token"
tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 0123456789abcdef-on-the-command-line &&
  fail "the token is still in the process's command line"
stop_server "$pid" tokarg
printf 'short\n' > "$tmp/short-token"
timeout 20 "$bin" serve --token-file "$tmp/short-token" "$model" 2> "$tmp/short.err" &&
  fail "a short token file was accepted"
grep -q -- "--token-file" "$tmp/short.err" || fail "short token file message: $(cat "$tmp/short.err")"

# ---- SIGTERM during a dream ----
start_server term "$model"
r=$(request -F "audio=@$siren" -F octaves=8 -F iterations=200 "${url}api/dreams")
expect 202 "$r" "a dream to interrupt"
id=$(body_of "$r" | json .id)
for _ in $(seq 1 300); do
  [ "$(curl -s "${url}api/dreams/$id" | json .state)" = running ] && break
  sleep 0.1
done
curl -s -N --max-time 30 "${url}api/dreams/$id/events" > "$tmp/term-events" &
events_pid=$!
sleep 0.3
ls "$tmp/term/tmp"/sonodream-serve-*/"$id" > /dev/null || fail "no job folder while running"
start=$(date +%s.%N)
kill -TERM "$pid"
code=0
for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
kill -0 "$pid" 2> /dev/null && fail "still running 10 s after SIGTERM"
wait "$pid" || code=$?
[ "$code" = 0 ] || fail "exit status $code after SIGTERM"
echo "$test_name: SIGTERM during a dream: exit 0 after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
[ -z "$(ls -A "$tmp/term/tmp")" ] || fail "temporary files left: $(ls -R "$tmp/term/tmp")"
wait "$events_pid" || true
grep -q '"state":"running"' "$tmp/term-events" || fail "the event stream showed no running dream"
echo "$test_name: ok"
