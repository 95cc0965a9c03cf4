// The browser guest's page: the meeting engine (WebAssembly, the same as the desktop app's)
// decides; this script only moves messages between it and the server's WebSocket, wakes it on
// time, and shows what it says. Everything a person typed or others sent is shown as text,
// never as markup.
import init, { Guest } from './pkg/parley_web.js';

const $ = (id) => document.getElementById(id);
const app = $('app');

/** Strip the characters that reorder or hide text (names and chat are others' words). */
function plain(text) {
  return String(text).replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g, '');
}

function setState(state, status) {
  app.dataset.state = state;
  if (status !== undefined) $('status').textContent = status;
}

// The app opens the same link under its own scheme.
const link = location.href;
$('open-app').href = link.replace(/^https?:\/\//, 'parley://');

let guest = null;
let ws = null;
let opened = false;
let timer = null;
let ended = false;
let parts = [];
let partBytes = 0;
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const names = new Map();
let me = null;

function person(id) {
  return names.get(id) ?? `#${id}`;
}

function renderPeople() {
  const list = $('people');
  list.replaceChildren(
    ...[...names.entries()].map(([id, name]) => {
      const li = document.createElement('li');
      li.textContent = id === me ? `${name} (you)` : name;
      return li;
    }),
  );
}

function addChat(from, body) {
  const li = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = plain(from);
  li.append(who, ': ', plain(body));
  $('chat-log').append(li);
}

function show(m) {
  switch (m.type) {
    case 'waiting':
      setState('waiting', 'Waiting for the host to let you in…');
      $('meeting').hidden = false;
      break;
    case 'joined':
      me = m.you;
      setState('in_meeting', `In the meeting “${plain(m.title)}”.`);
      $('meeting').hidden = false;
      break;
    case 'participants_joined':
      for (const p of m.participants) names.set(p.id, plain(p.name) + (p.browser ? ' (browser)' : ''));
      renderPeople();
      break;
    case 'participant_left':
      names.delete(m.id);
      renderPeople();
      break;
    case 'renamed':
      names.set(m.id, plain(m.name));
      renderPeople();
      break;
    case 'chat':
      addChat(person(m.from), m.body);
      break;
    case 'goodbye':
      $('status').textContent = plain(m.message);
      break;
  }
}

function closeSocket() {
  if (ws) {
    const s = ws;
    ws = null;
    s.close();
  }
  parts = [];
  partBytes = 0;
}

function openSocket(url) {
  closeSocket();
  opened = false;
  const s = new WebSocket(url);
  s.binaryType = 'arraybuffer';
  ws = s;
  s.onopen = () => {
    if (ws !== s) return;
    opened = true;
    guest.handle_open();
    pump();
  };
  s.onmessage = (e) => {
    if (ws !== s) return;
    // A long message comes in parts: binary messages, then the rest as text.
    if (typeof e.data !== 'string') {
      partBytes += e.data.byteLength;
      if (partBytes > MAX_MESSAGE_BYTES) {
        s.close();
        return;
      }
      parts.push(new Uint8Array(e.data));
      return;
    }
    let text = e.data;
    if (parts.length) {
      const tail = new TextEncoder().encode(text);
      const all = new Uint8Array(partBytes + tail.length);
      let at = 0;
      for (const p of [...parts, tail]) {
        all.set(p, at);
        at += p.length;
      }
      parts = [];
      partBytes = 0;
      text = new TextDecoder('utf-8', { fatal: false }).decode(all);
    }
    guest.handle_text(text);
    pump();
  };
  s.onclose = () => {
    if (ws !== s) return;
    ws = null;
    if (opened) guest.handle_closed();
    else guest.handle_connect_failed('the connection was refused or timed out');
    pump();
  };
}

function pump() {
  for (;;) {
    const text = guest.poll();
    if (text === undefined) break;
    const o = JSON.parse(text);
    switch (o.kind) {
      case 'connect':
        openSocket(o.url);
        break;
      case 'disconnect':
        closeSocket();
        break;
      case 'send':
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(o.text);
        break;
      case 'shown':
        show(o.message);
        break;
      case 'secured':
        $('code').textContent = o.code;
        $('members').textContent = `(${o.members} in the encryption group)`;
        app.dataset.members = String(o.members);
        break;
      case 'e2ee_refused':
        $('code').textContent = 'not available';
        $('status').textContent = plain(o.message);
        break;
      case 'reconnecting':
        $('status').textContent = 'Reconnecting…';
        break;
      case 'not_sent':
        $('status').textContent = `Not sent: ${plain(o.reason)}`;
        break;
      case 'ended':
        ended = true;
        setState('ended', o.message ? plain(o.message) : `The meeting ended for you (${o.reason}).`);
        app.dataset.reason = o.reason;
        break;
    }
  }
  clearTimeout(timer);
  const ms = guest.timeout_ms();
  if (!ended && ms >= 0) {
    timer = setTimeout(() => {
      guest.handle_timeout();
      pump();
    }, Math.max(0, ms));
  }
}

$('join-browser').addEventListener('click', () => {
  $('choose').hidden = true;
  $('prejoin').hidden = false;
  $('name').focus();
});

$('prejoin').addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    guest = new Guest(link, $('name').value.trim(), $('passcode').value);
  } catch (err) {
    $('unsupported').hidden = false;
    $('unsupported').textContent = plain(err.message ?? err);
    $('choose').hidden = false;
    $('prejoin').hidden = true;
    return;
  }
  $('prejoin').hidden = true;
  $('meeting').hidden = false;
  setState('connecting', 'Connecting…');
  pump();
});

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const body = $('chat-input').value;
  if (!guest || body.trim() === '') return;
  guest.chat(body);
  $('chat-input').value = '';
  pump();
});

$('leave').addEventListener('click', () => {
  if (!guest) return;
  guest.leave();
  pump();
});

// The engine itself, checked against the hash the page names.
const wasm = document.querySelector('meta[name="parley-wasm"]').content;
try {
  await init({ module_or_path: fetch('/guest/pkg/parley_web_bg.wasm', { integrity: wasm }) });
  $('join-browser').disabled = false;
  app.dataset.state = 'choose';
} catch (err) {
  $('unsupported').hidden = false;
  $('unsupported').textContent = 'This browser could not start the meeting engine. Open the link in the Parley app instead.';
  app.dataset.state = 'unsupported';
}
