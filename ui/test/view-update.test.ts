// The meeting view arrives whole once, then as patches (issue 19: a meeting of a thousand must
// not send a thousand people to the window each time one starts speaking).
import { describe, expect, it } from 'vitest';
import { applyUpdate, type MeetingView, type Person } from '../src/api';
import { hostView, person as somebody } from './harness';

/** Participant `id`, named P`id`, unmuted. */
const person = (id: number, over: Partial<Person> = {}): Person => somebody(id, `P${id}`, { muted: false, ...over });

const view = (participants: Person[], over: Partial<MeetingView> = {}): MeetingView => hostView({ title: 'Assembly', participants, ...over });

describe('view updates', () => {
  const people = Array.from({ length: 1000 }, (_, i) => person(i + 1));
  const first = view(people);

  it('a whole view replaces whatever was there', () => {
    expect(applyUpdate(null, { kind: 'full', view: first })).toEqual(first);
  });

  it('a patch changes only who changed, keeping the order', () => {
    const next = applyUpdate(first, {
      kind: 'patch',
      head: view([], { active_speaker: 500, title: 'Assembly (live)' }),
      upserts: [person(500, { speaking: true })],
      removed: [],
      order: null,
    })!;
    expect(next.participants).toHaveLength(1000);
    expect(next.participants[499]).toEqual(person(500, { speaking: true }));
    expect(next.participants[498]).toBe(first.participants[498]);
    expect(next.title).toBe('Assembly (live)');
    expect(next.active_speaker).toBe(500);
  });

  it('people who went and came take the new order', () => {
    const next = applyUpdate(first, {
      kind: 'patch',
      head: view([]),
      upserts: [person(2000, { name: 'Late' })],
      removed: [7],
      order: [...people.map((p) => p.id).filter((id) => id !== 7), 2000],
    })!;
    expect(next.participants).toHaveLength(1000);
    expect(next.participants.some((p) => p.id === 7)).toBe(false);
    expect(next.participants.at(-1)?.name).toBe('Late');
  });

  it('a patch with nothing to build on is dropped until a whole view comes', () => {
    expect(applyUpdate(null, { kind: 'patch', head: view([]), upserts: [], removed: [], order: null })).toBeNull();
  });
});
