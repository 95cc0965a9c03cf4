// Local recording with consent: nobody is recorded without knowing. The REC badge on the
// meeting screen (who records, names as text, never dismissible, outside the panels), the
// waiting room's warning, the participants' REC marker, the host's switch, the privacy line,
// the toasts and the tone as recordings start and stop.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/preact';
import type { MeetingView, PolicyView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import * as api from '../src/api';
import type { SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { Waiting } from '../src/screens/waiting';
import { ParticipantsPanel } from '../src/components/participants';
import { PrivacyPanel } from '../src/components/privacy';
import { SecurityMenu } from '../src/components/security';
import { setLang } from '../src/i18n';
import { en } from '../src/i18n/en';
import { de } from '../src/i18n/de';
import { fileName, playRecordingTone, recBadgeText, recordingSavedText } from '../src/recording';
import { hostView, person, policy as basePolicy, renderApp, renderMeeting as renderScreen, sent, setUpEach } from './harness';

/** The switches in these tests: private chat on, files off. */
function policy(over: Partial<PolicyView> = {}): PolicyView {
  return basePolicy({ private_chat: true, file_transfer: false, ...over });
}

/** Ann's view (the host, number 1), with Hana (2), Bob (3) and Cem (4); `recording`: who records. */
function view(recording: number[] = [], over: Partial<MeetingView> = {}): MeetingView {
  return hostView({
    title: 'Board',
    policy: policy({ recording: recording.length > 0 }),
    participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Hana'), person(3, 'Bob'), person(4, 'Cem')].map((p) => ({
      ...p,
      recording: recording.includes(p.id),
    })),
    ...over,
  });
}

const session: SessionInfo = { server: 'meet.example.org', hostedHere: false, camera: false, name: 'Ann' };

const renderMeeting = (v: MeetingView) => renderScreen(v, session);

/** A stand-in for WebAudio that records what the tone asks of it. */
function fakeAudio() {
  const oscillators: Array<{ frequency: number; start: number; stop: number; type: string }> = [];
  const gains: number[] = [];
  let closed = 0;
  class FakeContext {
    state = 'running';
    currentTime = 0;
    destination = {};
    createOscillator() {
      const o = { type: '', frequency: { value: 0 }, start: 0, stop: 0 };
      return {
        set type(t: string) {
          o.type = t;
        },
        frequency: o.frequency,
        connect: () => {},
        start: (at: number) => {
          o.start = at;
        },
        stop: (at: number) => {
          o.stop = at;
          oscillators.push({ frequency: o.frequency.value, start: o.start, stop: at, type: o.type });
        },
      };
    }
    createGain() {
      return {
        gain: {
          setValueAtTime: (v: number) => void gains.push(v),
          linearRampToValueAtTime: (v: number) => void gains.push(v),
        },
        connect: () => {},
      };
    }
    resume() {
      return Promise.resolve();
    }
    close() {
      closed++;
      return Promise.resolve();
    }
  }
  return { FakeContext, oscillators, gains, closed: () => closed };
}

// Registered before the shared set-up: after-hooks run last-registered first, so this runs after the clean-up.
afterEach(() => {
  vi.unstubAllGlobals();
  setLang('en');
});
setUpEach({ focused: true });

describe('the REC badge', () => {
  it('is not there while nobody records', () => {
    const { container } = renderMeeting(view());
    expect(container.querySelector('#rec-badge')).toBeNull();
    expect(container.textContent).not.toContain('REC');
  });

  it('names the one who records, as text, at the top of the meeting screen', () => {
    const v = view([2]);
    v.participants[1] = { ...v.participants[1]!, name: 'Ha\u202ena' };
    const { container } = renderMeeting(v);
    const badge = container.querySelector('#rec-badge')!;
    expect(badge).toBeTruthy();
    expect(badge.getAttribute('role')).toBe('status');
    expect(badge.textContent).toBe('REC — Hana is recording');
    expect(badge.querySelector('.rec-dot')).toBeTruthy();
    // In the header, not in a panel or over the controls; nothing closes it.
    expect(badge.closest('header.meeting-header')).toBeTruthy();
    expect(badge.closest('.panel')).toBeNull();
    expect(badge.querySelector('button')).toBeNull();
    expect(container.querySelector('#meeting-screen')!.firstElementChild!.contains(badge)).toBe(true);
  });

  it('names two, and counts more', () => {
    const two = renderMeeting(view([2, 3]));
    expect(two.container.querySelector('#rec-badge')!.textContent).toBe('REC — Hana and Bob are recording');
    cleanup();
    const three = renderMeeting(view([2, 3, 4]));
    expect(three.container.querySelector('#rec-badge')!.textContent).toBe('REC — 3 people are recording');
  });

  it('tells you when it is you who records', () => {
    const alone = renderMeeting(view([1]));
    expect(alone.container.querySelector('#rec-badge')!.textContent).toBe('REC — you are recording');
    cleanup();
    const withHana = renderMeeting(view([2, 1]));
    expect(withHana.container.querySelector('#rec-badge')!.textContent).toBe('REC — you and Hana are recording');
  });

  it('stays while anyone records and goes when the last one stops', () => {
    const { container, rerender } = renderMeeting(view([2, 3]));
    // Opening a panel does not hide it.
    fireEvent.click(container.querySelector('#participants-button')!);
    expect(container.querySelector('#participants-panel')).toBeTruthy();
    expect(container.querySelector('#rec-badge')).toBeTruthy();
    rerender(<Meeting view={view([3])} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('#rec-badge')!.textContent).toBe('REC — Bob is recording');
    rerender(<Meeting view={view()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('#rec-badge')).toBeNull();
  });

  it('speaks German', () => {
    setLang('de');
    expect(recBadgeText(view([2]))).toBe('REC – Hana nimmt auf');
    expect(recBadgeText(view([1]))).toBe('REC – Sie nehmen auf');
    expect(recBadgeText(view([1, 3]))).toBe('REC – Sie und Bob nehmen auf');
    expect(recBadgeText(view([2, 3, 4]))).toBe('REC – 3 Personen nehmen auf');
  });
});

describe('the Record button', () => {
  /** The switch on, and `recording`: who records. */
  const allowed = (recording: number[] = []) => view(recording, { policy: policy({ recording: true }) });

  it('is not there while the host does not allow recording', () => {
    const off = renderMeeting(view());
    expect(off.$('#record-button')).toBeNull();
    cleanup();
    // Nor before the switches are known.
    const unknown = renderMeeting(view([], { policy: null }));
    expect(unknown.$('#record-button')).toBeNull();
  });

  it('appears with the switch on, and asks to start', async () => {
    const { $ } = renderMeeting(allowed());
    const button = $('#record-button')!;
    expect(button).toBeTruthy();
    expect(button.closest('nav.control-bar')).toBeTruthy();
    expect(button.getAttribute('aria-pressed')).toBe('false');
    expect(button.getAttribute('aria-label')).toBe('Record');
    expect(button.textContent).toBe('Record');
    expect(button.querySelector('svg.icon')).toBeTruthy();
    fireEvent.click(button);
    await waitFor(() => expect(sent()).toEqual([{ type: 'record', on: true }]));
    // Not pressed ahead of the server: only our Person's `recording` says we record.
    expect($('#record-button')!.getAttribute('aria-pressed')).toBe('false');
  });

  it('is not pressed while only someone else records', () => {
    const { $ } = renderMeeting(allowed([2]));
    expect($('#record-button')!.getAttribute('aria-pressed')).toBe('false');
  });

  it('is pressed while we record, and asks to stop', async () => {
    const { $ } = renderMeeting(allowed([1]));
    const button = $('#record-button')!;
    expect(button.getAttribute('aria-pressed')).toBe('true');
    expect(button.getAttribute('aria-label')).toBe('Stop recording');
    fireEvent.click(button);
    await waitFor(() => expect(sent()).toEqual([{ type: 'record', on: false }]));
  });

  it('follows the server: pressed once our recording is announced, gone when the switch goes off', () => {
    const props = { session, chat: [], onLeave: () => {}, toast: () => {}, showError: () => {} };
    const { $, rerender } = renderMeeting(allowed());
    expect($('#record-button')!.getAttribute('aria-pressed')).toBe('false');
    rerender(<Meeting view={allowed([1])} {...props} />);
    expect($('#record-button')!.getAttribute('aria-pressed')).toBe('true');
    rerender(<Meeting view={view()} {...props} />);
    expect($('#record-button')).toBeNull();
  });

  it('speaks German', () => {
    setLang('de');
    const start = renderMeeting(allowed());
    expect(start.$('#record-button')!.getAttribute('aria-label')).toBe(de['control.record.start']);
    cleanup();
    const stop = renderMeeting(allowed([1]));
    expect(stop.$('#record-button')!.getAttribute('aria-label')).toBe(de['control.record.stop']);
  });
});

describe('the waiting room', () => {
  it('says the meeting is being recorded before one is admitted', () => {
    const waiting = view([], { phase: 'waiting', you: null, role: null, policy: null, participants: [], recorded_while_waiting: true });
    const { container, rerender } = render(<Waiting view={waiting} onLeave={() => {}} />);
    const line = container.querySelector('#waiting-recorded')!;
    expect(line).toBeTruthy();
    expect(line.getAttribute('role')).toBe('status');
    expect(line.textContent).toBe(en['waiting.recorded']);
    expect(line.textContent).toBe('Someone in this meeting is recording it. If you are admitted, you may be recorded.');
    rerender(<Waiting view={{ ...waiting, recorded_while_waiting: false }} onLeave={() => {}} />);
    expect(container.querySelector('#waiting-recorded')).toBeNull();
  });
});

describe('the participants panel', () => {
  it('marks everyone who records with REC, and nobody else', () => {
    const { container } = render(<ParticipantsPanel view={view([2, 4])} act={() => {}} onClose={() => {}} />);
    const marker = container.querySelector('#rec-2')!;
    expect(marker).toBeTruthy();
    expect(marker.closest('[data-testid="person-2"]')).toBeTruthy();
    expect(marker.textContent).toContain('REC');
    expect(container.querySelector('#rec-4')).toBeTruthy();
    expect(container.querySelector('#rec-1')).toBeNull();
    expect(container.querySelector('#rec-3')).toBeNull();
  });
});

describe('the host switch', () => {
  it('is off by default, explained, and sends set_policy with recording on', async () => {
    const act = vi.fn().mockResolvedValue(true);
    const { container, rerender } = render(<SecurityMenu view={view()} act={act} onClose={() => {}} />);
    const sw = container.querySelector('#policy-recording')!;
    expect(sw).toBeTruthy();
    expect(sw.getAttribute('role')).toBe('switch');
    expect(sw.getAttribute('aria-checked')).toBe('false');
    expect(sw.textContent).toContain('Recording on participants’ computers');
    const help = container.querySelector(`#${sw.getAttribute('aria-describedby')}`)!;
    expect(help.textContent).toBe('Off by default. Everyone is told who records, and a REC badge stays on screen.');
    fireEvent.click(sw);
    await waitFor(() => expect(act).toHaveBeenCalled());
    // As every switch sends its change: only this one set, the others left as they are.
    expect(act.mock.calls[0]![0]).toEqual({ type: 'set_policy', change: api.policyChange({ recording: true }) });
    expect(act.mock.calls[0]![0]).toMatchObject({ type: 'set_policy', change: { recording: true, chat: null, save_chat: null } });
    // Not flipped ahead of the server.
    expect(container.querySelector('#policy-recording')!.getAttribute('aria-checked')).toBe('false');
    rerender(<SecurityMenu view={view([], { policy: policy({ recording: true }) })} act={act} onClose={() => {}} />);
    expect(container.querySelector('#policy-recording')!.getAttribute('aria-checked')).toBe('true');
  });
});

describe('the privacy panel', () => {
  it('says where recording happens and what it cannot stop', () => {
    const { getByTestId } = render(
      <PrivacyPanel server="meet.example.org" hostedHere={false} networkAddress={null} security={null} refused={null} onClose={() => {}} />,
    );
    const line = getByTestId('privacy-recording');
    expect(line.textContent).toBe(en['privacy.recording']);
    expect(line.textContent).toContain('A modified app or a screen recorder could record without telling');
  });
});

describe('the tone', () => {
  it('does nothing, and does not throw, without WebAudio', () => {
    expect((globalThis as { AudioContext?: unknown }).AudioContext).toBeUndefined();
    expect(() => playRecordingTone()).not.toThrow();
  });

  it('does not throw when WebAudio fails', () => {
    vi.stubGlobal(
      'AudioContext',
      class {
        constructor() {
          throw new Error('no sound device');
        }
      },
    );
    expect(() => playRecordingTone()).not.toThrow();
  });

  it('beeps twice, briefly, at 880 Hz, quietly', () => {
    vi.useFakeTimers();
    try {
      const audio = fakeAudio();
      vi.stubGlobal('AudioContext', audio.FakeContext);
      playRecordingTone();
      expect(audio.oscillators).toHaveLength(2);
      for (const o of audio.oscillators) {
        expect(o.frequency).toBe(880);
        expect(o.stop - o.start).toBeCloseTo(0.15, 5);
      }
      // The second starts after the first ends.
      expect(audio.oscillators[1]!.start).toBeGreaterThan(audio.oscillators[0]!.stop);
      expect(Math.max(...audio.gains)).toBeLessThanOrEqual(0.1);
      // The sound device is let go afterwards.
      vi.runAllTimers();
      expect(audio.closed()).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the notices', () => {
  const toasts = (container: Element) => [...container.querySelectorAll('[data-testid="toast"]')].map((x) => x.textContent ?? '');

  it('a recording starts: a toast naming who, and the tone', async () => {
    const audio = fakeAudio();
    vi.stubGlobal('AudioContext', audio.FakeContext);
    const { container, update, notice } = await renderApp();
    const v = view([2]);
    v.participants[1] = { ...v.participants[1]!, name: 'Ha\u2067na' };
    update(v);
    notice({ kind: 'recording_started', by: 2 });
    await waitFor(() => expect(toasts(container).some((x) => x.includes('Hana started recording this meeting'))).toBe(true));
    expect(audio.oscillators).toHaveLength(2);
  });

  it('a recording stops: a toast naming who, and no tone', async () => {
    const audio = fakeAudio();
    vi.stubGlobal('AudioContext', audio.FakeContext);
    const { container, update, notice } = await renderApp();
    update(view());
    notice({ kind: 'recording_stopped', by: 3 });
    await waitFor(() => expect(toasts(container).some((x) => x.includes('Bob stopped recording'))).toBe(true));
    expect(audio.oscillators).toHaveLength(0);
  });

  it('without WebAudio the toast still comes; someone unknown is "Someone"', async () => {
    const { container, update, notice } = await renderApp();
    update(view([2]));
    notice({ kind: 'recording_started', by: 99 });
    await waitFor(() => expect(toasts(container).some((x) => x.includes('Someone started recording this meeting'))).toBe(true));
  });

  it('in German', async () => {
    setLang('de');
    const { container, update, notice } = await renderApp();
    update(view([2]));
    notice({ kind: 'recording_started', by: 2 });
    notice({ kind: 'recording_stopped', by: 2 });
    await waitFor(() => expect(toasts(container)).toHaveLength(2));
    expect(toasts(container)[0]).toContain(de['notice.recording_started'].replace('{name}', 'Hana'));
    expect(toasts(container)[1]).toContain(de['notice.recording_stopped'].replace('{name}', 'Hana'));
  });

  it('our recording is saved: a toast naming the files, not their folders', async () => {
    const { container, update, notice } = await renderApp();
    update(view([1]));
    notice({
      kind: 'recording_saved',
      files: ['/home/ann/Downloads/Parley recordings/Board 2024-05-01 10-00 Hana.webm', 'C:\\Users\\Ann\\Downloads\\Parley recordings\\Board audio.ogg'],
    });
    await waitFor(() => expect(toasts(container).some((x) => x.includes('Recording saved:'))).toBe(true));
    const text = toasts(container).find((x) => x.includes('Recording saved:'))!;
    expect(text).toContain('Recording saved: Board 2024-05-01 10-00 Hana.webm, Board audio.ogg');
    expect(text).not.toContain('Downloads');
    expect(text).not.toContain('/');
    expect(text).not.toContain('\\');
  });

  it('our recording ends with nothing received: says so', async () => {
    const { container, update, notice } = await renderApp();
    update(view([1]));
    notice({ kind: 'recording_saved', files: [] });
    await waitFor(() =>
      expect(toasts(container).some((x) => x.includes('The recording ended; nothing was received to record.'))).toBe(true),
    );
  });

  it('our recording fails: a toast saying why', async () => {
    const { container, update, notice } = await renderApp();
    update(view([1]));
    notice({ kind: 'recording_failed', message: 'the disk is full' });
    await waitFor(() => expect(toasts(container).some((x) => x.includes('Recording failed: the disk is full'))).toBe(true));
  });

  it('saved and failed in German', async () => {
    setLang('de');
    const { container, update, notice } = await renderApp();
    update(view([1]));
    notice({ kind: 'recording_saved', files: ['/x/Parley recordings/a.webm'] });
    notice({ kind: 'recording_failed', message: 'kein Platz' });
    await waitFor(() => expect(toasts(container)).toHaveLength(2));
    expect(toasts(container)[0]).toContain(de['notice.recording_saved'].replace('{files}', 'a.webm'));
    expect(toasts(container)[1]).toContain(de['notice.recording_failed'].replace('{message}', 'kein Platz'));
  });
});

describe('file names in the saved toast', () => {
  it('takes the last segment of either kind of path', () => {
    expect(fileName('/a/b/c.webm')).toBe('c.webm');
    expect(fileName('C:\\a\\b\\c.webm')).toBe('c.webm');
    expect(fileName('c.webm')).toBe('c.webm');
    expect(fileName('/a/b/')).toBe('b');
    expect(fileName('/a/b\u202e.webm')).toBe('b.webm');
  });

  it('lists them, or says nothing was recorded', () => {
    expect(recordingSavedText(['/a/one.webm', '/a/two.ogg'])).toBe('Recording saved: one.webm, two.ogg');
    expect(recordingSavedText([])).toBe('The recording ended; nothing was received to record.');
  });
});
