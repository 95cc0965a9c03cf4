// The ONLY module that touches the generated bindings (src/bindings.ts) or Tauri. If the
// generated file differs a little from what the UI expects, fix it here. Tests mock this
// module (vi.mock('../src/api')), so the UI runs without Tauri.

import { commands, events } from './bindings';
import { PullRequests, videoStats } from './video';
import type {
  Action_Serialize,
  AppError,
  BreakoutsView_Serialize,
  ChatLine_Serialize,
  HostRequest_Serialize,
  JoinRequest_Serialize,
  LinkCheck,
  MeetingView_Serialize,
  Person_Serialize,
  Notice_Serialize,
  PolicySwitch_Serialize,
  DeviceOptions,
  DevicePrefs_Serialize,
  EchoTestResult,
  FileView_Serialize,
  NetworkAddress,
  NotesExport,
  NotesView,
  PollView_Serialize,
  ShareSourceView,
  ViewUpdate_Serialize,
} from './bindings';

// The UI speaks the shapes the backend serialises (every field present, `null` for none);
// they are also valid inputs for the backend's deserialisers.
export type Action = Action_Serialize;
export type ChatLine = ChatLine_Serialize;
export type HostRequest = HostRequest_Serialize;
export type JoinRequest = JoinRequest_Serialize;
export type MeetingView = MeetingView_Serialize;
export type Notice = Notice_Serialize;
/** A change of the host's switches (`null`: unchanged). */
export type PolicySwitch = PolicySwitch_Serialize;
export type Result<T, E> = { status: 'ok'; data: T } | { status: 'error'; error: E };
export type Person = Person_Serialize;
export type PollView = PollView_Serialize;
export type FileView = FileView_Serialize;
export type { FileState } from './bindings';
export type ViewUpdate = ViewUpdate_Serialize;
export type { AppError, LinkCheck, NamedVote, Phase, PolicyView, RoleView, SecurityView, Waiter } from './bindings';
export type { NotesExport, NotesView, StrokeView } from './bindings';
export type BreakoutsView = BreakoutsView_Serialize;
export type DevicePrefs = DevicePrefs_Serialize;
export type { DeviceOptions, DeviceOption, DeviceProblem, EchoTestResult, NetworkAddress, ShareSourceView } from './bindings';

/** A command that failed by throwing (IPC broken, not a typed AppError) becomes `internal`. */
async function guard<T>(run: () => Promise<Result<T, AppError>>): Promise<Result<T, AppError>> {
  try {
    return await run();
  } catch (e) {
    return { status: 'error', error: { kind: 'internal', message: String(e) } };
  }
}

/** The cameras, microphones and speakers (listing opens none of them). */
/** What can be shared: the screen, then each window with a title (nothing is captured). */
export function shareSources(): Promise<Result<ShareSourceView[], AppError>> {
  return guard(() => commands.shareSources());
}

/** This computer's addresses others on the network could join a meeting hosted here by. */
export async function networkAddresses(): Promise<NetworkAddress[]> {
  const r = await guard(() => commands.networkAddresses());
  return r.status === 'ok' ? r.data : [];
}

export function listDevices(): Promise<Result<DeviceOptions, AppError>> {
  return guard(() => commands.listDevices());
}

/** Open the picked microphone for the level meter, or close it (null). */
export function checkMicrophone(id: string | null): Promise<Result<null, AppError>> {
  return guard(() => commands.checkMicrophone(id));
}

/** The checked microphone's level, 0–1 (0 when none is open). */
export async function microphoneLevel(): Promise<number> {
  try {
    return (await commands.microphoneLevel()) ?? 0;
  } catch {
    return 0;
  }
}

/** Record `seconds` from the microphone and play them back on the speaker. */
export function echoTest(microphone: string, speaker: string | null, seconds: number): Promise<Result<EchoTestResult, AppError>> {
  return guard(() => commands.echoTest(microphone, speaker, seconds));
}

export function checkLink(text: string): Promise<Result<LinkCheck, AppError>> {
  return guard(() => commands.checkLink(text));
}

export function joinMeeting(request: JoinRequest): Promise<Result<MeetingView, AppError>> {
  return guard(() => commands.joinMeeting(request));
}

export function hostMeeting(request: HostRequest): Promise<Result<MeetingView, AppError>> {
  return guard(() => commands.hostMeeting(request));
}

/** The invite link, only ever to be put on the clipboard — never rendered. */
export function inviteLink(): Promise<Result<string, AppError>> {
  return guard(() => commands.inviteLink());
}

/** Save the chat's text as a file in Downloads (only if the host allows); the file's path. */
export function saveChat(stamp: string, text: string): Promise<Result<string, AppError>> {
  return guard(() => commands.saveChat(stamp, text));
}

export function meetingAction(action: Action): Promise<Result<null, AppError>> {
  return guard(() => commands.meetingAction(action));
}

export function currentMeeting(): Promise<Result<MeetingView | null, AppError>> {
  return guard(async () => {
    const r = await commands.currentMeeting();
    // Updates after this build on it (the backend sends the next one whole).
    if (r.status === 'ok') lastView = r.data;
    return r;
  });
}

/** The meeting's polls, oldest first (for a window that was reloaded). */
export function currentPolls(): Promise<Result<PollView[], AppError>> {
  return guard(() => commands.currentPolls());
}

/** The shared notes and whiteboard (for a window that was reloaded). */
export function currentNotes(): Promise<Result<NotesView, AppError>> {
  return guard(() => commands.currentNotes());
}

/** Save the shared notes (`markdown`) or the whiteboard (`svg`) in Downloads, as
 * `parley-notes-<stamp>.md` or `parley-whiteboard-<stamp>.svg`; the file's path. */
export function saveNotes(what: NotesExport, stamp: string): Promise<Result<string, AppError>> {
  return guard(() => commands.saveNotes(what, stamp));
}

/** The meeting's file transfers, oldest first (for a window that was reloaded). */
export function currentFiles(): Promise<Result<FileView[], AppError>> {
  return guard(() => commands.currentFiles());
}

/** Save received file `transfer` in Downloads (never over another file); the transfer, saved
 * (`saved_as` is the path). Nothing is opened. */
export function saveFile(transfer: number): Promise<Result<FileView, AppError>> {
  return guard(() => commands.saveFile(transfer));
}

/** Let received file `transfer` go unsaved; the transfer, discarded (null: it was not waiting). */
export function discardFile(transfer: number): Promise<Result<FileView | null, AppError>> {
  return guard(() => commands.discardFile(transfer));
}

/** The largest file this app sends: 256 MiB (the server may take less, and says so). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Bytes per piece when encoding: a multiple of 3, so the pieces' base64 join up without
 * padding in between, and small enough to pass as arguments to `String.fromCharCode`. */
const BASE64_PIECE = 3 * 8192;

/** `bytes` as standard base64 (with padding), a piece at a time: spreading a large array
 * into one call would overflow the stack. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let at = 0; at < bytes.length; at += BASE64_PIECE) {
    const piece = bytes.subarray(at, at + BASE64_PIECE);
    parts.push(btoa(String.fromCharCode.apply(null, piece as unknown as number[])));
  }
  return parts.join('');
}

/** What `sendFile` needs of a chosen file (a `File` has all of it). */
export type FileToSend = Pick<File, 'name' | 'size' | 'arrayBuffer'>;

function tooLarge(): Result<never, AppError> {
  return { status: 'error', error: { kind: 'file_too_large', message: 'The file is larger than 256 MiB.' } };
}

/** Send a chosen file, to participant `to` or (null) everyone. One over MAX_FILE_BYTES is
 * refused before it is read. */
export async function sendFile(file: FileToSend, to: number | null): Promise<Result<null, AppError>> {
  if (file.size > MAX_FILE_BYTES) return tooLarge();
  return guard(async () => {
    const buffer = await file.arrayBuffer();
    if (buffer.byteLength > MAX_FILE_BYTES) return tooLarge();
    const data = toBase64(new Uint8Array(buffer));
    return commands.meetingAction({ type: 'send_file', to, name: file.name, data });
  });
}

/** A policy change touching only the given switches (the rest stay `null` = unchanged). */
export function policyChange(change: Partial<Record<keyof PolicySwitch, boolean>>): PolicySwitch {
  return {
    waiting_room: null,
    chat: null,
    private_chat: null,
    rename: null,
    unmute_self: null,
    screen_share_everyone: null,
    file_transfer: null,
    save_chat: null,
    event_mode: null,
    recording: null,
    notes_locked: null,
    ...change,
  };
}

/** How many batches the window asks for ahead (the backend allows four): on a busy core a
 * request takes 30–60 ms to be answered, so batches must travel while the window draws. */
const REQUESTS_AHEAD = 4;

/** The window's video connection: the app's loopback socket (port and per-launch secret from
 * `watch_video`). The window pulls: it asks for a batch each time one arrives, keeping
 * REQUESTS_AHEAD requests out, so the backend never sends more than the window takes.
 * `onBatch` gets each batch as it arrives (see video.ts); `onFrame` runs at the next screen
 * frame after batches arrived, to draw, and again at each following frame while it says more
 * is waiting. A socket silent for VIDEO_STALL_MS with a request out is opened anew. */
export async function watchVideo(onBatch: (batch: ArrayBuffer) => void, onFrame: () => boolean): Promise<void> {
  const r = await commands.watchVideo().catch((e: unknown) => ({ status: 'error' as const, error: e }));
  if (r.status !== 'ok') {
    console.warn('watch_video failed', r.error);
    return;
  }
  const { port, token } = r.data;
  const connect = () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = 'arraybuffer';
    let frameAsked = false;
    const requests = new PullRequests();
    const ask = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send('next');
      requests.ask(performance.now());
    };
    ws.onopen = () => {
      ws.send(token);
      for (let i = 0; i < REQUESTS_AHEAD; i++) ask();
    };
    ws.onmessage = (e: MessageEvent) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      const waited = requests.answered(performance.now());
      // Ask again first: a batch that cannot be read must not cost a request for good.
      ask();
      // An empty batch only says the socket is alive (nothing to draw).
      if (e.data.byteLength <= 4) return;
      if (waited !== undefined) {
        videoStats.batches += 1;
        videoStats.waitedMs += waited;
      }
      try {
        onBatch(e.data);
      } catch (err) {
        console.warn('a video batch could not be read', err);
        return;
      }
      // Draw at the screen's pace.
      if (!frameAsked) {
        frameAsked = true;
        const frame = () => {
          if (onFrame()) requestAnimationFrame(frame);
          else frameAsked = false;
        };
        requestAnimationFrame(frame);
      }
    };
    // A closed socket (the app replaced it, or a hiccup) is reopened after a pause; a newer
    // one replaces this one at the backend.
    const reopen = () => {
      clearInterval(watchdog);
      ws.onclose = null;
      ws.onmessage = null;
      setTimeout(connect, 1000);
    };
    ws.onclose = reopen;
    // Every request is answered within 2 s: a longer silence is a stuck socket. Its close may
    // never complete, so the new one is opened without waiting for it.
    const watchdog = setInterval(() => {
      if (!requests.stalled(performance.now())) return;
      console.warn('the video socket went silent; opening it again');
      videoStats.reconnects += 1;
      ws.close();
      reopen();
    }, 1000);
  };
  connect();
}

/** Start (`on`) or stop the pre-join camera preview of `camera` (null: the test pattern). */
export function previewCamera(on: boolean, camera: string | null): Promise<Result<null, AppError>> {
  return guard(() => commands.previewCamera(on, camera));
}

/** Ask for the person's attention: a desktop notification and the window's attention request
 * (the app escapes and cuts the text, and posts at most one every two seconds). */
export async function notify(summary: string, body: string): Promise<void> {
  try {
    await commands.notify(summary, body);
  } catch (e) {
    console.warn('notify failed', e);
  }
}

type Unlisten = () => void;

async function safeListen(start: () => Promise<Unlisten>): Promise<Unlisten> {
  try {
    return await start();
  } catch (e) {
    console.warn('event listen failed', e);
    return () => {};
  }
}

/** The view the backend's next patch builds on: the last one it sent us. */
let lastView: MeetingView | null = null;

/**
 * The view after `update`: the whole view, or `prev` with the people who changed, came or
 * went (in the new order when it changed). A patch without a view to build on gives `null`
 * (the next whole view follows; see `currentMeeting`).
 */
export function applyUpdate(prev: MeetingView | null, update: ViewUpdate): MeetingView | null {
  if (update.kind === 'full') return update.view;
  if (!prev) return null;
  const byId = new Map(prev.participants.map((p) => [p.id, p] as const));
  for (const id of update.removed) byId.delete(id);
  for (const p of update.upserts) byId.set(p.id, p);
  const order = update.order ?? prev.participants.map((p) => p.id);
  const participants = order.flatMap((id) => {
    const p = byId.get(id);
    return p ? [p] : [];
  });
  return { ...update.head, participants };
}

export function onMeetingUpdated(cb: (view: MeetingView) => void): Promise<Unlisten> {
  return safeListen(() =>
    events.meetingUpdated.listen((e) => {
      const next = applyUpdate(lastView, e.payload);
      if (!next) return;
      lastView = next;
      cb(next);
    }),
  );
}

export function onChatReceived(cb: (line: ChatLine) => void): Promise<Unlisten> {
  return safeListen(() => events.chatReceived.listen((e) => cb(e.payload)));
}

export function onNoticeRaised(cb: (notice: Notice) => void): Promise<Unlisten> {
  return safeListen(() => events.noticeRaised.listen((e) => cb(e.payload)));
}

/** A poll opened or changed: the whole poll, which replaces the one with its number. */
export function onPollChanged(cb: (poll: PollView) => void): Promise<Unlisten> {
  return safeListen(() => events.pollChanged.listen((e) => cb(e.payload)));
}

/** A file transfer began or changed: the whole transfer, which replaces the one with its number. */
export function onFileChanged(cb: (file: FileView) => void): Promise<Unlisten> {
  return safeListen(() => events.fileChanged.listen((e) => cb(e.payload)));
}

/** The shared notes or whiteboard changed (here or by someone else): all of them, whole. */
export function onNotesChanged(cb: (notes: NotesView) => void): Promise<Unlisten> {
  return safeListen(() => events.notesChanged.listen((e) => cb(e.payload)));
}

/** An invite link opened with the app (a clicked parley:// link or a second launch). */
export function onLinkOpened(cb: (link: string) => void): Promise<Unlisten> {
  return safeListen(() => events.linkOpened.listen((e) => cb(e.payload.link)));
}

/** The link the app was started with, if any (taken once). */
export async function openedLink(): Promise<string | null> {
  try {
    return await commands.openedLink();
  } catch {
    return null;
  }
}
