// The "someone is waiting" toast admits the person it announced, by participant number: never
// whoever else waits under the same name (issue 17, item 1).
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, waitFor } from '@testing-library/preact';
import type { Notice, Waiter } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import { hostView, mocked, renderApp, setUpEach } from './harness';

/** The host's view of the clinic with these people waiting. */
const clinicView = (waiting: Waiter[]) => hostView({ title: 'Clinic', waiting });

/** A knock, as the backend announces it: by number only (the name is in the view sent before). */
function waitingNotice(id: number): Notice {
  return { kind: 'someone_waiting', who: id };
}

/** The Admit button of the n-th toast on screen (oldest first). */
function admitButton(container: Element, n: number): HTMLButtonElement {
  const toast = container.querySelectorAll('[data-testid="toast"]')[n];
  const button = [...(toast?.querySelectorAll('button') ?? [])].find((b) => b.textContent === 'Admit');
  if (!button) throw new Error(`toast ${n} has no Admit button`);
  return button;
}

setUpEach({ focused: true });

describe('the waiting toast', () => {
  it('a burst of knocks: a toast for each of the first three, then one that counts the rest; the desktop is told of each', async () => {
    vi.spyOn(document, 'hasFocus').mockReturnValue(false);
    const { container, update, notice } = await renderApp();
    const waiting: Waiter[] = [];
    for (let i = 1; i <= 12; i++) {
      waiting.push({ id: i, name: `Pupil ${i}`, browser: false });
      update(clinicView([...waiting]));
      notice(waitingNotice(i));
    }
    await waitFor(() => expect(container.textContent).toContain('9 more are waiting: see Participants'));
    const toasts = [...container.querySelectorAll('[data-testid="toast"]')].map((x) => x.textContent ?? '');
    expect(toasts.filter((x) => x.includes('is waiting'))).toHaveLength(3);
    expect(toasts.filter((x) => x.includes('more are waiting'))).toHaveLength(1);
    // One notification per knock, each replacing the last (the desktop shows one).
    expect(mocked.notify).toHaveBeenCalledTimes(12);
    expect(mocked.notify).toHaveBeenLastCalledWith(expect.any(String), expect.stringContaining('Pupil 12'));
    // The first ones can still be admitted from their own toast.
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 1 }));
  });

  it('admits the waiter it announced, not a later one with the same name', async () => {
    const { container, update, notice } = await renderApp();
    update(clinicView([{ id: 7, name: 'Eve', browser: false }]));
    notice(waitingNotice(7));
    update(clinicView([{ id: 7, name: 'Eve', browser: false }, { id: 8, name: 'Eve', browser: false }]));
    notice(waitingNotice(8));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(2));
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledTimes(1));
    expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 7 });
  });

  it('goes when the announced waiter no longer waits, so it never admits someone else under that name', async () => {
    const { container, update, notice } = await renderApp();
    update(clinicView([{ id: 7, name: 'Eve', browser: false }]));
    notice(waitingNotice(7));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(1));
    // The real Eve leaves (or is admitted from the participants panel): her toast goes.
    update(clinicView([]));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(0));
    // Someone else arrives as "Eve": their own toast admits them.
    update(clinicView([{ id: 8, name: 'Eve', browser: false }]));
    notice(waitingNotice(8));
    await waitFor(() => expect(container.querySelectorAll('[data-testid="toast"]')).toHaveLength(1));
    fireEvent.click(admitButton(container, 0));
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 8 }));
    expect(mocked.meetingAction).toHaveBeenCalledTimes(1);
  });
});
