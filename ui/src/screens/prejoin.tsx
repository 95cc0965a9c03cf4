import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { AppError, MeetingView } from '../api';
import { errorText, needsPasscode } from '../errors';
import { t } from '../i18n';
import { load, save } from '../storage';
import { Switch } from '../components/switch';
import { DevicePickers, rememberDevices, rememberedDevices } from '../components/devices';
import type { SessionInfo } from '../app';
import { PREVIEW_ID, videoRouter } from '../video';

export type PreJoinTarget =
  | { mode: 'join'; link: string; server: string }
  | { mode: 'host'; title: string; server: string | null; apiToken: string | null; networkAddress: string | null };

type Props = { target: PreJoinTarget; onEntered: (view: MeetingView, info: SessionInfo) => void; onBack: () => void };

export function PreJoin({ target, onEntered, onBack }: Props) {
  const [name, setName] = useState(load('name') ?? '');
  const [camera, setCamera] = useState(false);
  const [mic, setMic] = useState(false);
  const [devices, setDevices] = useState(rememberedDevices);
  const [passcode, setPasscode] = useState('');
  const [askPasscode, setAskPasscode] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const host = target.mode === 'host';
  const preview = useRef<HTMLCanvasElement>(null);
  const [previewError, setPreviewError] = useState<AppError | null>(null);

  // The camera preview runs only while the camera switch is on (the camera's light with it).
  const cameraId = devices.camera ?? null;
  useEffect(() => {
    const c = preview.current;
    if (!camera || !c) return;
    videoRouter.attach(PREVIEW_ID, c);
    setPreviewError(null);
    void api.previewCamera(true, cameraId).then((r) => r.status === 'error' && setPreviewError(r.error));
    return () => {
      videoRouter.detach(PREVIEW_ID, c);
      void api.previewCamera(false, null);
    };
  }, [camera, cameraId]);

  async function enter(e: Event) {
    e.preventDefault();
    if (busy) return;
    const trimmed = name.trim();
    save('name', trimmed);
    rememberDevices(devices);
    setBusy(true);
    setError(null);
    const code = passcode.trim() === '' ? null : passcode;
    const r =
      target.mode === 'join'
        ? await api.joinMeeting({ link: target.link, name: trimmed, passcode: code, camera, microphone: mic, devices })
        : await api.hostMeeting({
            title: target.title,
            name: trimmed,
            passcode: code,
            camera,
            microphone: mic,
            devices,
            server: target.server,
            api_token: target.apiToken,
            network_address: target.networkAddress,
          });
    setBusy(false);
    // Stopped with Cancel: back to the form as it was, nothing to explain.
    if (r.status === 'error' && r.error.kind === 'cancelled') return;
    if (r.status === 'ok') {
      onEntered(r.data, {
        server: target.server,
        hostedHere: r.data.hosted_here,
        networkAddress: target.mode === 'host' && target.server === null ? target.networkAddress : null,
        link: target.mode === 'join' ? target.link : null,
        camera,
        name: trimmed,
        devices,
      });
      return;
    }
    setError(r.error);
    if (!host && needsPasscode(r.error)) {
      setAskPasscode(true);
      if (r.error.kind === 'wrong_passcode') setPasscode('');
      setTimeout(() => document.getElementById('passcode-input')?.focus(), 0);
    }
  }

  return (
    <main class="screen prejoin" id="prejoin-screen">
      <form class="card stack" onSubmit={enter} aria-labelledby="prejoin-heading">
        <h1 id="prejoin-heading">{host ? t('prejoin.heading.host') : t('prejoin.heading.join')}</h1>
        <p class="muted" data-testid="prejoin-server">
          {target.mode === 'join' ? t('home.link.server', { server: target.server }) : t('prejoin.server.host')}
        </p>

        <label for="name-input">{t('prejoin.name.label')}</label>
        <input
          id="name-input"
          class="input input-big"
          type="text"
          maxLength={64}
          autoComplete="nickname"
          placeholder={t('prejoin.name.placeholder')}
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
          required
        />

        <div class="toggles">
          <Switch id="camera-toggle" label={t('prejoin.camera')} checked={camera} onToggle={() => setCamera(!camera)} showState />
          <Switch id="mic-toggle" label={t('prejoin.microphone')} checked={mic} onToggle={() => setMic(!mic)} showState />
        </div>
        {camera && (
          <div class="camera-preview">
            <canvas
              ref={preview}
              id="camera-preview"
              class="tile-video"
              width={16}
              height={9}
              role="img"
              aria-label={cameraId ? t('prejoin.preview') : t('prejoin.preview.pattern')}
            />
            {previewError && (
              <p class="status status-error small" role="alert" data-testid="preview-error">
                {errorText(previewError)}
              </p>
            )}
          </div>
        )}
        <p class="small muted">{t('prejoin.devices.note')}</p>
        <DevicePickers value={devices} onChange={setDevices} />

        {(askPasscode || host) && (
          <div class="stack">
            <label for={host ? 'host-passcode-input' : 'passcode-input'}>{host ? t('prejoin.hostPasscode.label') : t('prejoin.passcode.label')}</label>
            <input
              id={host ? 'host-passcode-input' : 'passcode-input'}
              class="input"
              type="password"
              autoComplete="off"
              value={passcode}
              onInput={(e) => setPasscode((e.target as HTMLInputElement).value)}
              aria-describedby="passcode-explain"
            />
            <p id="passcode-explain" class="small muted">
              {host ? t('prejoin.hostPasscode.explain') : t('prejoin.passcode.explain')}
            </p>
          </div>
        )}

        {error && (
          <p class="status status-error" role="alert" data-testid="prejoin-error">
            {errorText(error)}
          </p>
        )}

        <div class="row">
          {busy ? (
            <button id="cancel-join-button" type="button" class="button" onClick={() => void api.meetingAction({ type: 'leave' })}>
              {t('prejoin.cancel')}
            </button>
          ) : (
            <button type="button" class="button" onClick={onBack}>
              {t('prejoin.back')}
            </button>
          )}
          <button id="enter-button" type="submit" class="button primary big grow" disabled={busy || name.trim() === ''}>
            {busy ? t('prejoin.connecting') : host ? t('prejoin.enter.host') : t('prejoin.enter.join')}
          </button>
        </div>
      </form>
    </main>
  );
}
