// An atlas folder in a real browser (Debian's chromium driven by
// puppeteer-core): the index loads from file://, every thumbnail loads once
// scrolled into view (they are lazy), the filters hide what they should, and
// on a channel page every picture loads and every player (the dream and the
// examples, original and rendered from features) has a duration.
//
// usage: node check_atlas.cjs PUPPETEER_CORE_PATH ATLAS_DIR CHANNEL_PAGE PROFILE_DIR [SCREENSHOT.png]
'use strict';
const path = require('path');
const [modulePath, dir, channelPage, profile, screenshot] = process.argv.slice(2);
const puppeteer = require(modulePath);

function fail(message) {
  console.error('check_atlas: ' + message);
  process.exitCode = 1;
}

// Scroll to the bottom one screen at a time so lazy images start loading,
// then wait until every image has finished (loaded or failed).
async function loadAllImages(page) {
  await page.evaluate(async () => {
    for (let y = 0; y < document.body.scrollHeight; y += window.innerHeight / 2) {
      window.scrollTo(0, y);
      await new Promise((r) => setTimeout(r, 30));
    }
    window.scrollTo(0, document.body.scrollHeight);
  });
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), { timeout: 60000 });
  return page.evaluate(() => [...document.images].map((i) => ({ src: i.getAttribute('src'), w: i.naturalWidth })));
}

async function durations(page) {
  return page.evaluate(() => Promise.all([...document.querySelectorAll('audio')].map((a) => new Promise((done) => {
    const report = () => done({ src: a.getAttribute('src'), duration: a.duration });
    if (a.readyState >= 1) return report();
    a.addEventListener('loadedmetadata', report);
    a.addEventListener('error', report);
    a.preload = 'metadata';
    a.load();
  }))));
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: false, // the flags below say --headless themselves
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--user-data-dir=' + profile],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1300, height: 900 });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto('file://' + path.resolve(dir, 'index.html'), { waitUntil: 'load' });
    const images = await loadAllImages(page);
    const cards = await page.$$eval('.card', (c) => c.length);
    if (cards === 0 || images.length < cards) fail(`index: ${images.length} images for ${cards} cards`);
    for (const i of images) if (!(i.w > 0)) fail(`index: ${i.src} did not load`);

    // Filters: one layer shows only its cards; a class shows only cards preferring it.
    const layer = await page.$eval('#layer option:nth-child(2)', (o) => o.value);
    await page.select('#layer', layer);
    const visible = await page.$$eval('.card', (cs) => cs.filter((c) => !c.hidden).map((c) => c.dataset.layer));
    if (visible.length === 0 || visible.some((l) => l !== layer)) fail(`layer filter ${layer}: ${visible}`);
    await page.select('#layer', '');
    const klass = await page.$eval('.card', (c) => c.dataset.class);
    await page.select('#klass', klass);
    const shown = await page.$$eval('.card', (cs) => cs.filter((c) => !c.hidden).map((c) => c.dataset.class));
    if (shown.length === 0 || shown.length === cards || shown.some((k) => k !== klass)) {
      fail(`class filter ${klass}: ${shown.length} of ${cards} shown`);
    }
    await page.select('#klass', '');
    if (screenshot) await page.screenshot({ path: screenshot });

    await page.goto('file://' + path.resolve(dir, channelPage), { waitUntil: 'load' });
    const pageImages = await loadAllImages(page);
    for (const i of pageImages) if (!(i.w > 0)) fail(`${channelPage}: ${i.src} did not load`);
    const audio = await durations(page);
    if (audio.length < 2) fail(`${channelPage}: ${audio.length} players`);
    for (const a of audio) if (!(a.duration > 0)) fail(`${channelPage}: ${a.src} has no duration`);
    if (errors.length) fail('script errors: ' + errors.join('; '));
    console.log(`check_atlas: index ${images.length} images, ${cards} cards; ${channelPage} ` +
      `${pageImages.length} images, ${audio.length} players (durations ${audio.map((a) => a.duration.toFixed(2)).join(', ')})`);
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
