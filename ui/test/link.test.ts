import { describe, expect, it } from 'vitest';
import { cleanPastedLink } from '../src/link';

const L = 'https://meet.example.org/m/Abc-123_xyz#k=Q2F0';

describe('cleanPastedLink', () => {
  it.each([
    [L, L],
    [`  ${L}  `, L],
    [`\n${L}\r\n`, L],
    [`"${L}"`, L],
    [`'${L}'`, L],
    [`<${L}>`, L],
    [`${L}.`, L],
    [`<${L}>.`, L],
    [`"<${L}>".`, L],
    [`\u201c${L}\u201d`, L],
    [`\u201e${L}\u201c`, L],
    [`(${L})`, L],
    [`https://meet.example.org/m/\nAbc-123_xyz#k=Q2F0`, L],
    [`\t ${L}\u200b`, L],
    ['', ''],
    ['   ', ''],
  ])('%j → %j', (input, expected) => {
    expect(cleanPastedLink(input)).toBe(expected);
  });

  it('leaves inner text alone', () => {
    expect(cleanPastedLink('not a link at all')).toBe('not a link at all');
  });

  it('handles a huge paste quickly', () => {
    const big = ' '.repeat(100000) + L + '.'.repeat(100000);
    expect(cleanPastedLink(big)).toBe(L);
  });
});
