import { describe, expect, it } from 'vitest';
import { orderTiles, pageOf, visibleVideoIds } from '../src/layout';
import { isTypingTarget, shortcutFor } from '../src/shortcuts';
import { policyChange } from '../src/api';
import type { Person } from '../src/api';

const person = (id: number, sharing = false): Person => ({ id, name: `P${id}`, role: 'participant', muted: false, hand_raised: false, hand_order: null, sharing, on_stage: false, away: false, browser: false, recording: false, decrypt_problem: null, speaking: false, volume: 100, muted_for_me: false });

describe('gallery layout', () => {
  const people = [1, 2, 3, 4, 5, 6].map((id) => person(id, id === 5));

  it('puts the pinned tile first, then sharers', () => {
    expect(orderTiles(people, 3)).toEqual([3, 5, 1, 2, 4, 6]);
    expect(orderTiles(people, null)).toEqual([5, 1, 2, 3, 4, 6]);
    expect(orderTiles(people, 99)).toEqual([5, 1, 2, 3, 4, 6]);
  });

  it('pages and clamps', () => {
    const order = orderTiles(people, null);
    expect(pageOf(order, 4, 0)).toEqual({ ids: [5, 1, 2, 3], page: 0, pages: 2 });
    expect(pageOf(order, 4, 1)).toEqual({ ids: [4, 6], page: 1, pages: 2 });
    expect(pageOf(order, 4, 7).page).toBe(1);
    expect(pageOf([], 9, 0)).toEqual({ ids: [], page: 0, pages: 1 });
  });

  it('asks for video of visible tiles except yourself', () => {
    expect(visibleVideoIds([5, 1, 2, 3], 2)).toEqual([1, 3, 5]);
  });
});

describe('shortcuts', () => {
  const k = (key: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean }> = {}) => ({
    key,
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    metaKey: false,
    ...mods,
  });

  it('maps the documented keys', () => {
    expect(shortcutFor(k('d', { ctrlKey: true }), false)).toBe('mic');
    expect(shortcutFor(k('e', { ctrlKey: true }), false)).toBe('camera');
    expect(shortcutFor(k('H', { ctrlKey: true, shiftKey: true }), false)).toBe('hand');
    expect(shortcutFor(k('L', { ctrlKey: true, shiftKey: true }), false)).toBe('leave');
    expect(shortcutFor(k('S', { ctrlKey: true, shiftKey: true }), false)).toBe('share');
    expect(shortcutFor(k('s', { ctrlKey: true }), false)).toBeNull();
  });

  it('ignores other keys and typing', () => {
    expect(shortcutFor(k('d'), false)).toBeNull();
    expect(shortcutFor(k('d', { ctrlKey: true }), true)).toBeNull();
    expect(shortcutFor(k('l', { ctrlKey: true }), false)).toBeNull();
    expect(shortcutFor(k('d', { ctrlKey: true, altKey: true }), false)).toBeNull();
  });

  it('knows typing targets', () => {
    const input = document.createElement('input');
    const checkbox = document.createElement('input');
    checkbox.type = 'checkbox';
    expect(isTypingTarget(input)).toBe(true);
    expect(isTypingTarget(document.createElement('textarea'))).toBe(true);
    expect(isTypingTarget(checkbox)).toBe(false);
    expect(isTypingTarget(document.createElement('button'))).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});

describe('policyChange', () => {
  it('touches only the given switch', () => {
    expect(policyChange({ chat: false })).toEqual({
      waiting_room: null,
      chat: false,
      private_chat: null,
      rename: null,
      unmute_self: null,
      screen_share_everyone: null,
      file_transfer: null,
      save_chat: null,
      event_mode: null,
      recording: null,
      notes_locked: null,
    });
  });
});
