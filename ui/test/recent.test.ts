import { beforeEach, describe, expect, it } from 'vitest';
import { clearRecent, MAX_RECENT, recentMeetings, rememberMeeting } from '../src/recent';

beforeEach(() => localStorage.clear());

describe('recent meetings', () => {
  it('keeps the newest first, once per link, at most MAX_RECENT', () => {
    rememberMeeting({ title: 'A', link: 'https://m.example/m/a#k=1', server: 'm.example' }, 1);
    rememberMeeting({ title: 'B', link: null, server: null }, 2);
    rememberMeeting({ title: 'A again', link: 'https://m.example/m/a#k=1', server: 'm.example' }, 3);
    expect(recentMeetings().map((r) => r.title)).toEqual(['A again', 'B']);
    for (let i = 0; i < MAX_RECENT + 3; i++) rememberMeeting({ title: `T${i}`, link: null, server: null }, 10 + i);
    expect(recentMeetings().length).toBe(MAX_RECENT);
  });

  it('ignores whatever else is in storage, and clears', () => {
    localStorage.setItem('parley.recent', '{"not":"a list"}');
    expect(recentMeetings()).toEqual([]);
    localStorage.setItem('parley.recent', JSON.stringify([{ title: 5 }, { title: 'ok', link: null, server: null, at: 1 }, 'x']));
    expect(recentMeetings().map((r) => r.title)).toEqual(['ok']);
    localStorage.setItem('parley.recent', 'not json');
    expect(recentMeetings()).toEqual([]);
    rememberMeeting({ title: 'X', link: null, server: null });
    clearRecent();
    expect(recentMeetings()).toEqual([]);
  });
});
