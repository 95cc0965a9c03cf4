// The polls panel: the "New poll" form, voting, results, host controls, and how the App keeps
// polls from the backend's poll changes (and picks them up again after a reload).
import { describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, waitFor } from '@testing-library/preact';
import type { MeetingView, PollView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import type { SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { setLang } from '../src/i18n';
import { en } from '../src/i18n/en';
import { de } from '../src/i18n/de';
import { errorText } from '../src/errors';
import { checkPoll, newestFirst, pollsToVote, share, withPoll, withSnapshot } from '../src/polls';
import { hostView, mocked, person, renderApp, renderMeeting, sent, setUpEach } from './harness';

/** Ann's view (the host), with Bob. */
function meetingView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({ participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Bob')], ...over });
}

/** Bob's view: a participant. */
const bobView = () => meetingView({ you: 2, role: 'participant' });

function pollView(over: Partial<PollView> = {}): PollView {
  return {
    id: 1,
    by: 1,
    question: 'Lunch?',
    options: ['Pizza', 'Soup', 'Salad'],
    multiple: false,
    anonymous: false,
    open: true,
    my_vote: null,
    counts: null,
    voters: 0,
    named: [],
    shared: false,
    ...over,
  };
}

const session: SessionInfo = { server: 'meet.example.org', hostedHere: false, camera: false, name: 'Ann' };

type Extra = { polls?: PollView[]; sending?: ReadonlySet<number>; onSending?: (poll: number, on: boolean) => void };

/** The meeting screen with the polls panel open. */
function renderPolls(view: MeetingView, extra: Extra = {}) {
  const r = renderMeeting(view, session, extra);
  fireEvent.click(r.container.querySelector('#polls-button')!);
  const panel = r.container.querySelector('#polls-panel');
  expect(panel).toBeTruthy();
  return r;
}

const typeInto = (el: Element | null, value: string) => fireEvent.input(el!, { target: { value } });

setUpEach();

describe('poll logic', () => {
  it('checks a new poll as the backend would', () => {
    expect(checkPoll('  ', ['a', 'b'])).toEqual({ ok: false, problem: 'question' });
    expect(checkPoll('Q', ['a', '  '])).toEqual({ ok: false, problem: 'options' });
    expect(checkPoll('Q', ['a', ' a '])).toEqual({ ok: false, problem: 'duplicate' });
    // Letter case counts, as on the backend; blank fields are left out.
    expect(checkPoll(' Q ', [' a', '', 'A '])).toEqual({ ok: true, question: 'Q', options: ['a', 'A'] });
  });

  it('keeps polls by number, newest first; a reload snapshot does not undo newer changes', () => {
    let polls = withPoll(new Map(), pollView({ id: 1 }));
    polls = withPoll(polls, pollView({ id: 2, question: 'Second' }));
    polls = withPoll(polls, pollView({ id: 1, open: false }));
    expect(newestFirst(polls).map((p) => [p.id, p.open])).toEqual([
      [2, true],
      [1, false],
    ]);
    const merged = withSnapshot(polls, [pollView({ id: 1, open: true }), pollView({ id: 3 })]);
    expect(newestFirst(merged).map((p) => [p.id, p.open])).toEqual([
      [3, true],
      [2, true],
      [1, false],
    ]);
  });

  it('counts open polls still waiting for a vote, and bar widths', () => {
    const list = [pollView({ id: 1 }), pollView({ id: 2, my_vote: [0] }), pollView({ id: 3, open: false }), pollView({ id: 4 })];
    expect(pollsToVote(list, new Set())).toBe(2);
    expect(pollsToVote(list, new Set([4]))).toBe(1);
    expect(share(1, 3)).toBe(33);
    expect(share(5, 4)).toBe(100);
    expect(share(0, 0)).toBe(0);
  });
});

describe('New poll form', () => {
  it('refuses an empty question and a single option, then sends the right open_poll', async () => {
    const { $ } = renderPolls(meetingView());
    const form = $('#poll-form')!;
    expect($<HTMLInputElement>('#poll-question')!.maxLength).toBe(300);
    expect($<HTMLInputElement>('#poll-option-0')!.maxLength).toBe(100);
    expect($('#poll-option-1')).toBeTruthy();
    expect($('#poll-option-2')).toBeNull();
    // Two options at first, neither removable.
    expect($('#poll-remove-option-0')).toBeNull();
    expect($('#poll-remove-option-1')).toBeNull();

    fireEvent.submit(form);
    expect($('#poll-form-error')!.textContent).toBe(en['polls.problem.question']);
    expect(sent()).toEqual([]);

    typeInto($('#poll-question'), '  Where do we meet?  ');
    expect($('#poll-form-error')).toBeNull();
    typeInto($('#poll-option-0'), 'Berlin');
    fireEvent.click($('#poll-open')!);
    expect($('#poll-form-error')!.textContent).toBe(en['polls.problem.options']);

    typeInto($('#poll-option-1'), ' Berlin ');
    fireEvent.click($('#poll-open')!);
    expect($('#poll-form-error')!.textContent).toBe(en['polls.problem.duplicate']);
    expect(sent()).toEqual([]);

    // Up to ten options; those beyond two can be removed.
    typeInto($('#poll-option-1'), 'Hamburg');
    fireEvent.click($('#poll-add-option')!);
    typeInto($('#poll-option-2'), 'Köln');
    for (let i = 3; i < 10; i++) fireEvent.click($('#poll-add-option')!);
    expect($('#poll-option-9')).toBeTruthy();
    expect($<HTMLButtonElement>('#poll-add-option')!.disabled).toBe(true);
    for (let i = 9; i >= 3; i--) fireEvent.click($(`#poll-remove-option-${i}`)!);
    expect($('#poll-option-3')).toBeNull();
    expect($<HTMLInputElement>('#poll-option-2')!.value).toBe('Köln');

    fireEvent.click($('#poll-multiple')!);
    fireEvent.click($('#poll-anonymous')!);
    fireEvent.click($('#poll-open')!);
    await waitFor(() =>
      expect(sent()).toEqual([
        { type: 'open_poll', question: 'Where do we meet?', options: ['Berlin', 'Hamburg', 'Köln'], multiple: true, anonymous: true },
      ]),
    );
    // Sent: the form is empty again for the next poll.
    await waitFor(() => expect($<HTMLInputElement>('#poll-question')!.value).toBe(''));
    expect($('#poll-option-2')).toBeNull();
    expect($<HTMLInputElement>('#poll-multiple')!.checked).toBe(false);
  });

  it('keeps what was typed when the backend refuses it', async () => {
    mocked.meetingAction.mockImplementation(async (a) =>
      a.type === 'open_poll' ? { status: 'error', error: { kind: 'too_many_polls', message: 'Too many.' } } : { status: 'ok', data: null },
    );
    const { $, showError } = renderPolls(meetingView());
    typeInto($('#poll-question'), 'Q');
    typeInto($('#poll-option-0'), 'A');
    typeInto($('#poll-option-1'), 'B');
    fireEvent.click($('#poll-open')!);
    await waitFor(() => expect(showError).toHaveBeenCalledWith({ kind: 'too_many_polls', message: 'Too many.' }));
    expect($<HTMLInputElement>('#poll-question')!.value).toBe('Q');
  });

  it('is for hosts and co-hosts only', () => {
    const { $ } = renderPolls(bobView());
    expect($('#poll-form')).toBeNull();
    cleanup();
    const cohost = renderPolls(meetingView({ you: 2, role: 'cohost' }));
    expect(cohost.$('#poll-form')).toBeTruthy();
  });
});

describe('Voting', () => {
  it('sends one choice of a single-choice poll, and shows Sending… until the vote is counted', async () => {
    const onSending = vi.fn();
    const poll = pollView({ id: 4 });
    const { $, rerender, container } = renderPolls(bobView(), { polls: [poll], onSending });
    // One open poll without our vote: the button's badge says so.
    expect(container.querySelector('#polls-button .badge')!.textContent).toBe('1');
    expect($('#poll-4-option-0')!.getAttribute('type')).toBe('radio');
    const vote = $<HTMLButtonElement>('#poll-4-vote')!;
    expect(vote.disabled).toBe(true);
    fireEvent.click($('#poll-4-option-0')!);
    fireEvent.click($('#poll-4-option-2')!);
    expect($<HTMLInputElement>('#poll-4-option-0')!.checked).toBe(false);
    expect(vote.disabled).toBe(false);
    fireEvent.click(vote);
    await waitFor(() => expect(sent()).toEqual([{ type: 'vote', poll: 4, choices: [2] }]));
    expect(onSending).toHaveBeenCalledWith(4, true);
    expect(onSending).not.toHaveBeenCalledWith(4, false);

    const props = { view: bobView(), session, chat: [], onLeave: () => {}, toast: () => {}, showError: () => {}, onSending };
    rerender(<Meeting {...props} polls={[poll]} sending={new Set([4])} />);
    expect($('#poll-4-sending')!.textContent).toBe('Sending…');
    expect($('#poll-4-vote')).toBeNull();
    expect(container.querySelector('#polls-button .badge')).toBeNull();

    rerender(<Meeting {...props} polls={[{ ...poll, my_vote: [2], voters: 1 }]} sending={new Set()} />);
    expect($('#poll-4-counted')!.textContent).toContain('Your vote was counted');
    expect($('#poll-4-counted')!.textContent).toContain('You chose: Salad');
    expect($('#poll-4-option-0')).toBeNull();
    // Results are the hosts' until they share them.
    expect($('#poll-4-voters')).toBeNull();
    expect($('#poll-4')!.textContent).toContain(en['polls.hidden']);
  });

  it('sends several indexes in a multiple-choice poll', async () => {
    const { $ } = renderPolls(bobView(), { polls: [pollView({ id: 5, multiple: true })] });
    expect($('#poll-5-option-0')!.getAttribute('type')).toBe('checkbox');
    fireEvent.click($('#poll-5-option-2')!);
    fireEvent.click($('#poll-5-option-0')!);
    fireEvent.click($('#poll-5-option-1')!);
    fireEvent.click($('#poll-5-option-1')!); // changed their mind
    fireEvent.click($('#poll-5-vote')!);
    await waitFor(() => expect(sent()).toEqual([{ type: 'vote', poll: 5, choices: [0, 2] }]));
  });

  it('offers the choice again when the vote could not be handed to the backend', async () => {
    mocked.meetingAction.mockImplementation(async (a) =>
      a.type === 'vote' ? { status: 'error', error: { kind: 'not_in_meeting', message: 'x' } } : { status: 'ok', data: null },
    );
    const onSending = vi.fn();
    const { $, showError } = renderPolls(bobView(), { polls: [pollView({ id: 6 })], onSending });
    fireEvent.click($('#poll-6-option-1')!);
    fireEvent.click($('#poll-6-vote')!);
    await waitFor(() => expect(onSending).toHaveBeenLastCalledWith(6, false));
    expect(showError).toHaveBeenCalled();
  });

  it('offers no vote in a closed poll', () => {
    const { $ } = renderPolls(bobView(), { polls: [pollView({ id: 7, open: false })] });
    expect($('#poll-7-vote')).toBeNull();
    expect($('#poll-7-state')!.textContent).toBe('Closed');
    expect($('#poll-7')!.textContent).toContain(en['polls.notVoted']);
  });
});

describe('Poll cards', () => {
  it('show counts per option with bars, and how many voted', () => {
    const poll = pollView({ id: 8, counts: [2, 0, 1], voters: 3, shared: true, my_vote: [0] });
    const { $ } = renderPolls(bobView(), { polls: [poll] });
    expect($('#poll-8-count-0')!.textContent).toBe('2');
    expect($('#poll-8-count-1')!.textContent).toBe('0');
    expect($('#poll-8-count-2')!.textContent).toBe('1');
    expect($('#poll-8-voters')!.textContent).toContain('3');
    const bars = Array.from($('#poll-8')!.querySelectorAll<HTMLElement>('.poll-bar-fill')).map((b) => b.style.width);
    expect(bars).toEqual(['67%', '0%', '33%']);
    expect($('#poll-8-shared')!.textContent).toBe('Results shared');
  });

  it('lists newest first and say whether a poll is anonymous', () => {
    const { container } = renderPolls(bobView(), {
      polls: [pollView({ id: 10, anonymous: true }), pollView({ id: 9 })],
    });
    const cards = Array.from(container.querySelectorAll('#polls-panel article.poll')).map((c) => c.id);
    expect(cards).toEqual(['poll-10', 'poll-9']);
    expect(container.querySelector('#poll-10-kind')!.textContent).toContain(en['polls.anonymous']);
    expect(container.querySelector('#poll-9-kind')!.textContent).toContain(en['polls.named']);
    expect(container.querySelector('#poll-9-kind')!.textContent).toContain('Opened by Ann');
  });

  it('give hosts Close and Share (and who chose what in a named poll); participants get neither', async () => {
    const polls = [
      pollView({ id: 2, counts: [1, 1, 0], voters: 2, named: [{ id: 2, choices: [1] }, { id: 7, choices: [0] }] }),
      pollView({ id: 1, open: false, anonymous: true, counts: [0, 0, 0] }),
    ];
    const host = renderPolls(meetingView(), { polls });
    expect(host.$('#poll-2-close')).toBeTruthy();
    expect(host.$('#poll-2-share')).toBeTruthy();
    // Closed: it can still be shared, not closed again.
    expect(host.$('#poll-1-close')).toBeNull();
    expect(host.$('#poll-1-share')).toBeTruthy();
    // Named: by name from the view, else by number.
    const named = host.$('#poll-2-named')!.textContent!;
    expect(named).toContain('Bob: Soup');
    expect(named).toContain('#7: Pizza');
    expect(host.$('#poll-1-named')).toBeNull();
    fireEvent.click(host.$('#poll-2-close')!);
    fireEvent.click(host.$('#poll-1-share')!);
    await waitFor(() =>
      expect(sent()).toEqual([
        { type: 'close_poll', poll: 2 },
        { type: 'share_poll_results', poll: 1 },
      ]),
    );
    cleanup();

    const bob = renderPolls(bobView(), { polls });
    expect(bob.container.querySelector('[id$="-close"], [id$="-share"], #poll-2-named')).toBeNull();
  });

  it('show questions and options as text, never markup', () => {
    const poll = pollView({ id: 3, question: '<b>x</b>', options: ['<img src=x onerror=alert(1)>', '<i>y</i>'], counts: [1, 0], voters: 1 });
    const { $ } = renderPolls(bobView(), { polls: [poll] });
    const card = $('#poll-3')!;
    expect(card.querySelector('b, i, img, script')).toBeNull();
    expect($('#poll-3-question')!.textContent).toBe('<b>x</b>');
    expect(card.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(card.textContent).toContain('<i>y</i>');
  });

  it('speak German', () => {
    setLang('de');
    const { $ } = renderPolls(bobView(), { polls: [pollView({ id: 1, counts: [1, 0, 0], voters: 1 })] });
    expect($('#polls-panel-heading')!.textContent).toBe('Umfragen');
    expect($('#poll-1-vote')!.textContent).toBe('Abstimmen');
    expect($('#poll-1-voters')!.textContent).toBe('Abgestimmt: 1');
  });
});

describe('Poll strings', () => {
  it('exist in German for every poll key', () => {
    const keys = (Object.keys(en) as Array<keyof typeof en>).filter(
      (k) => k.startsWith('polls.') || k.startsWith('notice.poll_') || k === 'control.polls',
    );
    expect(keys.length).toBeGreaterThan(20);
    for (const k of keys) expect(de[k], k).toBeTruthy();
  });

  it('explain the server refusing a poll action, in English and German', () => {
    for (const kind of ['no_such_poll', 'poll_closed', 'already_voted', 'too_many_polls'] as const) {
      setLang('en');
      expect(errorText({ kind, message: 'server text' })).toBe(en[`error.${kind}`]);
      setLang('de');
      expect(errorText({ kind, message: 'server text' })).toBe(de[`error.${kind}`]);
    }
  });
});

describe('App and polls', () => {
  /** The App after a window reload into a running meeting, with the backend's hooks. */
  async function reloadedApp(view: MeetingView, snapshot: PollView[]) {
    const app = await renderApp({ meeting: view, polls: snapshot });
    await waitFor(() => expect(app.container.querySelector('#polls-button')).toBeTruthy());
    return app;
  }

  it('picks polls up after a reload, keeps them from poll changes, and counts a vote', async () => {
    const { container, poll, notice, update } = await reloadedApp(bobView(), [pollView({ id: 1 })]);
    update(bobView());
    await waitFor(() => expect(container.querySelector('#polls-button .badge')?.textContent).toBe('1'));
    poll(pollView({ id: 2, question: 'Coffee?' }));
    notice({ kind: 'poll_opened', poll: 2, by: 1 });
    await waitFor(() => expect(container.textContent).toContain('Ann opened a poll: open Polls to vote'));
    expect(container.querySelector('#polls-button .badge')!.textContent).toBe('2');

    fireEvent.click(container.querySelector('#polls-button')!);
    const cards = Array.from(container.querySelectorAll('#polls-panel article.poll')).map((c) => c.id);
    expect(cards).toEqual(['poll-2', 'poll-1']);

    fireEvent.click(container.querySelector('#poll-2-option-1')!);
    fireEvent.click(container.querySelector('#poll-2-vote')!);
    await waitFor(() => expect(container.querySelector('#poll-2-sending')).toBeTruthy());
    expect(sent()).toEqual([{ type: 'vote', poll: 2, choices: [1] }]);
    expect(container.querySelector('#polls-button .badge')!.textContent).toBe('1');

    poll(pollView({ id: 2, question: 'Coffee?', my_vote: [1], voters: 1 }));
    await waitFor(() => expect(container.querySelector('#poll-2-counted')).toBeTruthy());
    expect(container.querySelector('#poll-2-sending')).toBeNull();
  });

  it('offers the vote again when it was not sent, and says why', async () => {
    const { container, notice } = await reloadedApp(bobView(), [pollView({ id: 3 })]);
    fireEvent.click(container.querySelector('#polls-button')!);
    await waitFor(() => expect(container.querySelector('#poll-3-vote')).toBeTruthy());
    fireEvent.click(container.querySelector('#poll-3-option-0')!);
    fireEvent.click(container.querySelector('#poll-3-vote')!);
    await waitFor(() => expect(container.querySelector('#poll-3-sending')).toBeTruthy());
    notice({ kind: 'poll_not_sent', reason: 'no keys yet' });
    await waitFor(() => expect(container.querySelector('#poll-3-vote')).toBeTruthy());
    expect(container.textContent).toContain('The poll was not sent: no keys yet');
  });

  it('forgets a meeting’s polls when it is over: the next meeting starts without them', async () => {
    const { container, poll, update, linkOpened } = await reloadedApp(bobView(), [pollView({ id: 1 })]);
    poll(pollView({ id: 2 }));
    await waitFor(() => expect(container.querySelector('#polls-button .badge')?.textContent).toBe('2'));
    update({ ...bobView(), phase: 'ended', ended_reason: 'left' });
    await waitFor(() => expect(container.querySelector('#home-button')).toBeTruthy());
    fireEvent.click(container.querySelector('#home-button')!);

    // The next meeting, joined by an invite link.
    const link = 'https://meet.example.org/m/abc#k=secret';
    mocked.checkLink.mockResolvedValue({ status: 'ok', data: { server: 'meet.example.org' } });
    mocked.joinMeeting.mockResolvedValue({ status: 'ok', data: meetingView({ title: 'Next' }) });
    mocked.previewCamera.mockResolvedValue({ status: 'ok', data: null });
    mocked.checkMicrophone.mockResolvedValue({ status: 'ok', data: null });
    mocked.microphoneLevel.mockResolvedValue(0);
    linkOpened(link);
    await waitFor(() => expect(container.querySelector('#name-input')).toBeTruthy());
    fireEvent.input(container.querySelector('#name-input')!, { target: { value: 'Ann' } });
    fireEvent.click(container.querySelector('#enter-button')!);
    await waitFor(() => expect(container.querySelector('#polls-button')).toBeTruthy());
    expect(container.querySelector('#polls-button .badge')).toBeNull();
    fireEvent.click(container.querySelector('#polls-button')!);
    expect(container.querySelector('#polls-panel article.poll')).toBeNull();
    expect(container.querySelector('#polls-panel')!.textContent).toContain(en['polls.empty']);
  });
});
