// What the screen tests share: the backend stood in for (the api module's commands and events
// as spies), view, person and policy fixtures, the Meeting screen and the whole App rendered
// with hooks to push into them what the backend would send.
//
// A test file that talks to the mocked backend starts with
//   vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));
// (vi.mock is hoisted per file, so the line stays in each file; its factory is in api-mock.ts,
// which must not import the api itself: a factory that imported this module would wait for it,
// and this module waits for the mocked api) and calls `setUpEach()` once at its top level.
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { cleanup, render, waitFor } from '@testing-library/preact';
import type { ComponentProps } from 'preact';
import * as api from '../src/api';
import type { ChatLine, FileView, MeetingView, NotesView, Notice, Person, PolicyView, PollView } from '../src/api';
import { App, type SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { setLang } from '../src/i18n';

/** The api module as the tests see it (mocked where the file mocks it). */
export const mocked = vi.mocked(api);

/** No devices and no network addresses: what a test computer has. */
const NO_DEVICES = { cameras: [], microphones: [], speakers: [], problems: [] };

/**
 * Each test starts in English with nothing stored and a backend that accepts every action,
 * has no meeting running and sends nothing; after each, the screen is taken down and the
 * calls forgotten. `focused`: the window has the focus (`document.hasFocus()` is true).
 */
export function setUpEach({ focused = false }: { focused?: boolean } = {}) {
  beforeEach(() => {
    setLang('en');
    localStorage.clear();
    if (focused) vi.spyOn(document, 'hasFocus').mockReturnValue(true);
    const stop = () => {};
    mocked.meetingAction.mockResolvedValue({ status: 'ok', data: null });
    mocked.sendFile.mockResolvedValue({ status: 'ok', data: null });
    mocked.notify.mockResolvedValue(undefined);
    mocked.listDevices.mockResolvedValue({ status: 'ok', data: NO_DEVICES });
    mocked.networkAddresses.mockResolvedValue([]);
    mocked.onMeetingUpdated.mockResolvedValue(stop);
    mocked.onChatReceived.mockResolvedValue(stop);
    mocked.onNoticeRaised.mockResolvedValue(stop);
    mocked.onPollChanged.mockResolvedValue(stop);
    mocked.onFileChanged.mockResolvedValue(stop);
    mocked.onNotesChanged.mockResolvedValue(stop);
    mocked.onLinkOpened.mockResolvedValue(stop);
    mocked.watchVideo.mockResolvedValue(undefined);
    mocked.openedLink.mockResolvedValue(null);
    mocked.currentMeeting.mockResolvedValue({ status: 'ok', data: null });
    mocked.currentPolls.mockResolvedValue({ status: 'ok', data: [] });
    mocked.currentFiles.mockResolvedValue({ status: 'ok', data: [] });
    mocked.currentNotes.mockResolvedValue({ status: 'ok', data: { text: '', strokes: [], version: 0 } });
    mocked.saveNotes.mockResolvedValue({ status: 'ok', data: '/home/ann/Downloads/parley-notes.md' });
  });
  afterEach(() => {
    cleanup();
    vi.clearAllMocks();
  });
}

/** Someone in the meeting: a participant, muted, doing nothing in particular unless told. */
export function person(id: number, name: string, over: Partial<Person> = {}): Person {
  return {
    id,
    name,
    role: 'participant',
    muted: true,
    hand_raised: false,
    hand_order: null,
    sharing: false,
    on_stage: false,
    away: false,
    browser: false,
    recording: false,
    decrypt_problem: null,
    speaking: false,
    volume: 100,
    muted_for_me: false,
    ...over,
  };
}

/** The host's switches: chat on, private chat off, files allowed, no waiting room, notes unlocked, unless told. */
export function policy(over: Partial<PolicyView> = {}): PolicyView {
  return {
    waiting_room: false,
    chat: true,
    private_chat: false,
    rename: true,
    unmute_self: true,
    screen_share_everyone: true,
    file_transfer: true,
    save_chat: false,
    event_mode: false,
    recording: false,
    notes_locked: false,
    capacity: 100,
    ...over,
  };
}

/** The host's view (participant number 1) of a meeting under way, in the main meeting with no breakout rooms open: nobody in it, no policy known, unless told. */
export function hostView(over: Partial<MeetingView> = {}): MeetingView {
  return {
    phase: 'in_meeting',
    title: 'Standup',
    you: 1,
    role: 'host',
    host_present: true,
    recorded_while_waiting: false,
    locked: false,
    has_passcode: false,
    policy: null,
    participants: [],
    waiting: [],
    ended_reason: null,
    ended_message: null,
    hosted_here: false,
    invite_available: false,
    security: null,
    e2ee_refused: null,
    active_speaker: null,
    reconnecting: false,
    breakout: null,
    breakout_ends_in_secs: null,
    breakout_closing_in_secs: null,
    breakouts: null,
    server_shedding: 'none',
    ...over,
  };
}

type MeetingProps = ComponentProps<typeof Meeting>;

/** The meeting screen alone; `$` finds in it, `showError` is a spy. */
export function renderMeeting(view: MeetingView, session: SessionInfo, extra: Partial<MeetingProps> = {}) {
  const showError = vi.fn();
  const r = render(<Meeting view={view} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={showError} {...extra} />);
  const $ = <T extends Element = HTMLElement>(sel: string) => r.container.querySelector<T & Element>(sel);
  return { ...r, $, showError };
}

/** The actions sent, without the screen's own `visible_tiles`. */
export function sent() {
  return mocked.meetingAction.mock.calls.map(([a]) => a).filter((a) => a.type !== 'visible_tiles');
}

/** The backend's events, to push into the App as the backend would send them. */
export type Pushes = {
  update: (v: MeetingView) => void;
  chat: (line: ChatLine) => void;
  notice: (n: Notice) => void;
  poll: (p: PollView) => void;
  file: (f: FileView) => void;
  notes: (n: NotesView) => void;
  linkOpened: (link: string) => void;
};

/** What the backend has when the App starts: a running meeting (after a window reload) with its polls, files and notes, a link the app was opened with. */
export type Backend = { meeting?: MeetingView | null; polls?: PollView[]; files?: FileView[]; notes?: NotesView; opened?: string | null };

/** The App, once it listens to the backend, with hooks to push meeting views, chat lines, notices, polls, files, notes and links into it. */
export async function renderApp({ meeting = null, polls = [], files = [], notes = { text: '', strokes: [], version: 0 }, opened = null }: Backend = {}) {
  const stop = () => {};
  const hooks: Partial<Pushes> = {};
  const listen =
    <K extends keyof Pushes>(key: K) =>
    async (cb: Pushes[K]) => {
      hooks[key] = cb;
      return stop;
    };
  mocked.onMeetingUpdated.mockImplementation(listen('update'));
  mocked.onNoticeRaised.mockImplementation(listen('notice'));
  mocked.onPollChanged.mockImplementation(listen('poll'));
  mocked.onFileChanged.mockImplementation(listen('file'));
  mocked.onNotesChanged.mockImplementation(listen('notes'));
  mocked.onLinkOpened.mockImplementation(listen('linkOpened'));
  mocked.onChatReceived.mockImplementation(listen('chat'));
  mocked.watchVideo.mockResolvedValue(undefined);
  mocked.openedLink.mockResolvedValue(opened);
  mocked.currentMeeting.mockResolvedValue({ status: 'ok', data: meeting });
  mocked.currentPolls.mockResolvedValue({ status: 'ok', data: polls });
  mocked.currentFiles.mockResolvedValue({ status: 'ok', data: files });
  mocked.currentNotes.mockResolvedValue({ status: 'ok', data: notes });
  const r = render(<App />);
  await waitFor(() => expect(hooks.update && hooks.chat && hooks.notice && hooks.poll && hooks.file && hooks.notes && hooks.linkOpened).toBeTruthy());
  return { ...r, ...(hooks as Pushes) };
}
