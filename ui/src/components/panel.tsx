import type { ComponentChildren } from 'preact';
import { t } from '../i18n';
import { Icon } from './icons';

type Props = {
  id: string;
  title: string;
  onClose: () => void;
  /** Wider than the others (the whiteboard needs the room). */
  wide?: boolean;
  children: ComponentChildren;
};

export function Panel({ id, title, onClose, wide, children }: Props) {
  const heading = `${id}-heading`;
  return (
    <aside id={id} class={wide ? 'panel wide' : 'panel'} aria-labelledby={heading}>
      <header class="panel-header">
        <h2 id={heading}>{title}</h2>
        <button type="button" class="icon-button" aria-label={t('control.close')} title={t('control.close')} onClick={onClose}>
          <Icon name="close" />
        </button>
      </header>
      <div class="panel-body">{children}</div>
    </aside>
  );
}
