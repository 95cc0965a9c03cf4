import type { SecurityView } from '../api';
import { t } from '../i18n';
import { Panel } from './panel';

type Props = {
  server: string | null;
  hostedHere: boolean;
  /** Hosted here for the network, through this address. */
  networkAddress: string | null;
  security: SecurityView | null;
  refused: string | null;
  onClose: () => void;
};

export function PrivacyPanel({ server, hostedHere, networkAddress, security, refused, onClose }: Props) {
  const here = hostedHere || !server;
  const where = !here
    ? server
    : networkAddress
      ? t('privacy.thisComputerNetwork', { address: networkAddress })
      : t('privacy.thisComputer');
  return (
    <Panel id="privacy-panel" title={t('privacy.heading')} onClose={onClose}>
      <section class="security-code" aria-labelledby="security-code-heading">
        <h3 id="security-code-heading">{t('privacy.codeHeading')}</h3>
        {security ? (
          <>
            <p class="code" data-testid="security-code" aria-label={t('privacy.codeAria', { code: security.code })}>
              {security.code}
            </p>
            <p class="small">{t('privacy.codeHelp', { count: String(security.members) })}</p>
          </>
        ) : refused ? (
          <p class="error" data-testid="e2ee-refused" role="alert">
            {t('privacy.refused')}
          </p>
        ) : (
          <p class="small" data-testid="e2ee-waiting">
            {t('privacy.waitingKeys')}
          </p>
        )}
      </section>
      <ul class="privacy-list">
        <li>{t('privacy.e2ee')}</li>
        <li data-testid="privacy-server">{t('privacy.server', { server: where })}</li>
        <li>{t('privacy.stores')}</li>
        <li data-testid="privacy-speaking">{t('privacy.speaking')}</li>
        <li data-testid="privacy-polls">{t('privacy.polls')}</li>
        <li data-testid="privacy-files">{t('privacy.files')}</li>
        <li data-testid="privacy-recording">{t('privacy.recording')}</li>
        <li data-testid="privacy-notes">{t('privacy.notes')}</li>
        <li data-testid="privacy-breakouts">{t('privacy.breakouts')}</li>
        <li>{t('privacy.ids')}</li>
        <li>{t('privacy.telemetry')}</li>
      </ul>
    </Panel>
  );
}
