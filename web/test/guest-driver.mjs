// Drives Debian's Chromium (through npm playwright-core; no browser is downloaded) as a
// browser guest, the way a person would: it opens the invite link, clicks, types, and reads
// what the page shows. The cross-process tests run it and talk to it like to parley-cli:
// commands on stdin (`join NAME`, `chat TEXT`, `leave`, `settle`, `requests`, `quit`), what
// the page shows as JSON lines on stdout (`state`, `code`, `chat`, `people`, `settled`,
// `requests`).
//
//   node web/test/guest-driver.mjs LINK [--tamper]
//
// --tamper changes guest.js on its way to the page (as a hostile network or proxy would):
// Subresource Integrity must then keep the page from running it.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [link, ...flags] = process.argv.slice(2);
const tamper = flags.includes('--tamper');
// Every line carries `t`: milliseconds on the driver's clock, for figures.
const out = (o) => process.stdout.write(JSON.stringify({ ...o, t: Math.round(performance.now()) }) + '\n');

/** Said as a JSON line (the test shows it), then the driver ends. */
function fail(step, e) {
  out({ type: 'driver_error', command: step, message: String(e?.message ?? e) });
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  // A loaded machine starts a browser slowly: a deadline far above what it needs.
  timeout: 120_000,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // A test pattern and a beep stand in for camera and microphone, allowed without asking.
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
  ],
}).catch((e) => fail('launch', e));
const page = await browser.newPage();
page.setDefaultTimeout(120_000);
const requests = [];
page.on('request', (r) => requests.push(r.url()));
page.on('console', (m) => process.stderr.write(`guest console: ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`guest page error: ${e.message}\n`));
if (tamper) {
  await page.route('**/guest/guest.js', async (route) => {
    const original = await route.fetch();
    const body = `${await original.text()}\n// changed on the way\n`;
    await route.fulfill({ response: original, body });
  });
}
await page.goto(link).catch((e) => fail('goto', e));

let last = { chat: [] };
let busy = false;
async function watch() {
  if (busy) return;
  busy = true;
  try {
    const s = await page.evaluate(() => {
      const app = document.getElementById('app');
      return {
        state: app.dataset.state,
        reason: app.dataset.reason ?? null,
        members: app.dataset.members ?? null,
        status: document.getElementById('status').textContent,
        code: document.getElementById('code').textContent,
        chat: [...document.querySelectorAll('#chat-log li')].map((li) => li.textContent),
        people: [...document.querySelectorAll('#people li')].map((li) => li.textContent),
        frames: [...document.querySelectorAll('#remote video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames),
        mediaNote: document.getElementById('media-note').textContent,
      };
    });
    if (s.state !== last.state) out({ type: 'state', state: s.state, status: s.status, reason: s.reason });
    if (s.members && (s.code !== last.code || s.members !== last.members)) {
      out({ type: 'code', code: s.code, members: Number(s.members) });
    }
    for (const line of s.chat.slice(last.chat.length)) out({ type: 'chat', line });
    if (JSON.stringify(s.people) !== JSON.stringify(last.people)) out({ type: 'people', people: s.people });
    // Pictures decoded from the others, by video element (reported at the first, then as they
    // grow by 30).
    const total = s.frames.reduce((a, b) => a + b, 0);
    const before = last.total ?? 0;
    if ((before === 0 && total > 0) || Math.floor(total / 30) !== Math.floor(before / 30)) {
      out({ type: 'video', frames: s.frames, total });
    }
    s.total = total;
    if (s.mediaNote && s.mediaNote !== last.mediaNote) out({ type: 'media_note', note: s.mediaNote });
    last = s;
  } catch {
    // The page is navigating or closing: the next look will tell.
  } finally {
    busy = false;
  }
}
setInterval(() => void watch(), 100);

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const [cmd, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  try {
    if (cmd === 'join') {
      await page.click('#join-browser');
      await page.fill('#name', arg);
      await page.click('#join');
      out({ type: 'join_clicked' });
    } else if (cmd === 'chat') {
      await page.fill('#chat-input', arg);
      await page.press('#chat-input', 'Enter');
    } else if (cmd === 'leave') {
      await page.click('#leave');
    } else if (cmd === 'settle') {
      // Every load done (nothing fetched for half a second): what the page is now.
      await page.waitForLoadState('networkidle');
      const state = await page.evaluate(() => document.getElementById('app').dataset.state);
      out({ type: 'settled', state });
    } else if (cmd === 'requests') {
      out({ type: 'requests', urls: requests });
    } else if (cmd === 'quit') {
      await browser.close();
      process.exit(0);
    }
  } catch (e) {
    out({ type: 'driver_error', command: cmd, message: String(e?.message ?? e) });
  }
});
rl.on('close', async () => {
  await browser.close();
  process.exit(0);
});
