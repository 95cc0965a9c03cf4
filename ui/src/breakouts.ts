// Breakout rooms as the window plans and shows them: who goes to which room (dealt at random
// or chosen by hand), the checks a plan passes before it is sent, and the local countdowns.
// The backend and the server check again: these only spare the host a refusal.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { MeetingView } from './api';

/** Most rooms at once (the server's MAX_BREAKOUT_ROOMS). */
export const MAX_ROOMS = 50;
/** Rooms offered at first. */
export const DEFAULT_ROOMS = 2;
/** Longest time rooms may be opened for, in minutes (the server's MAX_BREAKOUT_MINUTES). */
export const MAX_MINUTES = 720;
/** A message to all rooms is at most this many bytes of UTF-8 (the engine's MAX_BROADCAST_BYTES). */
export const MAX_BROADCAST_BYTES = 1_000;

/** Who goes to each room, by participant number, room 1 first (a room may be empty). */
export type Plan = number[][];

/** Why a plan cannot be sent. */
export type BreakoutProblem = 'rooms' | 'minutes' | 'nobody';

/** A whole number typed into a field, if that is all the field holds. */
function wholeNumber(text: string): number | null {
  const s = text.trim();
  return /^\d{1,6}$/.test(s) ? Number(s) : null;
}

/** The number of rooms typed, if it is one the server takes (1 to MAX_ROOMS). */
export function parseRooms(text: string): number | null {
  const n = wholeNumber(text);
  return n !== null && n >= 1 && n <= MAX_ROOMS ? n : null;
}

/** The minutes typed: `null` for none (open until closed), `undefined` if not 1 to MAX_MINUTES. */
export function parseMinutes(text: string): number | null | undefined {
  if (text.trim() === '') return null;
  const n = wholeNumber(text);
  return n !== null && n >= 1 && n <= MAX_MINUTES ? n : undefined;
}

/** A random whole number below `n`, from the system's cryptographic generator. Rejection
 * sampling keeps every value equally likely (a plain modulo would favour the small ones). */
export function randomBelow(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const word = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(word);
    if (word[0]! < limit) return word[0]! % n;
  }
}

/** `items` in a random order (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], random: (n: number) => number = randomBelow): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `rooms` empty rooms. */
function emptyPlan(rooms: number): Plan {
  return Array.from({ length: rooms }, () => []);
}

/** Everyone in `people` dealt into `rooms` rooms, round-robin after a shuffle: the rooms
 * differ in size by one at most, and who sits with whom is left to chance. */
export function dealAtRandom(people: readonly number[], rooms: number, random?: (n: number) => number): Plan {
  const plan = emptyPlan(rooms);
  shuffled(people, random).forEach((id, i) => plan[i % rooms]!.push(id));
  return plan;
}

/** The room chosen for someone by hand, within `rooms` (0: the main meeting). A choice beyond
 * the rooms there are now (their number was lowered) counts as the main meeting. */
export function roomOf(choices: ReadonlyMap<number, number>, id: number, rooms: number): number {
  const room = choices.get(id) ?? 0;
  return room >= 1 && room <= rooms ? room : 0;
}

/** The plan chosen by hand: each of `people` in the room chosen for them (those left in the
 * main meeting are in no room). */
export function planByHand(people: readonly number[], choices: ReadonlyMap<number, number>, rooms: number): Plan {
  const plan = emptyPlan(rooms);
  for (const id of people) {
    const room = roomOf(choices, id, rooms);
    if (room > 0) plan[room - 1]!.push(id);
  }
  return plan;
}

/** Whether a plan sends anyone anywhere (rooms nobody goes to would be opened for nothing). */
/** The breakout room (from 1) participant `id` of the main meeting is in, if any. */
export function breakoutRoomOf(view: MeetingView, id: number): number | null {
  const rooms = view.breakouts?.rooms ?? [];
  const i = rooms.findIndex((r) => r.includes(id));
  return i < 0 ? null : i + 1;
}

export function anyoneAssigned(plan: Plan): boolean {
  return plan.some((room) => room.length > 0);
}

/** A message's size as the engine counts it: bytes of UTF-8. */
export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Seconds as m:ss, or h:mm:ss from an hour on (rooms may stay open up to 12 hours). */
export function clock(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const two = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours > 0 ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${two(minutes)}:${two(s % 60)}`;
}

/**
 * Seconds left of `secs`, counting down each second from when `secs` (or `key`) last changed;
 * null while `secs` is. The backend tells the seconds left only when something happens (we
 * were moved, the rooms changed or began to close), so the window counts the rest itself.
 */
export function useCountdown(secs: number | null, key?: unknown): number | null {
  // When the value was told: a view that repeats the same value does not restart the count.
  const since = useMemo(() => Date.now(), [secs, key]);
  const [, tick] = useState(0);
  useEffect(() => {
    if (secs === null) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [secs, key]);
  if (secs === null) return null;
  return Math.max(0, secs - Math.floor((Date.now() - since) / 1000));
}
