// The shared notes and whiteboard as the window keeps them, and the arithmetic behind the
// notes panel: keeping the textarea and the backend's copy of the text together while the
// person types, and the whiteboard's geometry (board units, decimation, what a click hits).
//
// The backend takes the notes as a whole text and finds what changed by comparing it with its
// own copy, which already holds everyone else's changes. So a text sent from an out-of-date
// textarea would undo those changes: the window never sends a text it has not merged them into.
import type { MeetingView, NotesView, StrokeView } from './api';

/** Board coordinates run from 0 to BOARD on both axes (the backend's BOARD_SIZE). */
export const BOARD = 10_000;
/** The board is shown at 16:9; a board unit across is this many times a unit down. */
export const BOARD_ASPECT = 16 / 9;
/** The most points a stroke may have (the backend's MAX_STROKE_POINTS). */
export const MAX_POINTS = 1_000;
/** Typing is sent at most this often (the backend sends its changes every 200 ms anyway). */
export const SEND_EVERY_MS = 150;
/** An echo of our own text comes back within milliseconds; one not seen by then never will
 * (the change was refused, or changed nothing). */
export const ECHO_WAIT_MS = 3_000;

/** Nothing written or drawn yet (a meeting's notes before the backend reports any). */
export const NO_NOTES: NotesView = { text: '', strokes: [], version: 0 };

/** `next` if it is newer than `have` (a reloaded window's snapshot may be older than an event
 * that came first, and an event sent before the snapshot was read may come after it). */
export function newerNotes(have: NotesView, next: NotesView): NotesView {
  return next.version > have.version ? next : have;
}

/** The host locked the notes: only hosts and co-hosts may change them. (Before the first
 * policy arrives it counts as off; the backend still refuses, with a `notes_not_sent`
 * notice, a change it does not allow.) */
export function notesLocked(view: MeetingView): boolean {
  return view.policy?.notes_locked === true;
}

/** Whether the person may change the notes and the whiteboard. */
export function mayEditNotes(view: MeetingView): boolean {
  return !notesLocked(view) || view.role === 'host' || view.role === 'cohost';
}

// ---------------------------------------------------------------------------------------------
// Text

/** What turned `old` into `next`: at `at`, `removed` code units replaced by `inserted` (one
 * range, found from the common start and end, as the backend finds it). */
export type Change = { at: number; removed: number; inserted: string };

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

export function difference(old: string, next: string): Change {
  const shorter = Math.min(old.length, next.length);
  let start = 0;
  while (start < shorter && old.charCodeAt(start) === next.charCodeAt(start)) start++;
  // Never between the halves of a surrogate pair: a caret there would split an emoji.
  if (start > 0 && isHigh(old.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < shorter - start && old.charCodeAt(old.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
  if (end > 0 && isLow(old.charCodeAt(old.length - end))) end--;
  return { at: start, removed: old.length - start - end, inserted: next.slice(start, next.length - end) };
}

function apply(text: string, at: number, removed: number, inserted: string): string {
  return text.slice(0, at) + inserted + text.slice(at + removed);
}

/**
 * `local` (the textarea, edited from `base`) with the change that turned `base` into `remote`
 * (someone else's) applied too. Where both changed the same part, the local text wins: it is
 * under the person's caret, and what they are typing must not vanish.
 */
export function rebase(base: string, local: string, remote: string): string {
  if (local === base) return remote;
  if (remote === base) return local;
  const mine = difference(base, local);
  const theirs = difference(base, remote);
  // Theirs lies before mine (an insertion where mine starts goes first).
  if (theirs.at + theirs.removed <= mine.at) {
    return apply(local, theirs.at, theirs.removed, theirs.inserted);
  }
  // Theirs lies after mine: shifted by what mine added or took away.
  if (theirs.at >= mine.at + mine.removed) {
    const shift = mine.inserted.length - mine.removed;
    return apply(local, theirs.at + shift, theirs.removed, theirs.inserted);
  }
  return local;
}

/** Where a caret at `pos` in `old` belongs once the text is `next`: kept before the change,
 * shifted by it after, at the end of what was put in when the change covered it. */
export function caretAfter(old: string, next: string, pos: number): number {
  const c = difference(old, next);
  if (pos <= c.at) return pos;
  if (pos >= c.at + c.removed) return pos + c.inserted.length - c.removed;
  return c.at + c.inserted.length;
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * The textarea's side of the notes: sends what the person types at most every `every` ms (the
 * first change at once, the latest when the pause is over), and says what the textarea should
 * show when the backend reports a text. It tells our own texts coming back (echoes) from
 * other people's changes, and merges the latter into what the person is typing.
 */
export class NotesTyping {
  /** The backend's text as it last reported it. */
  private base: string;
  /** Texts sent whose echo has not come back, oldest first. */
  private sent: Array<{ text: string; at: number }> = [];
  /** Typed, not sent yet. */
  private pending: string | null = null;
  private timer: Timer | null = null;

  constructor(
    text: string,
    private readonly send: (text: string) => void,
    private readonly every = SEND_EVERY_MS,
  ) {
    this.base = text;
  }

  /** The text the backend will have once what we sent is there: each text sent replaces the
   * whole. Sending it again would change nothing (and no echo would come back). */
  private expected(): string {
    return this.sent.length > 0 ? this.sent[this.sent.length - 1]!.text : this.base;
  }

  /** The person changed the textarea to `value`. */
  typed(value: string): void {
    this.pending = value;
    if (this.timer === null) this.flush();
  }

  /** Typing is waiting to be sent. */
  hasPending(): boolean {
    return this.pending !== null;
  }

  /** Send what waits now (the panel closes, or the notes are saved). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const text = this.pending;
    this.pending = null;
    if (text === null || text === this.expected()) return;
    this.sent.push({ text, at: Date.now() });
    this.send(text);
    // What is typed during the pause waits for its end.
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.pending !== null) this.flush();
    }, this.every);
  }

  /** Send what waits, and stop the pause's timer (the panel closes). */
  dispose(): void {
    this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * The backend reports `remote`; the textarea shows `local`. The text the textarea should
   * show instead, or null to leave it. Someone else's change is merged into what the person
   * has typed, and the merged text is sent when it holds more than the backend has.
   */
  received(remote: string, local: string): string | null {
    const now = Date.now();
    this.sent = this.sent.filter((s) => now - s.at < ECHO_WAIT_MS);
    const echo = this.sent.findIndex((s) => s.text === remote);
    const base = this.base;
    this.base = remote;
    if (echo >= 0) {
      // Ours, and everything sent before it was taken too. The textarea has it already (or
      // more, on its way).
      this.sent.splice(0, echo + 1);
      return null;
    }
    if (remote === local) {
      // What waits to be sent is there already.
      if (this.pending === local) this.pending = null;
      return null;
    }
    const merged = rebase(base, local, remote);
    // The textarea holds changes the backend lacks (typed, or sent and overtaken by this
    // change): they go again, merged, so the backend's comparison keeps both.
    if (merged !== remote) {
      if (this.pending !== null) this.pending = merged;
      else this.typed(merged);
    }
    return merged === local ? null : merged;
  }

  /** A change was refused (the notes are locked, or full): the textarea goes back to the
   * backend's text and nothing that waits is sent. */
  refused(): string {
    this.pending = null;
    this.sent = [];
    return this.base;
  }
}

// ---------------------------------------------------------------------------------------------
// Whiteboard

export type Point = [number, number];

/** At most `max` of `points`, evenly picked; the first and the last are always kept. */
export function decimate(points: readonly Point[], max = MAX_POINTS): Point[] {
  if (points.length <= max) return [...points];
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

/** A position in a box of `width` × `height` pixels, in board units (clamped to the board). */
export function toBoard(x: number, y: number, width: number, height: number): Point {
  const unit = (v: number, size: number) => Math.min(BOARD, Math.max(0, Math.round((v / size) * BOARD)));
  return [unit(x, width), unit(y, height)];
}

/** Distance from `p` to the segment a–b, measured in board units across (a unit down is
 * shorter on screen, by the 16:9 aspect). */
function distanceToSegment(p: Point, a: Point, b: Point): number {
  const k = 1 / BOARD_ASPECT;
  const [px, py, ax, ay, bx, by] = [p[0], p[1] * k, a[0], a[1] * k, b[0], b[1] * k];
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** How far from a stroke's line a click still hits it, besides half its width. */
export const HIT_SLACK = 120;

/** The topmost (newest) stroke under `p`, if any. */
export function strokeAt(strokes: readonly StrokeView[], p: Point): StrokeView | null {
  for (let i = strokes.length - 1; i >= 0; i--) {
    const s = strokes[i]!;
    const reach = s.width / 2 + HIT_SLACK;
    const pts = s.points;
    for (let j = 0; j < pts.length; j++) {
      if (distanceToSegment(p, pts[j]!, pts[Math.min(j + 1, pts.length - 1)]!) <= reach) return s;
    }
  }
  return null;
}

/** A colour (0xRRGGBB) as CSS. It is a number, so nothing else can get into the style. */
export function cssColor(color: number): string {
  return `#${(color & 0xffffff).toString(16).padStart(6, '0')}`;
}
