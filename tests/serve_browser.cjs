// The studio page in a real browser (Debian's chromium, driven by
// puppeteer-core; no browser is downloaded). Uploads an example, picks a
// class, sets the sliders with the keyboard, dreams, waits for "done", then
// checks that the dream's <audio> has a duration, the picture loaded, and
// the WAV the download link saves is byte for byte the API's.
//   node serve_browser.cjs URL EXAMPLE OUT_DIR      (NODE_PATH: puppeteer-core's node_modules)
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [url, example, outDir] = process.argv.slice(2);
const fail = (message) => { console.error("serve_browser: FAIL: " + message); process.exit(1); };
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

(async () => {
  const downloads = path.join(outDir, "downloads");
  fs.mkdirSync(downloads, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    userDataDir: path.join(outDir, "profile"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--autoplay-policy=no-user-gesture-required"],
    defaultViewport: { width: 1366, height: 900 },
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("requestfailed", (r) => {
      // A player may abort its own range request; anything else is a problem.
      if (!/\/(audio|input|events)(\?|$)/.test(r.url())) problems.push("request failed: " + r.url());
    });
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => document.querySelectorAll("#class option").length > 0, { timeout: 30000 });

    const input = await page.$("#audio");
    await input.uploadFile(example);
    await page.click("input[name=objective][value=class]");
    await page.select("#class", "dog_bark");
    // The sliders by keyboard: Home goes to the minimum, each arrow one step.
    await page.focus("#octaves");
    await page.keyboard.press("Home");
    await page.focus("#iterations");
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    const octaves = await page.$eval("#octaves", (e) => e.value);
    const iterations = await page.$eval("#iterations", (e) => e.value);
    if (octaves !== "1" || iterations !== "2") fail(`sliders by keyboard: octaves ${octaves}, iterations ${iterations}`);
    await page.focus("#dream");
    await page.keyboard.press("Enter");

    await page.waitForSelector("li.dream", { timeout: 30000 });
    const handle = await page.waitForFunction(() => {
      const li = document.querySelector("li.dream");
      return li && ["done", "failed", "cancelled"].includes(li.dataset.state) && li.dataset.state;
    }, { timeout: 600000, polling: 200 });
    const state = await handle.jsonValue();
    if (state !== "done") fail("the dream ended " + state + ": " + await page.$eval("li.dream .state", (e) => e.textContent));
    const id = await page.$eval("li.dream", (e) => e.dataset.id);

    const duration = await page.waitForFunction(() => {
      const a = document.querySelector("li.dream audio.dream-audio");
      return a && a.readyState >= 1 && a.duration > 0 && a.duration;
    }, { timeout: 30000 }).then((h) => h.jsonValue()).catch(() => 0);
    if (!(duration > 3.9 && duration < 4.1)) fail("the dream's <audio> has no 4 s duration: " + duration);
    const inputDuration = await page.$eval("li.dream audio.input", (a) => a.duration);
    const picture = await page.waitForFunction(() => {
      const img = document.querySelector("li.dream img.picture");
      return img && img.complete && img.naturalWidth > 0 && [img.naturalWidth, img.naturalHeight];
    }, { timeout: 30000 }).then((h) => h.jsonValue()).catch(() => null);
    if (!picture) fail("the picture did not load");

    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
    await page.click("li.dream a.download");
    let saved = null;
    for (let i = 0; i < 300 && !saved; i++) {
      const files = fs.readdirSync(downloads).filter((f) => f.endsWith(".wav"));
      if (files.length) saved = path.join(downloads, files[0]);
      else await sleep(100);
    }
    if (!saved) fail("the download link saved no WAV");
    const api = Buffer.from(await (await fetch(`${url}api/dreams/${id}/audio`)).arrayBuffer());
    const file = fs.readFileSync(saved);
    if (api.length < 1000 || !api.equals(file)) fail(`the downloaded WAV (${file.length} bytes) differs from the API's (${api.length} bytes)`);

    await page.screenshot({ path: path.join(outDir, "serve-browser.png"), fullPage: true });
    if (problems.length) fail(problems.join("; "));
    console.log(`serve_browser: dream ${id} done; <audio> ${duration.toFixed(2)} s (input ${inputDuration.toFixed(2)} s), ` +
                `picture ${picture[0]}x${picture[1]}, downloaded ${path.basename(saved)} = API (${api.length} bytes)`);
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
