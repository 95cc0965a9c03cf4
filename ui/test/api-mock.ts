// The factory for `vi.mock('../src/api', …)` in the screen tests (see harness.tsx): the real
// api module with every function that reaches the backend replaced by a bare `vi.fn()`. It
// imports only types from the api, so the factory can load it while the api is being mocked.
import { vi } from 'vitest';
import type * as api from '../src/api';

/** The api functions that reach the backend. */
const BACKEND = [
  'checkLink',
  'joinMeeting',
  'hostMeeting',
  'inviteLink',
  'previewCamera',
  'listDevices',
  'checkMicrophone',
  'microphoneLevel',
  'echoTest',
  'networkAddresses',
  'shareSources',
  'meetingAction',
  'currentMeeting',
  'currentPolls',
  'currentFiles',
  'currentNotes',
  'saveNotes',
  'saveFile',
  'discardFile',
  'sendFile',
  'saveChat',
  'watchVideo',
  'notify',
  'onMeetingUpdated',
  'onChatReceived',
  'onNoticeRaised',
  'onPollChanged',
  'onFileChanged',
  'onNotesChanged',
  'onLinkOpened',
  'openedLink',
] as const satisfies ReadonlyArray<keyof typeof api>;

export async function apiMock(importOriginal: () => Promise<unknown>) {
  const real = (await importOriginal()) as typeof api;
  return { ...real, ...Object.fromEntries(BACKEND.map((name) => [name, vi.fn()])) };
}
