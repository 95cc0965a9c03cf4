import type { MeetingView } from '../api';
import { stripBidi } from '../chat';
import { t } from '../i18n';

export function Waiting({ view, onLeave }: { view: MeetingView; onLeave: () => void }) {
  return (
    <main class="screen dark center" id="waiting-screen">
      <div class="stack center-text card-dark">
        <p class="meeting-title" data-testid="waiting-title">
          {stripBidi(view.title)}
        </p>
        <h1 role="status">{t('waiting.heading')}</h1>
        {view.reconnecting && (
          <p class="pill warning" data-testid="reconnecting" role="status">
            {t('meeting.reconnecting')}
          </p>
        )}
        {!view.host_present && <p class="muted">{t('waiting.noHost')}</p>}
        {view.recorded_while_waiting && (
          <p class="rec-notice" id="waiting-recorded" role="status">
            <span class="rec-dot" aria-hidden="true" />
            <span>{t('waiting.recorded')}</span>
          </p>
        )}
        <button id="waiting-leave" type="button" class="button danger big" onClick={onLeave}>
          {t('waiting.leave')}
        </button>
      </div>
    </main>
  );
}
