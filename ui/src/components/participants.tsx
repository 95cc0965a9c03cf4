import { useRef, useState } from 'preact/hooks';
import type { Action, MeetingView, Person } from '../api';
import { breakoutRoomOf } from '../breakouts';
import { stripBidi } from '../chat';
import { t } from '../i18n';
import { Icon } from './icons';
import { Panel } from './panel';

type Props = { view: MeetingView; act: (a: Action) => void; onClose: () => void };

// From this many participants on, the list can be searched.
const SEARCH_FROM = 8;
// Beyond this many, the list is compact and only the lines in view are drawn.
export const LARGE = 50;
// A compact line's height, px.
const ROW = 40;
// The list's height when the page cannot say (and its most), px.
const VIEWPORT = 480;
// Lines drawn beyond each end of what is in view.
const OVERSCAN = 5;

export function ParticipantsPanel({ view, act, onClose }: Props) {
  const [confirmRemove, setConfirmRemove] = useState<number | null>(null);
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
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
        {/* Outside an event the stage makes a presenter: heard even when not among the loudest. */}
        {!view.policy?.event_mode && (
          <button
            type="button"
            id={`presenter-${p.id}`}
            class="button small"
            aria-pressed={p.on_stage}
            onClick={() => act({ type: 'set_stage', id: p.id, on: !p.on_stage })}
          >
            {p.on_stage ? t('people.presenterOff') : t('people.presenterOn')}
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

  // What the list shows: everyone, or those whose name has what was typed in it.
  const needle = query.trim().toLocaleLowerCase();
  const matches = needle
    ? view.participants.filter((p) => stripBidi(p.name).toLocaleLowerCase().includes(needle))
    : view.participants;
  // Raised hands, in the order they went up: whom to call on next.
  const hands = view.participants
    .filter((p) => p.hand_raised)
    .sort((a, b) => (a.hand_order ?? 0) - (b.hand_order ?? 0));
  // A large meeting's list is compact (one line each) and only the lines in view are drawn;
  // the chosen person's controls show above it.
  const large = view.participants.length > LARGE;
  const chosen = large ? view.participants.find((p) => p.id === selected) ?? null : null;
  const count = Math.ceil((scroller.current?.clientHeight || VIEWPORT) / ROW) + 2 * OVERSCAN;
  // A shorter list (a search) may end above where it was scrolled to.
  const first = Math.min(Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN), Math.max(0, matches.length - count));
  const shown = large ? matches.slice(first, first + count).map((p, k) => ({ p, i: first + k })) : [];

  function label(p: Person) {
    const name = stripBidi(p.name);
    return p.id === view.you ? t('meeting.you', { name }) : name;
  }

  // `chosen`: the line above a large meeting's list, shown besides the list's own line for them.
  function line(p: Person, chosen = false) {
    return (
      <div class="person-line">
        <span class="person-name">{label(p)}</span>
        <span class="person-role">{t(`people.role.${p.role}`)}</span>
        {p.recording && (
          <span class="indicator rec" id={chosen ? `chosen-rec-${p.id}` : `rec-${p.id}`} title={t('rec.marker.label')}>
            <span class="rec-dot" aria-hidden="true" />
            <span aria-hidden="true">{t('rec.marker')}</span>
            <span class="sr-only">{t('rec.marker.label')}</span>
          </span>
        )}
        {p.hand_raised && (
          <span class="indicator hand" title={t('meeting.hand')}>
            <Icon name="hand" />
            <span class="sr-only">{t('meeting.hand')}</span>
          </span>
        )}
        {p.away && (
          <span class="indicator away" data-testid={`away-${p.id}`}>
            {breakoutRoomOf(view, p.id) !== null
              ? t('people.inBreakout', { room: breakoutRoomOf(view, p.id)! })
              : t('people.away')}
          </span>
        )}
        {p.browser && (
          <span class="indicator browser" data-testid={`browser-${p.id}`}>
            {t('people.browser')}
          </span>
        )}
        {p.on_stage && view.policy?.event_mode && (
          <span class="indicator on-stage" data-testid={`on-stage-${p.id}`}>
            {t('people.onStage')}
          </span>
        )}
        {p.on_stage && !view.policy?.event_mode && (
          <span class="indicator on-stage" data-testid={`presenter-mark-${p.id}`} title={t('people.presenterHelp')}>
            {t('people.presenter')}
          </span>
        )}
        {p.muted && (
          <span class="indicator muted-mic" title={t('meeting.muted')}>
            <Icon name="micOff" />
            <span class="sr-only">{t('meeting.muted')}</span>
          </span>
        )}
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
                {w.browser && (
                  <span class="indicator browser" data-testid={`waiting-browser-${w.id}`}>
                    {t('people.browser')}
                  </span>
                )}
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
      {view.participants.length > SEARCH_FROM && (
        <input
          type="search"
          id="people-search"
          class="people-search"
          placeholder={t('people.search')}
          aria-label={t('people.search')}
          value={query}
          onInput={(e) => {
            setQuery((e.target as HTMLInputElement).value);
            // A new search starts at the top of what it finds.
            if (scroller.current) scroller.current.scrollTop = 0;
            setScrollTop(0);
          }}
        />
      )}
      {hands.length > 0 && (
        <section class="hands-list" aria-labelledby="hands-heading">
          <h3 id="hands-heading">{t('people.hands.heading', { count: hands.length })}</h3>
          <ol class="people hands" data-testid="hands">
            {hands.map((p) => (
              <li key={p.id} class="person-line" data-testid={`hand-${p.id}`}>
                <span class="person-name">{label(p)}</span>
                {moderator && view.policy?.event_mode && p.role === 'participant' && !p.on_stage && (
                  <button
                    type="button"
                    id={`hand-stage-${p.id}`}
                    class="button small primary"
                    onClick={() => act({ type: 'set_stage', id: p.id, on: true })}
                  >
                    {t('people.stageOn')}
                  </button>
                )}
              </li>
            ))}
          </ol>
        </section>
      )}
      {matches.length === 0 && <p class="small muted">{t('people.noMatch')}</p>}
      {large ? (
        <>
          {chosen && (
            <section class="person chosen" data-testid={`person-${chosen.id}`} aria-label={label(chosen)}>
              {line(chosen, true)}
              {chosen.id !== view.you && listening(chosen)}
              {actions(chosen)}
            </section>
          )}
          <div
            class="people-scroll"
            ref={scroller}
            style={{ height: `${Math.min(matches.length * ROW, VIEWPORT)}px` }}
            onScroll={(e) => setScrollTop((e.target as HTMLElement).scrollTop)}
          >
            <ul class="people compact" style={{ height: `${matches.length * ROW}px` }} data-testid="people-window">
              {shown.map(({ p, i }) => (
                <li key={p.id} class="person-row" style={{ top: `${i * ROW}px`, height: `${ROW}px` }} data-testid={`row-${p.id}`}>
                  <button
                    type="button"
                    id={`choose-${p.id}`}
                    class={`person-choose${chosen?.id === p.id ? ' active' : ''}`}
                    aria-pressed={chosen?.id === p.id}
                    aria-label={t('people.choose', { name: label(p) })}
                    onClick={() => setSelected(chosen?.id === p.id ? null : p.id)}
                  >
                    {line(p)}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        </>
      ) : (
        <ul class="people">
          {matches.map((p) => (
            <li key={p.id} class="person" data-testid={`person-${p.id}`}>
              {line(p)}
              {p.id !== view.you && listening(p)}
              {actions(p)}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
