// Command errors → a sentence in the person's language. Known kinds are translated; any other
// kind falls back to the backend's English message.
import type { AppError } from './api';
import { t, hasKey } from './i18n';

export const KNOWN_ERROR_KINDS = [
  'bad_link',
  'bad_name',
  'connect',
  'certificate_mismatch',
  'bad_address',
  'busy',
  'not_in_meeting',
  'server_start',
  'media',
  'e2ee',
  'locked',
  'wrong_passcode',
  'passcode_required',
  'too_many_attempts',
  'banned',
  'full',
  'meeting_ended',
  'no_such_meeting',
  'no_invite',
  'empty_message',
  'identity',
  'no_such_poll',
  'poll_closed',
  'already_voted',
  'too_many_polls',
  'file_too_large',
  'no_such_transfer',
  'too_many_transfers',
  'notes_full',
  'save_file_failed',
] as const;

/** Server refusals of a poll, a vote or a poll's results. */
export const POLL_ERROR_KINDS: readonly string[] = ['no_such_poll', 'poll_closed', 'already_voted', 'too_many_polls'];

/** Also takes kinds this version does not know (`AppError` from elsewhere, older data). */
export function errorText(error: AppError | { kind: string; message: string }): string {
  const key = `error.${error.kind}`;
  // What is wrong with a pasted link, one kind per defect (link_missing_key, …).
  if (error.kind.startsWith('link_')) return hasKey(key) ? t(key) : t('error.bad_link');
  if ((KNOWN_ERROR_KINDS as readonly string[]).includes(error.kind) && hasKey(key)) return t(key);
  return error.message || error.kind;
}

/** Errors after which the pre-join screen shows the passcode field. */
export function needsPasscode(error: AppError | { kind: string; message: string }): boolean {
  return error.kind === 'passcode_required' || error.kind === 'wrong_passcode';
}

const ENDED_REASONS = ['removed', 'denied', 'meeting_ended', 'locked', 'connection_lost', 'left', 'replaced'];

/** Why the meeting ended, for the ended screen. */
export function endedText(reason: string | null, message: string | null): string {
  if (reason && ENDED_REASONS.includes(reason)) {
    const key = `ended.${reason}`;
    if (hasKey(key)) return t(key);
  }
  if (reason && (KNOWN_ERROR_KINDS as readonly string[]).includes(reason)) {
    return errorText({ kind: reason, message: message ?? '' });
  }
  return message || t('ended.unknown');
}
