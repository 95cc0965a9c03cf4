// The shared notes and whiteboard: the arithmetic that keeps the textarea and the backend's copy
// together (throttled sending, our echoes, merging others' changes, the caret), the panel (tabs,
// locked notes, drawing and erasing on the canvas, saving), the notes_not_sent notice, how the
// App keeps the notes, and the host's switch.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/preact';
import type { MeetingView, NotesView, StrokeView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import * as api from '../src/api';
import type { SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { SecurityMenu } from '../src/components/security';
import { en } from '../src/i18n/en';
import {
  caretAfter,
  decimate,
  difference,
  MAX_POINTS,
  mayEditNotes,
  newerNotes,
  NO_NOTES,
  NotesTyping,
  rebase,
  SEND_EVERY_MS,
  strokeAt,
  toBoard,
  type Point,
} from '../src/notes';
import { hostView, mocked, person, policy, renderApp, renderMeeting, sent, setUpEach } from './harness';

/** Ann's view (the host), with Bob. */
function annView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({ participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Bob')], policy: policy(), ...over });
}

/** Bob's view: a participant. */
const bobView = (over: Partial<MeetingView> = {}) => annView({ you: 2, role: 'participant', ...over });

const session: SessionInfo = { server: 'meet.example.org', hostedHere: false, camera: false, name: 'Ann' };

function notesView(over: Partial<NotesView> = {}): NotesView {
  return { text: '', strokes: [], version: 1, ...over };
}

function stroke(id: number, points: Point[], over: Partial<StrokeView> = {}): StrokeView {
  return { id, color: 0x2f5bd3, width: 60, points, ...over };
}

type Extra = { notes?: NotesView; notesRefused?: number; toast?: (text: string) => void };

/** The meeting screen with the notes panel opened from the control bar. */
function renderNotes(view: MeetingView, extra: Extra = {}) {
  const r = renderMeeting(view, session, extra);
  const props = { session, chat: [], onLeave: () => {}, toast: extra.toast ?? (() => {}), showError: r.showError };
  fireEvent.click(r.$('#notes-button')!);
  expect(r.$('#notes-panel')).toBeTruthy();
  const area = () => r.$<HTMLTextAreaElement>('#notes-text')!;
  /** The screen again, with the backend's next notes (or refusals). */
  const again = (v: MeetingView, more: Extra) => r.rerender(<Meeting view={v} {...props} {...extra} {...more} />);
  return { ...r, area, again };
}

/** The actions of one kind sent so far. */
function sentOf<T extends api.Action['type']>(type: T): Array<Extract<api.Action, { type: T }>> {
  return sent().filter((a) => a.type === type) as Array<Extract<api.Action, { type: T }>>;
}

/** The canvas, on screen at (left, top), `width` × `height` pixels (jsdom lays nothing out). */
function placeCanvas(canvas: HTMLCanvasElement, left = 10, top = 20, width = 320, height = 180) {
  canvas.getBoundingClientRect = () => ({ left, top, width, height, right: left + width, bottom: top + height, x: left, y: top, toJSON: () => ({}) });
}

/** A pointer event at (x, y) in the window (jsdom has no PointerEvent: a mouse event by its name). */
function pointer(el: Element, type: 'pointerdown' | 'pointermove' | 'pointerup', x: number, y: number) {
  fireEvent(el, new MouseEvent(type, { clientX: x, clientY: y, button: 0, bubbles: true, cancelable: true }));
}

/** The notes panel on its whiteboard tab, the canvas placed at (10, 20), 320 × 180. */
function renderBoard(view: MeetingView, extra: Extra = {}) {
  const r = renderNotes(view, extra);
  fireEvent.click(r.$('#notes-tab-board')!);
  const canvas = r.$<HTMLCanvasElement>('#whiteboard')!;
  placeCanvas(canvas);
  return { ...r, canvas };
}

setUpEach();

// jsdom has no Pointer Events. Preact listens for `pointerdown` (lower case) only where the
// element has an `onpointerdown` property, as browsers' elements do; without one it would
// listen for `PointerDown`. Give jsdom's elements the properties a browser's have.
beforeAll(() => {
  for (const name of ['onpointerdown', 'onpointermove', 'onpointerup', 'onpointercancel']) {
    if (!(name in HTMLElement.prototype)) Object.defineProperty(HTMLElement.prototype, name, { value: null, writable: true, configurable: true });
  }
});

beforeEach(() => {
  // jsdom has no 2D context: getContext answers null, as the panel must bear.
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('notes text arithmetic', () => {
  it('finds the one changed range, never between the halves of an emoji', () => {
    expect(difference('Agenda', 'Agenda!')).toEqual({ at: 6, removed: 0, inserted: '!' });
    expect(difference('budget', 'budgets')).toEqual({ at: 6, removed: 0, inserted: 's' });
    expect(difference('a b c', 'a x c')).toEqual({ at: 2, removed: 1, inserted: 'x' });
    expect(difference('same', 'same')).toEqual({ at: 4, removed: 0, inserted: '' });
    // 😀 and 😃 share their first half: the change still covers the whole character.
    expect(difference('x😀y', 'x😃y')).toEqual({ at: 1, removed: 2, inserted: '😃' });
  });

  it('keeps the caret before a change, shifts it after one, and puts it after what replaced it', () => {
    expect(caretAfter('Hello world', 'Say: Hello world', 5)).toBe(10);
    expect(caretAfter('Hello world', 'Hello world!', 5)).toBe(5);
    expect(caretAfter('Hello world', 'Hello there', 8)).toBe(11);
    expect(caretAfter('abc', 'c', 3)).toBe(1);
  });

  it('merges someone else’s change into what is being typed', () => {
    // Theirs before mine, theirs after mine.
    expect(rebase('A\nB', 'A\nB!', 'a\nB')).toBe('a\nB!');
    expect(rebase('A\nB', 'A!\nB', 'A\nb')).toBe('A!\nb');
    // Nothing typed here: theirs; nothing changed there: mine.
    expect(rebase('x', 'x', 'y')).toBe('y');
    expect(rebase('x', 'xy', 'x')).toBe('xy');
    // Next to each other, not overlapping: both.
    expect(rebase('cat', 'cart', 'cut')).toBe('curt');
    // Both changed the same letters: what is being typed stays.
    expect(rebase('cat', 'cot', 'cut')).toBe('cot');
  });

  it('takes the newer notes (a reload snapshot may be older than an event)', () => {
    const older = notesView({ text: 'old', version: 3 });
    const newer = notesView({ text: 'new', version: 5 });
    expect(newerNotes(older, newer)).toBe(newer);
    expect(newerNotes(newer, older)).toBe(newer);
    expect(newerNotes(NO_NOTES, older)).toBe(older);
  });

  it('lets hosts and co-hosts edit locked notes, nobody else', () => {
    const locked = policy({ notes_locked: true });
    expect(mayEditNotes(bobView())).toBe(true);
    expect(mayEditNotes(bobView({ policy: locked }))).toBe(false);
    expect(mayEditNotes(annView({ policy: locked }))).toBe(true);
    expect(mayEditNotes(bobView({ role: 'cohost', policy: locked }))).toBe(true);
  });
});

describe('NotesTyping', () => {
  it('sends the first change at once and the latest when the pause is over', () => {
    vi.useFakeTimers();
    const send = vi.fn();
    const typing = new NotesTyping('', send);
    for (const text of ['H', 'He', 'Hel', 'Hell', 'Hello']) typing.typed(text);
    expect(send.mock.calls).toEqual([['H']]);
    expect(typing.hasPending()).toBe(true);
    vi.advanceTimersByTime(SEND_EVERY_MS);
    expect(send.mock.calls).toEqual([['H'], ['Hello']]);
    expect(typing.hasPending()).toBe(false);
    // Nothing more typed: nothing more sent.
    vi.advanceTimersByTime(SEND_EVERY_MS * 3);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('does not put an old echo of ours back into the textarea', () => {
    vi.useFakeTimers();
    const send = vi.fn();
    const typing = new NotesTyping('', send);
    typing.typed('a');
    typing.typed('ab');
    vi.advanceTimersByTime(SEND_EVERY_MS);
    expect(send.mock.calls).toEqual([['a'], ['ab']]);
    // The backend reports 'a' (our first), then 'ab': the textarea shows 'ab' all along.
    expect(typing.received('a', 'ab')).toBeNull();
    expect(typing.received('ab', 'ab')).toBeNull();
  });

  it('merges a change from someone else into unsent typing, and sends the merged text', () => {
    vi.useFakeTimers();
    const send = vi.fn();
    const typing = new NotesTyping('A\nB', send);
    typing.typed('A\nB!');
    typing.typed('A\nB!!');
    expect(send.mock.calls).toEqual([['A\nB!']]);
    // Someone changed the first line before our first change got there.
    expect(typing.received('a\nB', 'A\nB!!')).toBe('a\nB!!');
    vi.advanceTimersByTime(SEND_EVERY_MS);
    // What goes next holds both: the backend's comparison keeps their change.
    expect(send.mock.calls.at(-1)).toEqual(['a\nB!!']);
  });

  it('sends a text again when someone else’s change came in between', () => {
    vi.useFakeTimers();
    const send = vi.fn();
    const typing = new NotesTyping('', send);
    typing.typed('abc');
    expect(typing.received('abc', 'abc')).toBeNull();
    // Someone adds an X; the person takes it out again: the backend must hear of it.
    expect(typing.received('abcX', 'abc')).toBe('abcX');
    vi.advanceTimersByTime(SEND_EVERY_MS);
    typing.typed('abc');
    expect(send.mock.calls).toEqual([['abc'], ['abc']]);
    // A text the backend has already is not sent.
    typing.received('abc', 'abc');
    vi.advanceTimersByTime(SEND_EVERY_MS);
    typing.typed('abc');
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('goes back to the backend’s text when a change is refused', () => {
    const send = vi.fn();
    const typing = new NotesTyping('Agenda', send);
    typing.typed('Agenda!');
    typing.typed('Agenda!!');
    expect(typing.refused()).toBe('Agenda');
    expect(typing.hasPending()).toBe(false);
    typing.dispose();
    expect(send).toHaveBeenCalledTimes(1);
  });
});

describe('whiteboard arithmetic', () => {
  it('turns pixels into board units, clamped to the board', () => {
    expect(toBoard(0, 0, 320, 180)).toEqual([0, 0]);
    expect(toBoard(160, 90, 320, 180)).toEqual([5000, 5000]);
    expect(toBoard(400, -5, 320, 180)).toEqual([10000, 0]);
  });

  it('decimates to at most 1000 points, keeping the ends', () => {
    const many: Point[] = Array.from({ length: 2500 }, (_, i) => [i, i]);
    const few = decimate(many);
    expect(few).toHaveLength(MAX_POINTS);
    expect(few[0]).toEqual([0, 0]);
    expect(few.at(-1)).toEqual([2499, 2499]);
    expect(decimate(many.slice(0, 10))).toEqual(many.slice(0, 10));
  });

  it('finds the topmost stroke near a point', () => {
    const strokes = [stroke(1, [[1000, 1000], [9000, 1000]]), stroke(2, [[5000, 0], [5000, 10000]])];
    expect(strokeAt(strokes, [3000, 1050])?.id).toBe(1);
    // Where they cross, the newer one.
    expect(strokeAt(strokes, [5000, 1000])?.id).toBe(2);
    expect(strokeAt(strokes, [3000, 6000])).toBeNull();
    // A dot.
    expect(strokeAt([stroke(3, [[200, 200]])], [250, 250])?.id).toBe(3);
  });
});

describe('the notes panel', () => {
  it('opens from the control bar, with labelled tabs, textarea and canvas', () => {
    const { $, area } = renderNotes(annView(), { notes: notesView({ text: 'Agenda', strokes: [stroke(1, [[0, 0]])] }) });
    expect($('#notes-button')!.getAttribute('aria-pressed')).toBe('true');
    expect($('#notes-button')!.textContent).toContain('Notes');
    expect($('#notes-panel-heading')!.textContent).toBe(en['notes.heading']);
    expect(area().value).toBe('Agenda');
    expect(area().readOnly).toBe(false);
    expect($('label[for="notes-text"]')!.textContent).toBe(en['notes.text.label']);
    expect($('#notes-tab-text')!.getAttribute('aria-selected')).toBe('true');
    expect($('#notes-panel-board')!.hidden).toBe(true);
    expect($('#whiteboard')!.getAttribute('aria-label')).toBe('Shared whiteboard. Strokes on it: 1');
    expect($('#notes-save-md')!.textContent).toBe('Save as Markdown');
    expect($('#notes-save-svg')!.textContent).toBe('Save as SVG');

    // Arrow keys move between the tabs.
    fireEvent.keyDown($('#notes-tab-text')!, { key: 'ArrowRight' });
    expect($('#notes-tab-board')!.getAttribute('aria-selected')).toBe('true');
    expect($('#notes-panel-board')!.hidden).toBe(false);
    expect($('#notes-panel-text')!.hidden).toBe(true);
    fireEvent.click($('#notes-button')!);
    expect($('#notes-panel')).toBeNull();
  });

  it('sends what is typed, throttled: the first change at once, the latest after the pause', () => {
    vi.useFakeTimers();
    const { area } = renderNotes(annView());
    for (const value of ['W', 'We', 'We m', 'We mee', 'We meet at 10']) fireEvent.input(area(), { target: { value } });
    expect(sentOf('set_notes')).toEqual([{ type: 'set_notes', text: 'W' }]);
    vi.advanceTimersByTime(SEND_EVERY_MS);
    const notes = sentOf('set_notes');
    expect(notes).toHaveLength(2);
    expect(notes.at(-1)).toEqual({ type: 'set_notes', text: 'We meet at 10' });
  });

  it('sends what still waits when the panel closes', () => {
    vi.useFakeTimers();
    const { area, $ } = renderNotes(annView());
    fireEvent.input(area(), { target: { value: 'a' } });
    fireEvent.input(area(), { target: { value: 'ab' } });
    fireEvent.click($('#notes-button')!);
    expect(sentOf('set_notes').map((a) => a.text)).toEqual(['a', 'ab']);
  });

  it('shows someone else’s change when not focused, as text only', () => {
    const { area, again, $ } = renderNotes(bobView(), { notes: notesView({ text: 'Agenda' }) });
    const text = 'Agenda\n<img src=x onerror="alert(1)"> **bold**';
    again(bobView(), { notes: notesView({ text, version: 2 }) });
    expect(area().value).toBe(text);
    expect($('#notes-panel img')).toBeNull();
    expect(sentOf('set_notes')).toEqual([]);
  });

  it('keeps the caret where it was when a change comes while focused', () => {
    const { area, again } = renderNotes(annView(), { notes: notesView({ text: 'Hello world' }) });
    area().focus();
    area().setSelectionRange(5, 5);
    again(annView(), { notes: notesView({ text: 'Say: Hello world', version: 2 }) });
    expect(area().value).toBe('Say: Hello world');
    expect(document.activeElement).toBe(area());
    expect([area().selectionStart, area().selectionEnd]).toEqual([10, 10]);
  });

  it('merges someone else’s change into unsent typing instead of dropping either', () => {
    vi.useFakeTimers();
    const { area, again } = renderNotes(annView(), { notes: notesView({ text: 'A\nB' }) });
    area().focus();
    fireEvent.input(area(), { target: { value: 'A\nB!' } });
    fireEvent.input(area(), { target: { value: 'A\nB!!' } });
    again(annView(), { notes: notesView({ text: 'a\nB', version: 2 }) });
    expect(area().value).toBe('a\nB!!');
    vi.advanceTimersByTime(SEND_EVERY_MS);
    expect(sentOf('set_notes').at(-1)).toEqual({ type: 'set_notes', text: 'a\nB!!' });
  });

  it('goes back to the backend’s text when a change was refused', () => {
    const { area, again } = renderNotes(annView(), { notes: notesView({ text: 'Agenda' }) });
    fireEvent.input(area(), { target: { value: 'Agenda!' } });
    again(annView(), { notes: notesView({ text: 'Agenda' }), notesRefused: 1 });
    expect(area().value).toBe('Agenda');
  });

  it('is read-only for a participant while the host has locked it', () => {
    const locked = policy({ notes_locked: true });
    const { area, $ } = renderNotes(bobView({ policy: locked }), { notes: notesView({ text: 'Agenda', strokes: [stroke(4, [[1000, 1000], [9000, 1000]])] }) });
    expect(area().readOnly).toBe(true);
    expect(area().getAttribute('aria-describedby')).toBe('notes-locked');
    expect($('#notes-locked')!.textContent).toBe(en['notes.locked']);
    // No drawing tools, nothing to clear; saving is still offered.
    fireEvent.click($('#notes-tab-board')!);
    expect($('#board-tool-pen')).toBeNull();
    expect($('#board-clear')).toBeNull();
    expect($('#notes-save-svg')).toBeTruthy();
    const canvas = $<HTMLCanvasElement>('#whiteboard')!;
    placeCanvas(canvas);
    pointer(canvas, 'pointerdown', 50, 50);
    pointer(canvas, 'pointermove', 100, 100);
    pointer(canvas, 'pointerup', 100, 100);
    expect(sent()).toEqual([]);
  });

  it('stays editable for the host while locked, saying so', () => {
    const { area, $ } = renderNotes(annView({ policy: policy({ notes_locked: true }) }));
    expect(area().readOnly).toBe(false);
    expect($('#notes-locked')!.textContent).toBe(en['notes.lockedModerator']);
    fireEvent.input(area(), { target: { value: 'Decisions' } });
    expect(sentOf('set_notes')).toEqual([{ type: 'set_notes', text: 'Decisions' }]);
    fireEvent.click($('#notes-tab-board')!);
    expect($('#board-tool-pen')).toBeTruthy();
  });

  it('is editable for a participant when the view does not say it is locked', () => {
    const { area, $ } = renderNotes(bobView());
    expect(area().readOnly).toBe(false);
    expect($('#notes-locked')).toBeNull();
  });
});

describe('the whiteboard', () => {
  it('sends one draw action per stroke, in board units, with the chosen colour and width', () => {
    const { canvas, $ } = renderBoard(annView());
    fireEvent.click($('#board-color-red')!);
    fireEvent.click($('#board-width-thick')!);
    // (10, 20) is the canvas's top left corner; it is 320 × 180.
    pointer(canvas, 'pointerdown', 10, 20);
    pointer(canvas, 'pointermove', 170, 110);
    pointer(canvas, 'pointermove', 170, 110);
    pointer(canvas, 'pointermove', 330, 200);
    // Beyond the board: clamped to its edge (and the same point again is not repeated).
    pointer(canvas, 'pointermove', 500, 400);
    expect(sentOf('draw')).toEqual([]);
    pointer(canvas, 'pointerup', 500, 400);
    expect(sentOf('draw')).toEqual([
      {
        type: 'draw',
        color: 0xd0312b,
        width: 140,
        points: [
          [0, 0],
          [5000, 5000],
          [10000, 10000],
        ],
      },
    ]);
    // Moving without the button down draws nothing.
    pointer(canvas, 'pointermove', 100, 100);
    pointer(canvas, 'pointerup', 100, 100);
    expect(sentOf('draw')).toHaveLength(1);
  });

  it('sends at most 1000 points, the first and the last among them', () => {
    const { canvas } = renderBoard(annView());
    pointer(canvas, 'pointerdown', 10, 20);
    for (let i = 1; i <= 3000; i++) pointer(canvas, 'pointermove', 10 + (i % 320), 20 + (i % 180));
    pointer(canvas, 'pointerup', 10 + (3000 % 320), 20 + (3000 % 180));
    const [draw] = sentOf('draw');
    expect(draw!.points.length).toBeLessThanOrEqual(1000);
    expect(draw!.points[0]).toEqual([0, 0]);
    expect(draw!.points.at(-1)).toEqual(toBoard(3000 % 320, 3000 % 180, 320, 180));
    for (const [x, y] of draw!.points) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(10000);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(10000);
    }
  });

  it('erases the stroke clicked near in eraser mode, and nothing when none is near', () => {
    const strokes = [stroke(7, [[1000, 1000], [9000, 1000]]), stroke(8, [[1000, 8000], [9000, 8000]])];
    const { canvas, $ } = renderBoard(annView(), { notes: notesView({ strokes }) });
    fireEvent.click($('#board-tool-eraser')!);
    expect($('.board-hint')!.textContent).toBe(en['notes.board.eraseHint']);
    // (170, 38) is (5000, 1000) on the board.
    pointer(canvas, 'pointerdown', 170, 38);
    pointer(canvas, 'pointerup', 170, 38);
    expect(sentOf('erase')).toEqual([{ type: 'erase', stroke: 7 }]);
    // The middle of the board: no stroke there.
    pointer(canvas, 'pointerdown', 170, 110);
    pointer(canvas, 'pointerup', 170, 110);
    expect(sentOf('erase')).toHaveLength(1);
    // Dragging across both erases each once.
    pointer(canvas, 'pointerdown', 100, 38);
    pointer(canvas, 'pointermove', 120, 38);
    pointer(canvas, 'pointermove', 120, 164);
    pointer(canvas, 'pointerup', 120, 164);
    expect(sentOf('erase')).toEqual([
      { type: 'erase', stroke: 7 },
      { type: 'erase', stroke: 7 },
      { type: 'erase', stroke: 8 },
    ]);
    expect(sentOf('draw')).toEqual([]);
  });

  it('clears the whiteboard only once confirmed', () => {
    const { $ } = renderBoard(annView(), { notes: notesView({ strokes: [stroke(1, [[0, 0]])] }) });
    fireEvent.click($('#board-clear')!);
    expect($('#board-clear-text')!.textContent).toBe(en['notes.clearConfirm']);
    fireEvent.click($('#board-clear-cancel')!);
    expect(sentOf('clear_board')).toEqual([]);
    fireEvent.click($('#board-clear')!);
    fireEvent.click($('#board-clear-yes')!);
    expect(sentOf('clear_board')).toEqual([{ type: 'clear_board' }]);
    expect($('#board-clear-yes')).toBeNull();
  });

  it('cannot be cleared while empty', () => {
    const { $ } = renderBoard(annView());
    expect($<HTMLButtonElement>('#board-clear')!.disabled).toBe(true);
  });

  it('draws the strokes from board units, x by the width and y by the height', () => {
    const calls: Array<[string, ...unknown[]]> = [];
    const styles: string[] = [];
    const ctx = new Proxy(
      {},
      {
        get: (_, name: string) => (...args: unknown[]) => calls.push([name, ...args]),
        set: (_, name: string, value: unknown) => {
          if (name === 'strokeStyle') styles.push(String(value));
          return true;
        },
      },
    );
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(ctx as unknown as CanvasRenderingContext2D);
    const strokes = [stroke(1, [[1000, 2000], [5000, 10000]], { color: 0xd0312b })];
    renderBoard(annView(), { notes: notesView({ strokes }) });
    // jsdom's canvas keeps its default 300 × 150 (nothing is laid out).
    expect(styles).toContain('#d0312b');
    expect(calls).toContainEqual(['moveTo', 30, 30]);
    expect(calls).toContainEqual(['lineTo', 150, 150]);
  });
});

describe('saving', () => {
  it('saves the notes as Markdown and the whiteboard as SVG, and says where', async () => {
    const toast = vi.fn();
    const { $ } = renderNotes(annView(), { toast });
    mocked.saveNotes.mockResolvedValueOnce({ status: 'ok', data: '/home/ann/Downloads/parley-notes-2026-12-07-1530.md' });
    fireEvent.click($('#notes-save-md')!);
    await waitFor(() => expect(toast).toHaveBeenCalledWith('Saved: /home/ann/Downloads/parley-notes-2026-12-07-1530.md'));
    mocked.saveNotes.mockResolvedValueOnce({ status: 'ok', data: '/home/ann/Downloads/parley-whiteboard-2026-12-07-1530.svg' });
    fireEvent.click($('#notes-save-svg')!);
    await waitFor(() => expect(toast).toHaveBeenCalledWith('Saved: /home/ann/Downloads/parley-whiteboard-2026-12-07-1530.svg'));
    expect(mocked.saveNotes.mock.calls.map(([what]) => what)).toEqual(['markdown', 'svg']);
    // The chat's stamp: date and time, digits and dashes only.
    for (const [, stamp] of mocked.saveNotes.mock.calls) expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}-\d{4}$/);
  });

  it('sends what was just typed before saving it', () => {
    vi.useFakeTimers();
    const { $, area } = renderNotes(annView());
    fireEvent.input(area(), { target: { value: 'a' } });
    fireEvent.input(area(), { target: { value: 'ab' } });
    fireEvent.click($('#notes-save-md')!);
    expect(sentOf('set_notes').map((a) => a.text)).toEqual(['a', 'ab']);
    expect(mocked.saveNotes).toHaveBeenCalledWith('markdown', expect.any(String));
  });

  it('shows why a save failed', async () => {
    const { $, showError } = renderNotes(annView());
    const error = { kind: 'internal' as const, message: 'The notes could not be saved in /x (disk full).' };
    mocked.saveNotes.mockResolvedValueOnce({ status: 'error', error });
    fireEvent.click($('#notes-save-svg')!);
    await waitFor(() => expect(showError).toHaveBeenCalledWith(error));
  });
});

describe('the App and the notes', () => {
  const toasts = (container: Element) => [...container.querySelectorAll('[data-testid="toast"]')].map((x) => x.textContent ?? '');

  it('toasts a refused change, once for a burst', async () => {
    const { container, notice } = await renderApp();
    const reason = 'the host has locked the shared notes; only hosts and co-hosts may change them';
    notice({ kind: 'notes_not_sent', reason });
    notice({ kind: 'notes_not_sent', reason });
    await waitFor(() => expect(toasts(container).some((x) => x.includes(`Your change to the notes was not made: ${reason}`))).toBe(true));
    expect(toasts(container).filter((x) => x.includes('Your change to the notes'))).toHaveLength(1);
  });

  it('picks the notes up after a reload and follows their changes, never going back to older ones', async () => {
    const { container, notes } = await renderApp({ meeting: bobView(), notes: notesView({ text: 'From before the reload', version: 4 }) });
    await waitFor(() => expect(container.querySelector('#notes-button')).toBeTruthy());
    fireEvent.click(container.querySelector('#notes-button')!);
    const area = () => container.querySelector<HTMLTextAreaElement>('#notes-text')!;
    await waitFor(() => expect(area().value).toBe('From before the reload'));
    notes(notesView({ text: 'Newer', version: 6, strokes: [stroke(1, [[0, 0]])] }));
    await waitFor(() => expect(area().value).toBe('Newer'));
    notes(notesView({ text: 'Older', version: 5 }));
    await new Promise((r) => setTimeout(r, 20));
    expect(area().value).toBe('Newer');
    expect(container.querySelector('#whiteboard')!.getAttribute('aria-label')).toBe('Shared whiteboard. Strokes on it: 1');
  });
});

describe('the host switch', () => {
  it('is listed with the others, and sends set_policy', async () => {
    const act = vi.fn().mockResolvedValue(true);
    const view = annView({ policy: policy({ notes_locked: false }) });
    const { container, rerender } = render(<SecurityMenu view={view} act={act} onClose={() => {}} />);
    const sw = container.querySelector('#policy-notes-locked')!;
    expect(sw.getAttribute('role')).toBe('switch');
    expect(sw.getAttribute('aria-checked')).toBe('false');
    expect(sw.textContent).toContain(en['security.notes_locked']);
    // Right after the recording switch, as the last of the policy switches.
    const ids = [...container.querySelectorAll('[role="switch"]')].map((x) => x.id);
    expect(ids.slice(-2)).toEqual(['policy-recording', 'policy-notes-locked']);
    fireEvent.click(sw);
    await waitFor(() => expect(act).toHaveBeenCalled());
    expect(act.mock.calls[0]![0]).toEqual({ type: 'set_policy', change: api.policyChange({ notes_locked: true }) });
    expect(act.mock.calls[0]![0]).toMatchObject({ type: 'set_policy', change: { notes_locked: true, chat: null, recording: null } });
    rerender(<SecurityMenu view={annView({ policy: policy({ notes_locked: true }) })} act={act} onClose={() => {}} />);
    expect(container.querySelector('#policy-notes-locked')!.getAttribute('aria-checked')).toBe('true');
  });

  it('is offered to every host with the others, off by default', () => {
    const { container } = render(<SecurityMenu view={annView()} act={vi.fn()} onClose={() => {}} />);
    expect(container.querySelector('#policy-recording')).toBeTruthy();
    expect(container.querySelector('#policy-notes-locked')!.getAttribute('aria-checked')).toBe('false');
  });
});

describe('the privacy panel', () => {
  it('says how notes and breakout rooms are protected', async () => {
    const { PrivacyPanel } = await import('../src/components/privacy');
    const { render } = await import('@testing-library/preact');
    const { en } = await import('../src/i18n/en');
    const props = { server: 'meet.example.org', hostedHere: false, networkAddress: null, security: null, refused: null, onClose: () => {} } as unknown as Parameters<typeof PrivacyPanel>[0];
    const { container } = render(<PrivacyPanel {...props} />);
    expect(container.querySelector('[data-testid="privacy-notes"]')?.textContent).toBe(en['privacy.notes']);
    expect(container.querySelector('[data-testid="privacy-breakouts"]')?.textContent).toBe(en['privacy.breakouts']);
  });
});
