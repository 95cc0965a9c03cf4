import { useEffect, useRef, useState } from 'preact/hooks';
import { REACTIONS, reactionEmoji } from '../reactions';
import { SHORTCUT_KEYS, type Shortcut } from '../shortcuts';
import { t, type Key } from '../i18n';
import { Icon, type IconName } from './icons';

export type PanelName = 'chat' | 'participants' | 'polls' | 'notes' | 'breakouts' | 'devices' | 'privacy' | 'security';

type Props = {
  muted: boolean;
  camera: boolean;
  hand: boolean;
  sharing: boolean;
  /** The host allows recording (the Record button shows). */
  mayRecord: boolean;
  /** We record: the server announced it (our own participant's `recording`). */
  recording: boolean;
  moderator: boolean;
  /** The Breakout rooms button shows (hosts and co-hosts, in the main meeting). */
  breakouts: boolean;
  hostedHere: boolean;
  panel: PanelName | null;
  unread: number;
  waiting: number;
  /** Open polls waiting for the person's vote. */
  polls: number;
  copyState: 'idle' | 'copied' | 'failed';
  onMic: () => void;
  onCamera: () => void;
  onHand: () => void;
  onShare: () => void;
  onRecord: () => void;
  onReact: (reaction: string) => void;
  onPanel: (p: PanelName) => void;
  onCopyInvite: () => void;
  onLeave: () => void;
};

function withKeys(label: string, shortcut: Shortcut): string {
  return t('control.shortcut', { label, keys: SHORTCUT_KEYS[shortcut] });
}

function Btn(props: {
  id: string;
  icon: IconName;
  label: string;
  title?: string;
  pressed?: boolean;
  expanded?: boolean;
  cls?: string;
  badge?: number;
  onClick: () => void;
  text?: string;
}) {
  return (
    <button
      type="button"
      id={props.id}
      class={`control ${props.cls ?? ''} ${props.pressed ? 'active' : ''}`}
      aria-label={props.label}
      title={props.title ?? props.label}
      aria-pressed={props.pressed}
      aria-expanded={props.expanded}
      onClick={props.onClick}
    >
      <Icon name={props.icon} />
      <span class="control-text" aria-hidden="true">
        {props.text ?? props.label}
      </span>
      {props.badge ? (
        <span class="badge" aria-hidden="true">
          {props.badge > 99 ? '99+' : props.badge}
        </span>
      ) : null}
    </button>
  );
}

export function ControlBar(p: Props) {
  const [reactions, setReactions] = useState(false);
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (reactions) menu.current?.querySelector<HTMLElement>('button')?.focus();
  }, [reactions]);

  const micLabel = p.muted ? t('control.mic.unmute') : t('control.mic.mute');
  const camLabel = p.camera ? t('control.camera.off') : t('control.camera.on');
  const handLabel = p.hand ? t('control.hand.lower') : t('control.hand.raise');
  const panelBtn = (id: string, name: PanelName, icon: IconName, label: string, badge?: number) => (
    <Btn id={id} icon={icon} label={label} pressed={p.panel === name} badge={badge} onClick={() => p.onPanel(name)} />
  );

  return (
    <nav class="control-bar" aria-label={t('control.bar')}>
      <div class="control-group">
        <Btn id="mic-button" icon={p.muted ? 'micOff' : 'mic'} label={micLabel} title={withKeys(micLabel, 'mic')} cls={p.muted ? 'off' : ''} onClick={p.onMic} />
        <Btn
          id="camera-button"
          icon={p.camera ? 'camera' : 'cameraOff'}
          label={camLabel}
          title={withKeys(camLabel, 'camera')}
          cls={p.camera ? '' : 'off'}
          onClick={p.onCamera}
        />
        <Btn id="hand-button" icon="hand" label={handLabel} title={withKeys(handLabel, 'hand')} pressed={p.hand} onClick={p.onHand} />
        <Btn
          id="share-button"
          icon="screen"
          label={p.sharing ? t('control.share.stop') : t('control.share.start')}
          title={withKeys(p.sharing ? t('control.share.stop') : t('control.share.start'), 'share')}
          pressed={p.sharing}
          onClick={p.onShare}
        />
        {(p.mayRecord || p.recording) && (
          <Btn
            id="record-button"
            icon="record"
            label={p.recording ? t('control.record.stop') : t('control.record.start')}
            pressed={p.recording}
            cls="record"
            onClick={p.onRecord}
          />
        )}
        <div class="reactions-wrap">
          <Btn id="reactions-button" icon="smile" label={t('control.reactions')} expanded={reactions} onClick={() => setReactions(!reactions)} />
          {reactions && (
            <div
              class="reactions-menu"
              id="reactions-menu"
              role="menu"
              ref={menu}
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  setReactions(false);
                  document.getElementById('reactions-button')?.focus();
                }
              }}
            >
              {REACTIONS.map((r) => (
                <button
                  key={r}
                  type="button"
                  role="menuitem"
                  id={`react-${r}`}
                  class="reaction"
                  aria-label={t(`reaction.${r}` as Key)}
                  title={t(`reaction.${r}` as Key)}
                  onClick={() => {
                    setReactions(false);
                    p.onReact(r);
                  }}
                >
                  {reactionEmoji(r)}
                </button>
              ))}
            </div>
          )}
        </div>
      </div>
      <div class="control-group">
        {panelBtn('chat-button', 'chat', 'chat', t('control.chat'), p.unread)}
        {panelBtn('participants-button', 'participants', 'people', t('control.participants'), p.moderator ? p.waiting : 0)}
        {panelBtn('polls-button', 'polls', 'poll', t('control.polls'), p.polls)}
        {panelBtn('notes-button', 'notes', 'notes', t('control.notes'))}
        {p.breakouts && panelBtn('breakouts-button', 'breakouts', 'rooms', t('control.breakouts'))}
        {panelBtn('devices-button', 'devices', 'mic', t('control.devices'))}
        {panelBtn('privacy-button', 'privacy', 'eye', t('control.privacy'))}
        {p.moderator && panelBtn('security-button', 'security', 'shield', t('control.security'))}
        {p.hostedHere && (
          <Btn
            id="copy-invite"
            icon="link"
            label={t('control.copyInvite')}
            text={p.copyState === 'copied' ? t('control.copied') : p.copyState === 'failed' ? t('control.copyFailed') : t('control.copyInvite')}
            onClick={p.onCopyInvite}
          />
        )}
      </div>
      <div class="control-group">
        <Btn id="leave-button" icon="leave" label={t('control.leave')} title={withKeys(t('control.leave'), 'leave')} cls="danger" onClick={p.onLeave} />
      </div>
      <span class="sr-only" role="status" aria-live="polite">
        {p.copyState === 'copied' ? t('control.copied') : ''}
      </span>
    </nav>
  );
}
