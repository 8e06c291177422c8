#!/usr/bin/env bash
# The dream report page in a real browser (headless Chromium): both pictures
# load, every audio element points at an existing WAV that the browser can
# open, and a screenshot is saved (browser-report.png in the working folder,
# the build folder under CTest).
set -euo pipefail
top=${SONO_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${SONO_BINARY:-$top/build/sonodream}
model=$top/models/us8k-seed.model
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "cli_browser: chromium is not installed (SONO_WITH_BROWSER=1 scripts/install-deps installs it)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" dream "$model" "$top/examples/siren-102871-8-0-0.flac" -o "$tmp/dream.wav" --report --quiet \
  --octaves 2 --iterations 3 --griffin-lim 8 > "$tmp/dream.log"

# Every audio element points at a WAV that exists next to the page.
audio_srcs=$(grep -o '<audio[^>]*src="[^"]*"' "$tmp/dream.html" | sed 's/.*src="\([^"]*\)"/\1/')
[ "$(echo "$audio_srcs" | grep -c .)" -ge 2 ] || { echo "cli_browser: fewer than 2 audio elements" >&2; exit 1; }
for src in $audio_srcs; do
  [ -f "$tmp/$src" ] || { echo "cli_browser: audio source $src does not exist" >&2; exit 1; }
done

# The same page with a probe that reports what the browser loaded.
sed 's#</body>#<script>\
window.addEventListener("load", async () => {\
  const imgs = [...document.images];\
  const imgsOk = imgs.length >= 2 \&\& imgs.every(i => i.complete \&\& i.naturalWidth > 0);\
  const audios = [...document.querySelectorAll("audio")];\
  const loaded = await Promise.all(audios.map(a => new Promise(done => {\
    if (a.readyState >= 1) return done(a.duration > 0);\
    a.addEventListener("loadedmetadata", () => done(a.duration > 0));\
    a.addEventListener("error", () => done(false));\
    a.preload = "metadata"; a.load();\
  })));\
  const audioOk = audios.length >= 2 \&\& loaded.every(x => x);\
  document.body.insertAdjacentHTML("beforeend", "<p id=probe>PROBE images=" + (imgsOk ? "ok" : "bad") +\
    " count=" + imgs.length + " audio=" + (audioOk ? "ok" : "bad") + " count=" + audios.length + "</p>");\
});\
</script></body>#' "$tmp/dream.html" > "$tmp/probe.html"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --autoplay-policy=no-user-gesture-required
       --user-data-dir="$tmp/profile" --allow-file-access-from-files)
timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "file://$tmp/probe.html" \
  > "$tmp/dom.html" 2> "$tmp/browser.log" || true
probe=$(grep -o 'id="probe">PROBE[^<]*' "$tmp/dom.html" || true)
echo "cli_browser: $probe"
case "$probe" in
  *"images=ok"*"audio=ok"*) ;;
  *) echo "cli_browser: the page did not load completely in Chromium" >&2; tail -5 "$tmp/browser.log" >&2; exit 1 ;;
esac

timeout 120 "$browser" "${flags[@]}" --window-size=1300,1000 --screenshot="$tmp/shot.png" "file://$tmp/dream.html" \
  > /dev/null 2>&1 || true
[ -s "$tmp/shot.png" ] || { echo "cli_browser: no screenshot" >&2; exit 1; }
cp "$tmp/shot.png" browser-report.png
echo "cli_browser: screenshot saved to $(pwd)/browser-report.png"
