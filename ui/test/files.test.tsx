// Files in the meeting: sending (base64, the 256 MiB limit), the chat panel's Files section
// (off, sending, receiving, saving, discarding, cancelling, risky files, names as text), and
// how the App keeps transfers from the backend's file changes (and after a reload).
import { describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, waitFor } from '@testing-library/preact';
import type { FileView, MeetingView } from '../src/api';

vi.mock('../src/api', async (importOriginal) => (await import('./api-mock')).apiMock(importOriginal));

import { commands } from '../src/bindings';
import type { SessionInfo } from '../src/app';
import { Meeting } from '../src/screens/meeting';
import { setLang } from '../src/i18n';
import { en } from '../src/i18n/en';
import { de } from '../src/i18n/de';
import { errorText } from '../src/errors';
import { formatSize, newestFilesFirst, percentDone, withFile, withFileSnapshot } from '../src/files';
import { hostView, mocked, person, policy, renderApp, renderMeeting, sent, setUpEach } from './harness';

/** The real api module (the one above is partly mocked), for sendFile itself. */
const realApi = await vi.importActual<typeof import('../src/api')>('../src/api');

/** Bob's view (a participant), files allowed unless told. */
function bobView(over: Partial<MeetingView> = {}): MeetingView {
  return hostView({
    you: 2,
    role: 'participant',
    policy: policy(),
    participants: [person(1, 'Ann', { role: 'host' }), person(2, 'Bob'), person(3, 'Cem')],
    ...over,
  });
}

function fileView(over: Partial<FileView> = {}): FileView {
  return {
    transfer: 1,
    from: 1,
    outgoing: false,
    name: 'report.pdf',
    risky: false,
    size: 300_000,
    done: 300_000,
    state: 'received',
    reason: null,
    saved_as: null,
    ...over,
  };
}

const session: SessionInfo = { server: 'meet.example.org', hostedHere: false, camera: false, name: 'Bob' };

type Extra = { files?: FileView[]; onFile?: (f: FileView) => void };

/** The meeting screen with the chat panel open. */
function renderChat(view: MeetingView, extra: Extra = {}) {
  const r = renderMeeting(view, session, extra);
  fireEvent.click(r.container.querySelector('#chat-button')!);
  expect(r.container.querySelector('#chat-panel')).toBeTruthy();
  return r;
}

/** Node's Buffer, the reference base64 encoder (this project has no Node type definitions). */
const { Buffer } = globalThis as unknown as { Buffer: { from(bytes: Uint8Array): { toString(encoding: 'base64'): string } } };

/** A chosen file holding `bytes` (jsdom's File cannot give its bytes back; a browser's can). */
function fileOf(bytes: Uint8Array, name: string): File {
  return { name, size: bytes.length, arrayBuffer: async () => bytes.slice().buffer } as unknown as File;
}

/** A File-like object whose content is never read (its `arrayBuffer` is a spy). */
function hugeFile(size: number) {
  const arrayBuffer = vi.fn(async () => new ArrayBuffer(0));
  return { file: { name: 'huge.iso', size, arrayBuffer } as unknown as File, arrayBuffer };
}

setUpEach();

describe('sendFile', () => {
  it('sends a small file as standard base64, to everyone or one person', async () => {
    const spy = vi.spyOn(commands, 'meetingAction').mockResolvedValue({ status: 'ok', data: null });
    // Every byte value, and a length that is not a multiple of 3 (padding at the end).
    const bytes = new Uint8Array(1000).map((_, i) => (i * 37 + 11) % 256);
    const file = fileOf(bytes, 'notes.odt');
    expect(await realApi.sendFile(file, null)).toEqual({ status: 'ok', data: null });
    expect(spy).toHaveBeenCalledWith({ type: 'send_file', to: null, name: 'notes.odt', data: Buffer.from(bytes).toString('base64') });

    await realApi.sendFile(fileOf(new Uint8Array([0xff, 0xfe]), 'a.bin'), 3);
    expect(spy).toHaveBeenLastCalledWith({ type: 'send_file', to: 3, name: 'a.bin', data: '//4=' });
  });

  it('encodes a file larger than one piece (and an empty one) as Node does', () => {
    for (const length of [0, 1, 2, 3, 24_575, 24_576, 24_577, 100_000, 300_001]) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 7919) % 251);
      expect(realApi.toBase64(bytes), `length ${length}`).toBe(Buffer.from(bytes).toString('base64'));
    }
  });

  it('refuses a file over 256 MiB without reading it', async () => {
    const spy = vi.spyOn(commands, 'meetingAction').mockResolvedValue({ status: 'ok', data: null });
    const { file, arrayBuffer } = hugeFile(256 * 1024 * 1024 + 1);
    const r = await realApi.sendFile(file, null);
    expect(r.status).toBe('error');
    if (r.status === 'error') {
      expect(r.error.kind).toBe('file_too_large');
      expect(typeof r.error.message).toBe('string');
      expect(errorText(r.error)).toBe(en['error.file_too_large']);
    }
    expect(arrayBuffer).not.toHaveBeenCalled();
    expect(spy).not.toHaveBeenCalled();

    // 256 MiB itself is allowed through to be read.
    const edge = hugeFile(256 * 1024 * 1024);
    await realApi.sendFile(edge.file, null);
    expect(edge.arrayBuffer).toHaveBeenCalled();
  });

  it('turns a file that cannot be read into an error, not a throw', async () => {
    const file = { name: 'gone.txt', size: 3, arrayBuffer: () => Promise.reject(new Error('NotReadableError')) } as unknown as File;
    const r = await realApi.sendFile(file, null);
    expect(r.status).toBe('error');
  });
});

describe('file logic', () => {
  it('keeps transfers by number, newest first; a reload snapshot does not undo newer changes', () => {
    let files = withFile(new Map(), fileView({ transfer: 1, state: 'coming', done: 0 }));
    files = withFile(files, fileView({ transfer: 2 }));
    files = withFile(files, fileView({ transfer: 1, state: 'received' }));
    expect(newestFilesFirst(files).map((f) => [f.transfer, f.state])).toEqual([
      [2, 'received'],
      [1, 'received'],
    ]);
    const merged = withFileSnapshot(files, [fileView({ transfer: 1, state: 'coming' }), fileView({ transfer: 3 })]);
    expect(newestFilesFirst(merged).map((f) => [f.transfer, f.state])).toEqual([
      [3, 'received'],
      [2, 'received'],
      [1, 'received'],
    ]);
  });

  it('tells sizes in B, KB and MB, and how far a transfer is', () => {
    expect(formatSize(0, 'en')).toBe('0 B');
    expect(formatSize(1023, 'en')).toBe('1023 B');
    expect(formatSize(1536, 'en')).toBe('1.5 KB');
    expect(formatSize(300_000, 'en')).toBe('293 KB');
    expect(formatSize(5 * 1024 * 1024 + 512 * 1024, 'en')).toBe('5.5 MB');
    expect(formatSize(5 * 1024 * 1024 + 512 * 1024, 'de')).toBe('5,5 MB');
    expect(formatSize(256 * 1024 * 1024, 'en')).toBe('256 MB');
    expect(percentDone(fileView({ size: 200, done: 50, state: 'coming' }))).toBe(25);
    expect(percentDone(fileView({ size: 0, done: 0, state: 'coming' }))).toBe(0);
  });
});

describe('Files section', () => {
  it('says files are off (and offers no sending) when the host has not allowed them', () => {
    const { $ } = renderChat(bobView({ policy: policy({ file_transfer: false }) }));
    expect($('#files-off')!.textContent).toBe('Files are off in this meeting');
    expect($('#send-file-button')).toBeNull();
    expect($('#send-file-input')).toBeNull();
    cleanup();
    // No policy known: off too (it is off by default).
    const none = renderChat(bobView({ policy: null }));
    expect(none.$('#files-off')).toBeTruthy();
  });

  it('offers sending when allowed: the button opens the hidden file chooser, a chosen file goes to everyone', async () => {
    const { $ } = renderChat(bobView());
    expect($('#files-off')).toBeNull();
    const input = $<HTMLInputElement>('#send-file-input')!;
    expect(input.type).toBe('file');
    const click = vi.spyOn(input, 'click').mockImplementation(() => {});
    fireEvent.click($('#send-file-button')!);
    expect(click).toHaveBeenCalled();
    const file = new File(['hello'], 'hello.txt');
    fireEvent.change(input, { target: { files: [file] } });
    await waitFor(() => expect(mocked.sendFile).toHaveBeenCalledWith(file, null));
  });

  it('sends to the private-message target when one is chosen', async () => {
    const { $ } = renderChat(bobView({ policy: policy({ private_chat: true }) }));
    fireEvent.change($('#chat-target')!, { target: { value: '3' } });
    expect($('#send-file-button')!.textContent).toBe('Send a file to Cem');
    const file = new File(['x'], 'x.txt');
    fireEvent.change($('#send-file-input')!, { target: { files: [file] } });
    await waitFor(() => expect(mocked.sendFile).toHaveBeenCalledWith(file, 3));
  });

  it('shows a refused file as an error', async () => {
    mocked.sendFile.mockResolvedValue({ status: 'error', error: { kind: 'file_too_large', message: 'big' } });
    const { $, showError } = renderChat(bobView());
    fireEvent.change($('#send-file-input')!, { target: { files: [new File(['x'], 'x.txt')] } });
    await waitFor(() => expect(showError).toHaveBeenCalledWith({ kind: 'file_too_large', message: 'big' }));
  });

  it('lists transfers newest first, with name, size, sender and state', () => {
    const files = [
      fileView({ transfer: 5, outgoing: true, from: 2, name: 'mine.txt', size: 1536, done: 1536, state: 'sent' }),
      fileView({ transfer: 4, from: 1 }),
    ];
    const { container, $ } = renderChat(bobView(), { files });
    const items = Array.from(container.querySelectorAll('#files-list > li')).map((li) => li.id);
    expect(items).toEqual(['file-5', 'file-4']);
    const received = $('#file-4')!.textContent!;
    expect(received).toContain('report.pdf');
    expect(received).toContain('293 KB');
    expect(received).toContain('from Ann');
    expect($('#file-4-state')!.textContent).toBe(en['files.state.received']);
    expect($('#file-5')!.textContent).toContain('from you');
    expect($('#file-5')!.textContent).toContain('1.5 KB');
    expect($('#file-5-state')!.textContent).toBe('Sent');
    // Nothing links to a file.
    expect(container.querySelector('#files-section a')).toBeNull();
  });

  it('offers Save and Discard for a received file, and shows where it was saved', async () => {
    const onFile = vi.fn();
    const saved = fileView({ transfer: 7, state: 'saved', saved_as: '/home/bob/Downloads/report (2).pdf' });
    mocked.saveFile.mockResolvedValue({ status: 'ok', data: saved });
    const files = [fileView({ transfer: 7 })];
    const { $, rerender } = renderChat(bobView(), { files, onFile });
    expect($('#file-7-save')!.textContent).toBe('Save to Downloads');
    expect($('#file-7-discard')!.textContent).toBe('Discard');
    expect($('#file-7-progress')).toBeNull();
    fireEvent.click($('#file-7-save')!);
    await waitFor(() => expect(mocked.saveFile).toHaveBeenCalledWith(7));
    // The command's answer updates the transfer (no event may come for a save).
    await waitFor(() => expect(onFile).toHaveBeenCalledWith(saved));

    rerender(<Meeting view={bobView()} session={session} chat={[]} onLeave={() => {}} toast={() => {}} showError={() => {}} files={[saved]} onFile={onFile} />);
    expect($('#file-7-saved')!.textContent).toBe('Saved in /home/bob/Downloads/report (2).pdf');
    expect($('#file-7-save')).toBeNull();
    expect($('#file-7-discard')).toBeNull();
  });

  it('discards a received file by its number', async () => {
    const onFile = vi.fn();
    const discarded = fileView({ transfer: 8, state: 'discarded' });
    mocked.discardFile.mockResolvedValue({ status: 'ok', data: discarded });
    const { $ } = renderChat(bobView(), { files: [fileView({ transfer: 8 })], onFile });
    fireEvent.click($('#file-8-discard')!);
    await waitFor(() => expect(mocked.discardFile).toHaveBeenCalledWith(8));
    await waitFor(() => expect(onFile).toHaveBeenCalledWith(discarded));
    expect(mocked.saveFile).not.toHaveBeenCalled();
  });

  it('says when a file could not be saved', async () => {
    mocked.saveFile.mockResolvedValue({ status: 'error', error: { kind: 'save_file_failed', message: 'disk full' } });
    const { $, showError } = renderChat(bobView(), { files: [fileView({ transfer: 9 })] });
    fireEvent.click($('#file-9-save')!);
    await waitFor(() => expect(showError).toHaveBeenCalledWith({ kind: 'save_file_failed', message: 'disk full' }));
  });

  it('warns about a file that can run a program, naming the sender', () => {
    const files = [fileView({ transfer: 3, name: 'setup.exe', risky: true }), fileView({ transfer: 2, name: 'ok.txt' })];
    const { $ } = renderChat(bobView(), { files });
    expect($('#file-3-risky')!.textContent).toBe('This kind of file can run a program. Open it only if you trust Ann and expected it.');
    expect($('#file-2-risky')).toBeNull();
  });

  it('shows how far a coming file is, without Save', () => {
    const { $ } = renderChat(bobView(), { files: [fileView({ transfer: 6, state: 'coming', size: 1000, done: 250 })] });
    const bar = $<HTMLProgressElement>('#file-6-progress')!;
    expect(bar.tagName).toBe('PROGRESS');
    expect(bar.value).toBe(250);
    expect(bar.max).toBe(1000);
    expect($('#file-6-state')!.textContent).toBe('Arriving… 25%');
    expect($('#file-6-save')).toBeNull();
  });

  it('cancels one of ours that is on its way, and shows why one failed', async () => {
    const files = [
      fileView({ transfer: 11, outgoing: true, from: 2, state: 'sending', size: 100, done: 40 }),
      fileView({ transfer: 10, outgoing: true, from: 2, state: 'failed', reason: 'The server refused it.' }),
    ];
    const { $ } = renderChat(bobView(), { files });
    expect($('#file-11-progress')).toBeTruthy();
    fireEvent.click($('#file-11-cancel')!);
    await waitFor(() => expect(sent()).toEqual([{ type: 'cancel_file', transfer: 11 }]));
    expect($('#file-10-reason')!.textContent).toBe('The server refused it.');
    expect($('#file-10-cancel')).toBeNull();
    expect($('#file-10-progress')).toBeNull();
  });

  it('keeps listing transfers after the host turns files off, without offering to send', () => {
    const { $ } = renderChat(bobView({ policy: policy({ file_transfer: false }) }), { files: [fileView({ transfer: 1 })] });
    expect($('#send-file-button')).toBeNull();
    expect($('#file-1-save')).toBeTruthy();
  });

  it('shows a file’s name as text, never markup', () => {
    const name = '<img src=x onerror=alert(1)>.txt';
    const { $ } = renderChat(bobView(), { files: [fileView({ transfer: 12, name, risky: true })] });
    const item = $('#file-12')!;
    expect(item.querySelector('img, script, b, i')).toBeNull();
    expect($('#file-12-name')!.textContent).toBe(name);
  });

  it('speaks German', () => {
    setLang('de');
    const { $ } = renderChat(bobView(), { files: [fileView({ transfer: 1, risky: true })] });
    expect($('#send-file-button')!.textContent).toBe('Datei senden');
    expect($('#file-1-save')!.textContent).toBe('In Downloads speichern');
    expect($('#file-1-discard')!.textContent).toBe('Verwerfen');
    expect($('#file-1')!.textContent).toContain('von Ann');
  });
});

describe('File strings', () => {
  it('exist in German for every file key', () => {
    const keys = (Object.keys(en) as Array<keyof typeof en>).filter(
      (k) => k.startsWith('files.') || k.startsWith('notice.file_') || /^error\.(file_too_large|no_such_transfer|too_many_transfers|save_file_failed)$/.test(k),
    );
    expect(keys.length).toBeGreaterThan(25);
    for (const k of keys) {
      expect(de[k], k).toBeTruthy();
      expect(de[k], k).not.toBe('');
    }
  });

  it('explain the file errors, in English and German', () => {
    for (const kind of ['file_too_large', 'no_such_transfer', 'too_many_transfers', 'save_file_failed'] as const) {
      setLang('en');
      expect(errorText({ kind, message: 'backend text' })).toBe(en[`error.${kind}`]);
      setLang('de');
      expect(errorText({ kind, message: 'backend text' })).toBe(de[`error.${kind}`]);
    }
  });
});

describe('App and files', () => {
  /** The App after a window reload into a running meeting, with the backend's hooks. */
  async function reloadedApp(view: MeetingView, snapshot: FileView[]) {
    const app = await renderApp({ meeting: view, files: snapshot });
    await waitFor(() => expect(app.container.querySelector('#chat-button')).toBeTruthy());
    return app;
  }

  it('picks transfers up after a reload, keeps them from file changes, and toasts offers', async () => {
    const { container, file, notice, update } = await reloadedApp(bobView(), [fileView({ transfer: 1, name: 'old.txt' })]);
    update(bobView());
    fireEvent.click(container.querySelector('#chat-button')!);
    await waitFor(() => expect(container.querySelector('#file-1')).toBeTruthy());

    file(fileView({ transfer: 2, name: 'new.pdf', state: 'coming', done: 0 }));
    notice({ kind: 'file_offered', transfer: 2, from: 1 });
    await waitFor(() => expect(container.textContent).toContain('Ann is sending you a file: see Chat'));
    await waitFor(() => expect(container.querySelector('#file-2-progress')).toBeTruthy());
    const items = Array.from(container.querySelectorAll('#files-list > li')).map((li) => li.id);
    expect(items).toEqual(['file-2', 'file-1']);

    // The whole transfer replaces the one with its number.
    file(fileView({ transfer: 2, name: 'new.pdf', state: 'received' }));
    await waitFor(() => expect(container.querySelector('#file-2-save')).toBeTruthy());
    expect(container.querySelector('#file-2-progress')).toBeNull();

    // Saving: the command's answer shows where, even without a file change.
    mocked.saveFile.mockResolvedValue({ status: 'ok', data: fileView({ transfer: 2, name: 'new.pdf', state: 'saved', saved_as: '/d/new.pdf' }) });
    fireEvent.click(container.querySelector('#file-2-save')!);
    await waitFor(() => expect(container.querySelector('#file-2-saved')!.textContent).toBe('Saved in /d/new.pdf'));

    notice({ kind: 'file_not_sent', reason: 'no keys yet' });
    await waitFor(() => expect(container.textContent).toContain('The file was not sent: no keys yet'));
  });

  it('forgets a meeting’s files when it is over: the next meeting starts without them', async () => {
    const { container, file, update, linkOpened } = await reloadedApp(bobView(), [fileView({ transfer: 1 })]);
    file(fileView({ transfer: 2 }));
    fireEvent.click(container.querySelector('#chat-button')!);
    await waitFor(() => expect(container.querySelector('#file-2')).toBeTruthy());
    update({ ...bobView(), phase: 'ended', ended_reason: 'left' });
    await waitFor(() => expect(container.querySelector('#home-button')).toBeTruthy());
    fireEvent.click(container.querySelector('#home-button')!);

    // The next meeting, joined by an invite link.
    mocked.checkLink.mockResolvedValue({ status: 'ok', data: { server: 'meet.example.org' } });
    mocked.joinMeeting.mockResolvedValue({ status: 'ok', data: bobView({ title: 'Next' }) });
    mocked.previewCamera.mockResolvedValue({ status: 'ok', data: null });
    mocked.checkMicrophone.mockResolvedValue({ status: 'ok', data: null });
    mocked.microphoneLevel.mockResolvedValue(0);
    linkOpened('https://meet.example.org/m/abc#k=secret');
    await waitFor(() => expect(container.querySelector('#name-input')).toBeTruthy());
    fireEvent.input(container.querySelector('#name-input')!, { target: { value: 'Bob' } });
    fireEvent.click(container.querySelector('#enter-button')!);
    await waitFor(() => expect(container.querySelector('#chat-button')).toBeTruthy());
    fireEvent.click(container.querySelector('#chat-button')!);
    expect(container.querySelector('#files-section')).toBeTruthy();
    expect(container.querySelector('#files-list')).toBeNull();
    expect(container.querySelector('[id^="file-"]')).toBeNull();
  });
});
