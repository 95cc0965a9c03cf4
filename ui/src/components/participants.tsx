import { useState } from 'preact/hooks';
import type { Action, MeetingView, Person } from '../api';
import { stripBidi } from '../chat';
import { t } from '../i18n';
import { Icon } from './icons';
import { Panel } from './panel';

type Props = { view: MeetingView; act: (a: Action) => void; onClose: () => void };

export function ParticipantsPanel({ view, act, onClose }: Props) {
  const [confirmRemove, setConfirmRemove] = useState<number | null>(null);
  const moderator = view.role === 'host' || view.role === 'cohost';
  const isHost = view.role === 'host';

  function actions(p: Person) {
    if (!moderator || p.id === view.you || p.role === 'host') return null;
    const name = stripBidi(p.name);
    if (confirmRemove === p.id) {
      return (
        <div class="person-actions confirm" role="group" aria-label={t('people.actionsFor', { name })}>
          <span>{t('people.removeConfirm', { name })}</span>
          <button
            type="button"
            id={`remove-confirm-${p.id}`}
            class="button small danger"
            onClick={() => {
              setConfirmRemove(null);
              act({ type: 'remove', id: p.id });
            }}
          >
            {t('people.removeYes')}
          </button>
          <button type="button" class="button small" onClick={() => setConfirmRemove(null)}>
            {t('people.cancel')}
          </button>
        </div>
      );
    }
    return (
      <div class="person-actions" role="group" aria-label={t('people.actionsFor', { name })}>
        {view.policy?.event_mode && p.role === 'participant' && (
          <button
            type="button"
            id={`stage-${p.id}`}
            class="button small"
            aria-pressed={p.on_stage}
            onClick={() => act({ type: 'set_stage', id: p.id, on: !p.on_stage })}
          >
            {p.on_stage ? t('people.stageOff') : t('people.stageOn')}
          </button>
        )}
        {p.muted && (
          <button type="button" id={`ask-unmute-${p.id}`} class="button small" onClick={() => act({ type: 'ask_unmute', id: p.id })}>
            {t('people.askUnmute')}
          </button>
        )}
        {isHost && p.role === 'participant' && (
          <button type="button" id={`make-cohost-${p.id}`} class="button small" onClick={() => act({ type: 'make_cohost', id: p.id })}>
            {t('people.makeCohost')}
          </button>
        )}
        {isHost && (
          <button type="button" id={`transfer-host-${p.id}`} class="button small" onClick={() => act({ type: 'transfer_host', id: p.id })}>
            {t('people.transferHost')}
          </button>
        )}
        <button type="button" id={`remove-${p.id}`} class="button small danger" onClick={() => setConfirmRemove(p.id)}>
          {t('people.remove')}
        </button>
      </div>
    );
  }

  // How each other person is heard here: volume 0–200 % and mute-for-me (nobody else knows).
  function listening(p: Person) {
    const name = stripBidi(p.name);
    const set = (volume: number, muted: boolean) => act({ type: 'listen', id: p.id, volume, muted_for_me: muted });
    return (
      <div class="person-listening row">
        <input
          type="range"
          id={`volume-${p.id}`}
          min={0}
          max={200}
          step={10}
          value={p.volume}
          aria-label={t('people.volume', { name })}
          title={`${p.volume} %`}
          disabled={p.muted_for_me}
          onChange={(e) => set(Number((e.target as HTMLInputElement).value), p.muted_for_me)}
        />
        <span class="small muted" aria-hidden="true">
          {p.volume} %
        </span>
        <button
          type="button"
          id={`mute-for-me-${p.id}`}
          class={`button small${p.muted_for_me ? ' active' : ''}`}
          aria-pressed={p.muted_for_me}
          onClick={() => set(p.volume, !p.muted_for_me)}
        >
          {p.muted_for_me ? t('people.unmuteForMe') : t('people.muteForMe')}
        </button>
      </div>
    );
  }

  return (
    <Panel id="participants-panel" title={t('people.heading', { count: view.participants.length })} onClose={onClose}>
      {moderator && view.waiting.length > 0 && (
        <section class="waiting-list" aria-labelledby="waiting-heading">
          <div class="row between">
            <h3 id="waiting-heading">{t('people.waiting.heading', { count: view.waiting.length })}</h3>
            <button type="button" id="admit-all" class="button small primary" onClick={() => act({ type: 'admit_all' })}>
              {t('people.admitAll')}
            </button>
          </div>
          <ul class="people">
            {view.waiting.map((w) => (
              <li key={w.id} class="person" data-testid={`waiter-${w.id}`}>
                <span class="person-name">{stripBidi(w.name)}</span>
                <div class="person-actions">
                  <button type="button" id={`admit-${w.id}`} class="button small primary" onClick={() => act({ type: 'admit', id: w.id })}>
                    {t('people.admit')}
                  </button>
                  <button type="button" id={`deny-${w.id}`} class="button small" onClick={() => act({ type: 'deny', id: w.id })}>
                    {t('people.deny')}
                  </button>
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
      <ul class="people">
        {view.participants.map((p) => {
          const name = stripBidi(p.name);
          return (
            <li key={p.id} class="person" data-testid={`person-${p.id}`}>
              <div class="person-line">
                <span class="person-name">{p.id === view.you ? t('meeting.you', { name }) : name}</span>
                <span class="person-role">{t(`people.role.${p.role}`)}</span>
                {p.hand_raised && (
                  <span class="indicator hand" title={t('meeting.hand')}>
                    <Icon name="hand" />
                    <span class="sr-only">{t('meeting.hand')}</span>
                  </span>
                )}
                {p.away && (
                  <span class="indicator away" data-testid={`away-${p.id}`}>
                    {t('people.away')}
                  </span>
                )}
                {p.on_stage && view.policy?.event_mode && (
                  <span class="indicator on-stage" data-testid={`on-stage-${p.id}`}>
                    {t('people.onStage')}
                  </span>
                )}
                {p.muted && (
                  <span class="indicator muted-mic" title={t('meeting.muted')}>
                    <Icon name="micOff" />
                    <span class="sr-only">{t('meeting.muted')}</span>
                  </span>
                )}
              </div>
              {p.id !== view.you && listening(p)}
              {actions(p)}
            </li>
          );
        })}
      </ul>
    </Panel>
  );
}
