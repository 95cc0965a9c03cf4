// Turning a chat message into inert pieces. SECURITY CRITICAL: chat text comes from other
// people. The UI renders these segments as DOM text nodes and <a> elements only (never
// innerHTML); only http(s) links with a host and no credentials become links, and a click on
// one never navigates the webview (see components/chattext.tsx).

export type Segment = { kind: 'text'; text: string } | { kind: 'link'; href: string; text: string };

/** Longest message rendered, in UTF-16 code units (64 KiB of characters). */
export const MAX_CHARS = 65536;
export const ELLIPSIS = '\u2026';

// Bidirectional controls that can visually reorder text (LRE RLE PDF LRO RLO, LRI RLI FSI
// PDI, LRM RLM, ALM).
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** Remove bidi controls so nobody can make text display in a different order than it is. */
export function stripBidi(text: string): string {
  return text.replace(BIDI, '');
}

/** Cut to at most MAX_CHARS (including the ellipsis), never splitting a surrogate pair. */
export function capLength(text: string, max = MAX_CHARS): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + ELLIPSIS;
}

// A candidate: scheme, "//", then characters that can appear in a URL. One character class
// repeated: linear time, no backtracking. Whitespace, controls, quotes, angle brackets,
// backslashes and invisible characters end a URL.
const CANDIDATE = /https?:\/\/[^\s\u0000-\u001f\u007f-\u009f<>"'`\\\u200b-\u200d\u2060\ufeff]*/gi;

const TRAILING = '.,;:!?\'"*_~';
const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** Drop trailing punctuation that belongs to the sentence, not the URL. A closing bracket
 * stays when it balances an opening one inside the URL (…/wiki/Foo_(bar)). Linear time. */
function trimTrailing(url: string): string {
  const open: Record<string, number> = { '(': 0, '[': 0, '{': 0 };
  const close: Record<string, number> = { ')': 0, ']': 0, '}': 0 };
  for (let i = 0; i < url.length; i++) {
    const ch = url[i]!;
    if (ch in open) open[ch]!++;
    else if (ch in close) close[ch]!++;
  }
  let end = url.length;
  while (end > 0) {
    const ch = url[end - 1]!;
    if (TRAILING.includes(ch)) {
      end--;
      continue;
    }
    const opener = CLOSERS[ch];
    if (opener && close[ch]! > open[opener]!) {
      close[ch]!--;
      end--;
      continue;
    }
    break;
  }
  return url.slice(0, end);
}

/** The normalised address if `candidate` is an acceptable link, else null. */
export function acceptLink(candidate: string): string | null {
  const m = /^(https?):\/\/([^/?#]*)/i.exec(candidate);
  if (!m) return null;
  const authority = m[2]!;
  // A host must be present, and no "user:pass@" (it disguises where a link goes).
  if (authority === '' || authority.includes('@')) return null;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '') return null;
  if (url.hostname === '') return null;
  return url.href;
}

function pushText(out: Segment[], text: string): void {
  if (text === '') return;
  const last = out[out.length - 1];
  if (last && last.kind === 'text') last.text += text;
  else out.push({ kind: 'text', text });
}

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95
  );
}

/** Split a chat message into text and link segments (see the module comment). */
export function renderChat(body: string): Segment[] {
  const text = capLength(stripBidi(body));
  const out: Segment[] = [];
  let pos = 0;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    const start = m.index;
    // "xhttp://…" is not a link start; nor is one glued to a word.
    if (start > 0 && isWordChar(text.charCodeAt(start - 1))) continue;
    const raw = trimTrailing(m[0]);
    const href = acceptLink(raw);
    if (href === null) continue;
    pushText(out, text.slice(pos, start));
    out.push({ kind: 'link', href, text: raw });
    pos = start + raw.length;
    CANDIDATE.lastIndex = pos;
  }
  pushText(out, text.slice(pos));
  return out;
}

/** One line of a saved chat: who, to whom (private), when, what. */
export type TranscriptLine = { at: number; from: string; to: string | null; body: string };

/**
 * The chat as a plain text file: a heading, then one line per message, `[HH:MM] Name: text`
 * (private ones marked), every name and body without bidi controls so the file reads in the
 * order it is written.
 */
export function chatTranscript(title: string, savedAt: Date, lines: TranscriptLine[], heading: string, privateTo: (name: string) => string): string {
  const hhmm = (t: number) => {
    const d = new Date(t);
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  };
  const out = [`${stripBidi(heading)} — ${stripBidi(title)} — ${savedAt.toLocaleString()}`, ''];
  for (const l of lines) {
    const to = l.to === null ? '' : ` (${privateTo(stripBidi(l.to))})`;
    // A line break in a message stays inside it: continued lines are indented.
    const body = stripBidi(l.body).replace(/\r\n?|\n/g, '\n    ');
    out.push(`[${hhmm(l.at)}] ${stripBidi(l.from)}${to}: ${body}`);
  }
  return out.join('\n') + '\n';
}

/** A file-name stamp for `d`: `YYYY-MM-DD-HHMM` in local time. */
export function fileStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}
