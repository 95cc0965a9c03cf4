import type { ComponentChildren } from 'preact';
import { t } from '../i18n';
import { Icon } from './icons';

export function Panel({ id, title, onClose, children }: { id: string; title: string; onClose: () => void; children: ComponentChildren }) {
  const heading = `${id}-heading`;
  return (
    <aside id={id} class="panel" aria-labelledby={heading}>
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
