import { describe, expect, it } from 'vitest';
import { renderChat, stripBidi, capLength, MAX_CHARS, ELLIPSIS, type Segment } from '../src/chat';

import { CORPUS } from './corpus';

const text = (t: string): Segment => ({ kind: 'text', text: t });

describe('renderChat corpus', () => {
  it.each(CORPUS)('%j', (input, expected) => {
    expect(renderChat(input)).toEqual(expected);
  });

  it('only ever links http and https', () => {
    for (const [input] of CORPUS) {
      for (const s of renderChat(input)) {
        if (s.kind === 'link') expect(s.href).toMatch(/^https?:\/\/[^/@\s]+/);
      }
    }
  });

  it('never loses or adds text (except bidi controls)', () => {
    for (const [input] of CORPUS) {
      expect(renderChat(input).map((s) => s.text).join('')).toBe(stripBidi(input));
    }
  });
});

describe('bidi and length', () => {
  it('strips every bidi control', () => {
    const all = '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C';
    expect(stripBidi(`a${all}b`)).toBe('ab');
  });

  it('keeps a 64 KiB line whole', () => {
    const line = 'a'.repeat(MAX_CHARS);
    expect(renderChat(line)).toEqual([text(line)]);
  });

  it('caps longer messages with an ellipsis', () => {
    const out = renderChat('b'.repeat(MAX_CHARS + 5000));
    expect(out).toHaveLength(1);
    const only = out[0]!;
    expect(only.text.length).toBe(MAX_CHARS);
    expect(only.text.endsWith(ELLIPSIS)).toBe(true);
  });

  it('never splits a surrogate pair when capping', () => {
    const s = capLength('x' + '\u{1F600}'.repeat(10), 6);
    expect(s).toBe('x\u{1F600}\u{1F600}' + ELLIPSIS);
  });

  it.each([
    ['plain', 'a'.repeat(MAX_CHARS)],
    ['one long url', 'https://a.example/' + 'a'.repeat(MAX_CHARS - 20)],
    ['closing brackets', 'https://a.example/' + ')'.repeat(MAX_CHARS - 20)],
    ['trailing dots', 'https://a.example/' + '.'.repeat(MAX_CHARS - 20)],
    ['many schemes', 'https://'.repeat(MAX_CHARS / 8)],
    ['many short links', 'http://a.b '.repeat(MAX_CHARS / 11)],
    ['credentials spam', 'http://u:p@'.repeat(MAX_CHARS / 11)],
    ['word-glued', 'xhttp://a'.repeat(MAX_CHARS / 9)],
  ])('renders a 64 KiB hostile line (%s) quickly', (_name, line) => {
    const start = performance.now();
    const out = renderChat(line);
    const ms = performance.now() - start;
    expect(out.map((s) => s.text).join('')).toBe(line.slice(0, MAX_CHARS));
    expect(ms).toBeLessThan(1000);
  });
});
