// Video frames from the backend, in batches over the app's loopback video socket (api.ts):
// a u32 count, then each picture's u32 length and bytes. A picture is a 12-byte header
// (participant id, width, height — little-endian u32 each) then width*height*4 bytes RGBA.

export const HEADER_BYTES = 12;
/** The participant number the pre-join camera preview is drawn as (the backend's PREVIEW_ID). */
export const PREVIEW_ID = 0xffffffff;
/** Larger than anything the backend sends (it caps width at 640); guards against garbage. */
export const MAX_SIDE = 8192;

export type FrameHeader = { id: number; width: number; height: number };

/** A picture: its bytes, where they sit (a view into a batch, not a copy). */
export type Picture = ArrayBuffer | Uint8Array<ArrayBuffer>;

function bytesOf(p: Picture): Uint8Array<ArrayBuffer> {
  return p instanceof Uint8Array ? p : new Uint8Array(p);
}

/** Read and check the header; null if the message is malformed or the size doesn't match. */
export function decodeFrameHeader(picture: Picture): FrameHeader | null {
  const message = bytesOf(picture);
  if (message.byteLength < HEADER_BYTES) return null;
  const v = new DataView(message.buffer, message.byteOffset, HEADER_BYTES);
  const id = v.getUint32(0, true);
  const width = v.getUint32(4, true);
  const height = v.getUint32(8, true);
  if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) return null;
  if (message.byteLength !== HEADER_BYTES + width * height * 4) return null;
  return { id, width, height };
}

/** Split one batch from the backend (a u32 count, then each picture's u32 length and bytes)
 * into pictures (views into the batch: nothing is copied); a malformed batch yields the
 * pictures before the damage. */
export function splitBatch(batch: ArrayBuffer): Uint8Array<ArrayBuffer>[] {
  if (batch.byteLength < 4) return [];
  const v = new DataView(batch);
  const count = v.getUint32(0, true);
  const out: Uint8Array<ArrayBuffer>[] = [];
  let at = 4;
  for (let i = 0; i < count && at + 4 <= batch.byteLength; i++) {
    const len = v.getUint32(at, true);
    at += 4;
    if (at + len > batch.byteLength) break;
    out.push(new Uint8Array(batch, at, len));
    at += len;
  }
  return out;
}

/** Silence on the video socket, with a request out that long, after which the window opens a
 * new socket: the backend answers every request within 2 s (an empty batch when no picture
 * came), so a longer silence means the socket is stuck, and every tile would stay frozen. */
export const VIDEO_STALL_MS = 6000;

/** The window's requests on its video socket, oldest first (when each was made), to measure
 * how long batches take and to tell a stuck socket. Times are milliseconds of one clock. */
export class PullRequests {
  private asked: number[] = [];

  /** A request was sent at `now`. */
  ask(now: number): void {
    this.asked.push(now);
  }

  /** A batch came at `now`: it answers the oldest request; how long that took. */
  answered(now: number): number | undefined {
    const since = this.asked.shift();
    return since === undefined ? undefined : now - since;
  }

  /** Whether a request has waited longer than [`VIDEO_STALL_MS`] at `now`. */
  stalled(now: number): boolean {
    return this.asked.length > 0 && now - this.asked[0] > VIDEO_STALL_MS;
  }
}

/** Build a batch of pictures (for tests). */
export function encodeBatch(pictures: ArrayBuffer[]): ArrayBuffer {
  const total = pictures.reduce((n, p) => n + 4 + p.byteLength, 4);
  const buf = new ArrayBuffer(total);
  const v = new DataView(buf);
  v.setUint32(0, pictures.length, true);
  let at = 4;
  for (const p of pictures) {
    v.setUint32(at, p.byteLength, true);
    new Uint8Array(buf, at + 4).set(new Uint8Array(p));
    at += 4 + p.byteLength;
  }
  return buf;
}

/** Build a message (for tests and the dev preview). */
export function encodeFrame(id: number, width: number, height: number, rgba?: Uint8Array): ArrayBuffer {
  const buf = new ArrayBuffer(HEADER_BYTES + width * height * 4);
  const v = new DataView(buf);
  v.setUint32(0, id, true);
  v.setUint32(4, width, true);
  v.setUint32(8, height, true);
  if (rgba) new Uint8Array(buf, HEADER_BYTES).set(rgba);
  return buf;
}

/** Most pictures of one participant waiting for a screen frame; a longer backlog loses its
 * oldest. Pictures come in bursts (two within one screen frame is common): showing one per
 * screen frame, in order, smooths the burst instead of replacing a picture unseen. */
export const MAX_QUEUED = 3;

/** One participant's pictures: the one on screen and those waiting, each in a buffer of its
 * own, reused for later pictures of the same size. The batch a picture came in is let go at
 * once: big buffers that outlive JavaScriptCore's young-generation collections pile up until
 * a full collection (over 1 GB in the web process in a 4-person call before this). */
type Slot = { id: number; shown: ImageData | null; queue: ImageData[]; spare: ImageData[] };

/** What reached the window, for the benchmarks (`window.__parley.video`): pictures received,
 * pictures drawn per participant, and when each participant's first picture was drawn (ms
 * since the epoch). */
export const videoStats = {
  received: 0,
  /** Pictures dropped unseen because MAX_QUEUED of the same participant were waiting. */
  replaced: 0,
  /** Batches received, and the milliseconds they took in all from request to arrival. */
  batches: 0,
  waitedMs: 0,
  /** Times the socket was silent too long and was opened anew. */
  reconnects: 0,
  /** Milliseconds spent copying pictures out of their batches. */
  convertMs: 0,
  drawn: {} as Record<number, number>,
  firstDrawnAt: {} as Record<number, number>,
};

/** With the meeting server shedding video (`server_load`), a tile whose pictures stopped this
 * long ago (ms) is shown as paused rather than frozen on its last picture. */
export const PAUSED_AFTER_MS = 1500;

/** Routes pictures to the tile canvas of each participant; remembers the last picture so a
 * tile that appears (page change) shows something at once. */
export class VideoRouter {
  private canvases = new Map<number, HTMLCanvasElement>();
  private slots = new Map<number, Slot>();
  /** When each participant's last picture came (`Date.now()`). */
  private lastAt = new Map<number, number>();

  /** When `id`'s last picture came (`Date.now()`), if one did. */
  lastPictureAt(id: number): number | undefined {
    return this.lastAt.get(id);
  }

  attach(id: number, canvas: HTMLCanvasElement): void {
    this.canvases.set(id, canvas);
    const shown = this.slots.get(id)?.shown;
    if (shown) draw(canvas, id, shown);
  }

  detach(id: number, canvas: HTMLCanvasElement): void {
    if (this.canvases.get(id) === canvas) this.canvases.delete(id);
  }

  /** Forget pictures of people no longer present. */
  retain(ids: Set<number>): void {
    for (const id of this.slots.keys()) if (!ids.has(id)) this.slots.delete(id);
    for (const id of this.lastAt.keys()) if (!ids.has(id)) this.lastAt.delete(id);
  }

  clear(): void {
    this.slots.clear();
    this.lastAt.clear();
  }

  /** Take every picture of one batch from the backend (in order); they are drawn one per
   * participant per screen frame ([`drawPending`]). */
  receiveBatch(batch: ArrayBuffer): void {
    for (const picture of splitBatch(batch)) this.take(picture);
  }

  /** Draw the next waiting picture of each participant; whether more are waiting (then call
   * again at the next screen frame). */
  drawPending(): boolean {
    let more = false;
    for (const slot of this.slots.values()) {
      const next = slot.queue.shift();
      if (!next) continue;
      this.show(slot, next);
      more ||= slot.queue.length > 0;
    }
    return more;
  }

  /** One picture, drawn at once. */
  receive(picture: Picture): void {
    const slot = this.take(picture);
    const next = slot?.queue.pop();
    if (!slot || !next) return;
    slot.spare.push(...slot.queue.splice(0));
    this.show(slot, next);
  }

  private show(slot: Slot, next: ImageData): void {
    if (slot.shown) slot.spare.push(slot.shown);
    slot.shown = next;
    const canvas = this.canvases.get(slot.id);
    if (canvas) draw(canvas, slot.id, next);
  }

  private take(picture: Picture): Slot | null {
    const message = bytesOf(picture);
    const header = decodeFrameHeader(message);
    if (!header) return null;
    const { id, width, height } = header;
    videoStats.received += 1;
    this.lastAt.set(id, Date.now());
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { id, shown: null, queue: [], spare: [] };
      this.slots.set(id, slot);
    }
    if (slot.queue.length >= MAX_QUEUED) {
      slot.spare.push(slot.queue.shift() as ImageData);
      videoStats.replaced += 1;
    }
    let target = slot.spare.pop();
    if (!target || target.width !== width || target.height !== height) {
      slot.spare.length = 0; // a new size: the old buffers are of no more use
      target = new ImageData(new Uint8ClampedArray(width * height * 4), width, height);
    }
    const t0 = performance.now();
    target.data.set(message.subarray(HEADER_BYTES, HEADER_BYTES + width * height * 4));
    videoStats.convertMs += performance.now() - t0;
    slot.queue.push(target);
    return slot;
  }
}

function draw(canvas: HTMLCanvasElement, id: number, image: ImageData): void {
  const { width, height } = image;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(image, 0, 0);
  canvas.dataset.live = 'true';
  videoStats.drawn[id] = (videoStats.drawn[id] ?? 0) + 1;
  videoStats.firstDrawnAt[id] ??= Date.now();
}

export const videoRouter = new VideoRouter();
