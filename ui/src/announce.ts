// Join and leave announcements (while the host's "announce joins and leaves" switch is on, the
// backend sends `people_joined` and `person_left`, by participant number only). A class
// arriving at nine must not be forty toasts: what comes within a short window after the first
// one is said at its end, in one toast per direction, naming up to three people and counting
// more ("12 people joined"). Someone who came and went within the window is not mentioned.
//
// A person who left is no longer in the view, so the names seen during the meeting are kept
// (a bounded number, the longest unseen dropped first) to say who it was.
import { stripBidi } from './chat';
import { t, type Key } from './i18n';

/** How long after the first join or leave the window closes and what it collected is said. */
export const ANNOUNCE_WINDOW_MS = 1_500;
/** How many names are remembered at most (the longest unseen go first). */
export const NAMES_KEPT = 5_000;
/** Up to this many people are named; more are counted. */
export const NAMED_AT_MOST = 3;

export type Direction = 'joined' | 'left';

type Timer = ReturnType<typeof setTimeout>;

/** Names by participant number, as seen in the views during the meeting; at most `max`. */
export class NameBook {
  private readonly names = new Map<number, string>();

  constructor(private readonly max = NAMES_KEPT) {}

  /** Seen now under this name: the newest entry (a Map keeps the order things were set in). */
  see(id: number, name: string): void {
    this.names.delete(id);
    this.names.set(id, name);
    while (this.names.size > this.max) {
      const oldest = this.names.keys().next();
      if (oldest.done) break;
      this.names.delete(oldest.value);
    }
  }

  /** The name last seen for this number, as it was sent (not yet cleaned for display). */
  get(id: number): string | undefined {
    return this.names.get(id);
  }

  get size(): number {
    return this.names.size;
  }

  clear(): void {
    this.names.clear();
  }
}

const KEYS: Record<Direction, { one: Key; two: Key; three: Key; many: Key }> = {
  joined: { one: 'notice.joined.one', two: 'notice.joined.two', three: 'notice.joined.three', many: 'notice.joined.many' },
  left: { one: 'notice.left.one', two: 'notice.left.two', three: 'notice.left.three', many: 'notice.left.many' },
};

/**
 * The sentence for `count` people who joined or left, naming them when there are at most three
 * (`names`: theirs, in order, already fit for display; only the first three are used), else
 * counting them. Null for nobody.
 */
export function announcement(direction: Direction, names: readonly string[], count = names.length): string | null {
  const k = KEYS[direction];
  if (count <= 0) return null;
  if (count > NAMED_AT_MOST || names.length < count) return t(k.many, { count });
  if (count === 1) return t(k.one, { name: names[0]! });
  if (count === 2) return t(k.two, { first: names[0]!, second: names[1]! });
  return t(k.three, { first: names[0]!, second: names[1]!, third: names[2]! });
}

/**
 * Collects joins and leaves for a window (`windowMs` from the first), then says each direction
 * once through `say`. The names come from `saw` (every view, as it arrives).
 */
export class Announcements {
  readonly names: NameBook;
  /** In the window so far: came (and still here), went (and not back). Sets keep their order. */
  private joinedIds = new Set<number>();
  private leftIds = new Set<number>();
  private timer: Timer | null = null;

  constructor(
    private readonly say: (text: string) => void,
    private readonly windowMs = ANNOUNCE_WINDOW_MS,
    keep = NAMES_KEPT,
  ) {
    this.names = new NameBook(keep);
  }

  /** A view arrived with these people (remembered by number, to name them when they leave). */
  saw(people: Iterable<{ id: number; name: string }>): void {
    for (const p of people) this.names.see(p.id, p.name);
  }

  /** These people joined. */
  joined(ids: readonly number[]): void {
    for (const id of ids) {
      // Gone and back within the window: nothing happened worth saying.
      if (!this.leftIds.delete(id)) this.joinedIds.add(id);
    }
    this.start();
  }

  /** This person left. */
  left(id: number): void {
    // Came and went within the window: not mentioned at all.
    if (!this.joinedIds.delete(id)) this.leftIds.add(id);
    this.start();
  }

  /** Joins or leaves wait to be said. */
  hasPending(): boolean {
    return this.joinedIds.size > 0 || this.leftIds.size > 0;
  }

  /** Say now what the window collected (the window's end). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const joined = [...this.joinedIds];
    const left = [...this.leftIds];
    this.joinedIds.clear();
    this.leftIds.clear();
    for (const [direction, ids] of [
      ['joined', joined],
      ['left', left],
    ] as const) {
      const text = announcement(
        direction,
        ids.slice(0, NAMED_AT_MOST).map((id) => this.nameOf(id)),
        ids.length,
      );
      if (text !== null) this.say(text);
    }
  }

  /** Forget what waits and the names (moved to another room, or out of the meeting: other
   * people, other numbers). */
  reset(): void {
    this.dispose();
    this.names.clear();
  }

  /** Stop the window's timer; what waits is not said. */
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.joinedIds.clear();
    this.leftIds.clear();
  }

  /** The name to show: bidi controls out (it is someone else's text); unknown: "Someone". */
  private nameOf(id: number): string {
    const name = this.names.get(id);
    const clean = name === undefined ? '' : stripBidi(name).trim();
    return clean || t('notice.someone');
  }

  private start(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.windowMs);
  }
}
