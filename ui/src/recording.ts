// Local recording, as the window shows it: nobody may be recorded without knowing. While
// anyone records, the meeting screen shows a REC badge naming who; a recording's start plays a
// short tone (and a toast says who). The server announces every recording (participants'
// `recording`); a modified app or a screen recorder could record without telling.
import type { MeetingView } from './api';
import { stripBidi } from './chat';
import { t } from './i18n';

/** Who records the meeting now: ourselves first, then the others in the view's order. */
export function recorders(view: Pick<MeetingView, 'participants' | 'you'>): Array<{ id: number; name: string; you: boolean }> {
  const all = view.participants
    .filter((p) => p.recording)
    .map((p) => ({ id: p.id, name: stripBidi(p.name), you: p.id === view.you }));
  return [...all.filter((r) => r.you), ...all.filter((r) => !r.you)];
}

/** The REC badge's text ("REC — Hana is recording"), or null while nobody records. */
export function recBadgeText(view: Pick<MeetingView, 'participants' | 'you'>): string | null {
  const who = recorders(view);
  if (who.length === 0) return null;
  const label = (r: (typeof who)[number]) => (r.you ? t('rec.you') : r.name);
  if (who.length === 1) return who[0]!.you ? t('rec.badge.you') : t('rec.badge.one', { name: who[0]!.name });
  if (who.length === 2) return t('rec.badge.two', { first: label(who[0]!), second: label(who[1]!) });
  return t('rec.badge.many', { count: who.length });
}

// The tone: two short beeps, quiet — a signal, not an alarm.
const BEEP_HZ = 880;
const BEEP_S = 0.15;
const GAP_S = 0.1;
const GAIN = 0.08;

type AudioContextCtor = new () => AudioContext;

/** Two short beeps (about 0.15 s each at 880 Hz, quietly) as a recording starts. Does nothing
 * where there is no WebAudio (tests, a webview without it) and never throws: the badge and the
 * toast tell anyway. */
export function playRecordingTone(): void {
  const g = globalThis as { AudioContext?: AudioContextCtor; webkitAudioContext?: AudioContextCtor };
  const Ctor = g.AudioContext ?? g.webkitAudioContext;
  if (typeof Ctor !== 'function') return;
  let ctx: AudioContext | null = null;
  try {
    ctx = new Ctor();
    // A context made without a click may start suspended.
    if (ctx.state === 'suspended') void ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    for (const at of [start, start + BEEP_S + GAP_S]) {
      const osc = ctx.createOscillator();
      osc.type = 'sine';
      osc.frequency.value = BEEP_HZ;
      // A short ramp in and out, so the beeps do not click.
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(GAIN, at + 0.01);
      gain.gain.setValueAtTime(GAIN, at + BEEP_S - 0.01);
      gain.gain.linearRampToValueAtTime(0, at + BEEP_S);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(at);
      osc.stop(at + BEEP_S);
    }
    // Let the sound device go once the beeps are over.
    const done = ctx;
    setTimeout(() => void done.close().catch(() => {}), Math.ceil((2 * BEEP_S + GAP_S + 0.3) * 1000));
  } catch {
    try {
      void ctx?.close().catch(() => {});
    } catch {
      /* nothing more to do */
    }
  }
}

/** A path's last segment (its file name), for either kind of separator; trailing separators
 * are ignored. Bidi controls are taken out, so a name cannot turn itself around on screen. */
export function fileName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const name = trimmed.slice(Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\')) + 1);
  return stripBidi(name || path);
}

/** The toast as our recording ends: the files written, by name only (not the folders). */
export function recordingSavedText(files: readonly string[]): string {
  if (files.length === 0) return t('notice.recording_saved.empty');
  return t('notice.recording_saved', { files: files.map(fileName).join(', ') });
}
