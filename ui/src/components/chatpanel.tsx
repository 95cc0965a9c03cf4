import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { FileView, MeetingView } from '../api';
import type { ChatEntry } from '../app';
import { chatTranscript, fileStamp, stripBidi } from '../chat';
import { t } from '../i18n';
import { ChatText } from './chattext';
import { FilesSection } from './files';
import { Panel } from './panel';

type Props = {
  view: MeetingView;
  chat: ChatEntry[];
  myName: string;
  onLink: (href: string) => void;
  onError: (e: api.AppError) => void;
  onClose: () => void;
  /** Tell the person something (the saved file's place). */
  onSaved?: (path: string) => void;
  /** The meeting's file transfers, newest first. */
  files?: FileView[];
  /** A transfer as a command answered it (Save, Discard). */
  onFile?: (file: FileView) => void;
};

const NO_FILES: FileView[] = [];

export function ChatPanel({ view, chat, myName, onLink, onError, onClose, onSaved, files = NO_FILES, onFile }: Props) {
  const [text, setText] = useState('');
  const [to, setTo] = useState<number | null>(null);
  const [sending, setSending] = useState(false);
  const list = useRef<HTMLOListElement>(null);
  const chatOn = view.policy?.chat ?? true;
  const privateOn = view.policy?.private_chat ?? false;
  // Chat is end-to-end encrypted: the server cannot keep the host's "saving chat" rule, so
  // this app does (and its backend checks again).
  const saveOn = view.policy?.save_chat ?? false;
  const others = view.participants.filter((p) => p.id !== view.you);
  const nameOf = (id: number | null) => stripBidi(view.participants.find((p) => p.id === id)?.name ?? '');
  // Whom a private line went to: named when it came (a breakout room numbers people anew).
  const toNameOf = (m: ChatEntry) => (m.toName !== undefined ? stripBidi(m.toName) : nameOf(m.to));

  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [chat.length]);

  // A private target who left, or private chat turned off: back to everyone.
  useEffect(() => {
    if (to !== null && (!privateOn || !others.some((p) => p.id === to))) setTo(null);
  }, [privateOn, others.map((p) => p.id).join(',')]);

  async function save() {
    const now = new Date();
    const lines = chat.map((m) => ({
      at: m.at,
      from: m.mine ? myName : m.from_name,
      to: m.to === null ? null : m.mine ? toNameOf(m) : t('chat.toYou'),
      body: m.body,
    }));
    const text = chatTranscript(view.title, now, lines, t('chat.saveHeading'), (name) => t('chat.toName', { name }));
    const r = await api.saveChat(fileStamp(now), text);
    if (r.status === 'error') onError(r.error);
    else onSaved?.(r.data);
  }

  async function send(e: Event) {
    e.preventDefault();
    const body = text;
    if (body.trim() === '' || sending) return;
    setSending(true);
    const r = await api.meetingAction({ type: 'chat', body, to });
    setSending(false);
    if (r.status === 'error') {
      onError(r.error);
      return;
    }
    setText('');
    // The server relays the line back to its sender too: that echo is what shows it here,
    // so a line the server refused never appears as sent.
  }

  return (
    <Panel id="chat-panel" title={t('chat.heading')} onClose={onClose}>
      <ol id="chat-messages" class="chat-messages" ref={list} role="log" aria-live="polite" aria-label={t('chat.heading')}>
        {chat.length === 0 && <li class="muted empty">{t('chat.empty')}</li>}
        {chat.map((m) =>
          m.system ? (
            <SystemLine key={m.seq} entry={m} />
          ) : (
            <li key={m.seq} class={`chat-message ${m.mine ? 'mine' : ''} ${m.to !== null ? 'private' : ''}`}>
              <span class="chat-from">
                {m.mine ? t('chat.fromYou') : stripBidi(m.from_name)}
                {m.to !== null && (
                  <span class="chat-private">
                    {' '}
                    {m.mine ? t('chat.toName', { name: toNameOf(m) }) : `(${t('chat.private')})`}
                  </span>
                )}
              </span>
              <ChatText body={m.body} onLink={onLink} />
            </li>
          ),
        )}
      </ol>
      {/* Files go to whom chat goes: the private-message target chosen below, or everyone. */}
      <FilesSection view={view} files={files} to={to} onError={onError} onFile={onFile ?? (() => {})} />
      {saveOn && chat.length > 0 && (
        <button id="save-chat" type="button" class="button" onClick={() => void save()}>
          {t('chat.save')}
        </button>
      )}
      {chatOn ? (
        <form class="chat-form" onSubmit={send}>
          {privateOn && (
            <label class="chat-to">
              <span>{t('chat.to')}</span>
              <select
                id="chat-target"
                class="input"
                value={to === null ? '' : String(to)}
                onChange={(e) => {
                  const v = (e.target as HTMLSelectElement).value;
                  setTo(v === '' ? null : Number(v));
                }}
              >
                <option value="">{t('chat.everyone')}</option>
                {others.map((p) => (
                  <option key={p.id} value={String(p.id)}>
                    {stripBidi(p.name)}
                  </option>
                ))}
              </select>
            </label>
          )}
          <div class="row">
            <input
              id="chat-input"
              class="input grow"
              type="text"
              autoComplete="off"
              aria-label={t('chat.input')}
              placeholder={t('chat.input')}
              value={text}
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
            />
            <button id="chat-send" type="submit" class="button primary" disabled={sending || text.trim() === ''}>
              {t('chat.send')}
            </button>
          </div>
        </form>
      ) : (
        <p class="muted chat-off">{t('chat.off')}</p>
      )}
    </Panel>
  );
}

/** The app's own line (a host's message to all rooms, a move between rooms): plain text, no
 * links (the app says it, so nothing in it is offered to follow). */
function SystemLine({ entry }: { entry: ChatEntry }) {
  return (
    <li class="chat-message system">
      <span class="chat-from">{entry.from_name}</span>
      <span class="chat-body">{entry.body}</span>
    </li>
  );
}
