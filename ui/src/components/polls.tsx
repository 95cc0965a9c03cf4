// The polls panel: hosts and co-hosts open polls; everyone votes. Polls are end-to-end
// encrypted: the backend seals and opens them, and hands the window each poll whole
// (`PollView`). Questions and options are other people's text: shown as text only, never
// interpreted as markup, with bidi controls removed (as chat is).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Action, MeetingView, NamedVote, PollView } from '../api';
import { stripBidi } from '../chat';
import { t } from '../i18n';
import { checkPoll, MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, share, type PollProblem } from '../polls';
import { Icon } from './icons';
import { Panel } from './panel';

type Act = (a: Action) => Promise<boolean>;

type Props = {
  view: MeetingView;
  /** Newest first. */
  polls: PollView[];
  /** Polls whose vote was sent and is not counted yet. */
  sending: ReadonlySet<number>;
  act: Act;
  onVote: (poll: number, choices: number[]) => void;
  onClose: () => void;
};

export function PollsPanel({ view, polls, sending, act, onVote, onClose }: Props) {
  const moderator = view.role === 'host' || view.role === 'cohost';
  const names = useMemo(() => new Map(view.participants.map((p) => [p.id, p.name] as const)), [view.participants]);
  // Who someone is, by number (someone who left shows by number).
  const nameOf = (id: number): string => {
    const name = names.get(id);
    if (name === undefined) return t('polls.unknownVoter', { id });
    return id === view.you ? t('meeting.you', { name: stripBidi(name) }) : stripBidi(name);
  };

  return (
    <Panel id="polls-panel" title={t('polls.heading')} onClose={onClose}>
      {moderator && <NewPoll act={act} />}
      {polls.length === 0 ? (
        <p class="muted">{t('polls.empty')}</p>
      ) : (
        <ol class="polls" aria-label={t('polls.heading')}>
          {polls.map((p) => (
            <li key={p.id}>
              <PollCard poll={p} moderator={moderator} sending={sending.has(p.id)} nameOf={nameOf} act={act} onVote={onVote} />
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}

/** An option being typed; `key` keeps each field's identity when one above it is removed. */
type Draft = { key: number; text: string };

function blankOptions(): Draft[] {
  return Array.from({ length: MIN_OPTIONS }, (_, key) => ({ key, text: '' }));
}

/** The "New poll" form (hosts and co-hosts; the server refuses others anyway). */
function NewPoll({ act }: { act: Act }) {
  const [question, setQuestion] = useState('');
  const [options, setOptions] = useState<Draft[]>(blankOptions);
  const [multiple, setMultiple] = useState(false);
  const [anonymous, setAnonymous] = useState(false);
  const [problem, setProblem] = useState<PollProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const nextKey = useRef(MIN_OPTIONS);
  // The option field to focus once drawn (after adding or removing one).
  const focusOption = useRef<number | null>(null);

  useEffect(() => {
    if (focusOption.current === null) return;
    document.getElementById(`poll-option-${focusOption.current}`)?.focus();
    focusOption.current = null;
  }, [options.length]);

  function edit(i: number, text: string) {
    setProblem(null);
    setOptions((os) => os.map((o, k) => (k === i ? { ...o, text } : o)));
  }

  function add() {
    if (options.length >= MAX_OPTIONS) return;
    focusOption.current = options.length;
    setOptions((os) => [...os, { key: nextKey.current++, text: '' }]);
  }

  function remove(i: number) {
    focusOption.current = i - 1;
    setProblem(null);
    setOptions((os) => os.filter((_, k) => k !== i));
  }

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    const checked = checkPoll(question, options.map((o) => o.text));
    if (!checked.ok) {
      setProblem(checked.problem);
      return;
    }
    setBusy(true);
    const ok = await act({ type: 'open_poll', question: checked.question, options: checked.options, multiple, anonymous });
    setBusy(false);
    if (!ok) return;
    // The poll itself appears below when the backend reports it (a poll change).
    setQuestion('');
    setOptions(blankOptions());
    setMultiple(false);
    setAnonymous(false);
  }

  return (
    <section class="poll-new" aria-labelledby="poll-new-heading">
      <h3 id="poll-new-heading">{t('polls.new.heading')}</h3>
      <form id="poll-form" class="stack" onSubmit={(e) => void submit(e)} noValidate>
        <label for="poll-question">{t('polls.question')}</label>
        <input
          id="poll-question"
          class="input"
          type="text"
          autoComplete="off"
          maxLength={MAX_QUESTION}
          value={question}
          aria-invalid={problem === 'question'}
          aria-describedby={problem ? 'poll-form-error' : undefined}
          onInput={(e) => {
            setProblem(null);
            setQuestion((e.target as HTMLInputElement).value);
          }}
        />
        <div class="poll-option-fields" role="group" aria-label={t('polls.options')}>
          {options.map((o, i) => (
            <div class="row" key={o.key}>
              <input
                id={`poll-option-${i}`}
                class="input grow"
                type="text"
                autoComplete="off"
                maxLength={MAX_OPTION}
                placeholder={t('polls.option', { number: i + 1 })}
                aria-label={t('polls.option', { number: i + 1 })}
                aria-invalid={problem === 'options' || problem === 'duplicate'}
                value={o.text}
                onInput={(e) => edit(i, (e.target as HTMLInputElement).value)}
              />
              {i >= MIN_OPTIONS && (
                <button
                  type="button"
                  id={`poll-remove-option-${i}`}
                  class="icon-button small"
                  aria-label={t('polls.removeOption', { number: i + 1 })}
                  title={t('polls.removeOption', { number: i + 1 })}
                  onClick={() => remove(i)}
                >
                  <Icon name="close" />
                </button>
              )}
            </div>
          ))}
          <button type="button" id="poll-add-option" class="button small" disabled={options.length >= MAX_OPTIONS} onClick={add}>
            {t('polls.addOption')}
          </button>
        </div>
        <label class="checkbox-row">
          <input type="checkbox" id="poll-multiple" checked={multiple} onChange={(e) => setMultiple((e.target as HTMLInputElement).checked)} />
          {t('polls.multiple')}
        </label>
        <label class="checkbox-row">
          <input type="checkbox" id="poll-anonymous" checked={anonymous} onChange={(e) => setAnonymous((e.target as HTMLInputElement).checked)} />
          {t('polls.anonymous')}
        </label>
        {problem && (
          <p id="poll-form-error" class="status status-error" role="alert">
            {t(`polls.problem.${problem}`)}
          </p>
        )}
        <button type="submit" id="poll-open" class="button primary" disabled={busy}>
          {t('polls.open')}
        </button>
      </form>
    </section>
  );
}

/** An option's text, as text. */
function optionText(poll: PollView, i: number): string {
  return stripBidi(poll.options[i] ?? '');
}

/** Chosen options' texts, in option order. */
function choiceList(poll: PollView, choices: readonly number[]): string {
  return [...choices]
    .sort((a, b) => a - b)
    .filter((i) => i >= 0 && i < poll.options.length)
    .map((i) => optionText(poll, i))
    .join(', ');
}

type CardProps = {
  poll: PollView;
  moderator: boolean;
  /** Our vote is on its way. */
  sending: boolean;
  nameOf: (id: number) => string;
  act: Act;
  onVote: (poll: number, choices: number[]) => void;
};

function PollCard({ poll, moderator, sending, nameOf, act, onVote }: CardProps) {
  const base = `poll-${poll.id}`;
  // A host button is busy while its action is handed to the backend.
  const [busy, setBusy] = useState<'close' | 'share' | null>(null);

  async function run(which: 'close' | 'share', action: Action) {
    setBusy(which);
    await act(action);
    setBusy(null);
  }

  return (
    <article id={base} class={`poll${poll.open ? '' : ' closed'}`} aria-labelledby={`${base}-question`}>
      <h3 id={`${base}-question`} class="poll-question">
        {stripBidi(poll.question)}
      </h3>
      <div class="poll-meta">
        <span class={`pill${poll.open ? ' open' : ''}`} id={`${base}-state`}>
          {poll.open ? t('polls.state.open') : t('polls.state.closed')}
        </span>
        {poll.shared && (
          <span class="pill" id={`${base}-shared`}>
            {t('polls.shared')}
          </span>
        )}
      </div>
      <p class="small muted poll-kind" id={`${base}-kind`}>
        {poll.anonymous ? t('polls.anonymous') : t('polls.named')}
        <br />
        {t('polls.by', { name: nameOf(poll.by) })}
      </p>
      {poll.my_vote !== null ? (
        <p class="poll-counted" id={`${base}-counted`}>
          <strong>{t('polls.counted')}</strong>
          <br />
          {t('polls.yourChoice', { choices: choiceList(poll, poll.my_vote) })}
        </p>
      ) : !poll.open ? (
        <p class="small muted">{t('polls.notVoted')}</p>
      ) : sending ? (
        <p class="poll-sending" id={`${base}-sending`} role="status">
          {t('polls.sending')}
        </p>
      ) : (
        <Ballot poll={poll} onVote={onVote} />
      )}
      {poll.counts !== null ? (
        <Results poll={poll} counts={poll.counts} />
      ) : (
        !moderator && <p class="small muted">{t('polls.hidden')}</p>
      )}
      {moderator && !poll.anonymous && poll.named.length > 0 && <WhoChose poll={poll} named={poll.named} nameOf={nameOf} />}
      {moderator && (
        <div class="poll-actions">
          {poll.open && (
            <button
              type="button"
              id={`${base}-close`}
              class="button small"
              disabled={busy === 'close'}
              onClick={() => void run('close', { type: 'close_poll', poll: poll.id })}
            >
              {t('polls.close')}
            </button>
          )}
          <button
            type="button"
            id={`${base}-share`}
            class="button small"
            disabled={busy === 'share'}
            onClick={() => void run('share', { type: 'share_poll_results', poll: poll.id })}
          >
            {t('polls.share')}
          </button>
        </div>
      )}
    </article>
  );
}

/** The choices of an open poll we have not voted in: one (radio buttons) or several. */
function Ballot({ poll, onVote }: { poll: PollView; onVote: (poll: number, choices: number[]) => void }) {
  const base = `poll-${poll.id}`;
  const [chosen, setChosen] = useState<number[]>([]);

  function pick(i: number, on: boolean) {
    if (!poll.multiple) setChosen(on ? [i] : []);
    else setChosen((c) => (on ? [...c.filter((x) => x !== i), i] : c.filter((x) => x !== i)));
  }

  return (
    <form
      class="poll-ballot"
      onSubmit={(e) => {
        e.preventDefault();
        if (chosen.length > 0) onVote(poll.id, [...chosen].sort((a, b) => a - b));
      }}
    >
      <fieldset class="poll-choices" aria-labelledby={`${base}-question`} aria-describedby={`${base}-hint`}>
        <p class="small muted" id={`${base}-hint`}>
          {poll.multiple ? t('polls.chooseSeveral') : t('polls.chooseOne')}
        </p>
        {poll.options.map((_, i) => (
          <label class="checkbox-row poll-choice" key={i}>
            <input
              type={poll.multiple ? 'checkbox' : 'radio'}
              name={`${base}-choice`}
              id={`${base}-option-${i}`}
              checked={chosen.includes(i)}
              onChange={(e) => pick(i, (e.target as HTMLInputElement).checked)}
            />
            <span class="poll-text">{optionText(poll, i)}</span>
          </label>
        ))}
      </fieldset>
      <button type="submit" id={`${base}-vote`} class="button primary small" disabled={chosen.length === 0}>
        {t('polls.vote')}
      </button>
    </form>
  );
}

/** Votes per option, each with a bar as wide as its share of the voters. */
function Results({ poll, counts }: { poll: PollView; counts: number[] }) {
  const base = `poll-${poll.id}`;
  return (
    <section class="poll-results" aria-label={t('polls.results')}>
      <ul class="poll-bars">
        {poll.options.map((_, i) => {
          const count = counts[i] ?? 0;
          const mine = poll.my_vote?.includes(i) ?? false;
          return (
            <li key={i} class={`poll-result${mine ? ' mine' : ''}`}>
              <div class="poll-result-line">
                <span class="poll-text">{optionText(poll, i)}</span>
                <span class="poll-count" id={`${base}-count-${i}`}>
                  {count}
                </span>
              </div>
              <div class="poll-bar" aria-hidden="true">
                <div class="poll-bar-fill" style={{ width: `${share(count, poll.voters)}%` }} />
              </div>
            </li>
          );
        })}
      </ul>
      <p class="small muted" id={`${base}-voters`}>
        {t('polls.voters', { count: poll.voters })}
      </p>
    </section>
  );
}

/** In a named poll, who chose what (hosts and co-hosts only get these). */
function WhoChose({ poll, named, nameOf }: { poll: PollView; named: NamedVote[]; nameOf: (id: number) => string }) {
  const base = `poll-${poll.id}`;
  return (
    <section class="poll-named" aria-labelledby={`${base}-named-heading`}>
      <h4 id={`${base}-named-heading`}>{t('polls.whoChose')}</h4>
      <ul class="poll-named-list" id={`${base}-named`}>
        {named.map((v) => (
          <li key={v.id}>
            <span class="poll-voter">{nameOf(v.id)}</span>: <span class="poll-text">{choiceList(poll, v.choices)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
