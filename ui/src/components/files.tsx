// The chat panel's Files section. Files are end-to-end encrypted: the backend seals what is
// sent and opens what arrives, and hands the window each transfer whole (`FileView`). A
// received file stays in the app until the person saves it into Downloads or discards it;
// nothing is ever opened, and there are no links to files. Names are other people's text:
// shown as text only (the backend made them safe already), with bidi controls removed.
import { useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { FileView, MeetingView } from '../api';
import { stripBidi } from '../chat';
import { formatSize, inProgress, percentDone } from '../files';
import { getLang, t } from '../i18n';

type Props = {
  view: MeetingView;
  /** Newest first. */
  files: FileView[];
  /** Whom a file goes to: the chat's private-message target, or everyone (null). */
  to: number | null;
  onError: (e: api.AppError) => void;
  /** A transfer as a command answered it (the backend may send no change for a save). */
  onFile: (file: FileView) => void;
};

export function FilesSection({ view, files, to, onError, onFile }: Props) {
  const on = view.policy?.file_transfer ?? false;
  const input = useRef<HTMLInputElement>(null);
  // A chosen file is being read and handed to the backend.
  const [reading, setReading] = useState(false);
  const nameOf = (id: number | null): string | null => {
    const name = view.participants.find((p) => p.id === id)?.name;
    return name === undefined ? null : stripBidi(name);
  };
  const toName = to === null ? null : nameOf(to);

  async function chosen(e: Event) {
    const field = e.target as HTMLInputElement;
    const file = field.files?.[0];
    // Cleared, so that choosing the same file again sends it again.
    try {
      field.value = '';
    } catch {
      /* some engines refuse; the next choice still fires */
    }
    if (!file || reading) return;
    setReading(true);
    const r = await api.sendFile(file, to);
    setReading(false);
    // It appears below when the backend reports it (a file change).
    if (r.status === 'error') onError(r.error);
  }

  if (!on && files.length === 0) {
    return (
      <section id="files-section" class="chat-files" aria-labelledby="files-heading">
        <h3 id="files-heading">{t('files.heading')}</h3>
        <p id="files-off" class="muted small">
          {t('files.off')}
        </p>
      </section>
    );
  }

  return (
    <section id="files-section" class="chat-files" aria-labelledby="files-heading">
      <div class="chat-files-head">
        <h3 id="files-heading">{t('files.heading')}</h3>
        {on && (
          <>
            <button
              id="send-file-button"
              type="button"
              class="button small"
              disabled={reading}
              onClick={() => input.current?.click()}
            >
              {reading ? t('files.reading') : toName ? t('files.sendTo', { name: toName }) : t('files.send')}
            </button>
            <input
              id="send-file-input"
              ref={input}
              type="file"
              class="sr-only"
              tabIndex={-1}
              aria-hidden="true"
              onChange={(e) => void chosen(e)}
            />
          </>
        )}
      </div>
      {files.length === 0 ? (
        <p class="muted small">{t('files.empty')}</p>
      ) : (
        <ol id="files-list" class="files" aria-labelledby="files-heading">
          {files.map((f) => (
            <FileItem key={f.transfer} file={f} sender={f.outgoing ? null : nameOf(f.from)} onError={onError} onFile={onFile} />
          ))}
        </ol>
      )}
    </section>
  );
}

type ItemProps = {
  file: FileView;
  /** The sender's name (null: ours, or someone who left). */
  sender: string | null;
  onError: (e: api.AppError) => void;
  onFile: (file: FileView) => void;
};

function FileItem({ file, sender, onError, onFile }: ItemProps) {
  const base = `file-${file.transfer}`;
  const name = stripBidi(file.name);
  const who = sender ?? t('notice.someone');
  // A button is busy while its command is handed to the backend.
  const [busy, setBusy] = useState<'save' | 'discard' | 'cancel' | null>(null);

  async function save() {
    setBusy('save');
    const r = await api.saveFile(file.transfer);
    setBusy(null);
    if (r.status === 'error') onError(r.error);
    else onFile(r.data);
  }

  async function discard() {
    setBusy('discard');
    const r = await api.discardFile(file.transfer);
    setBusy(null);
    if (r.status === 'error') onError(r.error);
    else if (r.data) onFile(r.data);
  }

  async function cancel() {
    setBusy('cancel');
    const r = await api.meetingAction({ type: 'cancel_file', transfer: file.transfer });
    setBusy(null);
    // Stopped: the backend reports it as a file change.
    if (r.status === 'error') onError(r.error);
  }

  const moving = inProgress(file);
  const percent = percentDone(file);
  const showRisky = file.risky && !file.outgoing && (file.state === 'coming' || file.state === 'received' || file.state === 'saved');

  return (
    <li id={base} class={`file file-${file.state}`}>
      <div class="file-line">
        <span class="file-name" id={`${base}-name`}>
          {name}
        </span>
        <span class="file-size" id={`${base}-size`}>
          {formatSize(file.size, getLang())}
        </span>
      </div>
      <p class="file-meta small muted">
        <span class="file-from">{file.outgoing ? t('files.fromYou') : t('files.from', { name: who })}</span>
        {' · '}
        <span id={`${base}-state`} class="file-state">
          {t(`files.state.${file.state}`)}
          {moving && ` ${t('files.percent', { percent })}`}
        </span>
      </p>
      {moving && (
        <progress
          id={`${base}-progress`}
          class="file-progress"
          max={Math.max(file.size, 1)}
          value={Math.min(file.done, Math.max(file.size, 1))}
          aria-label={t('files.progress', { name })}
        />
      )}
      {showRisky && (
        <p id={`${base}-risky`} class="file-risky small" role="note">
          {t('files.risky', { name: who })}
        </p>
      )}
      {file.state === 'saved' && file.saved_as && (
        <p id={`${base}-saved`} class="file-saved small">
          {t('files.saved', { path: file.saved_as })}
        </p>
      )}
      {file.state === 'failed' && file.reason && (
        <p id={`${base}-reason`} class="file-reason small">
          {stripBidi(file.reason)}
        </p>
      )}
      {file.state === 'received' && (
        <div class="file-actions">
          <button id={`${base}-save`} type="button" class="button small primary" disabled={busy !== null} onClick={() => void save()}>
            {t('files.save')}
          </button>
          <button id={`${base}-discard`} type="button" class="button small" disabled={busy !== null} onClick={() => void discard()}>
            {t('files.discard')}
          </button>
        </div>
      )}
      {file.state === 'sending' && (
        <div class="file-actions">
          <button id={`${base}-cancel`} type="button" class="button small" disabled={busy !== null} onClick={() => void cancel()}>
            {t('files.cancel')}
          </button>
        </div>
      )}
    </li>
  );
}
