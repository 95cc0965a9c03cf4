import { describe, expect, it } from 'vitest';
import { en } from '../src/i18n/en';
import { de } from '../src/i18n/de';
import { format, systemLang } from '../src/i18n';
import { KNOWN_ERROR_KINDS } from '../src/errors';

const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();

describe('i18n', () => {
  it('has the same keys in English and German', () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
  });

  it('has no empty strings', () => {
    for (const [k, v] of [...Object.entries(en), ...Object.entries(de)]) {
      expect(v.trim(), k).not.toBe('');
    }
  });

  it('uses identical placeholders in both languages', () => {
    for (const k of Object.keys(en) as Array<keyof typeof en>) {
      expect(placeholders(de[k]), k).toEqual(placeholders(en[k]));
    }
  });

  it('has a translation for every known error kind', () => {
    for (const kind of KNOWN_ERROR_KINDS) {
      expect(en).toHaveProperty(`error.${kind}`);
      expect(de).toHaveProperty(`error.${kind}`);
    }
  });

  it('German uses the Sie form, not du', () => {
    for (const [k, v] of Object.entries(de)) {
      expect(v, k).not.toMatch(/\b(du|dich|dir|dein|deine|deinen)\b/i);
    }
  });

  it('fills placeholders', () => {
    expect(format('{name} is waiting', { name: 'Eve' })).toBe('Eve is waiting');
    expect(format('{a}{b}{a}', { a: 1, b: 'x' })).toBe('1x1');
    expect(format('{missing}', {})).toBe('{missing}');
  });

  it('follows the OS language', () => {
    expect(systemLang('de-DE')).toBe('de');
    expect(systemLang('de')).toBe('de');
    expect(systemLang('en-US')).toBe('en');
    expect(systemLang('fr-FR')).toBe('en');
    expect(systemLang(undefined)).toBe('en');
  });
});
