import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/preact';
import { ChatText, LinkConfirm } from '../src/components/chattext';
import { CORPUS } from './corpus';

afterEach(cleanup);

const isHttp = (s: string) => /^https?:\/\//i.test(s);

describe('ChatText DOM', () => {
  it('renders only text, <span> and http(s) <a> for the whole corpus', () => {
    for (const [input] of CORPUS) {
      const { container, unmount } = render(<ChatText body={input} onLink={() => {}} />);
      const elements = Array.from(container.querySelectorAll('*'));
      for (const el of elements) {
        expect(['SPAN', 'A']).toContain(el.tagName);
        if (el.tagName === 'A') {
          expect(isHttp(el.getAttribute('href') ?? '')).toBe(true);
          // No attributes beyond the ones we set.
          for (const attr of Array.from(el.attributes)) {
            expect(['href', 'class', 'rel', 'referrerpolicy', 'draggable']).toContain(attr.name);
          }
        } else {
          expect(Array.from(el.attributes).map((a) => a.name)).toEqual(['class']);
        }
      }
      // Whatever the message says, it appears as text.
      expect(container.textContent).toBe(input.replace(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g, ''));
      unmount();
    }
  });

  it('makes no <a> for non-http(s) messages', () => {
    const inert = [
      '\\\\host\\share',
      '//host/share',
      'file:///etc/passwd',
      'smb://host/share',
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      '<img src=x onerror=alert(1)>',
      '<b>bold</b>',
      '[x](javascript:alert(1))',
      'http://user:pass@host/',
      'mailto:a@b.example',
      'data:text/html,hi',
    ];
    for (const input of inert) {
      const { container, unmount } = render(<ChatText body={input} onLink={() => {}} />);
      expect(container.querySelector('a')).toBeNull();
      expect(container.querySelector('img, b, script')).toBeNull();
      unmount();
    }
  });

  it('a click opens the confirm callback and does not navigate', () => {
    const onLink = vi.fn();
    const { container } = render(<ChatText body="see https://example.org/x" onLink={onLink} />);
    const a = container.querySelector('a')!;
    const ev = new MouseEvent('click', { bubbles: true, cancelable: true });
    a.dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(onLink).toHaveBeenCalledWith('https://example.org/x');
  });

  it('the confirm dialog shows the full address and offers only copy', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const href = 'https://example.org/a/very/long/path?with=query#and-fragment';
    const { getByTestId, container } = render(<LinkConfirm href={href} onClose={() => {}} />);
    expect(getByTestId('link-address').textContent).toBe(href);
    expect(container.querySelector('#link-confirm a')).toBeNull();
    fireEvent.click(container.querySelector('#link-copy')!);
    await vi.waitFor(() => expect(writeText).toHaveBeenCalledWith(href));
  });
});
