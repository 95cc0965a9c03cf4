// The browser guest's page. The meeting engine (WebAssembly, the same as the desktop app's)
// runs in a worker of its own (guest-worker.js) with the WebSocket and the meeting's keys;
// this script shows what it says, takes the person's choices, and holds the peer connection
// with the meeting server's SFU, whose every frame passes through the worker to be sealed or
// opened. Everything a person typed or others sent is shown as text, never as markup.
//
// Camera and microphone stay off until the person turns them on.

const $ = (id) => document.getElementById(id);
const app = $('app');

// ---------------------------------------------------------------------------------------------
// Words, in English and German (the browser's first language that Parley speaks).

const TEXT = {
  en: {
    'choose.heading': 'You are invited to a Parley meeting',
    'choose.explain': 'Parley meetings are end-to-end encrypted: the meeting server cannot see or hear them.',
    'choose.app': 'Open in the Parley app',
    'choose.browser': 'Join in this browser',
    'choose.noScript': 'Joining in the browser needs JavaScript. Or open the link in the Parley app.',
    'prejoin.name': 'Your name',
    'prejoin.passcode': 'Passcode, if the meeting has one',
    'prejoin.camera': 'Camera',
    'prejoin.microphone': 'Microphone',
    'prejoin.devicesNote': 'Camera and microphone stay off until you turn them on; only what you turn on is used.',
    'prejoin.level': 'Microphone level',
    'prejoin.join': 'Join',
    'status.connecting': 'Connecting…',
    'status.waiting': 'Waiting for the host to let you in…',
    'status.inMeeting': 'In the meeting “{title}”.',
    'status.reconnecting': 'Reconnecting…',
    'load.main_video': 'The meeting server is at capacity: only the main video is shown; every voice goes on.',
    'load.voices_only': 'The meeting server is at capacity: video is paused; every voice goes on.',
    'status.reconnected': 'Connected again.',
    'status.inBreakout': 'You are in breakout room {room}: only the people in it see, hear and read you.',
    'status.backInMain': 'You are back in the main meeting.',
    'status.breakoutClosing': 'The breakout rooms close: back to the main meeting in {secs} s.',
    'chat.toAllRooms': 'To all rooms',
    'status.notSent': 'Not sent: {reason}',
    'status.ended': 'The meeting ended for you ({reason}).',
    'status.mutedByHost': 'A host muted your microphone.',
    'status.allMuted': 'A host muted everyone.',
    'status.unmuteAsked': 'A host asks you to unmute your microphone.',
    'status.unmuteRefused': 'You cannot unmute now: {reason}',
    'code.label': 'Security code:',
    'code.none': 'not yet',
    'code.unavailable': 'not available',
    'code.members': '({members} in the encryption group)',
    'people.heading': 'People',
    'people.you': '{name} (you)',
    'people.browser': '{name} (browser)',
    'people.hand': '{name} ✋',
    'chat.heading': 'Chat',
    'chat.input': 'Message',
    'chat.send': 'Send',
    'rec.badge': 'REC — recorded by {names}',
    'rec.you': 'you',
    'rec.waiting': 'REC — someone in this meeting is recording it. If you are admitted, you may be recorded.',
    'privacy.recording': 'Recording happens only on a participant’s own computer, only while the host allows it; the meeting server tells everyone who records, and this page shows it. A modified app or a screen recorder could record without telling.',
    'polls.heading': 'Polls',
    'polls.anonymous': 'Anonymous: the hosts see only the counts',
    'polls.named': 'Named: the hosts see who chose what',
    'polls.open': 'open',
    'polls.closed': 'closed',
    'polls.vote': 'Vote',
    'polls.choose': 'Choose an option first.',
    'polls.sending': 'Sending your vote…',
    'polls.counted': 'Your vote was counted: {choices}',
    'polls.count': '{option}: {count}',
    'polls.voters': '{count} voted',
    'privacy.polls': 'Polls are encrypted end to end: the meeting server never sees a question, an option or a vote. In an anonymous poll not even the hosts can tell who voted what; the meeting server still knows who sent a vote, and when.',
    'controls.micOn': 'Turn microphone on',
    'controls.micOff': 'Turn microphone off',
    'controls.cameraOn': 'Turn camera on',
    'controls.cameraOff': 'Turn camera off',
    'controls.raiseHand': 'Raise hand',
    'controls.lowerHand': 'Lower hand',
    'controls.leave': 'Leave',
    'media.noEncryption': 'This browser cannot encrypt audio and video end to end, so it sends and plays none. Chat works; for audio and video use Chromium, Firefox or the Parley app.',
    'media.noDevice': 'The {device} could not be opened: {reason}. The others do not see or hear it.',
    'media.camera': 'camera',
    'media.microphone': 'microphone',
    'engine.failed': 'This browser could not start the meeting engine. Open the link in the Parley app instead.',
    'privacy.heading': 'Privacy',
    'privacy.e2ee': 'Audio, video, chat and raised hands are encrypted end to end in this page, with keys only the participants hold (MLS and SFrame). The keys stay in a worker of this page; the meeting server forwards what it cannot read.',
    'privacy.server': 'Meeting server: {server}. This page loads nothing from anywhere else, and every file it runs is checked against the hash the page names.',
    'privacy.key': 'The link’s key is in the part after #, which browsers never send: the meeting server never sees it.',
    'privacy.speaking': 'To send everyone only the voices that are speaking, the meeting server reads how loud each audio packet is (a level your browser attaches, outside the encryption). So it learns who speaks when, which it could tell from the size and rate of packets anyway; never what is said.',
    'privacy.stores': 'The meeting server stores nothing about participants. Your identity in this meeting is made fresh for this visit and forgotten when you close the page.',
    'privacy.browser': 'Others see that you joined from a browser.',
  },
  de: {
    'choose.heading': 'Sie sind zu einer Parley-Besprechung eingeladen',
    'choose.explain': 'Parley-Besprechungen sind Ende-zu-Ende verschlüsselt: Der Besprechungsserver kann sie weder sehen noch hören.',
    'choose.app': 'In der Parley-App öffnen',
    'choose.browser': 'In diesem Browser teilnehmen',
    'choose.noScript': 'Die Teilnahme im Browser braucht JavaScript. Oder öffnen Sie den Link in der Parley-App.',
    'prejoin.name': 'Ihr Name',
    'prejoin.passcode': 'Kenncode, falls die Besprechung einen hat',
    'prejoin.camera': 'Kamera',
    'prejoin.microphone': 'Mikrofon',
    'prejoin.devicesNote': 'Kamera und Mikrofon bleiben aus, bis Sie sie einschalten; verwendet wird nur, was Sie einschalten.',
    'prejoin.level': 'Mikrofonpegel',
    'prejoin.join': 'Teilnehmen',
    'status.connecting': 'Verbindung wird hergestellt…',
    'status.waiting': 'Sie warten darauf, dass der Host Sie hereinlässt…',
    'status.inMeeting': 'In der Besprechung „{title}“.',
    'status.reconnecting': 'Verbindung wird wiederhergestellt…',
    'load.main_video': 'Der Besprechungsserver ist ausgelastet: nur das Hauptvideo wird gezeigt; jede Stimme bleibt.',
    'load.voices_only': 'Der Besprechungsserver ist ausgelastet: Video ist pausiert; jede Stimme bleibt.',
    'status.reconnected': 'Wieder verbunden.',
    'status.inBreakout': 'Sie sind in Gruppenraum {room}: nur die Personen darin sehen, hören und lesen Sie.',
    'status.backInMain': 'Sie sind wieder im Hauptraum.',
    'status.breakoutClosing': 'Die Gruppenräume schließen: zurück in den Hauptraum in {secs} s.',
    'chat.toAllRooms': 'An alle Räume',
    'status.notSent': 'Nicht gesendet: {reason}',
    'status.ended': 'Die Besprechung ist für Sie beendet ({reason}).',
    'status.mutedByHost': 'Ein Host hat Ihr Mikrofon stummgeschaltet.',
    'status.allMuted': 'Ein Host hat alle stummgeschaltet.',
    'status.unmuteAsked': 'Ein Host bittet Sie, Ihr Mikrofon einzuschalten.',
    'status.unmuteRefused': 'Sie können das Mikrofon jetzt nicht einschalten: {reason}',
    'code.label': 'Sicherheitscode:',
    'code.none': 'noch keiner',
    'code.unavailable': 'nicht verfügbar',
    'code.members': '({members} in der Verschlüsselungsgruppe)',
    'people.heading': 'Personen',
    'people.you': '{name} (Sie)',
    'people.browser': '{name} (Browser)',
    'people.hand': '{name} ✋',
    'chat.heading': 'Chat',
    'chat.input': 'Nachricht',
    'chat.send': 'Senden',
    'rec.badge': 'REC — aufgezeichnet von {names}',
    'rec.you': 'Ihnen',
    'rec.waiting': 'REC — jemand in dieser Besprechung zeichnet sie auf. Wenn Sie eingelassen werden, werden Sie womöglich aufgezeichnet.',
    'privacy.recording': 'Aufgezeichnet wird nur auf dem eigenen Computer einer teilnehmenden Person und nur, solange die Gastgeber es erlauben; der Besprechungsserver sagt allen, wer aufzeichnet, und diese Seite zeigt es. Eine veränderte App oder ein Bildschirmrekorder könnte ohne Hinweis aufzeichnen.',
    'polls.heading': 'Umfragen',
    'polls.anonymous': 'Anonym: Die Gastgeber sehen nur die Zahlen',
    'polls.named': 'Namentlich: Die Gastgeber sehen, wer was gewählt hat',
    'polls.open': 'offen',
    'polls.closed': 'beendet',
    'polls.vote': 'Abstimmen',
    'polls.choose': 'Wählen Sie zuerst eine Antwort.',
    'polls.sending': 'Ihre Stimme wird gesendet…',
    'polls.counted': 'Ihre Stimme wurde gezählt: {choices}',
    'polls.count': '{option}: {count}',
    'polls.voters': '{count} haben abgestimmt',
    'privacy.polls': 'Umfragen sind Ende-zu-Ende verschlüsselt: Der Besprechungsserver sieht nie eine Frage, eine Antwort oder eine Stimme. Bei einer anonymen Umfrage sehen nicht einmal die Gastgeber, wer wie abgestimmt hat; der Besprechungsserver weiß aber, wer eine Stimme geschickt hat und wann.',
    'controls.micOn': 'Mikrofon einschalten',
    'controls.micOff': 'Mikrofon ausschalten',
    'controls.cameraOn': 'Kamera einschalten',
    'controls.cameraOff': 'Kamera ausschalten',
    'controls.raiseHand': 'Hand heben',
    'controls.lowerHand': 'Hand senken',
    'controls.leave': 'Verlassen',
    'media.noEncryption': 'Dieser Browser kann Ton und Bild nicht Ende-zu-Ende verschlüsseln und sendet und spielt daher keine. Der Chat funktioniert; für Ton und Bild nutzen Sie Chromium, Firefox oder die Parley-App.',
    'media.noDevice': 'Die {device} ließ sich nicht öffnen: {reason}. Die anderen sehen oder hören sie nicht.',
    'media.camera': 'Kamera',
    'media.microphone': 'Mikrofon',
    'engine.failed': 'Dieser Browser konnte die Besprechung nicht starten. Öffnen Sie den Link stattdessen in der Parley-App.',
    'privacy.heading': 'Datenschutz',
    'privacy.e2ee': 'Ton, Bild, Chat und gehobene Hände werden in dieser Seite Ende-zu-Ende verschlüsselt, mit Schlüsseln, die nur die Teilnehmenden haben (MLS und SFrame). Die Schlüssel bleiben in einem Worker dieser Seite; der Besprechungsserver leitet weiter, was er nicht lesen kann.',
    'privacy.server': 'Besprechungsserver: {server}. Diese Seite lädt nichts von anderswo, und jede Datei, die sie ausführt, wird gegen den Hash geprüft, den die Seite nennt.',
    'privacy.key': 'Der Schlüssel des Links steht im Teil nach #, den Browser nie senden: Der Besprechungsserver sieht ihn nie.',
    'privacy.speaking': 'Damit alle nur die Stimmen bekommen, die gerade sprechen, liest der Besprechungsserver, wie laut jedes Audiopaket ist (ein Pegel, den Ihr Browser außerhalb der Verschlüsselung anhängt). Er erfährt also, wer wann spricht – was er auch an Größe und Takt der Pakete erkennen könnte –, aber nie, was gesagt wird.',
    'privacy.stores': 'Der Besprechungsserver speichert nichts über die Teilnehmenden. Ihre Identität in dieser Besprechung wird für diesen Besuch neu erzeugt und vergessen, wenn Sie die Seite schließen.',
    'privacy.browser': 'Die anderen sehen, dass Sie über einen Browser teilnehmen.',
  },
};
const lang = (navigator.languages ?? [navigator.language]).map((l) => String(l).slice(0, 2)).find((l) => l in TEXT) ?? 'en';
document.documentElement.lang = lang;

/** The sentence `key` in the page's language, with `{name}`s filled in. */
function t(key, args = {}) {
  const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ''));
}

for (const el of document.querySelectorAll('[data-text]')) el.textContent = t(el.dataset.text);
for (const el of document.querySelectorAll('[data-label]')) el.setAttribute('aria-label', t(el.dataset.label));

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
$('privacy-server').textContent = t('privacy.server', { server: location.host });

// ---------------------------------------------------------------------------------------------
// The engine's worker.

let worker = null;
const send = (m) => worker.postMessage(m);

// ---------------------------------------------------------------------------------------------
// Camera and microphone: off until the person turns them on.

const want = { audio: false, video: false };
/** The open devices, by kind ('audio', 'video'). */
const tracks = { audio: null, video: null };
let meter = null;

/** The devices being opened (the browser may be asking the person), by kind. */
const opening = { audio: null, video: null };

function open(kind) {
  if (tracks[kind]) return Promise.resolve(tracks[kind]);
  opening[kind] ??= openDevice(kind).finally(() => {
    opening[kind] = null;
  });
  return opening[kind];
}

async function openDevice(kind) {
  try {
    // The camera's size up to 1280x720 at 30 pictures a second, as the app sends it.
    const constraints = kind === 'audio' ? { audio: true } : { video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const track = stream.getTracks()[0];
    if (!want[kind]) {
      // Turned off while the browser was asking.
      track.stop();
      return null;
    }
    tracks[kind] = track;
    return track;
  } catch (err) {
    const device = t(kind === 'audio' ? 'media.microphone' : 'media.camera');
    $('media-note').textContent = t('media.noDevice', { device, reason: plain(err?.message ?? err) });
    want[kind] = false;
    showControls();
    return null;
  }
}

function close(kind) {
  tracks[kind]?.stop();
  tracks[kind] = null;
}

/** The pre-join check: the camera's picture and the microphone's level, when turned on. */
async function preview() {
  const video = want.video ? await open('video') : null;
  $('preview').srcObject = video ? new MediaStream([video]) : null;
  $('preview').hidden = !video;
  meter?.stop();
  meter = null;
  const audio = want.audio ? await open('audio') : null;
  $('level').hidden = !audio;
  if (audio) meter = levelMeter(audio, $('level'));
}

/** Show `track`'s loudness in the `<meter>` until stopped. */
function levelMeter(track, el) {
  const ctx = new AudioContext();
  // Started by the person's own click on the checkbox (a browser may begin it suspended).
  void ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const every = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    el.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
  }, 100);
  return {
    stop() {
      clearInterval(every);
      void ctx.close();
    },
  };
}

for (const [box, kind] of [
  ['want-camera', 'video'],
  ['want-microphone', 'audio'],
]) {
  $(box).addEventListener('change', () => {
    want[kind] = $(box).checked;
    if (!want[kind]) close(kind);
    void preview();
  });
}

// ---------------------------------------------------------------------------------------------
// The meeting as shown.

const names = new Map();
const browsers = new Set();
const hands = new Set();
let me = null;
let hand = false;
let ended = false;

function person(id) {
  return names.get(id) ?? `#${id}`;
}

function renderPeople() {
  nameTiles();
  $('people').replaceChildren(
    ...[...names.entries()].map(([id, name]) => {
      const li = document.createElement('li');
      let shown = id === me ? t('people.you', { name }) : browsers.has(id) ? t('people.browser', { name }) : name;
      if (hands.has(id)) shown = t('people.hand', { name: shown });
      li.textContent = shown;
      return li;
    }),
  );
}

// Recording: whoever records the meeting on their computer (the server announces each), shown
// as a badge that stays while anyone records; in the waiting room, told before entering.
const recorders = new Set();
let recordedWhileWaiting = false;

function renderRecording() {
  const badge = $('rec-badge');
  if (recorders.size > 0) {
    badge.textContent = t('rec.badge', { names: [...recorders].map((id) => (id === me ? t('rec.you') : person(id))).join(', ') });
    badge.hidden = false;
  } else if (recordedWhileWaiting) {
    badge.textContent = t('rec.waiting');
    badge.hidden = false;
  } else {
    badge.hidden = true;
  }
  app.dataset.recording = String(!badge.hidden);
}

// Polls: shown as the engine reports them (whole each time), newest first. Questions and
// options are others' words: text only.
const polls = new Map();
/** Polls whose vote was sent and not counted yet. */
const voting = new Set();

function renderPolls() {
  $('polls-box').hidden = polls.size === 0;
  $('polls').replaceChildren(...[...polls.values()].sort((a, b) => b.id - a.id).map(pollCard));
}

function pollCard(p) {
  const li = document.createElement('li');
  li.id = `poll-${p.id}`;
  const question = document.createElement('p');
  question.className = 'poll-question';
  question.textContent = plain(p.question);
  const kind = document.createElement('p');
  kind.className = 'small';
  kind.textContent = `${t(p.anonymous ? 'polls.anonymous' : 'polls.named')} · ${t(p.open ? 'polls.open' : 'polls.closed')}`;
  li.append(question, kind);
  const note = (text) => {
    const n = document.createElement('p');
    n.id = `poll-${p.id}-note`;
    n.textContent = text;
    li.append(n);
  };
  if (p.my_vote) {
    note(t('polls.counted', { choices: p.my_vote.map((i) => plain(p.options[i] ?? '?')).join(', ') }));
  } else if (p.open && voting.has(p.id)) {
    note(t('polls.sending'));
  } else if (p.open) {
    const form = document.createElement('form');
    form.id = `poll-${p.id}-form`;
    p.options.forEach((o, i) => {
      const label = document.createElement('label');
      label.className = 'switch';
      const input = document.createElement('input');
      input.type = p.multiple ? 'checkbox' : 'radio';
      input.name = `poll-${p.id}`;
      input.value = String(i);
      input.id = `poll-${p.id}-option-${i}`;
      label.append(input, ' ', plain(o));
      form.append(label);
    });
    const button = document.createElement('button');
    button.type = 'submit';
    button.id = `poll-${p.id}-vote`;
    button.textContent = t('polls.vote');
    form.append(button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const choices = [...form.querySelectorAll('input:checked')].map((x) => Number(x.value));
      if (!choices.length) {
        $('status').textContent = t('polls.choose');
        return;
      }
      voting.add(p.id);
      send({ t: 'vote', poll: p.id, choices });
      renderPolls();
    });
    li.append(form);
  }
  if (p.counts) {
    const results = document.createElement('ul');
    results.id = `poll-${p.id}-results`;
    p.options.forEach((o, i) => {
      const r = document.createElement('li');
      r.textContent = t('polls.count', { option: plain(o), count: p.counts[i] ?? 0 });
      results.append(r);
    });
    const voters = document.createElement('li');
    voters.textContent = t('polls.voters', { count: p.voters });
    results.append(voters);
    li.append(results);
  }
  return li;
}

function addChat(from, body) {
  const li = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = plain(from);
  li.append(who, ': ', plain(body));
  $('chat-log').append(li);
}

function showControls() {
  const mic = $('mic-button');
  mic.textContent = t(want.audio ? 'controls.micOff' : 'controls.micOn');
  mic.setAttribute('aria-pressed', String(want.audio));
  const cam = $('camera-button');
  cam.textContent = t(want.video ? 'controls.cameraOff' : 'controls.cameraOn');
  cam.setAttribute('aria-pressed', String(want.video));
  const h = $('hand-button');
  h.textContent = t(hand ? 'controls.lowerHand' : 'controls.raiseHand');
  h.setAttribute('aria-pressed', String(hand));
  app.dataset.microphone = want.audio ? 'on' : 'off';
  app.dataset.camera = want.video ? 'on' : 'off';
}

function show(m) {
  switch (m.type) {
    case 'waiting':
      setState('waiting', t('status.waiting'));
      recordedWhileWaiting = Boolean(m.recording);
      renderRecording();
      break;
    case 'joined':
      me = m.you;
      setState('in_meeting', t('status.inMeeting', { title: plain(m.title) }));
      // Everyone starts unmuted in the server's eyes: say what this microphone is.
      send({ t: 'muted', muted: !want.audio });
      $('controls').hidden = false;
      break;
    case 'moved':
      // Another meeting on the server (a breakout room, or the main one again): its own
      // people, numbers, polls and keys follow.
      names.clear();
      hands.clear();
      recorders.clear();
      browsers.clear();
      polls.clear();
      voting.clear();
      renderPeople();
      renderRecording();
      renderPolls();
      $('code').textContent = t('code.unavailable');
      $('status').textContent =
        m.room == null ? t('status.backInMain') : t('status.inBreakout', { room: String(m.room) });
      break;
    case 'breakout_closing':
      $('status').textContent = t('status.breakoutClosing', { secs: String(m.in_secs) });
      break;
    case 'breakout_broadcast':
      addChat(t('chat.toAllRooms'), m.body);
      break;
    case 'participants_joined':
      for (const p of m.participants) {
        names.set(p.id, plain(p.name));
        if (p.browser) browsers.add(p.id);
        if (p.recording) recorders.add(p.id);
        else recorders.delete(p.id);
      }
      recordedWhileWaiting = false;
      renderPeople();
      renderRecording();
      break;
    case 'participant_left':
      names.delete(m.id);
      hands.delete(m.id);
      recorders.delete(m.id);
      renderPeople();
      renderRecording();
      break;
    case 'server_load': {
      // The media server sheds video to keep every voice (PROTOCOL.md, Media 8).
      const note = $('load-note');
      note.hidden = m.shedding === 'none';
      note.textContent = note.hidden ? '' : t(m.shedding === 'main_video' ? 'load.main_video' : 'load.voices_only');
      app.dataset.shedding = m.shedding;
      break;
    }
    case 'recording':
      if (m.on) recorders.add(m.id);
      else recorders.delete(m.id);
      renderRecording();
      break;
    case 'renamed':
      names.set(m.id, plain(m.name));
      renderPeople();
      break;
    case 'chat':
      addChat(person(m.from), m.body);
      break;
    case 'muted':
      if (m.id === me && m.muted && m.by_host && want.audio) {
        $('status').textContent = t('status.mutedByHost');
        void setMedia('audio', false, false);
      }
      break;
    case 'all_muted':
      if (want.audio && m.by !== me) {
        $('status').textContent = t('status.allMuted');
        void setMedia('audio', false, false);
      }
      break;
    case 'unmute_requested':
      $('status').textContent = t('status.unmuteAsked');
      break;
    case 'error':
      // A host's switch can refuse unmuting; a vote may come too late or twice.
      if (m.kind === 'disabled_by_host' && want.audio) {
        $('status').textContent = t('status.unmuteRefused', { reason: plain(m.message) });
        void setMedia('audio', false, false);
      } else if (['poll_closed', 'already_voted', 'no_such_poll'].includes(m.kind)) {
        $('status').textContent = plain(m.message);
        voting.clear();
        renderPolls();
      }
      break;
    case 'goodbye':
      $('status').textContent = plain(m.message);
      break;
    case 'sdp_answer':
    case 'sdp_offer':
      negotiate(m);
      break;
    case 'send_layers':
      void sendLayers(m.rids);
      break;
  }
}

function fromEngine(o) {
  switch (o.kind) {
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
      $('members').textContent = t('code.members', { members: o.members });
      app.dataset.members = String(o.members);
      break;
    case 'e2ee_refused':
      $('code').textContent = t('code.unavailable');
      $('status').textContent = plain(o.message);
      break;
    case 'hand':
      if (o.raised) hands.add(o.from);
      else hands.delete(o.from);
      renderPeople();
      break;
    case 'reconnecting':
      $('status').textContent = t('status.reconnecting');
      break;
    case 'reconnected':
      $('status').textContent = t('status.reconnected');
      break;
    case 'not_sent':
      $('status').textContent = t('status.notSent', { reason: plain(o.reason) });
      if (o.what === 'poll') {
        voting.clear();
        renderPolls();
      }
      break;
    case 'poll':
      polls.set(o.poll.id, o.poll);
      if (o.poll.my_vote || !o.poll.open) voting.delete(o.poll.id);
      renderPolls();
      break;
    case 'ended':
      ended = true;
      stopMedia();
      close('audio');
      close('video');
      meter?.stop();
      $('controls').hidden = true;
      setState('ended', o.message ? plain(o.message) : t('status.ended', { reason: o.reason }));
      app.dataset.reason = o.reason;
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Media: one peer connection with the meeting server's SFU. Every frame is sealed end to end
// in the engine's worker on its way out and opened there on its way in; a browser that cannot
// do that sends and plays nothing.

const canEncrypt = typeof RTCRtpScriptTransform !== 'undefined';
let pc = null;
/** The sending transceivers, by kind. */
const senders = { audio: null, video: null };
let sdp = Promise.resolve();
let mediaOptions = null;

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
  slotSenders.clear();
  senders.audio = senders.video = null;
  $('remote').replaceChildren();
}

function protect(x, audio, sending, slot) {
  x.transform = new RTCRtpScriptTransform(worker, { audio, sending, slot });
}

/** Received video slots: their number → whose pictures they carry now (participant number). */
const slotSenders = new Map();
let slots = 0;

function nameTiles() {
  for (const fig of document.querySelectorAll('#remote figure')) {
    const id = slotSenders.get(Number(fig.dataset.slot));
    fig.querySelector('figcaption').textContent = id == null ? '' : person(id);
    fig.dataset.participant = id == null ? '' : String(id);
  }
}

/** The camera's simulcast layers: a quarter, half and all of its size (PROTOCOL.md, Media). */
const LAYERS = [
  { rid: 'l', scaleResolutionDownBy: 4 },
  { rid: 'm', scaleResolutionDownBy: 2 },
  { rid: 'h', scaleResolutionDownBy: 1 },
];

/** Encode only the layers someone receives (none: nobody is shown this camera now). */
async function sendLayers(rids) {
  const sender = senders.video?.sender;
  if (!sender) return;
  const p = sender.getParameters();
  if (!p.encodings?.length) return;
  for (const e of p.encodings) e.active = rids.includes(e.rid);
  await sender.setParameters(p).catch((err) => console.warn('layers not changed', err));
}

/** Offer what this page sends now; the SFU answers (again after a device is turned on). */
function offer(conn) {
  sdp = sdp
    .then(async () => {
      if (pc !== conn) return;
      await conn.setLocalDescription(await conn.createOffer());
      const text = await gathered(conn);
      if (pc !== conn) return;
      send({ t: 'media', json: JSON.stringify({ type: 'sdp_offer', sdp: text }) });
    })
    .catch((err) => console.warn('media negotiation failed', err));
}

async function startMedia(o) {
  stopMedia();
  mediaOptions = o;
  if (!canEncrypt) {
    $('media-note').textContent = t('media.noEncryption');
    return;
  }
  const conn = new RTCPeerConnection({
    iceServers: (o.ice_servers ?? []).map((s) => ({ urls: s.urls, username: s.username ?? undefined, credential: s.credential ?? undefined })),
    bundlePolicy: 'max-bundle',
  });
  pc = conn;
  conn.ontrack = (e) => {
    const audio = e.track.kind === 'audio';
    const el = document.createElement(audio ? 'audio' : 'video');
    el.autoplay = true;
    el.playsInline = true;
    el.srcObject = new MediaStream([e.track]);
    if (audio) {
      protect(e.receiver, true, false);
      $('remote').append(el);
      return;
    }
    // A tile: the picture and the name of whoever it shows.
    const slot = slots++;
    protect(e.receiver, false, false, slot);
    const fig = document.createElement('figure');
    fig.dataset.slot = String(slot);
    fig.append(el, document.createElement('figcaption'));
    $('remote').append(fig);
  };
  // One sending m-line per kind from the start, carrying nothing while the device is off. The
  // camera goes as three layers (simulcast, as the app sends it): the SFU forwards each
  // receiver the one that fits its tile and says which anyone receives (`send_layers`).
  for (const kind of ['audio', 'video']) {
    if (want[kind]) await open(kind);
    if (pc !== conn) return;
    const track = tracks[kind];
    const tr = conn.addTransceiver(track ?? kind, {
      direction: 'sendonly',
      streams: [new MediaStream(track ? [track] : [])],
      ...(kind === 'video' ? { sendEncodings: LAYERS.map((l) => ({ ...l })) } : {}),
    });
    protect(tr.sender, kind === 'audio', true);
    senders[kind] = tr;
  }
  offer(conn);
}

/** Turn the camera (`video`) or the microphone (`audio`) on or off, in the meeting. */
async function setMedia(kind, on, tellServer = true) {
  want[kind] = on;
  showControls();
  if (kind === 'audio' && tellServer) send({ t: 'muted', muted: !on });
  if (!on) {
    close(kind);
    // Nothing more is sent; the m-line stays for the next time.
    await senders[kind]?.sender.replaceTrack(null);
    return;
  }
  const track = await open(kind);
  const conn = pc;
  if (!track || !conn || !want[kind]) return;
  await senders[kind]?.sender.replaceTrack(track);
}

/** The SFU's side of the negotiation, one step at a time. */
function negotiate(m) {
  const conn = pc;
  if (!conn) return;
  sdp = sdp
    .then(async () => {
      if (pc !== conn) return;
      if (m.type === 'sdp_answer') {
        if (conn.signalingState === 'have-local-offer') await conn.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        return;
      }
      await conn.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await conn.setLocalDescription(await conn.createAnswer());
      const answer = await gathered(conn);
      if (pc !== conn) return;
      send({ t: 'media', json: JSON.stringify({ type: 'sdp_answer', sdp: answer }) });
    })
    .catch((err) => console.warn('media negotiation failed', err));
}

/** What this page's camera sends now, per layer (sizes and rates only): for the test and
 * benchmark drivers, as the app's window keeps its own counts. */
window.__parleyGuest = {
  /** The polls as the page shows them. */
  polls() {
    return [...polls.values()];
  },
  async sent() {
    const out = [];
    if (!pc) return out;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        out.push({ rid: r.rid ?? null, width: r.frameWidth ?? 0, height: r.frameHeight ?? 0, fps: r.framesPerSecond ?? 0, encoder: r.encoderImplementation ?? null });
      }
    });
    return out;
  },
  /** What each tile received and showed: its name, and the browser's counts for it. */
  async received() {
    const out = [];
    if (!pc) return out;
    const stats = [];
    (await pc.getStats()).forEach((r) => r.type === 'inbound-rtp' && r.kind === 'video' && stats.push(r));
    for (const fig of document.querySelectorAll('#remote figure')) {
      const track = fig.querySelector('video')?.srcObject?.getVideoTracks()[0];
      const r = stats.find((s) => s.trackIdentifier === track?.id);
      if (!r) continue;
      out.push({
        name: fig.querySelector('figcaption').textContent,
        framesDecoded: r.framesDecoded ?? 0,
        freezeCount: r.freezeCount ?? 0,
        totalFreezesDuration: r.totalFreezesDuration ?? 0,
        packetsReceived: r.packetsReceived ?? 0,
        packetsLost: r.packetsLost ?? 0,
        nackCount: r.nackCount ?? 0,
        pliCount: r.pliCount ?? 0,
      });
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// The person's actions.

$('join-browser').addEventListener('click', () => {
  $('choose').hidden = true;
  $('prejoin').hidden = false;
  $('name').focus();
});

$('prejoin').addEventListener('submit', (e) => {
  e.preventDefault();
  meter?.stop();
  meter = null;
  $('prejoin').hidden = true;
  $('meeting').hidden = false;
  showControls();
  setState('connecting', t('status.connecting'));
  send({ t: 'join', link, name: $('name').value.trim(), passcode: $('passcode').value || undefined });
});

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const body = $('chat-input').value;
  if (body.trim() === '') return;
  send({ t: 'chat', body });
  $('chat-input').value = '';
});

$('mic-button').addEventListener('click', () => void setMedia('audio', !want.audio));
$('camera-button').addEventListener('click', () => void setMedia('video', !want.video));
$('hand-button').addEventListener('click', () => {
  hand = !hand;
  if (hand) hands.add(me);
  else hands.delete(me);
  send({ t: 'hand', raised: hand });
  showControls();
  renderPeople();
});

$('leave').addEventListener('click', () => {
  if (ended) return;
  send({ t: 'leave' });
});

// ---------------------------------------------------------------------------------------------
// Start: the engine's files, each checked against the hash the page names, into its worker.

function failed() {
  $('unsupported').hidden = false;
  $('unsupported').textContent = t('engine.failed');
  app.dataset.state = 'unsupported';
}

try {
  const hash = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const text = (path, name) =>
    fetch(path, { integrity: hash(name) }).then((r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status}`);
      return r.text();
    });
  const [glue, code, module] = await Promise.all([
    text('/guest/pkg/parley_web.js', 'parley-glue'),
    text('/guest/guest-worker.js', 'parley-worker'),
    WebAssembly.compileStreaming(fetch('/guest/pkg/parley_web_bg.wasm', { integrity: hash('parley-wasm') })),
  ]);
  const url = URL.createObjectURL(new Blob([glue, '\n', code], { type: 'text/javascript' }));
  worker = new Worker(url);
  URL.revokeObjectURL(url);
  worker.onerror = (e) => {
    console.warn('meeting engine worker failed', e.message);
    failed();
  };
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.t === 'ready') {
      $('join-browser').disabled = false;
      app.dataset.state = 'choose';
    } else if (m.t === 'out') {
      fromEngine(m.o);
    } else if (m.t === 'sender') {
      slotSenders.set(m.slot, m.id);
      nameTiles();
    } else if (m.t === 'refused') {
      if (m.step === 'join') {
        $('meeting').hidden = true;
        $('choose').hidden = false;
        $('unsupported').hidden = false;
        $('unsupported').textContent = plain(m.message);
        app.dataset.state = 'choose';
      } else {
        $('status').textContent = plain(m.message);
      }
    }
  };
  send({ t: 'init', module });
} catch (err) {
  console.warn('meeting engine not started', String(err?.message ?? err));
  failed();
}
