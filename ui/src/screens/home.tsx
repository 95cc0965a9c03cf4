import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { NetworkAddress } from '../api';
import { cleanPastedLink } from '../link';
import { errorText } from '../errors';
import { t, type Lang } from '../i18n';
import { LanguageSelect } from '../components/language';
import { load, save } from '../storage';
import { clearRecent, recentMeetings, type Recent } from '../recent';
import { stripBidi } from '../chat';

type Props = {
  lang: Lang | null;
  onLang: (l: Lang | null) => void;
  onJoin: (link: string, server: string) => void;
  onHost: (title: string, server: string | null, apiToken: string | null, networkAddress: string | null) => void;
};

type Check = { state: 'idle' } | { state: 'checking' } | { state: 'ok'; server: string } | { state: 'error'; text: string };

export function Home({ lang, onLang, onJoin, onHost }: Props) {
  const [link, setLink] = useState('');
  const [check, setCheck] = useState<Check>({ state: 'idle' });
  const [title, setTitle] = useState('');
  // The server is remembered; the API token never is.
  const [server, setServer] = useState(load('hostServer') ?? '');
  const [token, setToken] = useState('');
  // Who can join a meeting hosted here: '' is this computer only, else one of its addresses.
  const [addresses, setAddresses] = useState<NetworkAddress[]>([]);
  const [reach, setReach] = useState('');
  const [recent, setRecent] = useState<Recent[]>(recentMeetings());
  const generation = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  useEffect(() => {
    let live = true;
    void api.networkAddresses().then((list) => {
      if (!live) return;
      setAddresses(list);
      // The last pick, if this computer still has that address.
      const last = load('hostReach') ?? '';
      if (list.some((a) => a.address === last)) setReach(last);
    });
    return () => {
      live = false;
    };
  }, []);

  async function runCheck(text: string): Promise<string | null> {
    const cleaned = cleanPastedLink(text);
    const mine = ++generation.current;
    if (cleaned === '') {
      setCheck({ state: 'idle' });
      return null;
    }
    setCheck({ state: 'checking' });
    const r = await api.checkLink(cleaned);
    if (mine !== generation.current) return null;
    if (r.status === 'ok') {
      setCheck({ state: 'ok', server: r.data.server });
      return r.data.server;
    }
    setCheck({ state: 'error', text: errorText(r.error) });
    return null;
  }

  function onInput(value: string) {
    setLink(value);
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => void runCheck(value), 250);
  }

  function onPaste(e: ClipboardEvent) {
    const text = e.clipboardData?.getData('text');
    if (text == null) return;
    e.preventDefault();
    const cleaned = cleanPastedLink(text);
    setLink(cleaned);
    if (timer.current) clearTimeout(timer.current);
    void runCheck(cleaned);
  }

  async function join(e: Event) {
    e.preventDefault();
    if (timer.current) clearTimeout(timer.current);
    const cleaned = cleanPastedLink(link);
    setLink(cleaned);
    const server = await runCheck(cleaned);
    if (server !== null) onJoin(cleaned, server);
  }

  function host(e: Event) {
    e.preventDefault();
    const s = server.trim();
    save('hostServer', s);
    if (s === '') save('hostReach', reach);
    onHost(
      title.trim(),
      s === '' ? null : s,
      s === '' || token.trim() === '' ? null : token.trim(),
      s === '' && reach !== '' ? reach : null,
    );
  }

  return (
    <main class="screen home" id="home-screen">
      <header class="home-header">
        <div>
          <h1 class="brand">{t('app.name')}</h1>
          <p class="tagline">{t('app.tagline')}</p>
        </div>
        <LanguageSelect value={lang} onChange={onLang} />
      </header>

      <section class="card" aria-labelledby="join-heading">
        <h2 id="join-heading">{t('home.join.heading')}</h2>
        <form onSubmit={join} class="stack">
          <label for="link-input" class="label-big">
            {t('home.link.label')}
          </label>
          <input
            id="link-input"
            class="input input-big"
            type="text"
            inputMode="url"
            autoComplete="off"
            autoCapitalize="off"
            spellcheck={false}
            placeholder={t('home.link.placeholder')}
            value={link}
            onInput={(e) => onInput((e.target as HTMLInputElement).value)}
            onPaste={onPaste}
            aria-describedby="link-status"
          />
          <p id="link-status" class={`status ${check.state === 'error' ? 'status-error' : ''}`} role="status" aria-live="polite">
            {check.state === 'checking' && t('home.link.checking')}
            {check.state === 'ok' && <span data-testid="link-server">{t('home.link.server', { server: check.server })}</span>}
            {check.state === 'error' && check.text}
          </p>
          <button id="join-button" class="button primary big" type="submit" disabled={link.trim() === '' || check.state === 'checking'}>
            {t('home.join')}
          </button>
        </form>
      </section>

      <section class="card" aria-labelledby="host-heading">
        <h2 id="host-heading">{t('home.host.heading')}</h2>
        <p class="muted">{t('home.host.explain')}</p>
        <form onSubmit={host} class="stack">
          <label for="title-input">{t('home.title.label')}</label>
          <input
            id="title-input"
            class="input"
            type="text"
            maxLength={200}
            autoComplete="off"
            placeholder={t('home.title.placeholder')}
            value={title}
            onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
          />
          <label for="host-server-input">{t('home.server.label')}</label>
          <input
            id="host-server-input"
            class="input"
            type="text"
            inputMode="url"
            autoComplete="off"
            autoCapitalize="off"
            spellcheck={false}
            placeholder={t('home.server.placeholder')}
            value={server}
            onInput={(e) => setServer((e.target as HTMLInputElement).value)}
          />
          {server.trim() === '' && (
            <>
              <label for="host-reach-select">{t('home.reach.label')}</label>
              <select
                id="host-reach-select"
                class="input"
                value={reach}
                onChange={(e) => setReach((e.target as HTMLSelectElement).value)}
                aria-describedby="host-reach-hint"
              >
                <option value="">{t('home.reach.this_computer')}</option>
                {addresses.map((a) => (
                  <option key={a.address} value={a.address}>
                    {t('home.reach.network', { address: a.address, interface: stripBidi(a.interface) })}
                  </option>
                ))}
              </select>
              <p id="host-reach-hint" class="small muted">
                {reach === '' ? t('home.reach.this_computer.hint') : t('home.reach.network.hint')}
              </p>
            </>
          )}
          {server.trim() !== '' && (
            <>
              <label for="api-token-input">{t('home.token.label')}</label>
              <input
                id="api-token-input"
                class="input"
                type="password"
                autoComplete="off"
                value={token}
                onInput={(e) => setToken((e.target as HTMLInputElement).value)}
              />
            </>
          )}
          <button id="host-button" class="button big" type="submit">
            {t('home.host')}
          </button>
        </form>
      </section>

      {recent.length > 0 && (
        <section class="card" aria-labelledby="recent-heading" id="recent-meetings">
          <h2 id="recent-heading">{t('home.recent.heading')}</h2>
          <ul class="recent-list">
            {recent.map((r) => (
              <li key={`${r.at}-${r.title}`} class="recent-item">
                <span class="recent-title">{stripBidi(r.title) || t('home.recent.untitled')}</span>
                {r.server && <span class="small muted">{stripBidi(r.server)}</span>}
                {r.link && (
                  <button type="button" class="button small" onClick={() => onJoin(r.link!, r.server ?? '')}>
                    {t('home.recent.rejoin')}
                  </button>
                )}
              </li>
            ))}
          </ul>
          <p class="small muted">{t('home.recent.note')}</p>
          <button
            type="button"
            id="recent-clear"
            class="button small"
            onClick={() => {
              clearRecent();
              setRecent([]);
            }}
          >
            {t('home.recent.clear')}
          </button>
        </section>
      )}
    </main>
  );
}
