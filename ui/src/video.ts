// Video frames from the backend, in batches over the app's loopback video socket (api.ts):
// a u32 count, then each picture's u32 length and bytes. A picture is a 12-byte header
// (participant id, width, height — little-endian u32 each) then width*height*4 bytes RGBA.

export const HEADER_BYTES = 12;
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

type Frame = { header: FrameHeader; message: Uint8Array<ArrayBuffer> };

/** What reached the window, for the benchmarks (`window.__parley.video`): pictures received,
 * pictures drawn per participant, and when each participant's first picture was drawn (ms
 * since the epoch). */
export const videoStats = {
  received: 0,
  /** Pictures replaced by a newer one of the same participant before a screen frame drew them. */
  replaced: 0,
  drawn: {} as Record<number, number>,
  firstDrawnAt: {} as Record<number, number>,
};

/** Routes frames to the tile canvas of each participant; remembers the last picture so a
 * tile that appears (page change) shows something at once. */
export class VideoRouter {
  private canvases = new Map<number, HTMLCanvasElement>();
  private last = new Map<number, Frame>();

  attach(id: number, canvas: HTMLCanvasElement): void {
    this.canvases.set(id, canvas);
    const frame = this.last.get(id);
    if (frame) draw(canvas, frame);
  }

  detach(id: number, canvas: HTMLCanvasElement): void {
    if (this.canvases.get(id) === canvas) this.canvases.delete(id);
  }

  /** Forget pictures of people no longer present. */
  retain(ids: Set<number>): void {
    for (const id of this.last.keys()) if (!ids.has(id)) this.last.delete(id);
  }

  clear(): void {
    this.last.clear();
    this.pending.clear();
  }

  private pending = new Map<number, Frame>();

  /** Keep every picture of one batch from the backend until the next screen frame
   * ([`drawPending`]); a newer picture of the same participant replaces one not yet drawn. */
  receiveBatch(batch: ArrayBuffer): void {
    for (const message of splitBatch(batch)) {
      const header = decodeFrameHeader(message);
      if (!header) continue;
      videoStats.received += 1;
      if (this.pending.has(header.id)) videoStats.replaced += 1;
      this.pending.set(header.id, { header, message });
    }
  }

  /** Draw what arrived since the last screen frame. */
  drawPending(): void {
    for (const frame of this.pending.values()) this.show(frame);
    this.pending.clear();
  }

  receive(picture: Picture): void {
    const message = bytesOf(picture);
    const header = decodeFrameHeader(message);
    if (!header) return;
    videoStats.received += 1;
    this.show({ header, message });
  }

  private show(frame: Frame): void {
    this.last.set(frame.header.id, frame);
    const canvas = this.canvases.get(frame.header.id);
    if (canvas) draw(canvas, frame);
  }
}

function draw(canvas: HTMLCanvasElement, { header, message }: Frame): void {
  const { width, height } = header;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const pixels = new Uint8ClampedArray(message.buffer, message.byteOffset + HEADER_BYTES, width * height * 4);
  ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
  canvas.dataset.live = 'true';
  const id = header.id;
  videoStats.drawn[id] = (videoStats.drawn[id] ?? 0) + 1;
  videoStats.firstDrawnAt[id] ??= Date.now();
}

export const videoRouter = new VideoRouter();
