// The pre-join screen's device pickers: camera, microphone and speaker by their names, with
// the test pattern and tone when none is picked (or none exists), and the reason a kind is
// missing in the person's language. Listing opens no device.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import type { Action, AppError, DeviceOption, DeviceOptions, DeviceProblem, DevicePrefs } from '../api';
import { Panel } from './panel';
import { t, type Key } from '../i18n';
import { load, save } from '../storage';

const KINDS = ['no_device', 'not_found', 'busy', 'permission_denied', 'unsupported', 'gone', 'failed'];
const DEVICES = ['camera', 'microphone', 'speaker'];

/** A device problem in the person's language (the backend's words only as a last resort). */
export function deviceProblemText(p: DeviceProblem): string {
  const device = DEVICES.includes(p.device) ? p.device : 'camera';
  if (p.kind === 'no_device') return t(`device.no_device.${device}` as Key);
  if (KINDS.includes(p.kind)) return t(`device.${p.kind}` as Key, { device: t(`device.kind.${device}` as Key) });
  return p.message || t('device.failed', { device: t(`device.kind.${device}` as Key) });
}

export const NO_DEVICES: DevicePrefs = { camera: null, microphone: null, speaker: null, original_sound: false };

/** The choices remembered from last time (ids only; names are looked up again). */
export function rememberedDevices(): DevicePrefs {
  try {
    const v = JSON.parse(load('devices') ?? 'null') as Partial<DevicePrefs> | null;
    if (!v || typeof v !== 'object') return NO_DEVICES;
    const id = (x: unknown) => (typeof x === 'string' && x.length > 0 && x.length < 512 ? x : null);
    return { camera: id(v.camera), microphone: id(v.microphone), speaker: id(v.speaker), original_sound: v.original_sound === true };
  } catch {
    return NO_DEVICES;
  }
}

export function rememberDevices(p: DevicePrefs): void {
  save('devices', JSON.stringify(p));
}

/** Drop remembered ids of devices that are not there now. */
export function available(p: DevicePrefs, o: DeviceOptions): DevicePrefs {
  const has = (list: DeviceOption[], id: string | null) => (id && list.some((d) => d.id === id) ? id : null);
  return { ...p, camera: has(o.cameras, p.camera), microphone: has(o.microphones, p.microphone), speaker: has(o.speakers, p.speaker) };
}

/** A device error from a command (kind `device_busy` …) in the person's language. */
export function deviceErrorText(e: AppError, device: string): string {
  return e.kind.startsWith('device_') ? deviceProblemText({ device, kind: e.kind.slice(7), message: e.message }) : e.message;
}

type Echo = { state: 'idle' } | { state: 'running' } | { state: 'done'; text: string };

/** Level meter and echo test for the picked microphone: opened only when asked. */
function MicCheck({ mic, speaker }: { mic: string; speaker: string | null }) {
  const [checking, setChecking] = useState(false);
  const [level, setLevel] = useState(0);
  const [echo, setEcho] = useState<Echo>({ state: 'idle' });
  useEffect(() => {
    if (!checking) return;
    let live = true;
    void api.checkMicrophone(mic).then((r) => {
      if (!live) return;
      if (r.status === 'error') {
        setChecking(false);
        setEcho({ state: 'done', text: deviceErrorText(r.error, 'microphone') });
      }
    });
    const timer = setInterval(() => void api.microphoneLevel().then((l) => live && setLevel(l)), 100);
    return () => {
      live = false;
      clearInterval(timer);
      setLevel(0);
      void api.checkMicrophone(null);
    };
  }, [checking, mic]);
  async function runEcho() {
    setChecking(false);
    setEcho({ state: 'running' });
    const r = await api.echoTest(mic, speaker, 3);
    if (r.status === 'error') setEcho({ state: 'done', text: deviceErrorText(r.error, 'microphone') });
    else
      setEcho({
        state: 'done',
        text: r.data.heard_something
          ? t('prejoin.devices.echoHeard', { seconds: (r.data.seconds ?? 0).toFixed(1) })
          : t('prejoin.devices.echoSilent'),
      });
  }
  return (
    <div class="stack">
      <div class="row mic-check">
        <button type="button" id="mic-check-button" class="button small" aria-pressed={checking} onClick={() => setChecking(!checking)}>
          {checking ? t('prejoin.devices.stopTest') : t('prejoin.devices.testMic')}
        </button>
        <meter id="mic-level" class="grow" min={0} max={1} value={level} aria-label={t('prejoin.devices.level')} data-level={level.toFixed(2)} />
        <button type="button" id="echo-test-button" class="button small" disabled={echo.state === 'running'} onClick={() => void runEcho()}>
          {t('prejoin.devices.echoTest')}
        </button>
      </div>
      {echo.state !== 'idle' && (
        <p class="small" role="status" data-testid="echo-test-result">
          {echo.state === 'running' ? t('prejoin.devices.echoRunning') : echo.text}
        </p>
      )}
    </div>
  );
}

type Props = { value: DevicePrefs; onChange: (p: DevicePrefs) => void; testing?: boolean };

/** The pickers; `testing` (the pre-join screen) adds the microphone check, the echo test and
 * the original-sound switch (audio processing is set up for the whole meeting). */
export function DevicePickers({ value, onChange, testing = true }: Props) {
  const [options, setOptions] = useState<DeviceOptions | null>(null);
  useEffect(() => {
    let live = true;
    void api.listDevices().then((r) => {
      if (!live) return;
      // Listing failed: offer the test pattern and tone (and the default speaker) only.
      const found = r.status === 'ok' ? r.data : { cameras: [], microphones: [], speakers: [], problems: [] };
      setOptions(found);
      onChange(available(value, found));
    });
    return () => {
      live = false;
    };
    // Listed once per visit to the screen.
  }, []);

  if (!options) {
    return <p class="small muted" data-testid="devices-loading">{t('prejoin.devices.loading')}</p>;
  }
  const label = (d: DeviceOption) => (d.default ? t('prejoin.devices.default', { name: d.name }) : d.name);
  const picker = (id: string, title: Key, list: DeviceOption[], none: Key, current: string | null, set: (v: string | null) => void) => (
    <div class="device-picker">
      <label for={id}>{t(title)}</label>
      <select id={id} class="input" value={current ?? ''} onChange={(e) => set((e.target as HTMLSelectElement).value || null)}>
        <option value="">{t(none)}</option>
        {list.map((d) => (
          <option key={d.id} value={d.id}>
            {label(d)}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <fieldset class="devices stack" data-testid="device-pickers">
      <legend>{t('prejoin.devices.heading')}</legend>
      {picker('camera-select', 'prejoin.devices.camera', options.cameras, 'prejoin.devices.testPattern', value.camera, (camera) =>
        onChange({ ...value, camera }),
      )}
      {picker('mic-select', 'prejoin.devices.microphone', options.microphones, 'prejoin.devices.testTone', value.microphone, (microphone) =>
        onChange({ ...value, microphone }),
      )}
      {testing && value.microphone && <MicCheck key={value.microphone} mic={value.microphone} speaker={value.speaker} />}
      {picker('speaker-select', 'prejoin.devices.speaker', options.speakers, 'prejoin.devices.systemDefault', value.speaker, (speaker) =>
        onChange({ ...value, speaker }),
      )}
      {testing && (
        <label class="checkbox-row small">
          <input
            type="checkbox"
            id="original-sound"
            checked={value.original_sound}
            onChange={(e) => onChange({ ...value, original_sound: (e.target as HTMLInputElement).checked })}
          />
          {t('prejoin.devices.originalSound')}
        </label>
      )}
      {options.problems.map((p) => (
        <p key={p.device} class="small muted" data-testid={`device-problem-${p.device}`}>
          {deviceProblemText(p)}
        </p>
      ))}
    </fieldset>
  );
}

/** The meeting's devices panel: the same pickers; a change is applied at once. */
export function DevicesPanel({ initial, act, onClose }: { initial: DevicePrefs; act: (a: Action) => void; onClose: () => void }) {
  const [value, setValue] = useState(initial);
  const change = (p: DevicePrefs) => {
    const changed =
      p.camera !== value.camera || p.microphone !== value.microphone || p.speaker !== value.speaker || p.original_sound !== value.original_sound;
    setValue(p);
    if (changed) {
      rememberDevices(p);
      act({ type: 'devices', prefs: p });
    }
  };
  return (
    <Panel id="devices-panel" title={t('devices.heading')} onClose={onClose}>
      <p class="small muted">{t('devices.note')}</p>
      <DevicePickers value={value} onChange={change} testing={false} />
    </Panel>
  );
}
