import { t } from '../i18n';

/** `waiter`: the toast announces this waiting person, and goes when they no longer wait.
 * `strong`: it stands out from the others (a host's message to all rooms). */
export type Toast = { id: number; text: string; action?: { label: string; run: () => void }; waiter?: number; strong?: boolean };

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss: (id: number) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((toast) => (
        <div class={toast.strong ? 'toast strong' : 'toast'} key={toast.id} data-testid="toast">
          <span class="toast-text">{toast.text}</span>
          {toast.action && (
            <button
              type="button"
              class="button small primary"
              onClick={() => {
                toast.action!.run();
                onDismiss(toast.id);
              }}
            >
              {toast.action.label}
            </button>
          )}
          <button type="button" class="icon-button small" aria-label={t('notice.dismiss')} title={t('notice.dismiss')} onClick={() => onDismiss(toast.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
