import { useEffect, useRef, useState } from 'preact/hooks';
import type { Person } from '../api';
import { stripBidi } from '../chat';
import { t } from '../i18n';
import { PAUSED_AFTER_MS, videoRouter } from '../video';
import { Icon } from './icons';

type Props = {
  person: Person;
  self: boolean;
  pinned: boolean;
  large?: boolean;
  /** The breakout room they are in (from 1): away from here, not reconnecting. */
  inRoom?: number | null;
  /** The meeting server sheds video (`server_load`): a tile whose pictures stopped says so. */
  shedding?: boolean;
  onPin: (id: number | null) => void;
};

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => Array.from(p)[0]!.toUpperCase()).join('') || '?';
}

export function Tile({ person, self, pinned, large, inRoom, shedding, onPin }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [paused, setPaused] = useState(false);
  const name = stripBidi(person.name);
  const label = self ? t('meeting.you', { name }) : person.speaking ? t('meeting.speaking', { name }) : name;

  useEffect(() => {
    const c = canvas.current;
    if (!c || self) return;
    videoRouter.attach(person.id, c);
    return () => videoRouter.detach(person.id, c);
  }, [person.id, self]);

  // While the server sheds video, a picture that stopped is marked paused (it comes back by
  // itself when the server has room): otherwise it would look like a frozen call.
  useEffect(() => {
    if (!shedding || self) {
      setPaused(false);
      return;
    }
    const check = () => {
      const last = videoRouter.lastPictureAt(person.id);
      setPaused(last === undefined || Date.now() - last > PAUSED_AFTER_MS);
    };
    check();
    const timer = setInterval(check, 500);
    return () => clearInterval(timer);
  }, [shedding, self, person.id]);

  return (
    <figure
      id={`tile-${person.id}`}
      class={`tile ${large ? 'large' : ''} ${pinned ? 'pinned' : ''} ${person.hand_raised ? 'hand-up' : ''} ${person.speaking ? 'speaking' : ''}`}
      aria-label={label}
    >
      <div class="tile-placeholder" aria-hidden="true">
        <span class="avatar">{initials(name)}</span>
        {self && <span class="small">{t('meeting.selfView')}</span>}
      </div>
      {!self && !inRoom && <canvas ref={canvas} class="tile-video" width={16} height={9} aria-hidden="true" />}
      {!self && inRoom && (
        <p class="tile-problem" data-testid={`tile-room-${person.id}`} role="status">
          {t('tile.inBreakout', { room: inRoom })}
        </p>
      )}
      {!self && person.away && !inRoom && (
        <p class="tile-problem" data-testid={`tile-away-${person.id}`} role="status">
          {t('tile.away')}
        </p>
      )}
      {!self && !inRoom && !person.away && paused && (
        <p class="tile-problem" data-testid={`tile-paused-${person.id}`} role="status">
          {t('tile.paused')}
        </p>
      )}
      {!self && !person.away && person.decrypt_problem && (
        <p class="tile-problem" data-testid={`tile-problem-${person.id}`} role="status">
          {person.decrypt_problem.includes('waiting for keys') ? t('tile.waitingKeys') : t('tile.cantDecrypt')}
        </p>
      )}
      <figcaption class="tile-caption">
        {person.muted && (
          <span class="indicator muted-mic" title={t('meeting.muted')}>
            <Icon name="micOff" />
            <span class="sr-only">{t('meeting.muted')}</span>
          </span>
        )}
        {!self && person.muted_for_me && (
          <span class="indicator muted-for-me" data-testid={`muted-for-me-${person.id}`} title={t('people.mutedForMe')}>
            <Icon name="volumeOff" />
            <span class="sr-only">{t('people.mutedForMe')}</span>
          </span>
        )}
        {person.sharing && (
          <span class="indicator sharing" data-testid={`sharing-${person.id}`} title={t('meeting.sharing')}>
            <Icon name="screen" />
            <span class="sr-only">{t('meeting.sharing')}</span>
          </span>
        )}
        {person.hand_raised && (
          <span class="indicator hand" title={t('meeting.hand')}>
            <Icon name="hand" />
            <span class="sr-only">{t('meeting.hand')}</span>
          </span>
        )}
        <span class="tile-name">{label}</span>
      </figcaption>
      <button
        type="button"
        class={`icon-button tile-pin ${pinned ? 'active' : ''}`}
        aria-pressed={pinned}
        aria-label={pinned ? t('meeting.unpin', { name }) : t('meeting.pin', { name })}
        title={pinned ? t('meeting.unpin', { name }) : t('meeting.pin', { name })}
        onClick={() => onPin(pinned ? null : person.id)}
      >
        <Icon name="pin" />
      </button>
    </figure>
  );
}
