import { t } from '../i18n';

type Props = {
  id: string;
  label: string;
  checked: boolean;
  onToggle: () => void;
  disabled?: boolean;
  busy?: boolean;
  showState?: boolean;
  /** The id of an element that explains the switch. */
  describedBy?: string;
};

/** An on/off switch (a button with role="switch"); `checked` is always the real state. */
export function Switch({ id, label, checked, onToggle, disabled, busy, showState, describedBy }: Props) {
  return (
    <button
      type="button"
      id={id}
      role="switch"
      aria-checked={checked}
      aria-describedby={describedBy}
      aria-busy={busy || undefined}
      class={`switch ${checked ? 'on' : 'off'} ${busy ? 'busy' : ''}`}
      disabled={disabled || busy}
      onClick={onToggle}
    >
      <span class="switch-label">{label}</span>
      <span class="switch-track" aria-hidden="true">
        <span class="switch-thumb" />
      </span>
      {showState && (
        <span class="switch-state" aria-hidden="true">
          {checked ? t('prejoin.on') : t('prejoin.off')}
        </span>
      )}
    </button>
  );
}
