import { useEffect, useRef } from 'preact/hooks';
import type { MeetingView } from '../api';
import { endedText } from '../errors';
import { t } from '../i18n';

export function Ended({ view, onHome }: { view: MeetingView; onHome: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), []);
  return (
    <main class="screen center" id="ended-screen">
      <div class="card stack center-text">
        <h1>{t('ended.heading')}</h1>
        <p class="lead" data-testid="ended-reason" data-reason={view.ended_reason ?? ''}>
          {endedText(view.ended_reason, view.ended_message)}
        </p>
        <button ref={button} id="home-button" type="button" class="button primary big" onClick={onHome}>
          {t('ended.home')}
        </button>
      </div>
    </main>
  );
}
