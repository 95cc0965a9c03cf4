import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { Action, ChatLine, FileView, MeetingView, NotesView, PollView } from '../api';
import type { ChatEntry, SessionInfo } from '../app';
import { stripBidi } from '../chat';
import { copyText } from '../clipboard';
import { t } from '../i18n';
import { orderTiles, pageOf, PAGE_SIZES, visibleVideoIds, type PageSize } from '../layout';
import { isTypingTarget, shortcutFor } from '../shortcuts';
import { pollsToVote } from '../polls';
import { NO_NOTES } from '../notes';
import { recBadgeText } from '../recording';
import { load, save } from '../storage';
import { videoRouter } from '../video';
import { ChatPanel } from '../components/chatpanel';
import { LinkConfirm } from '../components/chattext';
import { ControlBar, type PanelName } from '../components/controlbar';
import { Gallery } from '../components/gallery';
import { ParticipantsPanel } from '../components/participants';
import { PollsPanel } from '../components/polls';
import { NotesPanel } from '../components/notes';
import { BreakoutBanner, BreakoutsPanel } from '../components/breakouts';
import { DevicesPanel, NO_DEVICES } from '../components/devices';
import { PrivacyPanel } from '../components/privacy';
import { SecurityMenu } from '../components/security';
import { SharePicker } from '../components/sharepicker';
import { Icon } from '../components/icons';

type Props = {
  view: MeetingView;
  session: SessionInfo;
  chat: ChatEntry[];
  onLeave: () => void;
  toast: (text: string) => void;
  showError: (e: api.AppError) => void;
  /** The meeting's polls, newest first. */
  polls?: PollView[];
  /** Polls whose vote was sent and is not counted yet. */
  sending?: ReadonlySet<number>;
  /** A vote was sent (`true`), or failed to be (`false`). */
  onSending?: (poll: number, on: boolean) => void;
  /** The meeting's file transfers, newest first. */
  files?: FileView[];
  /** A transfer as a command answered it (Save, Discard). */
  onFile?: (file: FileView) => void;
  /** The shared notes and whiteboard, as the backend last reported them. */
  notes?: NotesView;
  /** Counts the backend's refusals of a change to the notes (see NotesPanel). */
  notesRefused?: number;
};

const NO_POLLS: PollView[] = [];
const NO_FILES: FileView[] = [];
const NONE_SENDING: ReadonlySet<number> = new Set();

function storedPerPage(): PageSize {
  const n = Number(load('perPage'));
  return (PAGE_SIZES as readonly number[]).includes(n) ? (n as PageSize) : 9;
}

export function Meeting({
  view,
  session,
  chat,
  onLeave,
  toast,
  showError,
  polls = NO_POLLS,
  sending = NONE_SENDING,
  onSending,
  files = NO_FILES,
  onFile,
  notes = NO_NOTES,
  notesRefused = 0,
}: Props) {
  const [panel, setPanel] = useState<PanelName | null>(null);
  const [camera, setCamera] = useState(session.camera);
  const [pinned, setPinned] = useState<number | null>(null);
  const [speaker, setSpeaker] = useState(false);
  const [perPage, setPerPage] = useState<PageSize>(storedPerPage);
  const [page, setPage] = useState(0);
  const [linkHref, setLinkHref] = useState<string | null>(null);
  // The share picker is open.
  const [picking, setPicking] = useState(false);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const [seen, setSeen] = useState(chat.length ? chat[chat.length - 1]!.seq : 0);
  const copyTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const me = view.participants.find((p) => p.id === view.you);
  const muted = me?.muted ?? true;
  const hand = me?.hand_raised ?? false;
  const sharing = me?.sharing ?? false;
  // Recording: the server's word (our participant's `recording`), not a guess from the click.
  const recordingHere = me?.recording ?? false;
  const mayRecord = !!view.policy?.recording;
  const moderator = view.role === 'host' || view.role === 'cohost';
  // Breakout rooms are opened and followed from the main meeting (a room is a meeting of its own).
  const mayBreakout = moderator && view.breakout === null;
  // In event mode's audience: neither heard nor seen until a host invites them to speak.
  const audience = !!view.policy?.event_mode && view.role === 'participant' && !me?.on_stage;
  useEffect(() => {
    if (audience) setCamera(false);
  }, [audience]);
  const myName = me ? me.name : session.name;

  const act = useCallback(
    async (action: Action): Promise<boolean> => {
      const r = await api.meetingAction(action);
      if (r.status === 'error') {
        showError(r.error);
        return false;
      }
      return true;
    },
    [showError],
  );

  // A vote shows as "Sending…" from the click until the backend reports it counted (see app.tsx).
  const vote = useCallback(
    async (poll: number, choices: number[]) => {
      onSending?.(poll, true);
      if (!(await act({ type: 'vote', poll, choices }))) onSending?.(poll, false);
    },
    [act, onSending],
  );

  const toggleMic = useCallback(() => void act({ type: 'microphone', on: muted }), [act, muted]);
  const toggleCamera = useCallback(async () => {
    if (audience && !camera) {
      toast(t('meeting.audience'));
      return;
    }
    if (await act({ type: 'camera', on: !camera })) setCamera(!camera);
  }, [act, camera, audience, toast]);
  const toggleHand = useCallback(() => void act({ type: 'hand', raised: !hand }), [act, hand]);
  // Stop at once; to start, ask what to share.
  const toggleShare = useCallback(
    () => (sharing ? void act({ type: 'share_screen', on: false, source: null }) : setPicking(true)),
    [act, sharing],
  );

  const toggleRecord = useCallback(() => void act({ type: 'record', on: !recordingHere }), [act, recordingHere]);

  // Keyboard shortcuts (not while typing).
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      const s = shortcutFor(e, isTypingTarget(e.target));
      if (!s) return;
      e.preventDefault();
      if (s === 'mic') toggleMic();
      else if (s === 'camera') void toggleCamera();
      else if (s === 'hand') toggleHand();
      else if (s === 'share') toggleShare();
      else onLeave();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [toggleMic, toggleCamera, toggleHand, toggleShare, onLeave]);

  // Someone else shares their screen: speaker view, with the screen as the big tile (the
  // person can go back to the gallery with the view switch).
  const sharer = view.participants.find((p) => p.sharing && p.id !== view.you)?.id ?? null;
  useEffect(() => {
    if (sharer !== null) setSpeaker(true);
  }, [sharer]);

  // Tiles: pinned first; in speaker view the first tile is the large one.
  const layout = useMemo(() => {
    const effectivePin = pinned !== null && view.participants.some((p) => p.id === pinned) ? pinned : null;
    let order = orderTiles(view.participants, effectivePin);
    if (speaker && effectivePin === null) {
      // The big tile: a shared screen, else whoever spoke last, else someone other than yourself.
      const active = view.active_speaker;
      const other =
        sharer ??
        (active !== null && active !== view.you && order.includes(active) ? active : order.find((id) => id !== view.you));
      if (other !== undefined) order = [other, ...order.filter((id) => id !== other)];
    }
    return pageOf(order, perPage, page);
  }, [view.participants, view.you, view.active_speaker, pinned, speaker, sharer, perPage, page]);

  useEffect(() => {
    if (layout.page !== page) setPage(layout.page);
  }, [layout.page, page]);

  // Tell the backend whose video is on screen whenever the visible page changes.
  const visibleKey = visibleVideoIds(layout.ids, view.you).join(',');
  useEffect(() => {
    const ids = visibleKey === '' ? [] : visibleKey.split(',').map(Number);
    // Pictures come about as wide as the widest tile, so small tiles cost less to deliver.
    const send = () => void api.meetingAction({ type: 'visible_tiles', ids, width: widestTile() });
    const timer = setTimeout(send, 0);
    let resized: ReturnType<typeof setTimeout> | null = null;
    const onResize = () => {
      if (resized) clearTimeout(resized);
      resized = setTimeout(send, 300);
    };
    window.addEventListener('resize', onResize);
    return () => {
      clearTimeout(timer);
      if (resized) clearTimeout(resized);
      window.removeEventListener('resize', onResize);
    };
  }, [visibleKey]);

  const presentKey = view.participants.map((p) => p.id).join(',');
  useEffect(() => {
    videoRouter.retain(new Set(view.participants.map((p) => p.id)));
  }, [presentKey]);

  // Unread chat while the panel is closed.
  useEffect(() => {
    if (panel === 'chat' && chat.length) setSeen(chat[chat.length - 1]!.seq);
  }, [panel, chat]);
  const unread = panel === 'chat' ? 0 : chat.filter((m) => m.seq > seen && !m.mine).length;

  // The security panel is for moderators only; close it if the role goes away.
  useEffect(() => {
    if (panel === 'security' && !moderator) setPanel(null);
  }, [panel, moderator]);
  // The same for the breakout rooms panel, which also goes on the way into a room.
  useEffect(() => {
    if (panel === 'breakouts' && !mayBreakout) setPanel(null);
  }, [panel, mayBreakout]);

  useEffect(() => () => {
    if (copyTimer.current) clearTimeout(copyTimer.current);
  }, []);

  async function copyInvite() {
    const r = await api.inviteLink();
    if (r.status === 'error') {
      showError(r.error);
      return;
    }
    // The link goes straight to the clipboard; it is never rendered.
    const ok = await copyText(r.data);
    setCopyState(ok ? 'copied' : 'failed');
    if (copyTimer.current) clearTimeout(copyTimer.current);
    copyTimer.current = setTimeout(() => setCopyState('idle'), 2500);
  }

  // Anyone records: a badge that stays (it cannot be closed) for as long as they do.
  const recording = recBadgeText(view);

  const togglePanel = (p: PanelName) => setPanel((cur) => (cur === p ? null : p));
  const closePanel = () => setPanel(null);

  return (
    <div class="screen meeting dark" id="meeting-screen">
      <header class="meeting-header">
        <h1 class="meeting-title">{stripBidi(view.title)}</h1>
        {recording && (
          <span class="rec-badge" id="rec-badge" role="status">
            <span class="rec-dot" aria-hidden="true" />
            <span class="rec-text">{recording}</span>
          </span>
        )}
        {view.locked && (
          <span class="pill" data-testid="locked-pill">
            <Icon name="shield" /> {t('meeting.locked')}
          </span>
        )}
        {view.reconnecting && (
          <span class="pill warning" data-testid="reconnecting" role="status">
            {t('meeting.reconnecting')}
          </span>
        )}
        {view.server_shedding !== 'none' && (
          <span class="pill warning" data-testid="shedding" role="status" title={t('meeting.shedding.title')}>
            {t(view.server_shedding === 'main_video' ? 'meeting.shedding.main_video' : 'meeting.shedding.voices_only')}
          </span>
        )}
      </header>
      {view.breakout !== null && (
        <BreakoutBanner
          key={view.breakout}
          room={view.breakout}
          endsInSecs={view.breakout_ends_in_secs}
          closingInSecs={view.breakout_closing_in_secs}
          act={act}
        />
      )}
      <div class="meeting-body">
        <Gallery
          view={view}
          layout={layout}
          speaker={speaker}
          pinned={pinned}
          perPage={perPage}
          onPin={setPinned}
          onPage={setPage}
          onPerPage={(n) => {
            save('perPage', String(n));
            setPerPage(n);
            setPage(0);
          }}
          onSpeaker={setSpeaker}
        />
        {panel === 'chat' && (
          <ChatPanel
            view={view}
            chat={chat}
            myName={myName}
            onLink={setLinkHref}
            onError={showError}
            onClose={closePanel}
            onSaved={(path) => toast(t('chat.saved', { path }))}
            files={files}
            onFile={onFile}
          />
        )}
        {panel === 'participants' && <ParticipantsPanel view={view} act={(a) => void act(a)} onClose={closePanel} />}
        {panel === 'polls' && (
          <PollsPanel view={view} polls={polls} sending={sending} act={act} onVote={(p, c) => void vote(p, c)} onClose={closePanel} />
        )}
        {panel === 'notes' && (
          <NotesPanel
            view={view}
            notes={notes}
            refused={notesRefused}
            act={act}
            onSaved={(path) => toast(t('notes.saved', { path }))}
            onError={showError}
            onClose={closePanel}
          />
        )}
        {panel === 'breakouts' && mayBreakout && <BreakoutsPanel view={view} act={act} onClose={closePanel} />}
        {panel === 'devices' && (
          <DevicesPanel initial={session.devices ?? NO_DEVICES} act={(a) => void act(a)} onClose={closePanel} />
        )}
        {panel === 'privacy' && (
          <PrivacyPanel
            server={session.server}
            hostedHere={view.hosted_here || session.hostedHere}
            networkAddress={session.networkAddress ?? null}
            security={view.security}
            refused={view.e2ee_refused}
            onClose={closePanel}
          />
        )}
        {panel === 'security' && moderator && <SecurityMenu view={view} act={act} onClose={closePanel} />}
      </div>
      <ControlBar
        muted={muted}
        camera={camera}
        hand={hand}
        sharing={sharing}
        mayRecord={mayRecord}
        recording={recordingHere}
        moderator={moderator}
        breakouts={mayBreakout}
        hostedHere={view.invite_available}
        panel={panel}
        unread={unread}
        waiting={view.waiting.length}
        polls={pollsToVote(polls, sending)}
        copyState={copyState}
        onMic={toggleMic}
        onCamera={() => void toggleCamera()}
        onHand={toggleHand}
        onShare={toggleShare}
        onRecord={toggleRecord}
        onReact={(reaction) => void act({ type: 'react', reaction })}
        onPanel={togglePanel}
        onCopyInvite={() => void copyInvite()}
        onLeave={onLeave}
      />
      {linkHref && <LinkConfirm href={linkHref} onClose={() => setLinkHref(null)} />}
      {picking && (
        <SharePicker
          onClose={() => setPicking(false)}
          onPick={(id) => {
            setPicking(false);
            void act({ type: 'share_screen', on: true, source: id });
          }}
        />
      )}
    </div>
  );
}

/** The widest video tile on screen, in device pixels (null before layout). */
function widestTile(): number | null {
  let widest = 0;
  document.querySelectorAll('.tile').forEach((t) => {
    widest = Math.max(widest, t.getBoundingClientRect().width);
  });
  return widest > 0 ? Math.round(widest * (window.devicePixelRatio || 1)) : null;
}
