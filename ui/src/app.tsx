// The one window: home → pre-join → (waiting | meeting) → ended. No router: a state machine.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from './api';
import type { ChatLine, DevicePrefs, FileView, MeetingView, NotesView, Notice, PollView } from './api';
import { getLang, setLang, storeLang, storedLang, systemLang, t, type Lang } from './i18n';
import { errorText, POLL_ERROR_KINDS } from './errors';
import { deviceProblemText } from './components/devices';
import { videoRouter } from './video';
import { stripBidi } from './chat';
import { Announcements } from './announce';
import { reactionEmoji } from './reactions';
import { playRecordingTone, recordingSavedText } from './recording';
import { newestFirst, withPoll, withSnapshot, type Polls } from './polls';
import { newestFilesFirst, withFile, withFileSnapshot, type Files } from './files';
import { newerNotes, NO_NOTES } from './notes';
import { Home } from './screens/home';
import { rememberMeeting } from './recent';
import { PreJoin, type PreJoinTarget } from './screens/prejoin';
import { Waiting } from './screens/waiting';
import { Ended } from './screens/ended';
import { Meeting } from './screens/meeting';
import { Connecting } from './screens/connecting';
import { Toasts, type Toast } from './components/toasts';

export type Screen = { kind: 'home' } | { kind: 'prejoin'; target: PreJoinTarget } | { kind: 'session' };

/** What the UI remembers about the meeting it joined (the backend does not echo these). */
export type SessionInfo = {
  server: string | null;
  hostedHere: boolean;
  /** Hosted here for the network: the address of this computer others join through. */
  networkAddress?: string | null;
  camera: boolean;
  name: string;
  link?: string | null;
  /** The devices picked before joining (the devices panel starts from them). */
  devices?: DevicePrefs;
};

/**
 * A line in the chat panel. `toName`: whom a private line went to, named when it came (the
 * numbers are those of the meeting it was said in, and a breakout room numbers people anew).
 * `system`: the app's own line (a host's message to all rooms, a move between rooms), not
 * someone's chat; `from_name` then says what it is.
 */
export type ChatEntry = ChatLine & { seq: number; mine: boolean; at: number; toName?: string; system?: boolean };

let seq = 0;

// A burst of knocks (a class arriving at nine): the first few within this long get a toast
// each (with Admit for the one it names); after that, one toast counts the rest.
const KNOCK_WINDOW_MS = 10_000;
const KNOCK_TOASTS = 3;
/** How long a toast stays. */
const TOAST_MS = 6_000;
/** At most one "your change to the notes was not made" toast this often (as long as a toast stays). */
const NOTES_TOAST_MS = TOAST_MS;
/** A host's message to all rooms stays longer than other toasts: it is meant to be read. */
const BROADCAST_TOAST_MS = 10_000;

export function App() {
  const [lang, setLangState] = useState<Lang>(getLang());
  const [choice, setChoice] = useState<Lang | null>(storedLang());
  const [screen, setScreen] = useState<Screen>({ kind: 'home' });
  const [view, setView] = useState<MeetingView | null>(null);
  // Our participant number, for telling our own echoed chat lines from others'.
  const youRef = useRef<number | null>(null);
  youRef.current = view?.you ?? null;
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [chat, setChat] = useState<ChatEntry[]>([]);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [polls, setPolls] = useState<Polls>(new Map());
  // Polls whose vote was sent and not yet counted: "Sending…" until the poll comes back with
  // our vote, or closed, or the backend or the server says a poll action failed.
  const [sending, setSending] = useState<ReadonlySet<number>>(new Set());
  // The meeting's file transfers by number, each as the backend last reported it.
  const [files, setFiles] = useState<Files>(new Map());
  // The shared notes and whiteboard, as the backend last reported them.
  const [notes, setNotes] = useState<NotesView>(NO_NOTES);
  // How many changes to the notes the backend refused (the notes panel goes back to its copy).
  const [notesRefused, setNotesRefused] = useState(0);
  const notesToastAt = useRef(0);
  const viewRef = useRef<MeetingView | null>(null);
  viewRef.current = view;
  // Names by participant number, from the latest view as it arrives (a notice names people by
  // number only, and the view it is about was sent just before it).
  const namesRef = useRef<Map<number, string>>(new Map());

  const chooseLang = useCallback((l: Lang | null) => {
    storeLang(l);
    setChoice(l);
    const next = l ?? systemLang();
    setLang(next);
    setLangState(next);
  }, []);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((x) => x.id !== id)), []);

  /** Show a toast for `ms` (null: until dismissed). */
  const addToast = useCallback(
    (fields: Omit<Toast, 'id'>, ms: number | null) => {
      const id = ++seq;
      setToasts((ts) => [...ts.slice(-4), { id, ...fields }]);
      if (ms !== null) setTimeout(() => dismiss(id), ms);
    },
    [dismiss],
  );

  const toast = useCallback(
    (text: string, action?: Toast['action'], sticky = false, waiter?: number) => addToast({ text, action, waiter }, sticky ? null : TOAST_MS),
    [addToast],
  );

  /** The app's own line in the chat (see ChatEntry). */
  const systemLine = useCallback((from_name: string, body: string) => {
    setChat((c) => [...c, { from: 0, from_name, to: null, body, seq: ++seq, mine: false, at: Date.now(), system: true }]);
  }, []);

  // A knock's toast goes as soon as that person no longer waits (admitted from the
  // participants panel or by another host, denied, or gone): it would cover the panels.
  useEffect(() => {
    const waiting = new Set((view?.waiting ?? []).map((w) => w.id));
    setToasts((ts) => {
      const kept = ts.filter((x) => x.waiter === undefined || waiting.has(x.waiter));
      return kept.length === ts.length ? ts : kept;
    });
  }, [view?.waiting]);

  const showError = useCallback((e: api.AppError) => toast(errorText(e)), [toast]);

  // Joins and leaves (announced while the host's switch is on), said once per short window:
  // "Ann joined", "12 people joined". It remembers the names seen, to name those who left.
  const toastRef = useRef(toast);
  toastRef.current = toast;
  const announceRef = useRef<Announcements | null>(null);
  announceRef.current ??= new Announcements((text) => toastRef.current(text));
  const announcer = announceRef.current;
  useEffect(() => () => announcer.dispose(), [announcer]);

  // Knocks lately (times), and the toast counting a burst's rest (id and count).
  const knocks = useRef<number[]>([]);
  const knockSummary = useRef<{ id: number; count: number } | null>(null);

  const onNotice = useCallback(
    (n: Notice) => {
      const nameOf = (id: number): string | null => {
        const name = namesRef.current.get(id);
        return name ? stripBidi(name) : null;
      };
      switch (n.kind) {
        case 'someone_waiting': {
          const name = nameOf(n.who) ?? t('notice.someone');
          const now = Date.now();
          knocks.current = [...knocks.current.filter((k) => now - k < KNOCK_WINDOW_MS), now];
          // Not looking at the window: a desktop notification (each replaces the last, so a
          // burst is one notification counting up), and the window asks for attention.
          if (!document.hasFocus() || document.visibilityState === 'hidden') {
            const waiting = viewRef.current?.waiting.length ?? 1;
            void api.notify(
              t('notify.waiting.title', { meeting: viewRef.current?.title ?? '' }),
              waiting > 1 ? t('notify.waiting.many', { name, count: waiting }) : t('notify.waiting.one', { name }),
            );
          }
          if (knocks.current.length > KNOCK_TOASTS) {
            // One toast for the rest of the burst, counting up.
            const summary = knockSummary.current;
            const count = (summary?.count ?? 0) + 1;
            const text = t('notice.more_waiting', { count });
            if (summary) {
              setToasts((ts) => {
                if (!ts.some((x) => x.id === summary.id)) return [...ts.slice(-4), { id: summary.id, text }];
                return ts.map((x) => (x.id === summary.id ? { ...x, text } : x));
              });
              knockSummary.current = { id: summary.id, count };
            } else {
              const id = ++seq;
              knockSummary.current = { id, count };
              setToasts((ts) => [...ts.slice(-4), { id, text }]);
              setTimeout(() => {
                dismiss(id);
                if (knockSummary.current?.id === id) knockSummary.current = null;
              }, KNOCK_WINDOW_MS);
            }
            break;
          }
          // Admit admits the one announced, by number: names are not unique, and someone who
          // arrives later under the same name must not be let in in their place. If the
          // announced one has gone, nobody is admitted (the waiting list shows who is left).
          const id = n.who;
          toast(
            t('notice.someone_waiting', { name }),
            {
              label: t('people.admit'),
              run: () => {
                if (!viewRef.current?.waiting.some((x) => x.id === id)) return;
                void api.meetingAction({ type: 'admit', id }).then((r) => r.status === 'error' && showError(r.error));
              },
            },
            false,
            id,
          );
          break;
        }
        case 'all_muted': {
          const who = nameOf(n.by);
          toast(who ? t('notice.all_muted', { name: who }) : t('notice.all_muted.anon'));
          break;
        }
        case 'stage_on': {
          const who = nameOf(n.by);
          toast(who ? t('notice.stage_on', { name: who }) : t('notice.stage_on.anon'), {
            label: t('notice.unmute'),
            run: () => void api.meetingAction({ type: 'microphone', on: true }).then((r) => r.status === 'error' && showError(r.error)),
          });
          break;
        }
        case 'stage_off': {
          const who = nameOf(n.by);
          toast(who ? t('notice.stage_off', { name: who }) : t('notice.stage_off.anon'));
          break;
        }
        case 'unmute_requested': {
          const who = nameOf(n.by);
          toast(who ? t('notice.unmute_requested', { name: who }) : t('notice.unmute_requested.anon'), {
            label: t('notice.unmute'),
            run: () => void api.meetingAction({ type: 'microphone', on: true }).then((r) => r.status === 'error' && showError(r.error)),
          });
          break;
        }
        case 'reaction':
          toast(t('notice.reaction', { name: nameOf(n.who) ?? t('notice.someone'), reaction: reactionEmoji(n.reaction) || n.reaction }));
          break;
        case 'media':
          toast(t('notice.media', { detail: n.message }));
          break;
        case 'device_problem':
          toast(deviceProblemText({ ...n.problem, message: '' }));
          break;
        case 'device_switched':
          toast(n.device === 'speaker' ? t('notice.device_switched.speaker') : t('notice.device_switched'));
          break;
        case 'e2ee_refused':
          toast(t('notice.e2ee_refused'), undefined, true);
          break;
        case 'chat_unreadable':
          toast(t('notice.chat_unreadable', { name: nameOf(n.from) ?? t('notice.someone') }));
          break;
        case 'hand_not_sent':
          toast(t('notice.hand_not_sent', { detail: n.reason }));
          break;
        case 'chat_not_sent':
          toast(t('notice.chat_not_sent', { detail: n.reason }));
          break;
        case 'recording_started':
          // Nobody is recorded without knowing: a tone, besides the toast and the REC badge.
          playRecordingTone();
          toast(
            n.by === youRef.current
              ? t('notice.recording_started.you')
              : t('notice.recording_started', { name: nameOf(n.by) ?? t('notice.someone') }),
          );
          break;
        case 'recording_stopped':
          toast(
            n.by === youRef.current
              ? t('notice.recording_stopped.you')
              : t('notice.recording_stopped', { name: nameOf(n.by) ?? t('notice.someone') }),
          );
          break;
        case 'recording_saved':
          toast(recordingSavedText(n.files));
          break;
        case 'recording_failed':
          toast(t('notice.recording_failed', { message: stripBidi(n.message) }));
          break;
        case 'poll_opened':
          toast(t('notice.poll_opened', { name: nameOf(n.by) ?? t('notice.someone') }));
          break;
        case 'poll_not_sent':
          // It does not say which: every vote on its way may be chosen again.
          setSending(new Set());
          toast(t('notice.poll_not_sent', { detail: n.reason }));
          break;
        case 'file_offered':
          // The file itself arrives by itself and waits in the chat panel; nothing is saved or
          // opened unless the person says.
          toast(t('notice.file_offered', { name: nameOf(n.from) ?? t('notice.someone') }));
          break;
        case 'file_not_sent':
          toast(t('notice.file_not_sent', { detail: n.reason }));
          break;
        case 'notes_not_sent': {
          setNotesRefused((k) => k + 1);
          // Typing sends a change every moment: a burst of refusals is one toast, not one each.
          const now = Date.now();
          if (now - notesToastAt.current >= NOTES_TOAST_MS) {
            notesToastAt.current = now;
            toast(t('notice.notes_not_sent', { detail: n.reason }));
          }
          break;
        }
        case 'reaction_not_sent':
        case 'request_not_sent':
          toast(n.reason);
          break;
        case 'people_joined': {
          // Never ourselves (the backend leaves us out; a window reload must not greet us).
          const ids = n.ids.filter((id) => id !== youRef.current);
          if (ids.length > 0) announcer.joined(ids);
          break;
        }
        case 'person_left':
          if (n.id !== youRef.current) announcer.left(n.id);
          break;
        case 'moved': {
          // Another meeting on the server: its people, its encryption, its chat from here
          // on. The polls were the old meeting's; so were the notes, and the backend's next
          // report of them (this meeting's) counts its versions from the start again. Its
          // people are numbered anew: joins and leaves not yet said, and the names
          // remembered, were the old meeting's.
          announcer.reset();
          setPolls(new Map());
          setSending(new Set());
          setNotes(NO_NOTES);
          const text = n.room === null ? t('notice.moved.main') : t('notice.moved.room', { room: n.room });
          toast(text);
          // The chat goes on in the new place: a line marks where.
          systemLine(t('breakout.chat.moved'), text);
          break;
        }
        case 'breakout_closing':
          toast(t('notice.breakout_closing', { secs: n.in_secs }));
          break;
        case 'breakout_message': {
          // A host's words to everyone in every room: a toast that stays longer, and a line in
          // the chat so it can be read again. Text only, as chat is.
          const text = stripBidi(n.text);
          addToast({ text: t('notice.breakout_message', { text }), strong: true }, BROADCAST_TOAST_MS);
          systemLine(t('breakout.chat.from'), text);
          if (!document.hasFocus() || document.visibilityState === 'hidden') void api.notify(t('notify.breakout_message.title'), text);
          break;
        }
        case 'share_ended':
          // No message: the shared window went away; otherwise capture failed and says why.
          toast(n.message ? t('notice.share_failed', { detail: n.message }) : t('notice.share_ended'));
          break;
        case 'refused':
        case 'bad_link':
          if (POLL_ERROR_KINDS.includes(n.code)) setSending(new Set());
          toast(errorText({ kind: n.code, message: n.message }));
          break;
      }
    },
    [toast, addToast, systemLine, showError, dismiss, announcer],
  );

  const pollChanged = useCallback((p: PollView) => {
    setPolls((have) => withPoll(have, p));
    // Counted, or closed before it was: nothing is on its way any more.
    if (p.my_vote !== null || !p.open)
      setSending((s) => {
        if (!s.has(p.id)) return s;
        const n = new Set(s);
        n.delete(p.id);
        return n;
      });
  }, []);

  const fileChanged = useCallback((f: FileView) => setFiles((have) => withFile(have, f)), []);
  const notesChanged = useCallback((n: NotesView) => setNotes((have) => newerNotes(have, n)), []);

  const openLink = useCallback(
    async (link: string) => {
      if (viewRef.current && viewRef.current.phase !== 'ended') {
        toast(t('notice.link_while_in_meeting'));
        return;
      }
      const r = await api.checkLink(link);
      if (r.status === 'ok') setScreen({ kind: 'prejoin', target: { mode: 'join', link, server: r.data.server } });
      else showError(r.error);
    },
    [toast, showError],
  );

  useEffect(() => {
    const stops: Array<Promise<() => void>> = [
      api.onMeetingUpdated((v) => {
        namesRef.current = new Map([...v.waiting.map((w) => [w.id, w.name] as const), ...v.participants.map((p) => [p.id, p.name] as const)]);
        announcer.saw(v.waiting);
        announcer.saw(v.participants);
        setView(v);
      }),
      api.onChatReceived((line) => {
        const toName = line.to === null ? undefined : namesRef.current.get(line.to);
        setChat((c) => [...c, { ...line, seq: ++seq, mine: line.from === youRef.current, at: Date.now(), toName }]);
      }),
      api.onNoticeRaised(onNotice),
      api.onPollChanged(pollChanged),
      api.onFileChanged(fileChanged),
      api.onNotesChanged(notesChanged),
    ];
    void api.watchVideo(
      (batch) => videoRouter.receiveBatch(batch),
      () => videoRouter.drawPending(),
    );
    // An invite opened with the app goes to the pre-join screen; joining stays the person's choice.
    stops.push(api.onLinkOpened((link) => void openLink(link)));
    void api.openedLink().then((link) => link && void openLink(link));
    // After a window reload, pick the running meeting up again.
    void api.currentMeeting().then((r) => {
      if (r.status === 'ok' && r.data && r.data.phase !== 'ended') {
        setView(r.data);
        setSession({ server: null, hostedHere: r.data.hosted_here, camera: false, name: '' });
        setScreen({ kind: 'session' });
        void api.currentPolls().then((p) => p.status === 'ok' && setPolls((have) => withSnapshot(have, p.data)));
        void api.currentFiles().then((f) => f.status === 'ok' && setFiles((have) => withFileSnapshot(have, f.data)));
        void api.currentNotes().then((n) => n.status === 'ok' && notesChanged(n.data));
      }
    });
    return () => stops.forEach((s) => void s.then((stop) => stop()));
  }, [onNotice, openLink, pollChanged, fileChanged, notesChanged, announcer]);

  // Polls, files and notes belong to one meeting: away from it (home, pre-join), none are kept.
  // Not cleared on entering one, as its first ones may come before the join's answer does.
  useEffect(() => {
    if (screen.kind === 'session') return;
    setPolls(new Map());
    setSending(new Set());
    setFiles(new Map());
    // The next meeting's notes count their versions from the start again.
    setNotes(NO_NOTES);
    // So do the joins and leaves not yet said, and the names remembered.
    announcer.reset();
  }, [screen.kind, announcer]);

  // The meeting ended for us: joins and leaves not yet said are not said on the ended screen.
  useEffect(() => {
    if (view?.phase === 'ended') announcer.reset();
  }, [view?.phase, announcer]);

  const pollList = useMemo(() => newestFirst(polls), [polls]);
  const fileList = useMemo(() => newestFilesFirst(files), [files]);
  const markSending = useCallback(
    (poll: number, on: boolean) =>
      setSending((s) => {
        const n = new Set(s);
        if (on) n.add(poll);
        else n.delete(poll);
        return n;
      }),
    [],
  );

  const entered = useCallback((v: MeetingView, info: SessionInfo) => {
    videoRouter.clear();
    setChat([]);
    setView(v);
    setSession(info);
    setScreen({ kind: 'session' });
    rememberMeeting({ title: v.title, link: info.link ?? null, server: info.server });
  }, []);

  const goHome = useCallback(() => {
    setView(null);
    setChat([]);
    videoRouter.clear();
    setScreen({ kind: 'home' });
  }, []);

  const leave = useCallback(() => {
    void api.meetingAction({ type: 'leave' }).then((r) => {
      if (r.status === 'error') goHome();
    });
  }, [goHome]);


  let body;
  if (screen.kind === 'home') {
    body = (
      <Home
        lang={choice}
        onLang={chooseLang}
        onJoin={(link, server) => setScreen({ kind: 'prejoin', target: { mode: 'join', link, server } })}
        onHost={(title, server, apiToken, networkAddress) =>
          setScreen({ kind: 'prejoin', target: { mode: 'host', title, server, apiToken, networkAddress } })
        }
      />
    );
  } else if (screen.kind === 'prejoin') {
    body = <PreJoin target={screen.target} onEntered={entered} onBack={goHome} />;
  } else if (!view || view.phase === 'connecting') {
    body = <Connecting onLeave={leave} />;
  } else if (view.phase === 'waiting') {
    body = <Waiting view={view} onLeave={leave} />;
  } else if (view.phase === 'ended') {
    body = <Ended view={view} onHome={goHome} />;
  } else {
    body = (
      <Meeting
        view={view}
        session={session ?? { server: null, hostedHere: view.hosted_here, camera: false, name: '' }}
        chat={chat}
        onLeave={leave}
        toast={toast}
        showError={showError}
        polls={pollList}
        sending={sending}
        onSending={markSending}
        files={fileList}
        onFile={fileChanged}
        notes={notes}
        notesRefused={notesRefused}
      />
    );
  }

  return (
    <div class="app" data-lang={lang}>
      {body}
      <Toasts toasts={toasts} onDismiss={dismiss} />
    </div>
  );
}
