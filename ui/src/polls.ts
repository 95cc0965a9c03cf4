// Polls as the window keeps them, and the checks a new poll passes before it is sent. The
// backend checks again (and the server after it): these only spare the person a refusal.
import type { PollView } from './api';

/** The question's most characters (the backend's MAX_QUESTION_CHARS). */
export const MAX_QUESTION = 300;
/** An option's most characters (the backend's MAX_OPTION_CHARS). */
export const MAX_OPTION = 100;
/** A poll has 2 to 10 options. */
export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 10;

/** The meeting's polls by number. */
export type Polls = ReadonlyMap<number, PollView>;

/** `polls` with `poll` in place of the one with its number (a poll changed event is whole). */
export function withPoll(polls: Polls, poll: PollView): Polls {
  return new Map(polls).set(poll.id, poll);
}

/**
 * `polls` with those of a reloaded window's snapshot that are not there yet: one that already
 * came by event is as new as the snapshot or newer, so it stays.
 */
export function withSnapshot(polls: Polls, snapshot: PollView[]): Polls {
  const next = new Map(polls);
  for (const p of snapshot) if (!next.has(p.id)) next.set(p.id, p);
  return next;
}

/** Newest first (polls are numbered in the order they were opened). */
export function newestFirst(polls: Polls): PollView[] {
  return [...polls.values()].sort((a, b) => b.id - a.id);
}

/** Whether the person may still vote in `poll` (open, no vote counted, none on its way). */
export function canVote(poll: PollView, sending: ReadonlySet<number>): boolean {
  return poll.open && poll.my_vote === null && !sending.has(poll.id);
}

/** How many open polls wait for the person's vote (the toolbar button's badge). */
export function pollsToVote(polls: readonly PollView[], sending: ReadonlySet<number>): number {
  return polls.filter((p) => canVote(p, sending)).length;
}

export type PollProblem = 'question' | 'options' | 'duplicate';

export type CheckedPoll = { ok: true; question: string; options: string[] } | { ok: false; problem: PollProblem };

/**
 * A new poll as typed: the question and options trimmed, blank option fields left out. It
 * needs a question and at least two options, all different (as the backend compares them:
 * after trimming, letter case counting).
 */
export function checkPoll(question: string, options: readonly string[]): CheckedPoll {
  const q = question.trim();
  if (q === '') return { ok: false, problem: 'question' };
  const opts = options.map((o) => o.trim()).filter((o) => o !== '');
  if (opts.length < MIN_OPTIONS) return { ok: false, problem: 'options' };
  if (new Set(opts).size !== opts.length) return { ok: false, problem: 'duplicate' };
  return { ok: true, question: q, options: opts };
}

/** A count as a share of the voters, 0–100 (a bar's width; with several choices allowed the
 * shares add up to more than 100). */
export function share(count: number, voters: number): number {
  if (voters <= 0) return 0;
  return Math.min(100, Math.round((count / voters) * 100));
}
