import { describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/preact';
import type { MeetingView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import * as api from '../src/api';
import { Home } from '../src/screens/home';
import { PreJoin } from '../src/screens/prejoin';
import { Meeting } from '../src/screens/meeting';
import { Waiting } from '../src/screens/waiting';
import { SecurityMenu } from '../src/components/security';
import { ChatPanel } from '../src/components/chatpanel';
import { setLang } from '../src/i18n';
import { encodeBatch, encodeFrame, videoRouter } from '../src/video';
import type { SessionInfo } from '../src/app';
import { hostView, mocked, person, policy, renderApp, setUpEach } from './harness';

const LINK = 'https://meet.example.org/m/abc#k=secret';

/** Ann hosts on this computer, with Bob (hand raised) in the meeting and Eve waiting. */
function meetingView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({
    policy: policy({ waiting_room: true, private_chat: true, rename: false, screen_share_everyone: false, file_transfer: false, capacity: 50 }),
    participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Bob', { muted: false, hand_raised: true, hand_order: 0 })],
    waiting: [{ id: 9, name: 'Eve', browser: false }],
    hosted_here: true,
    invite_available: true,
    security: { code: '12345 67890 13579 24680', members: 2 },
    ...over,
  });
}

setUpEach();

describe('Home', () => {
  it('lists recent meetings by title, rejoins by their link, and clears them', () => {
    localStorage.setItem(
      'parley.recent',
      JSON.stringify([
        { title: 'Works council', link: LINK, server: 'meet.example.org', at: 2 },
        { title: 'Hosted here', link: null, server: null, at: 1 },
      ]),
    );
    const onJoin = vi.fn();
    const { container } = render(<Home lang={null} onLang={() => {}} onJoin={onJoin} onHost={() => {}} />);
    const list = container.querySelector('#recent-meetings')!;
    expect(list.textContent).toContain('Works council');
    expect(list.textContent).not.toContain('#k=');
    const rejoin = Array.from(list.querySelectorAll('button')).filter((b) => b.textContent === 'Rejoin');
    expect(rejoin.length).toBe(1);
    fireEvent.click(rejoin[0]);
    expect(onJoin).toHaveBeenCalledWith(LINK, 'meet.example.org');
    fireEvent.click(container.querySelector('#recent-clear')!);
    expect(container.querySelector('#recent-meetings')).toBeNull();
    expect(localStorage.getItem('parley.recent')).toBe('[]');
  });

  it('hosts on this computer unless a server is named; the token is asked only then and never kept', () => {
    const onHost = vi.fn();
    const { container } = render(<Home lang={null} onLang={() => {}} onJoin={() => {}} onHost={onHost} />);
    const form = container.querySelector('#host-button')!.closest('form')!;
    fireEvent.input(container.querySelector('#title-input')!, { target: { value: 'Board' } });
    expect(container.querySelector('#api-token-input')).toBeNull();
    fireEvent.submit(form);
    expect(onHost).toHaveBeenLastCalledWith('Board', null, null, null);
    fireEvent.input(container.querySelector('#host-server-input')!, { target: { value: ' https://meet.example.org ' } });
    fireEvent.input(container.querySelector('#api-token-input')!, { target: { value: 'tok-123' } });
    expect(container.querySelector('#host-reach-select')).toBeNull();
    fireEvent.submit(form);
    expect(onHost).toHaveBeenLastCalledWith('Board', 'https://meet.example.org', 'tok-123', null);
    expect(localStorage.getItem('parley.hostServer')).toBe('https://meet.example.org');
    expect(JSON.stringify(localStorage)).not.toContain('tok-123');
  });

  it('hosts for the network through an address of this computer the host picks, and remembers it', async () => {
    mocked.networkAddresses.mockResolvedValue([
      { interface: 'wlan0', address: '192.168.1.20' },
      { interface: 'eth\u202e0', address: 'fd00::5' },
    ]);
    const onHost = vi.fn();
    const { container, unmount } = render(<Home lang={null} onLang={() => {}} onJoin={() => {}} onHost={onHost} />);
    const select = container.querySelector<HTMLSelectElement>('#host-reach-select')!;
    await waitFor(() => expect(select.options.length).toBe(3));
    // This computer only is the default, and the hint says the link works only here.
    expect(select.value).toBe('');
    expect(container.querySelector('#host-reach-hint')!.textContent).toContain('only on this computer');
    expect(select.options[1].textContent).toBe('People on the network, through 192.168.1.20 (wlan0)');
    // An interface name cannot reorder the text around it.
    expect(select.options[2].textContent).not.toContain('\u202e');
    fireEvent.change(select, { target: { value: '192.168.1.20' } });
    expect(container.querySelector('#host-reach-hint')!.textContent).toContain('certificate');
    fireEvent.input(container.querySelector('#title-input')!, { target: { value: 'Board' } });
    fireEvent.submit(container.querySelector('#host-button')!.closest('form')!);
    expect(onHost).toHaveBeenLastCalledWith('Board', null, null, '192.168.1.20');
    unmount();
    // The next time, the same address is picked again while this computer still has it…
    const again = render(<Home lang={null} onLang={() => {}} onJoin={() => {}} onHost={onHost} />);
    const select2 = again.container.querySelector<HTMLSelectElement>('#host-reach-select')!;
    await waitFor(() => expect(select2.value).toBe('192.168.1.20'));
    again.unmount();
    // …and not once it is gone.
    mocked.networkAddresses.mockResolvedValue([{ interface: 'wlan0', address: '192.168.1.77' }]);
    const moved = render(<Home lang={null} onLang={() => {}} onJoin={() => {}} onHost={onHost} />);
    const select3 = moved.container.querySelector<HTMLSelectElement>('#host-reach-select')!;
    await waitFor(() => expect(select3.options.length).toBe(2));
    expect(select3.value).toBe('');
  });

  it('cleans a pasted link and shows the server name', async () => {
    mocked.checkLink.mockResolvedValue({ status: 'ok', data: { server: 'meet.example.org' } });
    const onJoin = vi.fn();
    const { container, findByText } = render(<Home lang={null} onLang={() => {}} onJoin={onJoin} onHost={() => {}} />);
    const input = container.querySelector<HTMLInputElement>('#link-input')!;
    fireEvent.input(input, { target: { value: `  <${LINK}>.\n` } });
    expect(await findByText('Meeting on meet.example.org')).toBeTruthy();
    expect(mocked.checkLink).toHaveBeenLastCalledWith(LINK);
    fireEvent.click(container.querySelector('#join-button')!);
    await waitFor(() => expect(onJoin).toHaveBeenCalledWith(LINK, 'meet.example.org'));
  });

  it('explains a bad link in the chosen language', async () => {
    setLang('de');
    mocked.checkLink.mockResolvedValue({ status: 'error', error: { kind: 'link_wrong_scheme', message: 'not a link' } });
    const onJoin = vi.fn();
    const { container, findByText } = render(<Home lang="de" onLang={() => {}} onJoin={onJoin} onHost={() => {}} />);
    fireEvent.input(container.querySelector('#link-input')!, { target: { value: 'smb://host/share' } });
    fireEvent.click(container.querySelector('#join-button')!);
    expect(await findByText(/Das ist kein Parley-Besprechungslink/)).toBeTruthy();
    expect(onJoin).not.toHaveBeenCalled();
  });
});

describe('PreJoin', () => {
  it('previews the camera only while the camera switch is on, and says why it cannot', async () => {
    mocked.previewCamera.mockResolvedValue({ status: 'ok', data: null });
    const { container } = render(
      <PreJoin target={{ mode: 'join', link: LINK, server: 'meet.example.org' }} onEntered={() => {}} onBack={() => {}} />,
    );
    expect(container.querySelector('#camera-preview')).toBeNull();
    expect(mocked.previewCamera).not.toHaveBeenCalled();
    fireEvent.click(container.querySelector('#camera-toggle')!);
    await waitFor(() => expect(mocked.previewCamera).toHaveBeenCalledWith(true, null));
    const canvas = container.querySelector('#camera-preview')!;
    expect(canvas.getAttribute('aria-label')).toContain('test pattern');
    fireEvent.click(container.querySelector('#camera-toggle')!);
    await waitFor(() => expect(mocked.previewCamera).toHaveBeenLastCalledWith(false, null));
    expect(container.querySelector('#camera-preview')).toBeNull();
    mocked.previewCamera.mockResolvedValue({ status: 'error', error: { kind: 'device_busy', message: 'The camera is in use by another program; close it there and try again.' } });
    fireEvent.click(container.querySelector('#camera-toggle')!);
    await waitFor(() => expect(container.querySelector('[data-testid="preview-error"]')).toBeTruthy());
  });

  it('asks for a passcode when the server wants one and retries with it', async () => {
    mocked.joinMeeting
      .mockResolvedValueOnce({ status: 'error', error: { kind: 'passcode_required', message: 'x' } })
      .mockResolvedValueOnce({ status: 'ok', data: meetingView({ phase: 'waiting' }) });
    const onEntered = vi.fn();
    const { container, findByText } = render(
      <PreJoin target={{ mode: 'join', link: LINK, server: 'meet.example.org' }} onEntered={onEntered} onBack={() => {}} />,
    );
    expect(container.querySelector('#passcode-input')).toBeNull();
    expect(container.querySelector('#camera-toggle')!.getAttribute('aria-checked')).toBe('false');
    expect(container.querySelector('#mic-toggle')!.getAttribute('aria-checked')).toBe('false');
    fireEvent.input(container.querySelector('#name-input')!, { target: { value: 'Zoë' } });
    fireEvent.click(container.querySelector('#enter-button')!);
    expect(await findByText('This meeting needs a passcode.')).toBeTruthy();
    const pass = container.querySelector<HTMLInputElement>('#passcode-input')!;
    expect(pass).toBeTruthy();
    fireEvent.input(pass, { target: { value: '4711' } });
    fireEvent.click(container.querySelector('#enter-button')!);
    await waitFor(() => expect(onEntered).toHaveBeenCalled());
    expect(mocked.joinMeeting).toHaveBeenLastCalledWith({
      link: LINK,
      name: 'Zoë',
      passcode: '4711',
      camera: false,
      microphone: false,
      devices: { camera: null, microphone: null, speaker: null, original_sound: false },
    });
    expect(localStorage.getItem('parley.name')).toBe('Zoë');
  });

  it('joining can be cancelled while the server has not answered, and nothing is shown as an error', async () => {
    let answer: (r: Awaited<ReturnType<typeof api.joinMeeting>>) => void = () => {};
    mocked.joinMeeting.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    mocked.meetingAction.mockImplementationOnce(async () => {
      answer({ status: 'error', error: { kind: 'cancelled', message: 'You stopped joining the meeting.' } });
      return { status: 'ok', data: null };
    });
    const onEntered = vi.fn();
    const { container } = render(
      <PreJoin target={{ mode: 'join', link: LINK, server: 'meet.example.org' }} onEntered={onEntered} onBack={() => {}} />,
    );
    fireEvent.input(container.querySelector('#name-input')!, { target: { value: 'Zoë' } });
    expect(container.querySelector('#cancel-join-button')).toBeNull();
    fireEvent.click(container.querySelector('#enter-button')!);
    const cancel = await waitFor(() => container.querySelector<HTMLButtonElement>('#cancel-join-button')!);
    expect(cancel.textContent).toBe('Cancel');
    expect(container.querySelector<HTMLButtonElement>('#enter-button')!.disabled).toBe(true);
    fireEvent.click(cancel);
    expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'leave' });
    await waitFor(() => expect(container.querySelector<HTMLButtonElement>('#enter-button')!.disabled).toBe(false));
    expect(container.querySelector('[data-testid="prejoin-error"]')).toBeNull();
    expect(container.querySelector('#cancel-join-button')).toBeNull();
    expect(onEntered).not.toHaveBeenCalled();
  });

  it('opens the picked microphone only to test it: a live level meter, and an echo test', async () => {
    mocked.listDevices.mockResolvedValue({
      status: 'ok',
      data: { cameras: [], microphones: [{ id: 'alsa:mic', name: 'Mic', default: false }], speakers: [], problems: [] },
    });
    mocked.checkMicrophone.mockResolvedValue({ status: 'ok', data: null });
    mocked.microphoneLevel.mockResolvedValue(0.75);
    mocked.echoTest.mockResolvedValue({ status: 'ok', data: { seconds: 3, peak_dbfs: -12, heard_something: true } });
    const { container, findByTestId } = render(
      <PreJoin target={{ mode: 'join', link: LINK, server: 'x' }} onEntered={() => {}} onBack={() => {}} />,
    );
    await findByTestId('device-pickers');
    // Nothing is opened until a microphone is picked and tested.
    expect(container.querySelector('#mic-check-button')).toBeNull();
    fireEvent.change(container.querySelector('#mic-select')!, { target: { value: 'alsa:mic' } });
    expect(mocked.checkMicrophone).not.toHaveBeenCalled();
    fireEvent.click(container.querySelector('#mic-check-button')!);
    await waitFor(() => expect(mocked.checkMicrophone).toHaveBeenCalledWith('alsa:mic'));
    await waitFor(() => expect(container.querySelector('#mic-level')!.getAttribute('data-level')).toBe('0.75'));
    // Stopping closes it.
    fireEvent.click(container.querySelector('#mic-check-button')!);
    await waitFor(() => expect(mocked.checkMicrophone).toHaveBeenLastCalledWith(null));
    fireEvent.click(container.querySelector('#echo-test-button')!);
    expect((await findByTestId('echo-test-result')).textContent).toMatch(/Speak now|Played back/);
    await waitFor(() => expect(container.querySelector('[data-testid="echo-test-result"]')!.textContent).toContain('Played back 3.0 s'));
    expect(mocked.echoTest).toHaveBeenCalledWith('alsa:mic', null, 3);
    // A busy microphone is explained in the person's words.
    mocked.checkMicrophone.mockResolvedValueOnce({ status: 'error', error: { kind: 'device_busy', message: 'x' } });
    fireEvent.click(container.querySelector('#mic-check-button')!);
    await waitFor(() =>
      expect(container.querySelector('[data-testid="echo-test-result"]')!.textContent).toBe(
        'The microphone is in use by another program; close it there and try again.',
      ),
    );
  });

  it('lists devices by name, says in the chosen language what is missing, and joins with the ones picked', async () => {
    setLang('de');
    mocked.listDevices.mockResolvedValue({
      status: 'ok',
      data: {
        cameras: [],
        microphones: [
          { id: 'alsa:default', name: 'default', default: true },
          { id: 'alsa:headset', name: 'USB Headset <b>Mic</b>', default: false },
        ],
        speakers: [{ id: 'alsa:headset', name: 'USB Headset', default: false }],
        problems: [{ device: 'camera', kind: 'no_device', message: 'No camera found — you can still join with audio.' }],
      },
    });
    mocked.joinMeeting.mockResolvedValue({ status: 'ok', data: meetingView({ phase: 'waiting' }) });
    const onEntered = vi.fn();
    const { container, findByTestId } = render(
      <PreJoin target={{ mode: 'join', link: LINK, server: 'meet.example.org' }} onEntered={onEntered} onBack={() => {}} />,
    );
    expect((await findByTestId('device-problem-camera')).textContent).toBe('Keine Kamera gefunden – Sie können mit Ton teilnehmen.');
    const mic = container.querySelector<HTMLSelectElement>('#mic-select')!;
    const names = [...mic.options].map((o) => o.textContent);
    // The device's name is text, never markup.
    expect(names).toEqual(['Testton (kein Mikrofon)', 'default (Standard)', 'USB Headset <b>Mic</b>']);
    expect(container.querySelector('#mic-select b')).toBeNull();
    // No camera: only the test pattern is offered.
    expect(container.querySelector<HTMLSelectElement>('#camera-select')!.options.length).toBe(1);
    fireEvent.change(mic, { target: { value: 'alsa:headset' } });
    fireEvent.change(container.querySelector('#speaker-select')!, { target: { value: 'alsa:headset' } });
    fireEvent.click(container.querySelector('#original-sound')!);
    fireEvent.input(container.querySelector('#name-input')!, { target: { value: 'Zoë' } });
    fireEvent.click(container.querySelector('#enter-button')!);
    await waitFor(() => expect(onEntered).toHaveBeenCalled());
    expect(mocked.joinMeeting).toHaveBeenLastCalledWith(
      expect.objectContaining({ devices: { camera: null, microphone: 'alsa:headset', speaker: 'alsa:headset', original_sound: true } }),
    );
    // Remembered for next time; an id that has gone since is dropped.
    expect(JSON.parse(localStorage.getItem('parley.devices')!)).toMatchObject({ microphone: 'alsa:headset' });
    cleanup();
    mocked.listDevices.mockResolvedValue({ status: 'ok', data: { cameras: [], microphones: [], speakers: [], problems: [] } });
    const again = render(<PreJoin target={{ mode: 'join', link: LINK, server: 'x' }} onEntered={onEntered} onBack={() => {}} />);
    await again.findByTestId('device-pickers');
    expect(again.container.querySelector<HTMLSelectElement>('#mic-select')!.value).toBe('');
  });
});

describe('SecurityMenu', () => {
  it('sends set_policy and shows only the server state', async () => {
    const view = meetingView();
    const act = vi.fn().mockResolvedValue(true);
    const { container, rerender } = render(<SecurityMenu view={view} act={act} onClose={() => {}} />);
    const chat = container.querySelector('#policy-chat')!;
    expect(chat.getAttribute('aria-checked')).toBe('true');
    fireEvent.click(chat);
    await waitFor(() => expect(act).toHaveBeenCalled());
    expect(act.mock.calls[0]![0]).toEqual({ type: 'set_policy', change: api.policyChange({ chat: false }) });
    // Not flipped until the server says so.
    expect(container.querySelector('#policy-chat')!.getAttribute('aria-checked')).toBe('true');
    rerender(<SecurityMenu view={meetingView({ policy: { ...view.policy!, chat: false } })} act={act} onClose={() => {}} />);
    expect(container.querySelector('#policy-chat')!.getAttribute('aria-checked')).toBe('false');
  });

  it('locks via lock/unlock and confirms before ending', async () => {
    const act = vi.fn().mockResolvedValue(true);
    const { container } = render(<SecurityMenu view={meetingView({ locked: true })} act={act} onClose={() => {}} />);
    fireEvent.click(container.querySelector('#lock-toggle')!);
    await waitFor(() => expect(act).toHaveBeenCalledWith({ type: 'unlock' }));
    fireEvent.click(container.querySelector('#end-meeting')!);
    expect(act).not.toHaveBeenCalledWith({ type: 'end' });
    fireEvent.click(container.querySelector('#end-confirm')!);
    expect(act).toHaveBeenCalledWith({ type: 'end' });
  });
});

describe('Meeting', () => {
  const session: SessionInfo = { server: null, hostedHere: true, camera: false, name: 'Ann' };

  it('shows tiles, reports visible tiles, and copies the invite without rendering it', async () => {
    mocked.inviteLink.mockResolvedValue({ status: 'ok', data: LINK });
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const { container, findAllByText } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    expect(container.querySelector('#tile-1')).toBeTruthy();
    expect(container.querySelector('#tile-2 canvas')).toBeTruthy();
    expect(container.querySelector('#tile-1 canvas')).toBeNull();
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith(expect.objectContaining({ type: 'visible_tiles', ids: [2] })));
    fireEvent.click(container.querySelector('#copy-invite')!);
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(LINK));
    expect((await findAllByText('Copied')).length).toBeGreaterThan(0);
    expect(document.body.innerHTML).not.toContain('secret');
  });

  it('shows a shared screen as the big tile in speaker view', async () => {
    const base = meetingView();
    const people = [
      base.participants[0]!,
      base.participants[1]!,
      { ...base.participants[1]!, id: 3, name: 'Cy', hand_raised: false, hand_order: null, sharing: true },
    ];
    const { container } = render(
      <Meeting view={meetingView({ participants: people, active_speaker: 2 })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    await waitFor(() => expect(container.querySelector('#tile-3.large')).toBeTruthy());
    expect(container.querySelector('#tile-2.large')).toBeNull(); // not the one who spoke last
    expect(container.querySelector('#tile-3 [data-testid="sharing-3"]')).toBeTruthy();
    // Back to the gallery if the person wants it.
    fireEvent.click(container.querySelector('#view-toggle')!);
    await waitFor(() => expect(container.querySelector('.tile.large')).toBeNull());
  });

  it('sends chat and leaves showing it to the server\'s echo', async () => {
    const { container } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#chat-button')!);
    expect(container.querySelector('#chat-panel')).toBeTruthy();
    fireEvent.input(container.querySelector('#chat-input')!, { target: { value: 'hello' } });
    fireEvent.click(container.querySelector('#chat-send')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'chat', body: 'hello', to: null }));
    // Nothing is added locally: the list shows only what the server relayed.
    expect(container.querySelectorAll('.chat-message').length).toBe(0);
  });

  it('asks what to share — the screen or one window — and stops without asking', async () => {
    mocked.shareSources.mockResolvedValue({
      status: 'ok',
      data: [
        { id: 'screen', screen: true, title: '', width: 1280, height: 800 },
        { id: 'window:42', screen: false, title: 'Budget \u202egnp.exe', width: 640, height: 480 },
      ],
    });
    const r = render(<Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    fireEvent.click(r.container.querySelector('#share-button')!);
    const picker = await waitFor(() => r.container.querySelector('#share-picker')!);
    await waitFor(() => expect(picker.querySelector('[data-testid="share-window-42"]')).toBeTruthy());
    expect(picker.querySelector('[data-testid="share-screen"]')!.textContent).toContain('Entire screen');
    expect(picker.querySelector('[data-testid="share-screen"]')!.textContent).toContain('1280 × 800');
    const win = picker.querySelector('[data-testid="share-window-42"]')!;
    // Another program's title: text only, its direction override removed.
    expect(win.textContent).toContain('Budget');
    expect(win.textContent).not.toContain('\u202e');
    expect(mocked.meetingAction).not.toHaveBeenCalled();
    fireEvent.click(win);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'share_screen', on: true, source: 'window:42' }));
    expect(r.container.querySelector('#share-picker')).toBeNull();
    // While sharing, the button stops at once.
    mocked.meetingAction.mockClear();
    const sharing = meetingView({
      participants: meetingView().participants.map((p) => (p.id === 1 ? { ...p, sharing: true } : p)),
    });
    r.rerender(<Meeting view={sharing} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    fireEvent.click(r.container.querySelector('#share-button')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'share_screen', on: false, source: null }));
    expect(r.container.querySelector('#share-picker')).toBeNull();
  });

  it('opens the share picker with Ctrl+Shift+S, shown in the button\'s tooltip', async () => {
    mocked.shareSources.mockResolvedValue({ status: 'ok', data: [{ id: 'screen', screen: true, title: '', width: 1280, height: 800 }] });
    const r = render(<Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(r.container.querySelector('#share-button')!.getAttribute('title')).toContain('Ctrl+Shift+S');
    fireEvent.keyDown(window, { key: 'S', ctrlKey: true, shiftKey: true });
    await waitFor(() => expect(r.container.querySelector('[data-testid="share-screen"]')).toBeTruthy());
    fireEvent.click(r.container.querySelector('[data-testid="share-screen"]')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'share_screen', on: true, source: 'screen' }));
  });

  it('says why nothing can be shared, and cancels without sharing', async () => {
    mocked.shareSources.mockResolvedValue({ status: 'error', error: { kind: 'media', message: 'screen capture: no X display to capture' } });
    const r = render(<Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    fireEvent.click(r.container.querySelector('#share-button')!);
    await waitFor(() => expect(r.container.querySelector('[data-testid="share-error"]')).toBeTruthy());
    fireEvent.click(r.container.querySelector('#share-cancel')!);
    expect(r.container.querySelector('#share-picker')).toBeNull();
    expect(mocked.meetingAction).not.toHaveBeenCalled();
  });

  it('says in the privacy panel which server carries the meeting, and how far it reaches', () => {
    const where = (info: SessionInfo) => {
      const r = render(
        <Meeting view={meetingView({ hosted_here: info.hostedHere })} session={info} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
      );
      fireEvent.click(r.container.querySelector('#privacy-button')!);
      const text = r.container.querySelector('[data-testid="privacy-server"]')!.textContent!;
      r.unmount();
      return text;
    };
    expect(where(session)).toBe('Meeting server: this computer');
    const lan = where({ ...session, networkAddress: '192.168.1.20' });
    expect(lan).toContain('open to the network at 192.168.1.20');
    expect(lan).toContain('pins its certificate');
    expect(where({ ...session, server: 'meet.example.org', hostedHere: false })).toBe('Meeting server: meet.example.org');
  });

  it('shows the security code in the privacy panel, and says so while keys are missing', async () => {
    const { container, rerender } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#privacy-button')!);
    expect(container.querySelector('[data-testid="security-code"]')!.textContent).toBe('12345 67890 13579 24680');
    expect(container.querySelector('#privacy-panel')!.textContent).toContain('2 people hold the keys');
    // What the server learns from the audio levels it reads is said, not hidden.
    expect(container.querySelector('[data-testid="privacy-speaking"]')!.textContent).toContain('who speaks when');
    rerender(
      <Meeting view={meetingView({ security: null })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    expect(container.querySelector('[data-testid="security-code"]')).toBeNull();
    expect(container.querySelector('[data-testid="e2ee-waiting"]')).toBeTruthy();
    rerender(
      <Meeting
        view={meetingView({ security: null, e2ee_refused: 'wrong link' })}
        session={session}
        chat={[]}
        onLeave={() => {}}
        toast={() => {}}
        showError={() => {}}
      />,
    );
    expect(container.querySelector('[data-testid="e2ee-refused"]')!.textContent).toContain('fresh invite link');
  });

  it('marks who is speaking and puts the active speaker on the big tile in speaker view', () => {
    const people = [
      ...meetingView().participants.map((p) => (p.id === 2 ? { ...p, speaking: true } : p)),
      person(3, 'Cy', { muted: false }),
    ];
    const { container } = render(
      <Meeting view={meetingView({ participants: people, active_speaker: 3 })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    expect(container.querySelector('#tile-2')!.classList.contains('speaking')).toBe(true);
    expect(container.querySelector('#tile-2')!.getAttribute('aria-label')).toBe('Bob, speaking');
    expect(container.querySelector('#tile-1')!.classList.contains('speaking')).toBe(false);
    fireEvent.click(container.querySelector('#view-toggle')!);
    expect(container.querySelector('.speaker-main #tile-3')).toBeTruthy();
  });

  it('a tile whose video cannot be decrypted says why instead of staying black', () => {
    const people = meetingView().participants.map((p) =>
      p.id === 2 ? { ...p, decrypt_problem: "can't decrypt — waiting for keys" } : p,
    );
    const { container } = render(
      <Meeting view={meetingView({ participants: people })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    expect(container.querySelector('[data-testid="tile-problem-2"]')!.textContent).toBe('Can’t decrypt — waiting for keys');
    expect(container.querySelector('[data-testid="tile-problem-1"]')).toBeNull();
  });

  it('mic shortcut unmutes; ignored while typing', async () => {
    const { container } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.keyDown(window, { key: 'd', ctrlKey: true });
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'microphone', on: true }));
    mocked.meetingAction.mockClear();
    fireEvent.click(container.querySelector('#chat-button')!);
    fireEvent.keyDown(container.querySelector('#chat-input')!, { key: 'd', ctrlKey: true });
    expect(mocked.meetingAction).not.toHaveBeenCalledWith({ type: 'microphone', on: true });
  });

  it('sets how loud each person is for me, and mutes one for me only', async () => {
    const { container, rerender } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#participants-button')!);
    // Not for myself.
    expect(container.querySelector('#volume-1')).toBeNull();
    const slider = container.querySelector<HTMLInputElement>('#volume-2')!;
    expect(slider.getAttribute('aria-label')).toBe('Volume of Bob for you');
    fireEvent.change(slider, { target: { value: '150' } });
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'listen', id: 2, volume: 150, muted_for_me: false }));
    fireEvent.click(container.querySelector('#mute-for-me-2')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'listen', id: 2, volume: 100, muted_for_me: true }));
    // The server-independent state comes back in the view: the tile says so.
    const muted = meetingView();
    muted.participants[1] = { ...muted.participants[1], muted_for_me: true, volume: 150 };
    rerender(<Meeting view={muted} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('[data-testid="muted-for-me-2"]')).toBeTruthy();
    expect(container.querySelector('#mute-for-me-2')!.textContent).toBe('Unmute for me');
    expect(container.querySelector<HTMLInputElement>('#volume-2')!.disabled).toBe(true);
  });

  it('switches devices during the meeting from the devices panel, without the microphone check', async () => {
    mocked.listDevices.mockResolvedValue({
      status: 'ok',
      data: {
        cameras: [],
        microphones: [
          { id: 'alsa:a', name: 'Headset', default: false },
          { id: 'alsa:b', name: 'Laptop', default: true },
        ],
        speakers: [],
        problems: [],
      },
    });
    const withDevices = { ...session, devices: { camera: null, microphone: 'alsa:a', speaker: null, original_sound: false } };
    const { container, findByTestId } = render(
      <Meeting view={meetingView()} session={withDevices} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#devices-button')!);
    await findByTestId('device-pickers');
    expect(container.querySelector<HTMLSelectElement>('#mic-select')!.value).toBe('alsa:a');
    // The microphone is in use by the meeting: no level meter or echo test here.
    expect(container.querySelector('#mic-check-button')).toBeNull();
    expect(mocked.meetingAction).not.toHaveBeenCalledWith(expect.objectContaining({ type: 'devices' }));
    fireEvent.change(container.querySelector('#mic-select')!, { target: { value: 'alsa:b' } });
    await waitFor(() =>
      expect(mocked.meetingAction).toHaveBeenCalledWith({
        type: 'devices',
        prefs: { camera: null, microphone: 'alsa:b', speaker: null, original_sound: false },
      }),
    );
    expect(JSON.parse(localStorage.getItem('parley.devices')!)).toMatchObject({ microphone: 'alsa:b' });
  });

  it('outside an event a host makes a participant a presenter (always heard) and back', async () => {
    const { container, rerender } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#participants-button')!);
    expect(container.querySelector('#presenter-1')).toBeNull();
    const make = container.querySelector<HTMLButtonElement>('#presenter-2')!;
    expect(make.textContent).toBe('Make presenter');
    fireEvent.click(make);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'set_stage', id: 2, on: true }));
    const view = meetingView();
    const presenting = { ...view, participants: view.participants.map((p) => (p.id === 2 ? { ...p, on_stage: true } : p)) };
    rerender(<Meeting view={presenting} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('[data-testid="presenter-mark-2"]')?.textContent).toBe('Presenter');
    expect(container.querySelector('#presenter-2')?.textContent).toBe('No longer presenter');
  });

  it('in event mode a host invites a participant to speak and sends them back; the switch is in the security menu', async () => {
    const { container, rerender } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#participants-button')!);
    expect(container.querySelector('#stage-2')).toBeNull();
    const events = meetingView({ policy: { ...meetingView().policy!, event_mode: true } });
    rerender(<Meeting view={events} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('#stage-1')).toBeNull();
    const invite = container.querySelector<HTMLButtonElement>('#stage-2')!;
    expect(invite.textContent).toBe('Invite to speak');
    fireEvent.click(invite);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'set_stage', id: 2, on: true }));
    const staged = { ...events, participants: events.participants.map((p) => (p.id === 2 ? { ...p, on_stage: true } : p)) };
    rerender(<Meeting view={staged} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('[data-testid="on-stage-2"]')?.textContent).toBe('On the stage');
    fireEvent.click(container.querySelector('#stage-2')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'set_stage', id: 2, on: false }));
    fireEvent.click(container.querySelector('#security-button')!);
    fireEvent.click(container.querySelector('#policy-event-mode')!);
    await waitFor(() =>
      expect(mocked.meetingAction).toHaveBeenCalledWith({
        type: 'set_policy',
        change: expect.objectContaining({ event_mode: false, chat: null }),
      }),
    );
  });

  it('in the audience of an event the camera stays off and says why', async () => {
    const toast = vi.fn();
    const audience = meetingView({ role: 'participant', you: 2, policy: { ...meetingView().policy!, event_mode: true } });
    const { container } = render(<Meeting view={audience} session={{ ...session, camera: true }} chat={[]} onLeave={() => {}} toast={toast} showError={() => {}} />);
    await waitFor(() => expect(container.querySelector('#camera-button')?.classList.contains('off')).toBe(true));
    fireEvent.click(container.querySelector('#camera-button')!);
    await waitFor(() => expect(toast).toHaveBeenCalledWith(expect.stringContaining('only people on the stage')));
    expect(mocked.meetingAction).not.toHaveBeenCalledWith({ type: 'camera', on: true });
  });

  it('says when its own connection is being got back, and whose is', () => {
    const { container, rerender } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    expect(container.querySelector('[data-testid="reconnecting"]')).toBeNull();
    expect(container.querySelector('[data-testid="tile-away-2"]')).toBeNull();
    const dropped = meetingView({
      reconnecting: true,
      participants: meetingView().participants.map((p) => (p.id === 2 ? { ...p, away: true } : p)),
    });
    rerender(<Meeting view={dropped} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    expect(container.querySelector('[data-testid="reconnecting"]')?.textContent).toBe('Connection lost — reconnecting…');
    expect(container.querySelector('[data-testid="tile-away-2"]')?.textContent).toBe('Connection lost — reconnecting…');
    fireEvent.click(container.querySelector('#participants-button')!);
    expect(container.querySelector('[data-testid="away-2"]')?.textContent).toBe('Reconnecting…');
    expect(container.querySelector('[data-testid="away-1"]')).toBeNull();
  });

  it('says while the meeting server sheds video to keep the voices', () => {
    const at = (server_shedding: 'none' | 'main_video' | 'voices_only') => (
      <Meeting view={meetingView({ server_shedding })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />
    );
    const { container, rerender } = render(at('none'));
    const mark = () => container.querySelector('[data-testid="shedding"]');
    expect(mark()).toBeNull();
    rerender(at('main_video'));
    expect(mark()?.textContent).toBe('Server at capacity: main video only');
    expect(mark()?.getAttribute('title')).toContain('every voice');
    rerender(at('voices_only'));
    expect(mark()?.textContent).toBe('Server at capacity: video paused');
    rerender(at('none'));
    expect(mark()).toBeNull();
  });

  it('marks as paused the tiles whose pictures stopped while the server sheds video, and only then', () => {
    globalThis.ImageData ??= class {
      constructor(
        public data: Uint8ClampedArray,
        public width: number,
        public height: number,
      ) {}
    } as unknown as typeof ImageData;
    vi.useFakeTimers();
    try {
      // Ann (us), Bob and Cy.
      const participants = [...meetingView().participants, person(3, 'Cy')];
      const at = (server_shedding: 'none' | 'main_video') => (
        <Meeting
          view={meetingView({ server_shedding, participants })}
          session={session}
          chat={[]}
          onLeave={() => {}}
          toast={() => {}}
          showError={() => {}}
        />
      );
      const [live, stopped] = [2, 3];
      // Pictures are taken as they come (drawn at the next screen frame, not here).
      const picture = (id: number) => videoRouter.receiveBatch(encodeBatch([encodeFrame(id, 2, 2)]));
      picture(stopped);
      const { container, rerender } = render(at('none'));
      const paused = (id: number) => container.querySelector(`[data-testid="tile-paused-${id}"]`);
      vi.advanceTimersByTime(3000);
      expect(paused(stopped)).toBeNull();
      // The server sheds: the one whose pictures keep coming is not paused, the other is.
      rerender(at('main_video'));
      for (let i = 0; i < 6; i++) {
        picture(live);
        vi.advanceTimersByTime(500);
      }
      rerender(at('main_video'));
      expect(paused(live)).toBeNull();
      expect(paused(stopped)?.textContent).toBe('Video paused: the server is at capacity');
      // Room again: nothing is marked.
      rerender(at('none'));
      expect(paused(stopped)).toBeNull();
    } finally {
      videoRouter.clear();
      vi.useRealTimers();
    }
  });

  it('shows who joined from a browser, in the list and the waiting room', () => {
    const view = meetingView({
      participants: meetingView().participants.map((p) => (p.id === 2 ? { ...p, browser: true } : p)),
      waiting: [{ id: 9, name: 'Eve', browser: true }],
    });
    const { container } = render(<Meeting view={view} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    fireEvent.click(container.querySelector('#participants-button')!);
    expect(container.querySelector('[data-testid="browser-2"]')?.textContent).toBe('(browser)');
    expect(container.querySelector('[data-testid="browser-1"]')).toBeNull();
    expect(container.querySelector('[data-testid="waiting-browser-9"]')?.textContent).toBe('(browser)');
  });

  it('a meeting of a thousand: the list draws only what is in view, finds by name, and controls the one chosen', async () => {
    const base = meetingView().participants[1]!;
    const people = Array.from({ length: 1000 }, (_, i) => ({
      ...base,
      id: i + 1,
      name: i === 0 ? 'Ann' : `Guest ${i + 1}`,
      role: i === 0 ? ('host' as const) : ('participant' as const),
      hand_raised: false,
      hand_order: null,
    }));
    const { container } = render(
      <Meeting view={meetingView({ participants: people })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#participants-button')!);
    const rows = () => container.querySelectorAll('[data-testid^="row-"]');
    expect(rows().length).toBeGreaterThan(5);
    expect(rows().length).toBeLessThan(40);
    expect(container.querySelector('#remove-2')).toBeNull();
    // Scrolled to the end, the last ones are drawn and the first ones no longer.
    const scroll = container.querySelector<HTMLElement>('.people-scroll')!;
    scroll.scrollTop = 999 * 40;
    fireEvent.scroll(scroll);
    expect(container.querySelector('[data-testid="row-1000"]')).not.toBeNull();
    expect(container.querySelector('[data-testid="row-2"]')).toBeNull();
    // Found by name, whatever the case.
    fireEvent.input(container.querySelector('#people-search')!, { target: { value: 'guest 777' } });
    expect(Array.from(rows()).map((r) => r.getAttribute('data-testid'))).toEqual(['row-777']);
    // Chosen: their controls show, and act on them.
    fireEvent.click(container.querySelector('#choose-777')!);
    fireEvent.click(container.querySelector('#remove-777')!);
    fireEvent.click(container.querySelector('#remove-confirm-777')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'remove', id: 777 }));
    fireEvent.input(container.querySelector('#people-search')!, { target: { value: 'nobody' } });
    expect(rows().length).toBe(0);
    expect(container.textContent).toContain('Nobody by that name.');
  });

  it('shows up to 7×7 tiles on a page, and says which tiles are on screen', async () => {
    const base = meetingView().participants[1]!;
    const people = Array.from({ length: 60 }, (_, i) => ({ ...base, id: i + 1, name: `P${i + 1}`, hand_raised: false, hand_order: null }));
    const { container } = render(
      <Meeting view={meetingView({ participants: people })} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    const select = container.querySelector<HTMLSelectElement>('.gallery-tools select')!;
    expect(Array.from(select.options).map((o) => o.value)).toEqual(['4', '9', '16', '25', '49']);
    fireEvent.change(select, { target: { value: '49' } });
    await waitFor(() => expect(container.querySelectorAll('.gallery figure.tile').length).toBe(49));
    expect(container.querySelector('.gallery')?.getAttribute('data-cols')).toBe('7');
    // The tiles on screen are the ones whose video is asked for (not our own).
    await waitFor(() =>
      expect(mocked.meetingAction).toHaveBeenCalledWith(expect.objectContaining({ type: 'visible_tiles', ids: expect.arrayContaining([49]) })),
    );
  });

  it('raised hands are listed in the order they went up, and in an event a host can call on them', async () => {
    const base = meetingView().participants[1]!;
    const people = [
      meetingView().participants[0]!,
      { ...base, id: 2, name: 'Bob', hand_raised: true, hand_order: 7 },
      { ...base, id: 3, name: 'Cy', hand_raised: true, hand_order: 3 },
      { ...base, id: 4, name: 'Di', hand_raised: false, hand_order: null },
    ];
    const events = meetingView({ participants: people, policy: { ...meetingView().policy!, event_mode: true } });
    const { container } = render(<Meeting view={events} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />);
    fireEvent.click(container.querySelector('#participants-button')!);
    const queue = Array.from(container.querySelectorAll('[data-testid="hands"] li')).map((li) => li.getAttribute('data-testid'));
    expect(queue).toEqual(['hand-3', 'hand-2']);
    expect(container.textContent).toContain('Raised hands (2)');
    fireEvent.click(container.querySelector('#hand-stage-3')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'set_stage', id: 3, on: true }));
  });

  it('host sees waiting list with admit and deny', async () => {
    const { container } = render(
      <Meeting view={meetingView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} />,
    );
    fireEvent.click(container.querySelector('#participants-button')!);
    fireEvent.click(container.querySelector('#admit-9')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'admit', id: 9 }));
    expect(container.querySelector('#deny-9')).toBeTruthy();
    expect(container.querySelector('#admit-all')).toBeTruthy();
    fireEvent.click(container.querySelector('#remove-2')!);
    fireEvent.click(container.querySelector('#remove-confirm-2')!);
    await waitFor(() => expect(mocked.meetingAction).toHaveBeenCalledWith({ type: 'remove', id: 2 }));
  });
});

describe('ChatPanel saving', () => {
  const chat = [
    { from: 2, from_name: 'Bob', to: null, body: 'hello \u202eevil', seq: 1, mine: false, at: new Date(2026, 11, 7, 9, 5).getTime() },
    { from: 1, from_name: 'Ann', to: 2, body: 'just you', seq: 2, mine: true, at: new Date(2026, 11, 7, 9, 6).getTime() },
  ];

  it('offers no export while the host has not allowed saving the chat', () => {
    const { container } = render(<ChatPanel view={meetingView()} chat={chat} myName="Ann" onLink={() => {}} onError={() => {}} onClose={() => {}} />);
    expect(container.querySelector('#save-chat')).toBeNull();
    expect(mocked.saveChat).not.toHaveBeenCalled();
  });

  it('saves the chat as text when allowed, and says where', async () => {
    mocked.saveChat.mockResolvedValue({ status: 'ok', data: '/home/ann/Downloads/parley-chat-2026-12-07-0907.txt' });
    const saved = vi.fn();
    const view = meetingView({ policy: { ...meetingView().policy!, save_chat: true } });
    const { container } = render(<ChatPanel view={view} chat={chat} myName="Ann" onLink={() => {}} onError={() => {}} onClose={() => {}} onSaved={saved} />);
    fireEvent.click(container.querySelector('#save-chat')!);
    await waitFor(() => expect(saved).toHaveBeenCalledWith('/home/ann/Downloads/parley-chat-2026-12-07-0907.txt'));
    const [stamp, text] = mocked.saveChat.mock.calls[0]!;
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}-\d{4}$/);
    expect(text).toContain('Standup');
    expect(text).toContain('[09:05] Bob: hello evil');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('[09:06] Ann (to Bob): just you');
  });
});

describe('Waiting', () => {
  it('says when the connection is being got back while waiting', () => {
    const waiting = meetingView({ phase: 'waiting', role: null, you: null });
    const { container, rerender } = render(<Waiting view={waiting} onLeave={() => {}} />);
    expect(container.querySelector('[data-testid="reconnecting"]')).toBeNull();
    rerender(<Waiting view={{ ...waiting, reconnecting: true }} onLeave={() => {}} />);
    expect(container.querySelector('[data-testid="reconnecting"]')?.textContent).toBe('Connection lost — reconnecting…');
  });
});

describe('App', () => {
  it('takes an invite the app was opened with to the pre-join screen, without joining', async () => {
    mocked.checkLink.mockResolvedValue({ status: 'ok', data: { server: 'meet.example.org' } });
    const { container } = await renderApp({ opened: LINK });
    await waitFor(() => expect(container.querySelector('#name-input')).toBeTruthy());
    expect(container.textContent).toContain('meet.example.org');
    expect(mocked.checkLink).toHaveBeenCalledWith(LINK);
    expect(mocked.joinMeeting).not.toHaveBeenCalled();
  });

  it('tells a host who is not looking at the window that someone waits, with a desktop notification', async () => {
    const focus = vi.spyOn(document, 'hasFocus');
    const { container, update, notice } = await renderApp();
    focus.mockReturnValue(true);
    update(meetingView({ role: 'host', waiting: [{ id: 5, name: 'Eve', browser: false }] }));
    notice({ kind: 'someone_waiting', who: 5 });
    await waitFor(() => expect(container.textContent).toContain('Eve is waiting'));
    expect(mocked.notify).not.toHaveBeenCalled(); // looking at the window: the toast is enough
    focus.mockReturnValue(false);
    update(meetingView({ role: 'host', waiting: [{ id: 5, name: 'Eve', browser: false }, { id: 6, name: 'Mallory', browser: false }] }));
    notice({ kind: 'someone_waiting', who: 6 });
    await waitFor(() => expect(mocked.notify).toHaveBeenCalledTimes(1));
    const [summary, body] = mocked.notify.mock.calls[0];
    expect(summary).toContain('Waiting to join');
    expect(body).toContain('Mallory is in the waiting room');
    focus.mockRestore();
  });
});
