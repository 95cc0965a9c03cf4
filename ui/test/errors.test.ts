import { beforeEach, describe, expect, it } from 'vitest';
import { endedText, errorText, KNOWN_ERROR_KINDS, needsPasscode } from '../src/errors';
import { setLang } from '../src/i18n';
import { en } from '../src/i18n/en';
import { de } from '../src/i18n/de';

describe('error kinds', () => {
  beforeEach(() => setLang('en'));

  it('translates every known kind', () => {
    for (const kind of KNOWN_ERROR_KINDS) {
      expect(errorText({ kind, message: 'english from rust' })).toBe(en[`error.${kind}`]);
    }
    setLang('de');
    for (const kind of KNOWN_ERROR_KINDS) {
      expect(errorText({ kind, message: 'english from rust' })).toBe(de[`error.${kind}`]);
    }
  });

  it('falls back to the English message for unknown kinds', () => {
    expect(errorText({ kind: 'something_new', message: 'Something new went wrong.' })).toBe('Something new went wrong.');
    setLang('de');
    expect(errorText({ kind: 'internal', message: 'Internal error.' })).toBe('Internal error.');
  });

  it('does not treat key-like kinds as translations', () => {
    expect(errorText({ kind: 'heading', message: 'msg' })).toBe('msg');
    expect(errorText({ kind: '__proto__', message: 'msg' })).toBe('msg');
  });

  it('asks for a passcode on passcode_required and wrong_passcode only', () => {
    expect(needsPasscode({ kind: 'passcode_required', message: '' })).toBe(true);
    expect(needsPasscode({ kind: 'wrong_passcode', message: '' })).toBe(true);
    expect(needsPasscode({ kind: 'locked', message: '' })).toBe(false);
  });

  it('explains why a meeting ended', () => {
    expect(endedText('removed', 'x')).toBe(en['ended.removed']);
    expect(endedText('connection_lost', null)).toBe(en['ended.connection_lost']);
    expect(endedText('full', 'Full.')).toBe(en['error.full']);
    expect(endedText('weird', 'The server says bye.')).toBe('The server says bye.');
    expect(endedText(null, null)).toBe(en['ended.unknown']);
  });
});

describe('link errors', () => {
  it('explains each link defect, and falls back for an unknown one', () => {
    setLang('en');
    expect(errorText({ kind: 'link_missing_key', message: 'x' })).toContain('#k=');
    expect(errorText({ kind: 'link_something_new', message: 'x' })).toBe(
      errorText({ kind: 'bad_link', message: 'y' }),
    );
    setLang('de');
    expect(errorText({ kind: 'link_missing_key', message: 'x' })).toContain('Schlüssel');
  });
});
