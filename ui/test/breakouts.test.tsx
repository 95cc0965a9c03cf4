// Breakout rooms: the planning arithmetic (random deal, by hand, the checks), the panel hosts
// and co-hosts open rooms and follow them from (members, visit, message to all rooms, close),
// the banner inside a room (room number, countdown, the way back), and the App's handling of
// the breakout notices (a host's message, being moved, the rooms closing).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, waitFor } from '@testing-library/preact';
import type { BreakoutsView, MeetingView, PollView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import type { SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { en } from '../src/i18n/en';
import {
  anyoneAssigned,
  clock,
  dealAtRandom,
  MAX_BROADCAST_BYTES,
  parseMinutes,
  parseRooms,
  planByHand,
  randomBelow,
  roomOf,
  shuffled,
  utf8Bytes,
} from '../src/breakouts';
import { hostView, person, renderApp, renderMeeting, sent, setUpEach } from './harness';

/** Ann's view (the host, number 1) of the main meeting: Bob, Cid, Dan and Fay are here; Eve is away. */
function annView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({
    participants: [
      person(1, 'Ann', { role: 'host' }),
      person(2, 'Bob'),
      person(3, 'Cid'),
      person(4, 'Dan', { role: 'cohost' }),
      person(5, 'Eve', { away: true }),
      person(6, 'Fay'),
    ],
    ...over,
  });
}

/** The rooms as the main meeting sees them while open. */
function roomsView(over: Partial<BreakoutsView> = {}): BreakoutsView {
  return { rooms: [[2, 3], [6]], ends_in_secs: null, closing_in_secs: null, ...over };
}

/** Ann's view while Bob and Cid are in room 1 and Fay in room 2 (all three marked away). */
function openView(breakouts: Partial<BreakoutsView> = {}): MeetingView {
  return annView({
    participants: [
      person(1, 'Ann', { role: 'host' }),
      person(2, 'Bob', { away: true }),
      person(3, 'Cid', { away: true }),
      person(4, 'Dan', { role: 'cohost' }),
      person(6, 'Fay', { away: true }),
    ],
    breakouts: roomsView(breakouts),
  });
}

/** Gus's view (number 7, a participant) inside breakout room 2. */
function roomView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({ you: 7, role: 'participant', participants: [person(7, 'Gus'), person(8, 'Hal')], breakout: 2, ...over });
}

const session: SessionInfo = { server: 'meet.example.org', hostedHere: false, camera: false, name: 'Ann' };

/** The meeting screen, with `again` to draw it with the backend's next view. */
function renderScreen(view: MeetingView) {
  const r = renderMeeting(view, session);
  const again = (v: MeetingView) =>
    r.rerender(<Meeting view={v} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={r.showError} />);
  return { ...r, again };
}

/** The meeting screen with the breakout rooms panel opened from the control bar. */
function renderPanel(view: MeetingView) {
  const r = renderScreen(view);
  fireEvent.click(r.$('#breakouts-button')!);
  expect(r.$('#breakouts-panel')).toBeTruthy();
  return r;
}

const typeInto = (el: Element | null, value: string) => fireEvent.input(el!, { target: { value } });
const choose = (el: Element | null, value: string) => fireEvent.change(el!, { target: { value } });

/** The breakout actions sent so far. */
const breakoutActions = () => sent().filter((a) => a.type.startsWith('breakout_'));

setUpEach();

afterEach(() => {
  vi.useRealTimers();
});

describe('planning arithmetic', () => {
  it('deals everyone into the rooms once, round-robin after a shuffle', () => {
    const people = [10, 11, 12, 13, 14, 15, 16];
    const plan = dealAtRandom(people, 3);
    expect(plan).toHaveLength(3);
    expect(plan.flat().sort((a, b) => a - b)).toEqual(people);
    const sizes = plan.map((r) => r.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    // More rooms than people: the rest stay empty.
    expect(dealAtRandom([1], 3).map((r) => r.length).sort()).toEqual([0, 0, 1]);
    // With a fixed "random" the deal is the shuffle, dealt in turn.
    expect(dealAtRandom([1, 2, 3, 4], 2, () => 0)).toEqual([
      [2, 4],
      [3, 1],
    ]);
  });

  it('shuffles with the system’s cryptographic generator, every value in range', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues');
    for (let i = 0; i < 200; i++) {
      const n = randomBelow(7);
      expect(Number.isInteger(n) && n >= 0 && n < 7).toBe(true);
    }
    expect(spy).toHaveBeenCalled();
    expect(shuffled([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('plans by hand, a choice beyond the rooms counting as the main meeting', () => {
    const choices = new Map([
      [2, 3],
      [3, 1],
      [4, 0],
    ]);
    expect(planByHand([2, 3, 4, 6], choices, 3)).toEqual([[3], [], [2]]);
    expect(planByHand([2, 3, 4, 6], choices, 2)).toEqual([[3], []]);
    expect(roomOf(choices, 2, 2)).toBe(0);
    expect(anyoneAssigned([[], []])).toBe(false);
    expect(anyoneAssigned([[], [5]])).toBe(true);
  });

  it('checks rooms and minutes as the server would', () => {
    expect(parseRooms('2')).toBe(2);
    expect(parseRooms(' 50 ')).toBe(50);
    for (const bad of ['0', '51', '', '2.5', '-1', 'two']) expect(parseRooms(bad), bad).toBeNull();
    expect(parseMinutes('')).toBeNull();
    expect(parseMinutes('  ')).toBeNull();
    expect(parseMinutes('15')).toBe(15);
    expect(parseMinutes('720')).toBe(720);
    for (const bad of ['0', '721', '1.5', 'x']) expect(parseMinutes(bad), bad).toBeUndefined();
  });

  it('counts a message in bytes of UTF-8, and shows time as mm:ss', () => {
    expect(utf8Bytes('abc')).toBe(3);
    expect(utf8Bytes('é')).toBe(2);
    expect(utf8Bytes('👋')).toBe(4);
    expect(clock(0)).toBe('00:00');
    expect(clock(65)).toBe('01:05');
    expect(clock(600)).toBe('10:00');
    expect(clock(3600 * 12)).toBe('12:00:00');
    expect(clock(-3)).toBe('00:00');
  });
});

describe('the breakout rooms button', () => {
  it('is there for hosts and co-hosts in the main meeting only', () => {
    expect(renderScreen(annView()).$('#breakouts-button')).toBeTruthy();
    expect(renderScreen(annView({ you: 4, role: 'cohost' })).$('#breakouts-button')).toBeTruthy();
    expect(renderScreen(annView({ you: 2, role: 'participant' })).$('#breakouts-button')).toBeNull();
    // Inside a room (visiting, as a host) there is none: rooms are run from the main meeting.
    expect(renderScreen(annView({ breakout: 1 })).$('#breakouts-button')).toBeNull();
  });

  it('opens the panel, which goes on the way into a room', () => {
    const { $, again } = renderPanel(openView());
    expect($('#breakouts-button')!.getAttribute('aria-pressed')).toBe('true');
    again({ ...openView(), breakout: 1, breakouts: null });
    expect($('#breakouts-panel')).toBeNull();
    expect($('#breakouts-button')).toBeNull();
  });
});

describe('opening rooms', () => {
  it('deals everyone present but yourself at random, each exactly once', async () => {
    const random = vi.spyOn(crypto, 'getRandomValues');
    const { $ } = renderPanel(annView());
    expect($('#breakouts-rooms')!.getAttribute('aria-invalid')).toBe('false');
    expect($<HTMLInputElement>('#breakouts-rooms')!.value).toBe('2');
    expect($('#breakouts-mode-random')!.matches(':checked')).toBe(true);
    expect($('#breakouts-random-summary')!.textContent).toContain('Everyone here but you (4)');
    typeInto($('#breakouts-rooms'), '3');
    fireEvent.click($('#breakouts-open')!);
    await waitFor(() => expect(breakoutActions()).toHaveLength(1));
    const action = breakoutActions()[0]!;
    if (action.type !== 'breakout_open') throw new Error(action.type);
    expect(action.minutes).toBeNull();
    expect(action.rooms).toHaveLength(3);
    // Bob, Cid, Dan and Fay; not Ann (yourself) nor Eve (away).
    expect(action.rooms.flat().sort((a, b) => a - b)).toEqual([2, 3, 4, 6]);
    expect(action.rooms.map((r) => r.length).sort()).toEqual([1, 1, 2]);
    expect(random).toHaveBeenCalled();
  });

  it('sends the plan chosen by hand, with the minutes', async () => {
    const { $ } = renderPanel(annView());
    fireEvent.click($('#breakouts-mode-hand')!);
    typeInto($('#breakouts-rooms'), '3');
    // A select per person who can go, labelled with their name; yourself and Eve are not offered.
    const labels = [...document.querySelectorAll('.breakouts-assign label')].map((l) => l.textContent);
    expect(labels).toEqual(['Bob', 'Cid', 'Dan', 'Fay']);
    expect($('#breakouts-assign-1')).toBeNull();
    expect($('#breakouts-assign-5')).toBeNull();
    const options = [...$<HTMLSelectElement>('#breakouts-assign-2')!.options].map((o) => o.textContent);
    expect(options).toEqual(['Main meeting', 'Room 1', 'Room 2', 'Room 3']);
    choose($('#breakouts-assign-2'), '3');
    choose($('#breakouts-assign-3'), '1');
    choose($('#breakouts-assign-6'), '3');
    typeInto($('#breakouts-minutes'), '15');
    fireEvent.click($('#breakouts-open')!);
    await waitFor(() => expect(breakoutActions()).toHaveLength(1));
    expect(breakoutActions()[0]).toEqual({ type: 'breakout_open', rooms: [[3], [], [2, 6]], minutes: 15 });
  });

  it('says what is wrong instead of sending a plan the server would refuse', () => {
    const { $ } = renderPanel(annView());
    fireEvent.click($('#breakouts-mode-hand')!);
    // Nobody was sent anywhere.
    fireEvent.click($('#breakouts-open')!);
    expect($('#breakouts-form-error')!.textContent).toBe(en['breakouts.problem.nobody']);
    choose($('#breakouts-assign-2'), '1');
    expect($('#breakouts-form-error')).toBeNull();
    typeInto($('#breakouts-rooms'), '51');
    fireEvent.click($('#breakouts-open')!);
    expect($('#breakouts-form-error')!.textContent).toBe(en['breakouts.problem.rooms']);
    expect($('#breakouts-rooms')!.getAttribute('aria-invalid')).toBe('true');
    typeInto($('#breakouts-rooms'), '2');
    typeInto($('#breakouts-minutes'), '721');
    fireEvent.click($('#breakouts-open')!);
    expect($('#breakouts-form-error')!.textContent).toBe(en['breakouts.problem.minutes']);
    expect(breakoutActions()).toEqual([]);
  });

  it('cannot deal at random when nobody else is in the main meeting', () => {
    const { $ } = renderPanel(hostView({ participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Bob', { away: true })] }));
    expect($('#breakouts-nobody-here')!.textContent).toBe(en['breakouts.nobodyHere']);
    fireEvent.click($('#breakouts-open')!);
    expect($('#breakouts-form-error')!.textContent).toBe(en['breakouts.problem.nobody']);
    expect(breakoutActions()).toEqual([]);
  });
});

describe('open rooms', () => {
  it('lists each room with its members by name, as text', () => {
    const view = openView({ rooms: [[2, 3], [6, 99], []] });
    view.participants = view.participants.map((p) => (p.id === 3 ? { ...p, name: 'C\u202eid<b>x</b>' } : p));
    const { $ } = renderPanel(view);
    expect($('#breakouts-form')).toBeNull();
    const members = (room: number) => [...document.querySelectorAll(`#breakouts-room-${room}-members li`)].map((li) => li.textContent);
    expect($('#breakouts-room-1-name')!.textContent).toBe('Room 1');
    expect(members(1)).toEqual(['Bob', 'Cid<b>x</b>']);
    // Someone the view does not know (any more) shows by number.
    expect(members(2)).toEqual(['Fay', '#99']);
    expect($('#breakouts-room-3-members')!.textContent).toBe(en['breakouts.empty']);
    expect($('#breakouts-panel b')).toBeNull();
    expect($('#breakouts-time')!.textContent).toBe(en['breakouts.untilClosed']);
  });

  it('visits a room', async () => {
    const { $ } = renderPanel(openView());
    const visit = $('#breakouts-visit-2')!;
    expect(visit.textContent).toBe('Visit');
    expect(visit.getAttribute('aria-label')).toBe('Visit room 2');
    fireEvent.click(visit);
    await waitFor(() => expect(breakoutActions()).toEqual([{ type: 'breakout_visit', room: 2 }]));
  });

  it('counts the time left down each second, from when it was told', () => {
    vi.useFakeTimers();
    const { $, again } = renderPanel(openView({ ends_in_secs: 600 }));
    expect($('#breakouts-time')!.textContent).toBe('Time left: 10:00');
    act(() => void vi.advanceTimersByTime(61_000));
    expect($('#breakouts-time')!.textContent).toBe('Time left: 08:59');
    // Told anew (someone moved): from the new value.
    again(openView({ ends_in_secs: 300 }));
    expect($('#breakouts-time')!.textContent).toBe('Time left: 05:00');
  });

  it('sends a message to all rooms', async () => {
    const { $ } = renderPanel(openView());
    const send = $<HTMLButtonElement>('#breakouts-broadcast-send')!;
    expect(send.disabled).toBe(true);
    typeInto($('#breakouts-broadcast'), 'Five minutes left');
    expect(send.disabled).toBe(false);
    fireEvent.click(send);
    await waitFor(() => expect(breakoutActions()).toEqual([{ type: 'breakout_broadcast', text: 'Five minutes left' }]));
    await waitFor(() => expect($<HTMLTextAreaElement>('#breakouts-broadcast')!.value).toBe(''));
    expect($('#breakouts-panel')!.textContent).toContain(en['breakouts.broadcast.sent']);
  });

  it('will not send a message over 1000 bytes', () => {
    const { $ } = renderPanel(openView());
    typeInto($('#breakouts-broadcast'), 'é'.repeat(MAX_BROADCAST_BYTES / 2));
    expect($('#breakouts-broadcast-error')).toBeNull();
    typeInto($('#breakouts-broadcast'), 'é'.repeat(MAX_BROADCAST_BYTES / 2) + 'x');
    expect($('#breakouts-broadcast-error')!.textContent).toBe('The message is too long: 1001 of at most 1000 bytes.');
    expect($<HTMLButtonElement>('#breakouts-broadcast-send')!.disabled).toBe(true);
    fireEvent.submit($('#breakouts-broadcast-form')!);
    expect(breakoutActions()).toEqual([]);
  });

  it('closes all rooms, then shows everyone’s way back counting down', () => {
    vi.useFakeTimers();
    const { $, again } = renderPanel(openView({ ends_in_secs: 120 }));
    fireEvent.click($('#breakouts-close')!);
    expect(breakoutActions()).toEqual([{ type: 'breakout_close' }]);
    again(openView({ ends_in_secs: 120, closing_in_secs: 30 }));
    expect($('#breakouts-closing')!.textContent).toBe('Everyone returns in 30 s');
    expect($('#breakouts-time')).toBeNull();
    expect($<HTMLButtonElement>('#breakouts-close')!.disabled).toBe(true);
    expect($<HTMLButtonElement>('#breakouts-visit-1')!.disabled).toBe(true);
    act(() => void vi.advanceTimersByTime(12_000));
    expect($('#breakouts-closing')!.textContent).toBe('Everyone returns in 18 s');
    // Everyone is back: the form to open rooms again.
    again(annView());
    expect($('#breakouts-form')).toBeTruthy();
  });
});

describe('inside a room', () => {
  it('shows no banner in the main meeting', () => {
    expect(renderScreen(annView()).$('#breakout-banner')).toBeNull();
  });

  it('shows the room and the time left, counting down', () => {
    vi.useFakeTimers();
    const { $, again } = renderScreen(roomView({ breakout_ends_in_secs: 125 }));
    expect($('#breakout-banner-room')!.textContent).toBe('Breakout room 2');
    expect($('#breakout-banner-time')!.textContent).toBe('Time left: 02:05');
    act(() => void vi.advanceTimersByTime(3_000));
    expect($('#breakout-banner-time')!.textContent).toBe('Time left: 02:02');
    // The same value again (another view, someone came) does not restart the count.
    again(roomView({ breakout_ends_in_secs: 125, participants: [person(7, 'Gus'), person(8, 'Hal'), person(9, 'Ida')] }));
    expect($('#breakout-banner-time')!.textContent).toBe('Time left: 02:02');
    act(() => void vi.advanceTimersByTime(200_000));
    expect($('#breakout-banner-time')!.textContent).toBe('Time left: 00:00');
  });

  it('says when the rooms close, counting down to the return', () => {
    vi.useFakeTimers();
    const { $, again } = renderScreen(roomView({ breakout_ends_in_secs: null }));
    expect($('#breakout-banner-time')).toBeNull();
    again(roomView({ breakout_closing_in_secs: 30 }));
    expect($('#breakout-banner-closing')!.textContent).toBe('Rooms close — back to the main meeting in 30 s');
    act(() => void vi.advanceTimersByTime(5_000));
    expect($('#breakout-banner-closing')!.textContent).toBe('Rooms close — back to the main meeting in 25 s');
  });

  it('goes back to the main meeting', async () => {
    const { $ } = renderScreen(roomView());
    const back = $<HTMLButtonElement>('#breakout-return')!;
    expect(back.textContent).toBe(en['breakout.return']);
    fireEvent.click(back);
    await waitFor(() => expect(breakoutActions()).toEqual([{ type: 'breakout_return' }]));
    expect(back.disabled).toBe(true);
  });
});

describe('App and the breakout notices', () => {
  const pollView = (id: number): PollView => ({
    id,
    by: 1,
    question: 'Lunch?',
    options: ['Pizza', 'Soup'],
    multiple: false,
    anonymous: false,
    open: true,
    my_vote: null,
    counts: null,
    voters: 0,
    named: [],
    shared: false,
  });

  const toasts = (c: Element) => [...c.querySelectorAll('[data-testid="toast"]')];

  it('shows a host’s message to all rooms as text, in a toast and in the chat', async () => {
    const { container, notice } = await renderApp({ meeting: roomView() });
    await waitFor(() => expect(container.querySelector('#breakout-banner')).toBeTruthy());
    notice({ kind: 'breakout_message', text: 'Back in \u202e5 <b>x</b>' });
    await waitFor(() => expect(toasts(container).some((x) => x.classList.contains('strong'))).toBe(true));
    const toast = toasts(container).find((x) => x.classList.contains('strong'))!;
    expect(toast.textContent).toContain('Message from the host to all rooms: Back in 5 <b>x</b>');
    expect(container.querySelector('b')).toBeNull();
    fireEvent.click(container.querySelector('#chat-button')!);
    const line = container.querySelector('#chat-messages .chat-message.system')!;
    expect(line.querySelector('.chat-from')!.textContent).toBe(en['breakout.chat.from']);
    expect(line.querySelector('.chat-body')!.textContent).toBe('Back in 5 <b>x</b>');
    expect(container.querySelector('b')).toBeNull();
  });

  it('keeps the message up for about ten seconds', async () => {
    const { container, notice } = await renderApp({ meeting: roomView() });
    vi.useFakeTimers();
    act(() => notice({ kind: 'breakout_message', text: 'Wrap up' }));
    expect(toasts(container).some((x) => x.textContent!.includes('Wrap up'))).toBe(true);
    act(() => void vi.advanceTimersByTime(8_000));
    expect(toasts(container).some((x) => x.textContent!.includes('Wrap up'))).toBe(true);
    act(() => void vi.advanceTimersByTime(2_500));
    expect(toasts(container).some((x) => x.textContent!.includes('Wrap up'))).toBe(false);
  });

  it('forgets the old meeting’s polls when moved, and says where we are', async () => {
    const { container, notice, update } = await renderApp({ meeting: annView({ you: 2, role: 'participant' }), polls: [pollView(1)] });
    await waitFor(() => expect(container.querySelector('#polls-button .badge')?.textContent).toBe('1'));
    update(roomView({ breakout: 1 }));
    notice({ kind: 'moved', room: 1 });
    await waitFor(() => expect(container.querySelector('#polls-button .badge')).toBeNull());
    expect(container.textContent).toContain('You are now in breakout room 1');
    fireEvent.click(container.querySelector('#polls-button')!);
    expect(container.querySelector('#polls-panel article.poll')).toBeNull();
    expect(container.querySelector('#polls-panel')!.textContent).toContain(en['polls.empty']);
    notice({ kind: 'moved', room: null });
    await waitFor(() => expect(container.textContent).toContain('You are back in the main meeting'));
  });

  it('takes the new meeting’s notes after a move, though it counts their versions anew', async () => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
    const main = { text: 'Main meeting notes', strokes: [], version: 9 };
    const { container, notice, notes, update } = await renderApp({ meeting: annView({ you: 2, role: 'participant' }), notes: main });
    await waitFor(() => expect(container.querySelector('#notes-button')).toBeTruthy());
    fireEvent.click(container.querySelector('#notes-button')!);
    const area = () => container.querySelector<HTMLTextAreaElement>('#notes-text')!;
    await waitFor(() => expect(area().value).toBe('Main meeting notes'));
    // The backend reports the room's notes empty, then its own as they come.
    notes({ text: '', strokes: [], version: 0 });
    update(roomView({ breakout: 1 }));
    notice({ kind: 'moved', room: 1 });
    await waitFor(() => expect(area().value).toBe(''));
    notes({ text: 'Room notes', strokes: [], version: 1 });
    await waitFor(() => expect(area().value).toBe('Room notes'));
  });

  it('keeps naming whom a private line went to after a move renumbers everyone', async () => {
    const { container, chat, notice, update } = await renderApp({ meeting: annView({ you: 2, role: 'participant' }) });
    await waitFor(() => expect(container.querySelector('#chat-button')).toBeTruthy());
    update(annView({ you: 2, role: 'participant' }));
    chat({ from: 2, from_name: 'Bob', to: 3, body: 'psst' });
    // In the room, number 3 is someone else.
    update(roomView({ you: 1, participants: [person(1, 'Bob'), person(3, 'Zed')] }));
    notice({ kind: 'moved', room: 2 });
    fireEvent.click(container.querySelector('#chat-button')!);
    await waitFor(() => expect(container.querySelector('#chat-messages .chat-private')).toBeTruthy());
    expect(container.querySelector('#chat-messages .chat-private')!.textContent).toBe(' to Cid');
    const marker = container.querySelector('#chat-messages .chat-message.system .chat-body')!;
    expect(marker.textContent).toBe('You are now in breakout room 2');
  });

  it('says when the rooms close', async () => {
    const { container, notice } = await renderApp({ meeting: roomView() });
    notice({ kind: 'breakout_closing', in_secs: 60 });
    await waitFor(() =>
      expect(toasts(container).some((x) => x.textContent!.includes('The breakout rooms close: everyone returns to the main meeting in 60 s'))).toBe(true),
    );
  });
});

describe('people in breakout rooms, seen from the main meeting', () => {
  it('show their room, not a lost connection, and no video', async () => {
    const { breakoutRoomOf } = await import('../src/breakouts');
    const view = annView({ breakouts: { rooms: [[], [5]], ends_in_secs: null, closing_in_secs: null } });
    expect(breakoutRoomOf(view, 5)).toBe(2);
    expect(breakoutRoomOf(view, 2)).toBe(null);
    const { Tile } = await import('../src/components/tile');
    const { render } = await import('@testing-library/preact');
    const eve = view.participants.find((p) => p.id === 5)!;
    const { container } = render(<Tile person={eve} self={false} pinned={false} inRoom={2} onPin={() => {}} />);
    expect(container.querySelector('[data-testid="tile-room-5"]')?.textContent).toContain('2');
    expect(container.querySelector('[data-testid="tile-away-5"]')).toBeNull();
    expect(container.querySelector('canvas')).toBeNull();
  });
});
