// Cleaning what pasting adds around a meeting link. The link itself is checked by the backend
// (check_link); this only removes wrapping that mail clients and chat apps add.

const WRAPPERS: Array<[string, string]> = [
  ['<', '>'],
  ['"', '"'],
  ["'", "'"],
  ['\u201c', '\u201d'], // “ ”
  ['\u201e', '\u201c'], // „ “ (German)
  ['\u2018', '\u2019'], // ‘ ’
  ['\u00ab', '\u00bb'], // « »
  ['\u00bb', '\u00ab'], // » «
  ['`', '`'],
  ['(', ')'],
  ['[', ']'],
];

/** Remove surrounding whitespace, line breaks, quotes, <angle brackets> and a trailing period. */
export function cleanPastedLink(text: string): string {
  // Line breaks inside a link (wrapped mail text) are never part of it.
  let s = text.replace(/[\r\n\t\u200b\ufeff]+/g, '').trim();
  for (let round = 0; round < 4; round++) {
    const before = s;
    s = s.replace(/[.,;:!?]+$/, '').trim();
    for (const [open, close] of WRAPPERS) {
      if (s.length >= 2 && s.startsWith(open) && s.endsWith(close)) {
        s = s.slice(open.length, s.length - close.length).trim();
      }
    }
    if (s === before) break;
  }
  return s;
}
