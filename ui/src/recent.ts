// Recent meetings, kept on this computer only (localStorage) so a person can rejoin: the
// title, the server's name and — for meetings joined by link — the link itself, because
// rejoining needs it. Nothing else; "Clear" removes them all.
import { load, save } from './storage';

export type Recent = { title: string; link: string | null; server: string | null; at: number };

/** Most meetings remembered. */
export const MAX_RECENT = 8;
const KEY = 'recent';

function isRecent(x: unknown): x is Recent {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.title === 'string' &&
    r.title.length <= 200 &&
    (r.link === null || (typeof r.link === 'string' && r.link.length <= 2048)) &&
    (r.server === null || (typeof r.server === 'string' && r.server.length <= 300)) &&
    typeof r.at === 'number'
  );
}

/** What is remembered, newest first; anything malformed in storage is ignored. */
export function recentMeetings(): Recent[] {
  try {
    const parsed: unknown = JSON.parse(load(KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter(isRecent).slice(0, MAX_RECENT) : [];
  } catch {
    return [];
  }
}

/** Remember a meeting (the same link or, without one, the same title replaces the older entry). */
export function rememberMeeting(r: Omit<Recent, 'at'>, now = Date.now()): Recent[] {
  const same = (x: Recent) => (r.link !== null ? x.link === r.link : x.link === null && x.title === r.title);
  const next = [{ ...r, at: now }, ...recentMeetings().filter((x) => !same({ ...x }))].slice(0, MAX_RECENT);
  save(KEY, JSON.stringify(next));
  return next;
}

/** Forget them all. */
export function clearRecent(): void {
  save(KEY, '[]');
}
