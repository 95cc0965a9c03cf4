// Breakout rooms. Hosts and co-hosts open them from the main meeting (everyone dealt at random,
// or each person placed by hand), then follow them there: who is in which room, the time
// left, a message to all rooms, a visit, closing them. Everyone in a room sees the banner
// that says which room and how long, with the way back. Each room is its own meeting on the
// server (its own participants, encryption and media); the backend moves us between them.
// Names are other people's text: shown as text only, with bidi controls removed.
import { useState } from 'preact/hooks';
import type { Action, BreakoutsView, MeetingView } from '../api';
import {
  anyoneAssigned,
  clock,
  dealAtRandom,
  DEFAULT_ROOMS,
  MAX_BROADCAST_BYTES,
  MAX_MINUTES,
  MAX_ROOMS,
  parseMinutes,
  parseRooms,
  planByHand,
  roomOf,
  useCountdown,
  utf8Bytes,
  type BreakoutProblem,
} from '../breakouts';
import { stripBidi } from '../chat';
import { t } from '../i18n';
import { Panel } from './panel';

type Act = (a: Action) => Promise<boolean>;

type Props = { view: MeetingView; act: Act; onClose: () => void };

/** The breakout rooms panel (hosts and co-hosts, in the main meeting): the form that opens
 * rooms, or the rooms while they are open. */
export function BreakoutsPanel({ view, act, onClose }: Props) {
  return (
    <Panel id="breakouts-panel" title={t('breakouts.heading')} onClose={onClose}>
      {view.breakouts ? <OpenRooms view={view} breakouts={view.breakouts} act={act} /> : <NewRooms view={view} act={act} />}
    </Panel>
  );
}

// ---------------------------------------------------------------------------------------------
// Opening rooms

type Mode = 'random' | 'hand';

/** Who can be sent to a room: everyone in the main meeting but ourselves (those `away` are in
 * a room already, or otherwise not here to be moved). */
function movable(view: MeetingView) {
  return view.participants.filter((p) => p.id !== view.you && !p.away);
}

function NewRooms({ view, act }: { view: MeetingView; act: Act }) {
  const [roomsText, setRoomsText] = useState(String(DEFAULT_ROOMS));
  const [mode, setMode] = useState<Mode>('random');
  // Room chosen by hand for each participant (0 or none: the main meeting).
  const [choices, setChoices] = useState<ReadonlyMap<number, number>>(new Map());
  const [minutesText, setMinutesText] = useState('');
  const [problem, setProblem] = useState<BreakoutProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const people = movable(view);
  // The selects offer the rooms typed; while the field holds no valid number, one room.
  const rooms = parseRooms(roomsText) ?? 1;

  function choose(id: number, room: number) {
    setProblem(null);
    setChoices((c) => new Map(c).set(id, room));
  }

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    const count = parseRooms(roomsText);
    if (count === null) return setProblem('rooms');
    const minutes = parseMinutes(minutesText);
    if (minutes === undefined) return setProblem('minutes');
    const ids = people.map((p) => p.id);
    // Dealt at the click: the people there now, not those there when the panel opened.
    const plan = mode === 'random' ? dealAtRandom(ids, count) : planByHand(ids, choices, count);
    if (!anyoneAssigned(plan)) return setProblem('nobody');
    setBusy(true);
    await act({ type: 'breakout_open', rooms: plan, minutes });
    // Once the server has opened them, the view lists them and this form goes away.
    setBusy(false);
  }

  const edited = (set: (v: string) => void) => (e: Event) => {
    setProblem(null);
    set((e.target as HTMLInputElement).value);
  };

  return (
    <section class="breakouts-new" aria-labelledby="breakouts-new-heading">
      <h3 id="breakouts-new-heading">{t('breakouts.new.heading')}</h3>
      <form id="breakouts-form" class="stack" onSubmit={(e) => void submit(e)} noValidate>
        <label for="breakouts-rooms">{t('breakouts.rooms')}</label>
        <input
          id="breakouts-rooms"
          class="input small"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_ROOMS}
          value={roomsText}
          aria-invalid={problem === 'rooms'}
          aria-describedby={problem === 'rooms' ? 'breakouts-form-error' : undefined}
          onInput={edited(setRoomsText)}
        />
        <fieldset class="breakouts-mode">
          <legend>{t('breakouts.assign')}</legend>
          <ModeChoice mode="random" current={mode} onMode={setMode} />
          <ModeChoice mode="hand" current={mode} onMode={setMode} />
        </fieldset>
        {people.length === 0 ? (
          <p class="small muted" id="breakouts-nobody-here">
            {t('breakouts.nobodyHere')}
          </p>
        ) : mode === 'random' ? (
          <p class="small muted" id="breakouts-random-summary">
            {t('breakouts.random.summary', { count: people.length })}
          </p>
        ) : (
          <ul class="breakouts-assign" aria-label={t('breakouts.assign.hand')}>
            {people.map((p) => (
              <li key={p.id} class="row between">
                <label for={`breakouts-assign-${p.id}`} class="grow breakouts-person">
                  {stripBidi(p.name)}
                </label>
                <RoomSelect id={`breakouts-assign-${p.id}`} rooms={rooms} value={roomOf(choices, p.id, rooms)} onChange={(room) => choose(p.id, room)} />
              </li>
            ))}
          </ul>
        )}
        <label for="breakouts-minutes">{t('breakouts.minutes')}</label>
        <input
          id="breakouts-minutes"
          class="input small"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_MINUTES}
          value={minutesText}
          aria-invalid={problem === 'minutes'}
          aria-describedby={problem === 'minutes' ? 'breakouts-form-error' : undefined}
          onInput={edited(setMinutesText)}
        />
        {problem && (
          <p id="breakouts-form-error" class="status status-error" role="alert">
            {t(`breakouts.problem.${problem}`)}
          </p>
        )}
        <button type="submit" id="breakouts-open" class="button primary" disabled={busy}>
          {t('breakouts.open')}
        </button>
      </form>
    </section>
  );
}

function ModeChoice({ mode, current, onMode }: { mode: Mode; current: Mode; onMode: (m: Mode) => void }) {
  return (
    <label class="checkbox-row">
      <input type="radio" name="breakouts-mode" id={`breakouts-mode-${mode}`} checked={current === mode} onChange={() => onMode(mode)} />
      {mode === 'random' ? t('breakouts.assign.random') : t('breakouts.assign.hand')}
    </label>
  );
}

/** The main meeting (0) or one of `rooms` rooms. */
function RoomSelect({ id, rooms, value, onChange }: { id: string; rooms: number; value: number; onChange: (room: number) => void }) {
  return (
    <select id={id} class="input small" value={String(value)} onChange={(e) => onChange(Number((e.target as HTMLSelectElement).value))}>
      <option value="0">{t('breakouts.main')}</option>
      {Array.from({ length: rooms }, (_, i) => (
        <option key={i + 1} value={String(i + 1)}>
          {t('breakouts.room', { room: i + 1 })}
        </option>
      ))}
    </select>
  );
}

// ---------------------------------------------------------------------------------------------
// Open rooms

function OpenRooms({ view, breakouts, act }: { view: MeetingView; breakouts: BreakoutsView; act: Act }) {
  const left = useCountdown(breakouts.ends_in_secs);
  const closing = useCountdown(breakouts.closing_in_secs);
  const [closeBusy, setCloseBusy] = useState(false);
  // Those in the rooms stay in the main meeting's list, marked away, under the same numbers.
  const nameOf = (id: number): string => {
    const p = view.participants.find((x) => x.id === id);
    return p ? stripBidi(p.name) : t('breakouts.unknown', { id });
  };

  async function closeAll() {
    setCloseBusy(true);
    await act({ type: 'breakout_close' });
    setCloseBusy(false);
  }

  return (
    <section class="stack breakouts-open" aria-labelledby="breakouts-open-heading">
      <h3 id="breakouts-open-heading">{t('breakouts.open.heading')}</h3>
      {closing !== null ? (
        <p id="breakouts-closing" class="breakouts-closing">
          {t('breakouts.closing', { secs: closing })}
        </p>
      ) : (
        <p id="breakouts-time" class="breakouts-time">
          {left !== null ? t('breakouts.timeLeft', { time: clock(left) }) : t('breakouts.untilClosed')}
        </p>
      )}
      <ol class="breakout-rooms">
        {breakouts.rooms.map((members, i) => (
          <Room key={i} room={i + 1} names={members.map(nameOf)} closing={closing !== null} act={act} />
        ))}
      </ol>
      <Broadcast act={act} />
      <button type="button" id="breakouts-close" class="button danger" disabled={closeBusy || closing !== null} onClick={() => void closeAll()}>
        {t('breakouts.close')}
      </button>
    </section>
  );
}

function Room({ room, names, closing, act }: { room: number; names: string[]; closing: boolean; act: Act }) {
  const base = `breakouts-room-${room}`;
  const [busy, setBusy] = useState(false);

  async function visit() {
    setBusy(true);
    await act({ type: 'breakout_visit', room });
    // On the way there the panel closes (it belongs to the main meeting).
    setBusy(false);
  }

  return (
    <li id={base} class="breakout-room" aria-labelledby={`${base}-name`}>
      <div class="row between">
        <h4 id={`${base}-name`}>{t('breakouts.room', { room })}</h4>
        <button
          type="button"
          id={`breakouts-visit-${room}`}
          class="button small"
          aria-label={t('breakouts.visitRoom', { room })}
          disabled={busy || closing}
          onClick={() => void visit()}
        >
          {t('breakouts.visit')}
        </button>
      </div>
      {names.length > 0 ? (
        <ul class="breakout-members" id={`${base}-members`}>
          {names.map((name, i) => (
            <li key={i}>{name}</li>
          ))}
        </ul>
      ) : (
        <p class="small muted" id={`${base}-members`}>
          {t('breakouts.empty')}
        </p>
      )}
    </li>
  );
}

/** A message to every room (and the main meeting), as text. */
function Broadcast({ act }: { act: Act }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const bytes = utf8Bytes(text);
  const tooLong = bytes > MAX_BROADCAST_BYTES;

  async function send(e: Event) {
    e.preventDefault();
    if (busy || tooLong || text.trim() === '') return;
    setBusy(true);
    const ok = await act({ type: 'breakout_broadcast', text });
    setBusy(false);
    if (!ok) return;
    setText('');
    setSent(true);
  }

  return (
    <form id="breakouts-broadcast-form" class="stack" onSubmit={(e) => void send(e)}>
      <label for="breakouts-broadcast">{t('breakouts.broadcast')}</label>
      <textarea
        id="breakouts-broadcast"
        class="input"
        rows={3}
        value={text}
        aria-invalid={tooLong}
        aria-describedby={tooLong ? 'breakouts-broadcast-error' : undefined}
        onInput={(e) => {
          setSent(false);
          setText((e.target as HTMLTextAreaElement).value);
        }}
      />
      {tooLong && (
        <p id="breakouts-broadcast-error" class="status status-error" role="alert">
          {t('breakouts.broadcast.tooLong', { bytes })}
        </p>
      )}
      <span class="small muted" role="status">
        {sent ? t('breakouts.broadcast.sent') : ''}
      </span>
      <button type="submit" id="breakouts-broadcast-send" class="button" disabled={busy || tooLong || text.trim() === ''}>
        {t('breakouts.broadcast.send')}
      </button>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// In a room

type BannerProps = {
  /** The room we are in (from 1). */
  room: number;
  /** Seconds until the rooms close, as told when we were moved. */
  endsInSecs: number | null;
  /** Seconds until everyone is back, once the rooms close. */
  closingInSecs: number | null;
  act: Act;
};

/** Which breakout room this is, how long it stays open, and the way back. The countdown is
 * not a live region: read out each second, it would drown everything else (the toasts say
 * when the rooms begin to close). */
export function BreakoutBanner({ room, endsInSecs, closingInSecs, act }: BannerProps) {
  const left = useCountdown(endsInSecs, room);
  const closing = useCountdown(closingInSecs, room);
  const [busy, setBusy] = useState(false);

  async function back() {
    setBusy(true);
    // Back in the main meeting, this banner goes; if the return failed, it can be tried again.
    if (!(await act({ type: 'breakout_return' }))) setBusy(false);
  }

  return (
    <section id="breakout-banner" class="breakout-banner" aria-labelledby="breakout-banner-room">
      <strong id="breakout-banner-room">{t('breakout.banner', { room })}</strong>
      {closing !== null ? (
        <span id="breakout-banner-closing" class="breakout-time">
          {t('breakout.closing', { secs: closing })}
        </span>
      ) : (
        left !== null && (
          <span id="breakout-banner-time" class="breakout-time">
            {t('breakout.timeLeft', { time: clock(left) })}
          </span>
        )
      )}
      <button type="button" id="breakout-return" class="button small" disabled={busy} onClick={() => void back()}>
        {t('breakout.return')}
      </button>
    </section>
  );
}
