// Meeting keyboard shortcuts (ignored while typing in a field).

export type Shortcut = 'mic' | 'camera' | 'hand' | 'share' | 'leave';

export const SHORTCUT_KEYS: Record<Shortcut, string> = {
  mic: 'Ctrl+D',
  camera: 'Ctrl+E',
  hand: 'Ctrl+Shift+H',
  share: 'Ctrl+Shift+S',
  leave: 'Ctrl+Shift+L',
};

type KeyLike = { key: string; ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean };

export function isTypingTarget(target: EventTarget | null): boolean {
  if (!target || !(target instanceof Element)) return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = (el as HTMLInputElement).type;
    return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color'].includes(type);
  }
  return false;
}

export function shortcutFor(e: KeyLike, typing: boolean): Shortcut | null {
  if (typing || !e.ctrlKey || e.altKey || e.metaKey) return null;
  const key = e.key.toLowerCase();
  if (!e.shiftKey) {
    if (key === 'd') return 'mic';
    if (key === 'e') return 'camera';
    return null;
  }
  if (key === 'h') return 'hand';
  if (key === 's') return 'share';
  if (key === 'l') return 'leave';
  return null;
}
