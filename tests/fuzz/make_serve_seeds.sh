#!/usr/bin/env bash
# Writes the seed corpus of fuzz_serve (tests/fuzz/corpus/serve/): raw HTTP
# requests for each route, with and without the guards' headers, and
# multipart uploads (a short WAV, bad fields, a form cut short, chunked).
#   tests/fuzz/make_serve_seeds.sh BUILD/sonodream
set -euo pipefail
cd "$(dirname "$0")"
bin=$1
out=corpus/serve
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A 0.1 s WAV: the smallest recording the tiny model dreams.
"$bin" dream ../../models/us8k-seed.model --noise 0.1 -o "$tmp/n.wav" --octaves 1 --iterations 1 --quiet > /dev/null
seed() { printf '%b' "$2" > "$out/$1"; }
host='Host: 127.0.0.1\r\n'
seed get-page "GET / HTTP/1.1\r\n${host}\r\n"
seed get-models "GET /api/models HTTP/1.1\r\n${host}Connection: close\r\n\r\n"
seed get-examples "GET /api/examples HTTP/1.1\r\n${host}\r\n"
seed get-dream "GET /api/dreams/0123456789abcdef0123456789abcdef HTTP/1.1\r\n${host}\r\n"
seed get-audio "GET /api/dreams/0123456789abcdef0123456789abcdef/audio HTTP/1.1\r\n${host}Range: bytes=0-99\r\n\r\n"
seed get-events "GET /api/dreams/0123456789abcdef0123456789abcdef/events HTTP/1.1\r\n${host}\r\n"
seed delete-dream "DELETE /api/dreams/0123456789abcdef0123456789abcdef HTTP/1.1\r\n${host}\r\n"
seed token-query "GET /api/models?token=abc%00def HTTP/1.1\r\n${host}Authorization: Bearer x\r\n\r\n"
seed origin "POST /api/dreams HTTP/1.1\r\n${host}Origin: http://evil.example\r\nContent-Length: 0\r\n\r\n"
seed pipelined "GET /api/models HTTP/1.1\r\n${host}\r\nGET /style.css HTTP/1.1\r\n${host}\r\n"
multipart() { # multipart NAME FIELDS... (name=value, or audio=@file)
  local name=$1 body="$tmp/body"
  shift
  : > "$body"
  for f in "$@"; do
    printf -- '--b0undary\r\n' >> "$body"
    if [[ $f == audio=@* ]]; then
      printf 'Content-Disposition: form-data; name="audio"; filename="n.wav"\r\nContent-Type: audio/wav\r\n\r\n' >> "$body"
      cat "${f#audio=@}" >> "$body"
    else
      printf 'Content-Disposition: form-data; name="%s"\r\n\r\n%s' "${f%%=*}" "${f#*=}" >> "$body"
    fi
    printf '\r\n' >> "$body"
  done
  printf -- '--b0undary--\r\n' >> "$body"
  { printf 'POST /api/dreams HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n'
    printf 'Content-Length: %d\r\n\r\n' "$(stat -c %s "$body")"
    cat "$body"; } > "$out/$name"
}
multipart post-layer "audio=@$tmp/n.wav" objective=layer layer=conv1 octaves=1 iterations=1
multipart post-channel "audio=@$tmp/n.wav" objective=channel layer=conv1 channel=3 step=0.5 seed=9
multipart post-class "audio=@$tmp/n.wav" class=noise render=mask
multipart post-bad-fields "audio=@$tmp/n.wav" octaves=abc colour=blue
multipart post-no-audio octaves=2
head -c 300 "$out/post-layer" > "$out/post-cut-short"
{ printf 'POST /api/dreams HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n'
  printf 'Transfer-Encoding: chunked\r\n\r\n10\r\n--b0undary\r\nCont\r\n0\r\n\r\n'; } > "$out/post-chunked"
echo "wrote $(ls "$out" | wc -l) seeds to $out"
