import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** An in-app dialog: focus moves in, Escape closes, Tab stays inside, focus returns after. */
export function Modal({ id, labelledBy, onClose, children }: { id: string; labelledBy: string; onClose: () => void; children: ComponentChildren }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    box.current?.querySelector<HTMLElement>('button')?.focus();
    return () => before?.focus?.();
  }, []);

  function onKeyDown(e: KeyboardEvent) {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
      return;
    }
    if (e.key !== 'Tab' || !box.current) return;
    const items = Array.from(box.current.querySelectorAll<HTMLElement>('button, [href], input, select, textarea')).filter(
      (el) => !(el as HTMLButtonElement).disabled,
    );
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div id={id} class="modal" role="dialog" aria-modal="true" aria-labelledby={labelledBy} ref={box} onKeyDown={onKeyDown}>
        {children}
      </div>
    </div>
  );
}
