// The shared notes and whiteboard panel. The backend keeps one copy for the meeting (a CRDT,
// end-to-end encrypted) and reports it whole at every change (`NotesView`); the window sends
// the whole text as typed (`set_notes`) and each finished stroke (`draw`). The notes are other
// people's text: they live only in the textarea's value and are never interpreted as markup.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import type { Action, MeetingView, NotesExport, NotesView, StrokeView } from '../api';
import { fileStamp } from '../chat';
import { t, type Key } from '../i18n';
import {
  BOARD,
  caretAfter,
  cssColor,
  decimate,
  mayEditNotes,
  NotesTyping,
  notesLocked,
  strokeAt,
  toBoard,
  type Point,
} from '../notes';
import { Panel } from './panel';

type Act = (a: Action) => Promise<boolean>;

type Props = {
  view: MeetingView;
  notes: NotesView;
  /** Counts the backend's refusals of our changes (`notes_not_sent`); each one puts the panel
   * back to the backend's copy. */
  refused: number;
  act: Act;
  /** A file was saved at `path`. */
  onSaved: (path: string) => void;
  onError: (e: api.AppError) => void;
  onClose: () => void;
};

type Tab = 'text' | 'board';
const TABS: readonly Tab[] = ['text', 'board'];

export function NotesPanel({ view, notes, refused, act, onSaved, onError, onClose }: Props) {
  const [tab, setTab] = useState<Tab>('text');
  const locked = notesLocked(view);
  const mayEdit = mayEditNotes(view);

  async function save(what: NotesExport) {
    const r = await api.saveNotes(what, fileStamp(new Date()));
    if (r.status === 'error') onError(r.error);
    else onSaved(r.data);
  }

  return (
    <Panel id="notes-panel" title={t('notes.heading')} onClose={onClose} wide>
      {locked && (
        <p id="notes-locked" class="notes-locked" role="status">
          {mayEdit ? t('notes.lockedModerator') : t('notes.locked')}
        </p>
      )}
      <Tabs tab={tab} onTab={setTab} />
      {/* Both stay mounted: the textarea keeps its caret and what waits to be sent. */}
      <div role="tabpanel" id="notes-panel-text" class="notes-tabpanel" aria-labelledby="notes-tab-text" hidden={tab !== 'text'}>
        <NotesText text={notes.text} refused={refused} mayEdit={mayEdit} locked={locked} act={act} onSave={() => void save('markdown')} />
      </div>
      <div role="tabpanel" id="notes-panel-board" class="notes-tabpanel" aria-labelledby="notes-tab-board" hidden={tab !== 'board'}>
        <Whiteboard
          strokes={notes.strokes}
          refused={refused}
          shown={tab === 'board'}
          mayEdit={mayEdit}
          act={act}
          onSave={() => void save('svg')}
        />
      </div>
    </Panel>
  );
}

/** The tab a key moves to from `tab` (arrows wrap around), if it moves. */
function tabFor(key: string, tab: Tab): Tab | undefined {
  const at = TABS.indexOf(tab);
  if (key === 'ArrowRight') return TABS[(at + 1) % TABS.length];
  if (key === 'ArrowLeft') return TABS[(at + TABS.length - 1) % TABS.length];
  if (key === 'Home') return TABS[0];
  if (key === 'End') return TABS[TABS.length - 1];
  return undefined;
}

/** Notes | Whiteboard, as ARIA tabs (arrow keys, Home and End move between them). */
function Tabs({ tab, onTab }: { tab: Tab; onTab: (t: Tab) => void }) {
  function onKey(e: KeyboardEvent) {
    const next = tabFor(e.key, tab);
    if (!next) return;
    e.preventDefault();
    onTab(next);
    document.getElementById(`notes-tab-${next}`)?.focus();
  }
  const label: Record<Tab, Key> = { text: 'notes.tab.text', board: 'notes.tab.board' };
  return (
    <div class="tabs" role="tablist" aria-label={t('notes.tabs')} onKeyDown={onKey}>
      {TABS.map((name) => (
        <button
          key={name}
          type="button"
          role="tab"
          id={`notes-tab-${name}`}
          class={`tab ${tab === name ? 'active' : ''}`}
          aria-selected={tab === name}
          aria-controls={`notes-panel-${name}`}
          tabIndex={tab === name ? 0 : -1}
          onClick={() => onTab(name)}
        >
          {t(label[name])}
        </button>
      ))}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Notes

type TextProps = { text: string; refused: number; mayEdit: boolean; locked: boolean; act: Act; onSave: () => void };

/** `el` shows `next`, the caret and the scroll position kept where they belong. */
function showText(el: HTMLTextAreaElement, next: string) {
  const old = el.value;
  const focused = document.activeElement === el;
  const { selectionStart, selectionEnd, selectionDirection, scrollTop } = el;
  el.value = next;
  if (focused) el.setSelectionRange(caretAfter(old, next, selectionStart), caretAfter(old, next, selectionEnd), selectionDirection ?? undefined);
  el.scrollTop = scrollTop;
}

function NotesText({ text, refused, mayEdit, locked, act, onSave }: TextProps) {
  const area = useRef<HTMLTextAreaElement>(null);
  const actRef = useRef(act);
  actRef.current = act;
  // One per panel: it holds what was sent and what waits (flushed when the panel closes).
  const typing = useRef<NotesTyping | null>(null);
  if (typing.current === null) typing.current = new NotesTyping(text, (value) => void actRef.current({ type: 'set_notes', text: value }));

  // The textarea is not controlled: the backend's text is put in only when it changes, so a
  // render never moves the caret or drops what is being typed.
  useLayoutEffect(() => {
    if (area.current) area.current.value = text;
    return () => typing.current?.dispose();
  }, []);

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    const next = typing.current!.received(text, el.value);
    if (next !== null) showText(el, next);
  }, [text]);

  const seenRefused = useRef(refused);
  useEffect(() => {
    if (refused === seenRefused.current) return;
    seenRefused.current = refused;
    if (area.current) showText(area.current, typing.current!.refused());
  }, [refused]);

  return (
    <div class="stack notes-text">
      <label for="notes-text">{t('notes.text.label')}</label>
      <textarea
        id="notes-text"
        ref={area}
        class="input notes-textarea"
        rows={14}
        spellcheck
        readOnly={!mayEdit}
        aria-describedby={locked ? 'notes-locked' : undefined}
        placeholder={mayEdit ? t('notes.text.placeholder') : undefined}
        onInput={(e) => typing.current!.typed((e.target as HTMLTextAreaElement).value)}
      />
      <div class="row">
        <button
          type="button"
          id="notes-save-md"
          class="button small"
          onClick={() => {
            // What was typed last goes first, so the file has it.
            typing.current!.flush();
            onSave();
          }}
        >
          {t('notes.saveMarkdown')}
        </button>
      </div>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Whiteboard

type ColorName = 'black' | 'red' | 'blue' | 'green' | 'orange' | 'purple';
const COLORS: ReadonlyArray<{ name: ColorName; color: number }> = [
  { name: 'black', color: 0x1c1f24 },
  { name: 'red', color: 0xd0312b },
  { name: 'blue', color: 0x2f5bd3 },
  { name: 'green', color: 0x1f8a4c },
  { name: 'orange', color: 0xe07800 },
  { name: 'purple', color: 0x7b3fbf },
];

type WidthName = 'thin' | 'medium' | 'thick';
/** Pen widths in board units (a hundredth of the board across is 100). */
const WIDTHS: ReadonlyArray<{ name: WidthName; width: number }> = [
  { name: 'thin', width: 25 },
  { name: 'medium', width: 60 },
  { name: 'thick', width: 140 },
];

type Tool = 'pen' | 'eraser';

/** A stroke as drawn here: the backend's, or ours while the pointer is down. */
type Line = Pick<StrokeView, 'color' | 'width' | 'points'>;

/** What the pointer is doing since it went down. */
type Gesture =
  | { tool: 'pen'; pointer: number | undefined; line: Line & { points: Point[] } }
  | { tool: 'eraser'; pointer: number | undefined; erased: Set<number> };

/** The canvas's 2D context; none where there is none (a test's document). */
function context(el: HTMLCanvasElement): CanvasRenderingContext2D | null {
  try {
    return el.getContext('2d');
  } catch {
    return null;
  }
}

/** The canvas's backing store as large as it shows, in device pixels (sharp on HiDPI). */
function fitCanvas(el: HTMLCanvasElement) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(el.clientWidth * dpr);
  const h = Math.round(el.clientHeight * dpr);
  if (w > 0 && h > 0 && (el.width !== w || el.height !== h)) {
    el.width = w;
    el.height = h;
  }
}

/** `line` on a canvas of `w` × `h` pixels: x scaled by the width, y by the height. */
function drawLine(ctx: CanvasRenderingContext2D, w: number, h: number, line: Line) {
  const pts = line.points;
  if (pts.length === 0) return;
  const sx = w / BOARD;
  const sy = h / BOARD;
  ctx.strokeStyle = cssColor(line.color);
  ctx.lineWidth = Math.max(1, line.width * sx);
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(pts[0]![0] * sx, pts[0]![1] * sy);
  // A single point is a dot: a line too short to see, drawn with its round ends.
  if (pts.length === 1) ctx.lineTo(pts[0]![0] * sx + 0.01, pts[0]![1] * sy);
  for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i]![0] * sx, pts[i]![1] * sy);
  ctx.stroke();
}

type BoardProps = {
  strokes: StrokeView[];
  refused: number;
  /** Its tab is showing (a hidden canvas has no size to draw at). */
  shown: boolean;
  mayEdit: boolean;
  act: Act;
  onSave: () => void;
};

function Whiteboard({ strokes, refused, shown, mayEdit, act, onSave }: BoardProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [tool, setTool] = useState<Tool>('pen');
  const [color, setColor] = useState(COLORS[0]!.color);
  const [width, setWidth] = useState(WIDTHS[1]!.width);
  const [confirmClear, setConfirmClear] = useState(false);
  const gesture = useRef<Gesture | null>(null);
  const strokesRef = useRef(strokes);
  strokesRef.current = strokes;

  // Everything, from the strokes the backend reported, and ours on top while it is drawn. (A
  // stroke just finished stays as drawn until the backend's copy with it replaces the picture.)
  const redraw = useCallback(() => {
    const el = canvas.current;
    if (!el) return;
    fitCanvas(el);
    const ctx = context(el);
    if (!ctx) return;
    ctx.clearRect(0, 0, el.width, el.height);
    for (const s of strokesRef.current) drawLine(ctx, el.width, el.height, s);
    const g = gesture.current;
    if (g?.tool === 'pen') drawLine(ctx, el.width, el.height, g.line);
  }, []);

  useEffect(redraw, [strokes, shown, refused, redraw]);

  // Drawn anew at every change of size (the panel, the window, the screen's pixel ratio).
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    if (typeof ResizeObserver === 'function') {
      const watch = new ResizeObserver(() => redraw());
      watch.observe(el);
      return () => watch.disconnect();
    }
    window.addEventListener('resize', redraw);
    return () => window.removeEventListener('resize', redraw);
  }, [redraw]);

  // Locked while drawing: the stroke is dropped.
  useEffect(() => {
    if (mayEdit) return;
    gesture.current = null;
    setConfirmClear(false);
    redraw();
  }, [mayEdit, redraw]);

  /** Where the pointer is, in board units (none while the canvas has no size). */
  function boardPoint(e: PointerEvent): Point | null {
    const el = canvas.current;
    if (!el) return null;
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return null;
    return toBoard(e.clientX - r.left, e.clientY - r.top, r.width, r.height);
  }

  /** Erase the topmost stroke under `p` (each once per gesture). */
  function eraseAt(p: Point, erased: Set<number>) {
    const hit = strokeAt(
      strokesRef.current.filter((s) => !erased.has(s.id)),
      p,
    );
    if (!hit) return;
    erased.add(hit.id);
    void act({ type: 'erase', stroke: hit.id });
  }

  function onPointerDown(e: PointerEvent) {
    if (!mayEdit || e.button !== 0) return;
    const p = boardPoint(e);
    if (!p) return;
    e.preventDefault();
    // The rest of the stroke comes here even if the pointer leaves the canvas.
    try {
      canvas.current?.setPointerCapture?.(e.pointerId);
    } catch {
      /* not every pointer can be captured (a synthetic one) */
    }
    if (tool === 'eraser') {
      const erased = new Set<number>();
      gesture.current = { tool: 'eraser', pointer: e.pointerId, erased };
      eraseAt(p, erased);
    } else {
      gesture.current = { tool: 'pen', pointer: e.pointerId, line: { color, width, points: [p] } };
      redraw();
    }
  }

  function onPointerMove(e: PointerEvent) {
    const g = gesture.current;
    if (!g || g.pointer !== e.pointerId) return;
    const p = boardPoint(e);
    if (!p) return;
    if (g.tool === 'eraser') {
      eraseAt(p, g.erased);
      return;
    }
    const pts = g.line.points;
    const last = pts[pts.length - 1]!;
    if (last[0] === p[0] && last[1] === p[1]) return;
    pts.push(p);
    // Only the new piece: redrawing every stroke at each move would not keep up.
    const el = canvas.current;
    const ctx = el && context(el);
    if (el && ctx) drawLine(ctx, el.width, el.height, { ...g.line, points: [last, p] });
  }

  function onPointerUp(e: PointerEvent) {
    const g = gesture.current;
    if (!g || g.pointer !== e.pointerId) return;
    gesture.current = null;
    if (g.tool !== 'pen') return;
    // One action per stroke, of at most MAX_POINTS points (the backend takes no more).
    const { color, width, points } = g.line;
    void act({ type: 'draw', color, width, points: decimate(points) }).then((ok) => {
      if (!ok) redraw();
    });
  }

  function onPointerCancel() {
    gesture.current = null;
    redraw();
  }

  const colorName = (c: ColorName) => t(`notes.color.${c}` as Key);

  return (
    <div class="stack whiteboard-wrap">
      {mayEdit && (
        <div class="board-tools">
          <div class="board-group" role="radiogroup" aria-label={t('notes.tool')}>
            {(['pen', 'eraser'] as const).map((name) => (
              <label key={name} class={`board-choice ${tool === name ? 'on' : ''}`}>
                <input type="radio" name="board-tool" id={`board-tool-${name}`} checked={tool === name} onChange={() => setTool(name)} />
                {t(`notes.tool.${name}`)}
              </label>
            ))}
          </div>
          <div class="board-group" role="radiogroup" aria-label={t('notes.color')}>
            {COLORS.map((c) => (
              <label key={c.name} class={`swatch ${color === c.color ? 'on' : ''}`} title={colorName(c.name)}>
                <input
                  type="radio"
                  class="sr-only"
                  name="board-color"
                  id={`board-color-${c.name}`}
                  checked={color === c.color}
                  onChange={() => {
                    setColor(c.color);
                    setTool('pen');
                  }}
                />
                <span class="swatch-dot" style={{ background: cssColor(c.color) }} aria-hidden="true" />
                <span class="sr-only">{colorName(c.name)}</span>
              </label>
            ))}
          </div>
          <div class="board-group" role="radiogroup" aria-label={t('notes.width')}>
            {WIDTHS.map((w) => (
              <label key={w.name} class={`board-choice ${width === w.width ? 'on' : ''}`}>
                <input
                  type="radio"
                  name="board-width"
                  id={`board-width-${w.name}`}
                  checked={width === w.width}
                  onChange={() => {
                    setWidth(w.width);
                    setTool('pen');
                  }}
                />
                {t(`notes.width.${w.name}`)}
              </label>
            ))}
          </div>
        </div>
      )}
      <canvas
        id="whiteboard"
        ref={canvas}
        class={`whiteboard ${mayEdit ? (tool === 'eraser' ? 'erasing' : 'drawing') : 'read-only'}`}
        role="img"
        aria-label={t('notes.board.label', { count: strokes.length })}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerCancel}
      />
      {mayEdit && <p class="small muted board-hint">{tool === 'eraser' ? t('notes.board.eraseHint') : t('notes.board.hint')}</p>}
      <div class="row">
        <button type="button" id="notes-save-svg" class="button small" onClick={onSave}>
          {t('notes.saveSvg')}
        </button>
        {mayEdit && !confirmClear && (
          <button type="button" id="board-clear" class="button small" disabled={strokes.length === 0} onClick={() => setConfirmClear(true)}>
            {t('notes.clear')}
          </button>
        )}
      </div>
      {mayEdit && confirmClear && (
        <div class="confirm-box" role="group" aria-labelledby="board-clear-text">
          <p id="board-clear-text">{t('notes.clearConfirm')}</p>
          <div class="row">
            <button
              type="button"
              id="board-clear-yes"
              class="button danger"
              onClick={() => {
                setConfirmClear(false);
                void act({ type: 'clear_board' });
              }}
            >
              {t('notes.clearYes')}
            </button>
            <button type="button" id="board-clear-cancel" class="button" onClick={() => setConfirmClear(false)}>
              {t('notes.cancel')}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
