import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import type { ShareSourceView } from '../api';
import { errorText } from '../errors';
import { t } from '../i18n';
import { stripBidi } from '../chat';
import { Modal } from './modal';

type Props = { onPick: (id: string) => void; onClose: () => void };

/**
 * What to share: the whole screen or one window. Window titles are other programs' text:
 * shown as text, without direction overrides, never interpreted.
 */
export function SharePicker({ onPick, onClose }: Props) {
  const [sources, setSources] = useState<ShareSourceView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void api.shareSources().then((r) => {
      if (!live) return;
      if (r.status === 'ok') setSources(r.data);
      else setError(errorText(r.error));
    });
    return () => {
      live = false;
    };
  }, []);
  return (
    <Modal id="share-picker" labelledBy="share-picker-heading" onClose={onClose}>
      <h2 id="share-picker-heading">{t('share.heading')}</h2>
      <p class="small muted">{t('share.explain')}</p>
      {error && (
        <p class="error" role="alert" data-testid="share-error">
          {error}
        </p>
      )}
      {sources === null && !error && <p class="small">{t('share.loading')}</p>}
      {sources && (
        <ul class="share-sources" aria-labelledby="share-picker-heading">
          {sources.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                class="button share-source"
                data-testid={s.screen ? 'share-screen' : `share-window-${s.id.slice('window:'.length)}`}
                onClick={() => onPick(s.id)}
              >
                <span class="share-title">{s.screen ? t('share.screen') : stripBidi(s.title)}</span>
                <span class="small muted">{t('share.size', { width: String(s.width), height: String(s.height) })}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="row end">
        <button type="button" id="share-cancel" class="button" onClick={onClose}>
          {t('share.cancel')}
        </button>
      </div>
    </Modal>
  );
}
