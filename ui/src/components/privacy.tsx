import { t } from '../i18n';
import { Panel } from './panel';

export function PrivacyPanel({ server, hostedHere, onClose }: { server: string | null; hostedHere: boolean; onClose: () => void }) {
  const where = hostedHere || !server ? t('privacy.thisComputer') : server;
  return (
    <Panel id="privacy-panel" title={t('privacy.heading')} onClose={onClose}>
      <ul class="privacy-list">
        <li data-testid="privacy-server">{t('privacy.server', { server: where })}</li>
        <li>{t('privacy.stores')}</li>
        <li>{t('privacy.ids')}</li>
        <li>{t('privacy.e2ee')}</li>
        <li>{t('privacy.telemetry')}</li>
      </ul>
    </Panel>
  );
}
