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
// Media: one peer connection with the meeting server's SFU. Every frame is sealed end to end
// by the engine on its way out and opened on its way in (encoded transforms); a browser that
// cannot do that sends and plays nothing.
let pc = null;
let local = null;
let sdp = Promise.resolve();
const canEncrypt = typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype;
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
    case 'sdp_answer':
    case 'sdp_offer':
      negotiate(m);
      break;
  }
}

/** Seal (sending) or open (receiving) every encoded frame of `x`; one that cannot be is dropped. */
function protect(x, audio, sending) {
  const { readable, writable } = x.createEncodedStreams();
  readable
    .pipeThrough(
      new TransformStream({
        transform(frame, out) {
          const data = new Uint8Array(frame.data);
          const done = sending ? guest.seal(audio, data) : guest.open(audio, data);
          if (done) {
            frame.data = done.buffer;
            out.enqueue(frame);
          }
        },
      }),
    )
    .pipeTo(writable)
    .catch(() => {});
}

/** The local description once every candidate is in it (the SFU takes no trickle). */
async function gathered(conn) {
  if (conn.iceGatheringState !== 'complete') {
    await new Promise((done) => {
      conn.addEventListener('icegatheringstatechange', () => conn.iceGatheringState === 'complete' && done());
    });
  }
  return conn.localDescription.sdp;
}

function stopMedia() {
  if (pc) pc.close();
  pc = null;
  $('remote').replaceChildren();
}

async function startMedia(o) {
  stopMedia();
  if (!canEncrypt) {
    $('media-note').textContent = 'This browser cannot encrypt audio and video end to end, so it sends and plays none. Chat works; for audio and video use Chromium or the Parley app.';
    return;
  }
  if (!local) {
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    } catch {
      $('media-note').textContent = 'No camera or microphone could be opened: the others do not see or hear you.';
    }
  }
  const conn = new RTCPeerConnection({
    iceServers: (o.ice_servers ?? []).map((s) => ({ urls: s.urls, username: s.username ?? undefined, credential: s.credential ?? undefined })),
    bundlePolicy: 'max-bundle',
    encodedInsertableStreams: true,
  });
  pc = conn;
  for (const track of local?.getTracks() ?? []) {
    const t = conn.addTransceiver(track, { direction: 'sendonly', streams: [local] });
    protect(t.sender, track.kind === 'audio', true);
  }
  conn.ontrack = (e) => {
    protect(e.receiver, e.track.kind === 'audio', false);
    const el = document.createElement(e.track.kind === 'audio' ? 'audio' : 'video');
    el.autoplay = true;
    el.playsInline = true;
    el.srcObject = new MediaStream([e.track]);
    $('remote').append(el);
  };
  await conn.setLocalDescription(await conn.createOffer());
  const offer = await gathered(conn);
  if (pc !== conn) return;
  guest.media_message(JSON.stringify({ type: 'sdp_offer', sdp: offer }));
  pump();
}

/** The SFU's side of the negotiation, one step at a time. */
function negotiate(m) {
  const conn = pc;
  if (!conn) return;
  sdp = sdp
    .then(async () => {
      if (pc !== conn) return;
      if (m.type === 'sdp_answer') {
        await conn.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        return;
      }
      await conn.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await conn.setLocalDescription(await conn.createAnswer());
      const answer = await gathered(conn);
      if (pc !== conn) return;
      guest.media_message(JSON.stringify({ type: 'sdp_answer', sdp: answer }));
      pump();
    })
    .catch((err) => console.warn('media negotiation failed', err));
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
      case 'start_media':
        void startMedia(o);
        break;
      case 'stop_media':
        stopMedia();
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
        stopMedia();
        local?.getTracks().forEach((t) => t.stop());
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
