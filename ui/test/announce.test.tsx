// Join and leave announcements: a burst is one toast per direction at the end of a short
// window, naming up to three people and counting more ("12 people joined"); a leaver is named
// by the name remembered from the views before; names are text only.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act } from '@testing-library/preact';
import type { MeetingView, Notice, Person } from '../src/api';
import { announcement, Announcements, ANNOUNCE_WINDOW_MS, NameBook } from '../src/announce';
import { setLang } from '../src/i18n';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import { hostView, person, renderApp, setUpEach } from './harness';

setUpEach({ focused: true });
afterEach(() => vi.useRealTimers());

const joined = (...ids: number[]): Notice => ({ kind: 'people_joined', ids });
const left = (id: number): Notice => ({ kind: 'person_left', id });

/** The host (1, Hana) with these others in the meeting. */
const withPeople = (others: Person[]): MeetingView => hostView({ participants: [person(1, 'Hana', { role: 'host' }), ...others] });

/** The toasts' texts on screen, oldest first. */
function toastTexts(container: Element): string[] {
  return [...container.querySelectorAll('[data-testid="toast"] .toast-text')].map((x) => x.textContent ?? '');
}

/** The App in a meeting, with fake timers from here on; `push` sends a view or a notice and lets the screen catch up, `wait` lets time pass. */
async function inMeeting(first: Person[] = []) {
  const r = await renderApp();
  act(() => r.update(withPeople(first)));
  vi.useFakeTimers();
  const view = (others: Person[]) => act(() => r.update(withPeople(others)));
  const notice = (n: Notice) => act(() => r.notice(n));
  const wait = (ms: number) => act(() => void vi.advanceTimersByTime(ms));
  return { ...r, view, notice, wait, toasts: () => toastTexts(r.container) };
}

describe('join and leave announcements in the window', () => {
  it('a single join: "Ann joined", once the window is over', async () => {
    const m = await inMeeting();
    m.view([person(2, 'Ann')]);
    m.notice(joined(2));
    m.wait(ANNOUNCE_WINDOW_MS - 100);
    expect(m.toasts()).toEqual([]);
    m.wait(100);
    expect(m.toasts()).toEqual(['Ann joined']);
  });

  it('three joins in one burst: one toast naming all three', async () => {
    const m = await inMeeting();
    const ann = person(2, 'Ann');
    const bob = person(3, 'Bob');
    const cy = person(4, 'Cy');
    m.view([ann]);
    m.notice(joined(2));
    m.wait(400);
    m.view([ann, bob]);
    m.notice(joined(3));
    m.wait(400);
    m.view([ann, bob, cy]);
    m.notice(joined(4));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['Ann, Bob and Cy joined']);
  });

  it('12 joins in one burst: one "12 people joined" toast, not 12', async () => {
    const m = await inMeeting();
    const people: Person[] = [];
    for (let id = 2; id <= 13; id++) {
      people.push(person(id, `Pupil ${id}`));
      m.view([...people]);
      m.notice(joined(id));
      m.wait(50);
    }
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['12 people joined']);
    // And nothing more comes after it.
    m.wait(2 * ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['12 people joined']);
  });

  it('several in one message count each', async () => {
    const m = await inMeeting();
    const people = [2, 3, 4, 5, 6].map((id) => person(id, `P${id}`));
    m.view(people);
    m.notice(joined(2, 3, 4, 5, 6));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['5 people joined']);
  });

  it('names a leaver by the name remembered from before they left', async () => {
    const m = await inMeeting([person(2, 'Ann'), person(5, 'Dan')]);
    // The view without Dan comes first, then the notice that he left.
    m.view([person(2, 'Ann')]);
    m.view([person(2, 'Ann')]);
    m.notice(left(5));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['Dan left']);
  });

  it('someone never seen is "Someone"', async () => {
    const m = await inMeeting();
    m.notice(left(42));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['Someone left']);
  });

  it('joined and left within the same window: nothing is said', async () => {
    const m = await inMeeting();
    m.view([person(2, 'Ann')]);
    m.notice(joined(2));
    m.wait(500);
    m.view([]);
    m.notice(left(2));
    // Past the window's end, well before a toast would go by itself.
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual([]);
  });

  it('joins and leaves in one window: one toast each way', async () => {
    const m = await inMeeting([person(2, 'Ann'), person(3, 'Bob')]);
    m.view([person(3, 'Bob'), person(4, 'Cy')]);
    m.notice(joined(4));
    m.notice(left(2));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['Cy joined', 'Ann left']);
  });

  it('two bursts 3 s apart: two toasts', async () => {
    const m = await inMeeting();
    m.view([person(2, 'Ann'), person(3, 'Bob')]);
    m.notice(joined(2, 3));
    m.wait(3_000);
    expect(m.toasts()).toEqual(['Ann and Bob joined']);
    m.view([person(2, 'Ann'), person(3, 'Bob'), person(4, 'Cy')]);
    m.notice(joined(4));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['Ann and Bob joined', 'Cy joined']);
  });

  it('a name with markup or bidi controls stays text', async () => {
    const m = await inMeeting();
    m.view([person(2, '<b>Eve</b>\u202e')]);
    m.notice(joined(2));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['<b>Eve</b> joined']);
    expect(m.container.querySelector('[data-testid="toast"] b')).toBeNull();
  });

  it('never announces ourselves', async () => {
    const m = await inMeeting();
    m.notice(joined(1));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual([]);
  });

  it('a move to a breakout room drops what was not said yet, and the old room’s names', async () => {
    const m = await inMeeting([person(5, 'Dan')]);
    m.view([person(2, 'Ann'), person(5, 'Dan')]);
    m.notice(joined(2));
    m.notice({ kind: 'moved', room: 1 });
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['You are now in breakout room 1']);
    // Number 5 in the room is somebody else: not "Dan".
    m.notice(left(5));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual(['You are now in breakout room 1', 'Someone left']);
  });

  it('says nothing more once the meeting has ended for us', async () => {
    const m = await inMeeting();
    m.view([person(2, 'Ann')]);
    m.notice(joined(2));
    act(() => m.update(hostView({ phase: 'ended', ended_reason: 'left' })));
    m.wait(ANNOUNCE_WINDOW_MS);
    expect(m.toasts()).toEqual([]);
  });

  it('stops its timer when the app goes', async () => {
    const m = await inMeeting();
    m.view([person(2, 'Ann')]);
    m.notice(joined(2));
    m.unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('the announcement module', () => {
  afterEach(() => setLang('en'));

  it('chooses the sentence by how many', () => {
    expect(announcement('joined', [])).toBeNull();
    expect(announcement('joined', ['Ann'])).toBe('Ann joined');
    expect(announcement('joined', ['Ann', 'Bob'])).toBe('Ann and Bob joined');
    expect(announcement('left', ['Ann', 'Bob', 'Cy'])).toBe('Ann, Bob and Cy left');
    expect(announcement('joined', ['Ann', 'Bob', 'Cy'], 12)).toBe('12 people joined');
    expect(announcement('left', ['Ann', 'Bob', 'Cy'], 5)).toBe('5 people left');
    setLang('de');
    expect(announcement('joined', ['Ann'])).toBe('Ann ist beigetreten');
    expect(announcement('left', [], 4)).toBe('4 Personen haben die Besprechung verlassen');
  });

  it('collects a window, then says each way once', () => {
    vi.useFakeTimers();
    const said: string[] = [];
    const a = new Announcements((text) => said.push(text), 1_000);
    a.saw([
      { id: 1, name: 'Ann' },
      { id: 2, name: 'Bob' },
    ]);
    a.joined([1]);
    vi.advanceTimersByTime(900);
    a.joined([2, 2]);
    expect(said).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(said).toEqual(['Ann and Bob joined']);
    // The window starts with the next one, not before.
    vi.advanceTimersByTime(5_000);
    a.left(1);
    vi.advanceTimersByTime(999);
    expect(said).toEqual(['Ann and Bob joined']);
    vi.advanceTimersByTime(1);
    expect(said).toEqual(['Ann and Bob joined', 'Ann left']);
  });

  it('left and back within the window: nothing', () => {
    vi.useFakeTimers();
    const said: string[] = [];
    const a = new Announcements((text) => said.push(text), 1_000);
    a.left(3);
    a.joined([3]);
    expect(a.hasPending()).toBe(false);
    vi.advanceTimersByTime(2_000);
    expect(said).toEqual([]);
  });

  it('dispose drops what waits and its timer', () => {
    vi.useFakeTimers();
    const said: string[] = [];
    const a = new Announcements((text) => said.push(text), 1_000);
    a.joined([3]);
    a.dispose();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2_000);
    expect(said).toEqual([]);
  });

  it('remembers a bounded number of names, the longest unseen dropped first', () => {
    const book = new NameBook(3);
    book.see(1, 'Ann');
    book.see(2, 'Bob');
    book.see(3, 'Cy');
    book.see(1, 'Ann'); // seen again: now the newest
    book.see(4, 'Dan');
    expect(book.size).toBe(3);
    expect(book.get(2)).toBeUndefined();
    expect([book.get(1), book.get(3), book.get(4)]).toEqual(['Ann', 'Cy', 'Dan']);
    // A rename: the newest name.
    book.see(3, 'Cyrus');
    expect(book.get(3)).toBe('Cyrus');
  });

  it('keeps at most 5,000 names by default', () => {
    const a = new Announcements(() => {});
    a.saw(Array.from({ length: 6_000 }, (_, i) => ({ id: i, name: `P${i}` })));
    expect(a.names.size).toBe(5_000);
    expect(a.names.get(999)).toBeUndefined();
    expect(a.names.get(1_000)).toBe('P1000');
  });
});
