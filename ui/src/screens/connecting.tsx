import { t } from '../i18n';

export function Connecting({ onLeave }: { onLeave: () => void }) {
  return (
    <main class="screen dark center" id="connecting-screen">
      <div class="stack center-text">
        <p class="spinner" aria-hidden="true" />
        <h1 role="status">{t('connecting.heading')}</h1>
        <button type="button" class="button" onClick={onLeave}>
          {t('waiting.leave')}
        </button>
      </div>
    </main>
  );
}
