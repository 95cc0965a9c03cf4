import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import type { Action, MeetingView, PolicySwitch } from '../api';
import { t, type Key } from '../i18n';
import { Panel } from './panel';
import { Switch } from './switch';

type Props = { view: MeetingView; act: (a: Action) => Promise<boolean>; onClose: () => void };

const POLICY_SWITCHES: Array<keyof PolicySwitch> = [
  'waiting_room',
  'chat',
  'private_chat',
  'rename',
  'unmute_self',
  'screen_share_everyone',
  'file_transfer',
  'save_chat',
  'event_mode',
  'recording',
  'notes_locked',
];

// A line under a switch that needs explaining.
const POLICY_HELP: Partial<Record<keyof PolicySwitch, Key>> = {
  recording: 'security.recording.help',
};

/** Host switches. Each shows the server's state from the latest view — never flipped ahead
 * of the server — and is busy from the click until the next view (or an error). */
export function SecurityMenu({ view, act, onClose }: Props) {
  const [pending, setPending] = useState<Set<string>>(new Set());
  const [confirmEnd, setConfirmEnd] = useState(false);
  const policy = view.policy;

  useEffect(() => setPending(new Set()), [view]);

  async function send(key: string, action: Action) {
    setPending((s) => new Set(s).add(key));
    const ok = await act(action);
    if (!ok)
      setPending((s) => {
        const n = new Set(s);
        n.delete(key);
        return n;
      });
  }

  return (
    <Panel id="security-menu" title={t('security.heading')} onClose={onClose}>
      <div class="switches">
        <Switch
          id="lock-toggle"
          label={t('security.lock')}
          checked={view.locked}
          busy={pending.has('lock')}
          onToggle={() => send('lock', view.locked ? { type: 'unlock' } : { type: 'lock' })}
        />
        {policy &&
          POLICY_SWITCHES.map((key) => {
            const id = `policy-${key.replace(/_/g, '-')}`;
            const help = POLICY_HELP[key];
            return (
              <Fragment key={key}>
                <Switch
                  id={id}
                  label={t(`security.${key}`)}
                  checked={policy[key]}
                  busy={pending.has(key)}
                  describedBy={help ? `${id}-help` : undefined}
                  onToggle={() => send(key, { type: 'set_policy', change: api.policyChange({ [key]: !policy[key] }) })}
                />
                {help && (
                  <p class="small muted switch-help" id={`${id}-help`}>
                    {t(help)}
                  </p>
                )}
              </Fragment>
            );
          })}
      </div>
      {policy && <p class="small muted">{t('security.capacity', { capacity: policy.capacity })}</p>}
      {view.has_passcode && <p class="small muted">{t('security.passcode')}</p>}
      <div class="stack">
        <button type="button" id="mute-all" class="button" onClick={() => void act({ type: 'mute_all' })}>
          {t('security.muteAll')}
        </button>
        {view.role === 'host' &&
          (confirmEnd ? (
            <div class="confirm-box" role="group" aria-labelledby="end-confirm-text">
              <p id="end-confirm-text">{t('security.endConfirm')}</p>
              <div class="row">
                <button type="button" id="end-confirm" class="button danger" onClick={() => void act({ type: 'end' })}>
                  {t('security.endYes')}
                </button>
                <button type="button" class="button" onClick={() => setConfirmEnd(false)}>
                  {t('security.cancel')}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" id="end-meeting" class="button danger" onClick={() => setConfirmEnd(true)}>
              {t('security.end')}
            </button>
          ))}
      </div>
    </Panel>
  );
}
