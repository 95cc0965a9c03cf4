// Renders chat segments as DOM text nodes and <a> elements only — never innerHTML.
import { useState } from 'preact/hooks';
import { renderChat } from '../chat';
import { copyText } from '../clipboard';
import { t } from '../i18n';
import { Modal } from './modal';

export function ChatText({ body, onLink }: { body: string; onLink: (href: string) => void }) {
  const segments = renderChat(body);
  return (
    <span class="chat-body">
      {segments.map((s, i) =>
        s.kind === 'text' ? (
          s.text
        ) : (
          <a
            key={i}
            href={s.href}
            class="chat-link"
            rel="noopener noreferrer nofollow"
            referrerpolicy="no-referrer"
            draggable={false}
            onClick={(e) => {
              e.preventDefault();
              onLink(s.href);
            }}
            onAuxClick={(e) => e.preventDefault()}
          >
            {s.text}
          </a>
        ),
      )}
    </span>
  );
}

/**
 * Confirm before leaving the app for a chat link, showing the FULL address. There is no
 * opener plugin in the app yet (nothing may open URLs from the webview), so for now the only
 * way forward is "Copy address"; once an opener exists, an "Open" button goes here.
 */
export function LinkConfirm({ href, onClose }: { href: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <Modal id="link-confirm" labelledBy="link-confirm-heading" onClose={onClose}>
      <h2 id="link-confirm-heading">{t('chat.link.heading')}</h2>
      <p>{t('chat.link.explain')}</p>
      <p class="address" data-testid="link-address">
        {href}
      </p>
      <p class="small muted">{t('chat.link.noOpener')}</p>
      <div class="row end">
        <button
          type="button"
          id="link-copy"
          class="button primary"
          onClick={async () => {
            setCopied(await copyText(href));
          }}
        >
          {copied ? t('chat.link.copied') : t('chat.link.copy')}
        </button>
        <button type="button" id="link-cancel" class="button" onClick={onClose}>
          {t('chat.link.cancel')}
        </button>
      </div>
    </Modal>
  );
}
