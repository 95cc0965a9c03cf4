// Hostile and ordinary chat messages with the exact segments they must render as.
import type { Segment } from '../src/chat';

const text = (t: string): Segment => ({ kind: 'text', text: t });
const link = (href: string, t = href): Segment => ({ kind: 'link', href, text: t });

export const CORPUS: Array<[string, Segment[]]> = [
  ['\\\\host\\share', [text('\\\\host\\share')]],
  ['\\\\10.0.0.1\\c$\\secret.docx', [text('\\\\10.0.0.1\\c$\\secret.docx')]],
  ['//host/share', [text('//host/share')]],
  ['file:///etc/passwd', [text('file:///etc/passwd')]],
  ['FILE://C:/Windows/win.ini', [text('FILE://C:/Windows/win.ini')]],
  ['smb://host/share', [text('smb://host/share')]],
  ['ftp://host/file', [text('ftp://host/file')]],
  ['javascript:alert(1)', [text('javascript:alert(1)')]],
  ['JaVaScRiPt:alert(document.cookie)', [text('JaVaScRiPt:alert(document.cookie)')]],
  [' javascript://%0aalert(1)', [text(' javascript://%0aalert(1)')]],
  ['vbscript:msgbox(1)', [text('vbscript:msgbox(1)')]],
  ['data:text/html,<script>alert(1)</script>', [text('data:text/html,<script>alert(1)</script>')]],
  ['mailto:boss@example.org', [text('mailto:boss@example.org')]],
  ['<img src=x onerror=alert(1)>', [text('<img src=x onerror=alert(1)>')]],
  ['<b>bold</b>', [text('<b>bold</b>')]],
  // The markup stays text; only the genuine https address inside it becomes a link.
  [
    '<a href="https://evil.example">x</a>',
    [text('<a href="'), link('https://evil.example/', 'https://evil.example'), text('">x</a>')],
  ],
  ['[x](javascript:alert(1))', [text('[x](javascript:alert(1))')]],
  ['[x](https://a.example)', [text('[x]('), link('https://a.example/', 'https://a.example'), text(')')]],
  ['abc\u202Efdp.exe', [text('abcfdp.exe')]],
  ['\u2066\u2067\u2068x\u2069\u200E\u200F\u061C\u202A\u202B\u202C\u202D', [text('x')]],
  ['http://user:pass@host/', [text('http://user:pass@host/')]],
  ['https://good.example@evil.example/', [text('https://good.example@evil.example/')]],
  ['http://@host/', [text('http://@host/')]],
  ['https://', [text('https://')]],
  ['https:///etc/passwd', [text('https:///etc/passwd')]],
  ['xhttps://a.example', [text('xhttps://a.example')]],
  ['http://host:99999/', [text('http://host:99999/')]],
  [
    'See https://example.org/docs?a=1&b=2, then reply.',
    [text('See '), link('https://example.org/docs?a=1&b=2'), text(', then reply.')],
  ],
  ['Go to http://example.org!', [text('Go to '), link('http://example.org/', 'http://example.org'), text('!')]],
  [
    '(https://en.wikipedia.org/wiki/Foo_(bar))',
    [text('('), link('https://en.wikipedia.org/wiki/Foo_(bar)'), text(')')],
  ],
  ['HTTPS://EXAMPLE.ORG/Path', [link('https://example.org/Path', 'HTTPS://EXAMPLE.ORG/Path')]],
  ['https://exa\u202Emple.org', [link('https://example.org/', 'https://example.org')]],
  ['http://evil.example\\@good.example', [link('http://evil.example/', 'http://evil.example'), text('\\@good.example')]],
  ['https://a.example/<script>', [link('https://a.example/'), text('<script>')]],
  [
    'two: https://a.example and https://b.example/x.',
    [text('two: '), link('https://a.example/', 'https://a.example'), text(' and '), link('https://b.example/x'), text('.')],
  ],
  ['https://bücher.example/', [link('https://xn--bcher-kva.example/', 'https://bücher.example/')]],
  ['"https://q.example/"', [text('"'), link('https://q.example/'), text('"')]],
  ['', []],
];

