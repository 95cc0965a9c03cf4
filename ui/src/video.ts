// Video frames from the backend: one binary message per picture, a 12-byte header
// (participant id, width, height — little-endian u32 each) then width*height*4 bytes RGBA.

export const HEADER_BYTES = 12;
/** Larger than anything the backend sends (it caps width at 640); guards against garbage. */
export const MAX_SIDE = 8192;

export type FrameHeader = { id: number; width: number; height: number };

/** Read and check the header; null if the message is malformed or the size doesn't match. */
export function decodeFrameHeader(message: ArrayBuffer): FrameHeader | null {
  if (message.byteLength < HEADER_BYTES) return null;
  const v = new DataView(message, 0, HEADER_BYTES);
  const id = v.getUint32(0, true);
  const width = v.getUint32(4, true);
  const height = v.getUint32(8, true);
  if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) return null;
  if (message.byteLength !== HEADER_BYTES + width * height * 4) return null;
  return { id, width, height };
}

/** Split one batch from the backend (a u32 count, then each picture's u32 length and bytes)
 * into pictures; a malformed batch yields the pictures before the damage. */
export function splitBatch(batch: ArrayBuffer): ArrayBuffer[] {
  if (batch.byteLength < 4) return [];
  const v = new DataView(batch);
  const count = v.getUint32(0, true);
  const out: ArrayBuffer[] = [];
  let at = 4;
  for (let i = 0; i < count && at + 4 <= batch.byteLength; i++) {
    const len = v.getUint32(at, true);
    at += 4;
    if (at + len > batch.byteLength) break;
    out.push(batch.slice(at, at + len));
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

type Frame = { header: FrameHeader; message: ArrayBuffer };

/** What reached the window, for the benchmarks (`window.__parley.video`): pictures received,
 * pictures drawn per participant, and when each participant's first picture was drawn (ms
 * since the epoch). */
export const videoStats = {
  received: 0,
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
  }

  receive(message: ArrayBuffer): void {
    const header = decodeFrameHeader(message);
    if (!header) return;
    videoStats.received += 1;
    const frame = { header, message };
    this.last.set(header.id, frame);
    const canvas = this.canvases.get(header.id);
    if (canvas) draw(canvas, frame);
  }
}

function draw(canvas: HTMLCanvasElement, { header, message }: Frame): void {
  const { width, height } = header;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const pixels = new Uint8ClampedArray(message, HEADER_BYTES, width * height * 4);
  ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
  canvas.dataset.live = 'true';
  const id = header.id;
  videoStats.drawn[id] = (videoStats.drawn[id] ?? 0) + 1;
  videoStats.firstDrawnAt[id] ??= Date.now();
}

export const videoRouter = new VideoRouter();
