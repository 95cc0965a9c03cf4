// Drives a real browser as a browser guest, the way a person would: it opens the invite link,
// clicks, types, and reads what the page shows. Debian's Chromium through npm playwright-core,
// or Debian's Firefox ESR over WebDriver BiDi through npm puppeteer-core (`--browser=firefox`);
// no browser is downloaded. The cross-process tests run it and talk to it like to parley-cli:
// commands on stdin (`join NAME [--camera] [--microphone]`, `camera on|off`,
// `microphone on|off`, `hand`, `chat TEXT`, `leave`, `settle`, `requests`, `frames`, `sent`,
// `received`, `listen`, `probe`, `quit`), what the page shows as JSON lines on stdout
// (`state`, `code`, `chat`, `people`, `devices`, `video`, `tiles`, `heard`, `settled`,
// `requests`, `frames`, `sent`, `received`). Joining is done with the keyboard alone.
//
//   node web/test/guest-driver.mjs LINK [--browser=chromium|firefox] [--tamper[=FILE]] [--lang=de-DE]
//                                   [--tls-trust-any]
//
// --tamper changes guest.js (or FILE under /guest/, e.g. guest-worker.js) on its way to the
// page (as a hostile network or proxy would): Subresource Integrity must then keep the page
// from running it (Chromium only).
import readline from 'node:readline';

const [link, ...flags] = process.argv.slice(2);
const flag = (name) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
const tamper = flag('tamper') ?? (flags.includes('--tamper') ? 'guest.js' : null);
const locale = flag('lang') ?? 'en-GB';
const which = flag('browser') ?? 'chromium';
// Every line carries `t`: milliseconds on the driver's clock, for figures.
const out = (o) => process.stdout.write(JSON.stringify({ ...o, t: Math.round(performance.now()) }) + '\n');

/** Said as a JSON line (the test shows it), then the driver ends. */
function fail(step, e) {
  out({ type: 'driver_error', command: step, message: String(e?.message ?? e) });
  process.exit(1);
}

// A loaded machine starts a browser slowly: deadlines far above what it needs.
const WAIT = 120_000;

/** Chromium through Playwright. */
async function chromium() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: WAIT,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A test pattern and a beep stand in for camera and microphone, allowed without asking.
      // At 30 pictures a second, as a camera (and the app's test pattern) sends.
      '--use-fake-device-for-media-stream=fps=30',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  // --tls-trust-any: the test's server has a certificate from a CA made for the test.
  const page = await browser.newPage({ locale, ignoreHTTPSErrors: flags.includes('--tls-trust-any') });
  page.setDefaultTimeout(WAIT);
  if (tamper) {
    await page.route(`**/guest/${tamper}`, async (route) => {
      const original = await route.fetch();
      const body = Buffer.concat([await original.body(), Buffer.from('\n// changed on the way\n')]);
      await route.fulfill({ response: original, body });
    });
  }
  return { browser, page, settle: () => page.waitForLoadState('networkidle') };
}

/** Firefox ESR over WebDriver BiDi through Puppeteer. */
async function firefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    timeout: WAIT,
    extraPrefsFirefox: {
      // Fake camera and microphone, allowed without asking; media plays without a gesture.
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.autoplay.default': 0,
      'media.autoplay.blocking_policy': 0,
      'media.autoplay.block-webaudio': false,
      // Host candidates as addresses (not mDNS names) on this machine.
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'intl.accept_languages': locale,
    },
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT);
  return { browser, page, settle: () => page.waitForNetworkIdle({ idleTime: 500 }) };
}

const { browser, page, settle } = await (which === 'firefox' ? firefox() : chromium()).catch((e) => fail('launch', e));
const requests = [];
page.on('request', (r) => requests.push(r.url()));
page.on('console', (m) => process.stderr.write(`guest console: ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`guest page error: ${e.message}\n`));
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
        lang: document.documentElement.lang,
        devices: `${app.dataset.camera ?? 'off'}/${app.dataset.microphone ?? 'off'}`,
        reason: app.dataset.reason ?? null,
        members: app.dataset.members ?? null,
        status: document.getElementById('status').textContent,
        code: document.getElementById('code').textContent,
        chat: [...document.querySelectorAll('#chat-log li')].map((li) => li.textContent),
        people: [...document.querySelectorAll('#people li')].map((li) => li.textContent),
        // Pictures shown (Firefox counts a MediaStream's only in its own counter).
        frames: [...document.querySelectorAll('#remote video')].map((v) =>
          Math.max(v.getVideoPlaybackQuality().totalVideoFrames, v.mozPaintedFrames ?? 0),
        ),
        mediaNote: document.getElementById('media-note').textContent,
        // Whose pictures each tile shows, by the name under it.
        tiles: [...document.querySelectorAll('#remote figcaption')].map((c) => c.textContent),
      };
    });
    if (s.state !== last.state || s.status !== last.status) {
      out({ type: 'state', state: s.state, status: s.status, reason: s.reason, lang: s.lang });
    }
    if (s.devices !== last.devices) {
      const [camera, microphone] = s.devices.split('/');
      out({ type: 'devices', camera, microphone });
    }
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
    if (JSON.stringify(s.tiles) !== JSON.stringify(last.tiles ?? [])) out({ type: 'tiles', tiles: s.tiles });
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
      // With the keyboard alone, as someone who does not use a mouse would.
      const name = rest.filter((w) => !w.startsWith('--')).join(' ');
      await page.focus('#join-browser');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement?.id === 'name');
      await page.keyboard.type(name);
      for (const [flag, box] of [
        ['--camera', '#want-camera'],
        ['--microphone', '#want-microphone'],
      ]) {
        if (rest.includes(flag)) {
          await page.focus(box);
          // The space bar toggles a checkbox (Puppeteer names that key by its character).
          await page.keyboard.press(which === 'firefox' ? ' ' : 'Space');
        }
      }
      // The pre-join check: the camera's picture in the preview, the microphone's level moving.
      if (rest.includes('--camera') || rest.includes('--microphone')) {
        const camera = rest.includes('--camera');
        const microphone = rest.includes('--microphone');
        // What the page shows after at most 30 s is reported either way (the test judges).
        const shown = ({ camera, microphone }) =>
          (!camera || document.getElementById('preview').videoWidth > 0) &&
          (!microphone || Number(document.getElementById('level').value) > 0);
        const arg = { camera, microphone };
        // Playwright takes (fn, arg, options), Puppeteer (fn, options, ...args).
        await (which === 'firefox'
          ? page.waitForFunction(shown, { timeout: 30_000 }, arg)
          : page.waitForFunction(shown, arg, { timeout: 30_000 })
        ).catch(() => {});
        const check = await page.evaluate(() => ({
          preview: document.getElementById('preview').videoWidth
            ? `${document.getElementById('preview').videoWidth}x${document.getElementById('preview').videoHeight}`
            : null,
          level: Number(document.getElementById('level').value),
        }));
        out({ type: 'prejoin', ...check });
      }
      await page.focus('#join');
      await page.keyboard.press('Enter');
      out({ type: 'join_clicked' });
    } else if (cmd === 'camera' || cmd === 'microphone') {
      const button = cmd === 'camera' ? '#camera-button' : '#mic-button';
      const on = await page.$eval(button, (b) => b.getAttribute('aria-pressed') === 'true');
      if (on !== (arg === 'on')) await page.click(button);
    } else if (cmd === 'hand') {
      await page.click('#hand-button');
    } else if (cmd === 'chat') {
      await page.focus('#chat-input');
      await page.keyboard.type(arg);
      await page.keyboard.press('Enter');
    } else if (cmd === 'vote') {
      // vote POLL N[,N...] (options from 1), by clicking as a person would.
      const [poll, choices] = rest;
      for (const n of choices.split(',')) await page.click(`#poll-${poll}-option-${Number(n) - 1}`);
      await page.click(`#poll-${poll}-vote`);
    } else if (cmd === 'rec') {
      // The recording badge as the page shows it (null: none).
      const text = await page.evaluate(() => {
        const b = document.getElementById('rec-badge');
        return b && !b.hidden ? b.textContent : null;
      });
      out({ type: 'rec', text });
    } else if (cmd === 'polls') {
      const polls = await page.evaluate(() => window.__parleyGuest?.polls() ?? []);
      out({ type: 'polls', polls });
    } else if (cmd === 'leave') {
      await page.click('#leave');
    } else if (cmd === 'settle') {
      // Every load done (nothing fetched for half a second): what the page is now.
      await settle();
      const state = await page.evaluate(() => document.getElementById('app').dataset.state);
      out({ type: 'settled', state });
    } else if (cmd === 'frames') {
      // Pictures shown so far, per tile (for rates: ask twice).
      const frames = await page.evaluate(() =>
        [...document.querySelectorAll('#remote video')].map((v) =>
          Math.max(v.getVideoPlaybackQuality().totalVideoFrames, v.mozPaintedFrames ?? 0),
        ),
      );
      out({ type: 'frames', frames });
    } else if (cmd === 'received') {
      // What each tile received and showed (the browser's counts).
      const tiles = await page.evaluate(() => window.__parleyGuest?.received() ?? []);
      out({ type: 'received', tiles });
    } else if (cmd === 'sent') {
      // What the page's camera sends, per simulcast layer.
      const layers = await page.evaluate(() => window.__parleyGuest?.sent() ?? []);
      out({ type: 'sent', layers });
    } else if (cmd === 'listen') {
      // How loud what the page plays is, per remote audio element, over one second (RMS, 0–1):
      // the others' voices (or test tones) opened by the engine and decoded.
      const levels = await page.evaluate(
        () =>
          new Promise((done) => {
            const ctx = (window.__listen ??= new AudioContext());
            const meters = [...document.querySelectorAll('#remote audio')].map((el) => {
              const a = ctx.createAnalyser();
              a.fftSize = 2048;
              ctx.createMediaStreamSource(el.srcObject).connect(a);
              return { a, max: 0, buf: new Float32Array(a.fftSize) };
            });
            const every = setInterval(() => {
              for (const m of meters) {
                m.a.getFloatTimeDomainData(m.buf);
                let sum = 0;
                for (const x of m.buf) sum += x * x;
                m.max = Math.max(m.max, Math.sqrt(sum / m.buf.length));
              }
            }, 50);
            setTimeout(() => {
              clearInterval(every);
              done(meters.map((m) => Math.round(m.max * 1000) / 1000));
            }, 1000);
          }),
      );
      out({ type: 'heard', levels });
    } else if (cmd === 'probe') {
      // What the page's media elements are doing (for a failing test's output).
      const media = await page.evaluate(() =>
        [...document.querySelectorAll('#remote video, #remote audio')].map((el) => ({
          kind: el.tagName.toLowerCase(),
          readyState: el.readyState,
          paused: el.paused,
          size: el.videoWidth ? `${el.videoWidth}x${el.videoHeight}` : null,
          track: el.srcObject?.getTracks().map((t) => `${t.kind} ${t.readyState}${t.muted ? ' muted' : ''}`),
        })),
      );
      out({ type: 'probe', media });
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
