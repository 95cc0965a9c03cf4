// The browser guest's meeting engine, in a worker of its own. The engine (WebAssembly, the same
// as the desktop app's) holds the meeting's keys; they never leave this worker. The worker
// also talks to the meeting server over the WebSocket, wakes the engine on time, and seals
// and opens every encoded audio and video frame (RTCRtpScriptTransform: the page's peer
// connection hands each frame here and back). The page shows what the engine says and holds
// the peer connection; it never sees a key.
//
// This script runs after wasm-bindgen's glue (`--target no-modules`, which defines
// `wasm_bindgen`): the page fetches both, checked against the hashes it names, and starts the
// worker from them. The WebAssembly arrives compiled from the page, checked the same way.
/* global wasm_bindgen */

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
let guest = null;
let ws = null;
let opened = false;
let timer = null;
let ended = false;
let parts = [];
let partBytes = 0;

const tell = (o) => self.postMessage(o);

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

/** Carry out what the engine asks: the socket here, everything else to the page. */
function pump() {
  if (!guest) return;
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
      case 'ended':
        ended = true;
        closeSocket();
        tell({ t: 'out', o });
        break;
      default:
        tell({ t: 'out', o });
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

self.onmessage = async (e) => {
  const m = e.data;
  try {
    switch (m.t) {
      case 'init':
        await wasm_bindgen({ module_or_path: m.module });
        tell({ t: 'ready' });
        return;
      case 'join':
        guest = new wasm_bindgen.Guest(m.link, m.name, m.passcode);
        break;
      case 'chat':
        guest?.chat(m.body);
        break;
      case 'hand':
        guest?.hand(m.raised);
        break;
      case 'vote':
        guest?.vote(m.poll, Uint8Array.from(m.choices));
        break;
      case 'muted':
        guest?.set_muted(m.muted);
        break;
      case 'media':
        guest?.media_message(m.json);
        break;
      case 'leave':
        guest?.leave();
        break;
    }
  } catch (err) {
    tell({ t: 'refused', step: m.t, message: String(err?.message ?? err) });
    return;
  }
  pump();
};

// Every frame of the page's peer connection passes here: sealed on its way out, opened on its
// way in. A frame that cannot be (no keys yet, or it fails authentication) is dropped: never
// sent in the clear, never handed to a decoder.
//
// A received video slot carries one sender at a time; whose frames it carries is proven by
// the key that opened them, and the page is told when that changes (to name the tile).
self.onrtctransform = (e) => {
  const { readable, writable, options } = e.transformer;
  const { audio, sending, slot } = options;
  let leaf = -1;
  readable
    .pipeThrough(
      new TransformStream({
        transform(frame, out) {
          if (!guest) return;
          const data = new Uint8Array(frame.data);
          const done = sending ? guest.seal(audio, data) : guest.open(audio, data);
          if (!done) return;
          if (slot !== undefined && guest.last_sender_leaf() !== leaf) {
            leaf = guest.last_sender_leaf();
            tell({ t: 'sender', slot, id: guest.participant_at(leaf) ?? null });
          }
          frame.data = done.buffer;
          out.enqueue(frame);
        },
      }),
    )
    .pipeTo(writable)
    .catch(() => {});
};
