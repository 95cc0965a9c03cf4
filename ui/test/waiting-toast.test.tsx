// The "someone is waiting" toast admits the person it announced, by participant number: never
// whoever else waits under the same name (issue 17, item 1).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/preact';
import type { MeetingView, Notice, Waiter } from '../src/api';

vi.mock('../src/api', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/api')>();
  return {
    ...real,
    checkLink: vi.fn(),
    meetingAction: vi.fn(),
    currentMeeting: vi.fn(),
    watchVideo: vi.fn(),
    onMeetingUpdated: vi.fn(),
    onChatReceived: vi.fn(),
    onNoticeRaised: vi.fn(),
    onPollChanged: vi.fn(),
    onLinkOpened: vi.fn(),
    openedLink: vi.fn(),
    listDevices: vi.fn(),
    notify: vi.fn(),
    networkAddresses: vi.fn(),
  };
});

import * as api from '../src/api';
import { setLang } from '../src/i18n';
import { App } from '../src/app';

const mocked = vi.mocked(api);

function hostView(waiting: Waiter[]): MeetingView {
  return {
    phase: 'in_meeting',
    title: 'Clinic',
    you: 1,
    role: 'host',
    host_present: true,
    recorded_while_waiting: false,
    locked: false,
    has_passcode: false,
    policy: null,
    participants: [],
    waiting,
    ended_reason: null,
    ended_message: null,
    hosted_here: false,
    invite_available: false,
    security: null,
    e2ee_refused: null,
    active_speaker: null,
    reconnecting: false,
  };
}

/** A knock, as the backend announces it: by number only (the name is in the view sent before). */
function waitingNotice(id: number): Notice {
  return { kind: 'someone_waiting', who: id };
}

/** The App, with hooks to push meeting views and notices into it as the backend would. */
async function renderApp() {
  const stop = () => {};
  let update: ((v: MeetingView) => void) | null = null;
  let notice: ((n: Notice) => void) | null = null;
  mocked.onMeetingUpdated.mockImplementation(async (cb) => {
    update = cb;
    return stop;
  });
  mocked.onNoticeRaised.mockImplementation(async (cb) => {
    notice = cb;
    return stop;
  });
  mocked.onChatReceived.mockResolvedValue(stop);
  mocked.onPollChanged.mockResolvedValue(stop);
  mocked.onLinkOpened.mockResolvedValue(stop);
  mocked.watchVideo.mockResolvedValue(undefined);
  mocked.currentMeeting.mockResolvedValue({ status: 'ok', data: null });
  mocked.openedLink.mockResolvedValue(null);
  const { container } = render(<App />);
  await waitFor(() => expect(update && notice).toBeTruthy());
  return { container, update: update!, notice: notice! };
}

/** The Admit button of the n-th toast on screen (oldest first). */
function admitButton(container: Element, n: number): HTMLButtonElement {
  const toast = container.querySelectorAll('[data-testid="toast"]')[n];
  const button = [...(toast?.querySelectorAll('button') ?? [])].find((b) => b.textContent === 'Admit');
  if (!button) throw new Error(`toast ${n} has no Admit button`);
  return button;
}

beforeEach(() => {
  setLang('en');
  localStorage.clear();
  vi.spyOn(document, 'hasFocus').mockReturnValue(true);
  mocked.meetingAction.mockResolvedValue({ status: 'ok', data: null });
  mocked.notify.mockResolvedValue(undefined);
  mocked.listDevices.mockResolvedValue({ status: 'ok', data: { cameras: [], microphones: [], speakers: [], problems: [] } });
  mocked.networkAddresses.mockResolvedValue([]);
});
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe('the waiting toast', () => {
  it('a burst of knocks: a toast for each of the first three, then one that counts the rest; the desktop is told of each', async () => {
    vi.spyOn(document, 'hasFocus').mockReturnValue(false);
    const { container, update, notice } = await renderApp();
    const waiting: Waiter[] = [];
    for (let i = 1; i <= 12; i++) {
      waiting.push({ id: i, name: `Pupil ${i}`, browser: false });
      update(hostView([...waiting]));
      notice(waitingNotice(i));
    }
    await waitFor(() => expect(container.textContent).toContain('9 more are waiting: see Participants'));
    const toasts = [...container.querySelectorAll('[data-testid="toast"]')].map((x) => x.textContent ?? '');
    expect(toasts.filter((x) => x.includes('is waiting'))).toHaveLength(3);
    expect(toasts.filter((x) => x.includes('more are waiting'))).toHaveLength(1);
    // One notification per knock, each replacing the last (the desktop shows one).
    expect(mocked.notify).toHaveBeenCalledTimes(12);
    expect(mocked.notify).toHaveBeenLastCalledWith(expect.any(String), expect.stringContaining('Pupil 12'));
    // The first ones can still be admitted from their own toast.
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 1 }));
  });

  it('admits the waiter it announced, not a later one with the same name', async () => {
    const { container, update, notice } = await renderApp();
    update(hostView([{ id: 7, name: 'Eve', browser: false }]));
    notice(waitingNotice(7));
    update(hostView([{ id: 7, name: 'Eve', browser: false }, { id: 8, name: 'Eve', browser: false }]));
    notice(waitingNotice(8));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(2));
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledTimes(1));
    expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 7 });
  });

  it('goes when the announced waiter no longer waits, so it never admits someone else under that name', async () => {
    const { container, update, notice } = await renderApp();
    update(hostView([{ id: 7, name: 'Eve', browser: false }]));
    notice(waitingNotice(7));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(1));
    // The real Eve leaves (or is admitted from the participants panel): her toast goes.
    update(hostView([]));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(0));
    // Someone else arrives as "Eve": their own toast admits them.
    update(hostView([{ id: 8, name: 'Eve', browser: false }]));
    notice(waitingNotice(8));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(1));
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 8 }));
    expect(mocked.meetingAction).toHaveBeenCalledTimes(1);
  });
});
