import { describe, expect, it, vi } from 'vitest';
import {
  decodeFrameHeader,
  encodeBatch,
  encodeFrame,
  HEADER_BYTES,
  MAX_QUEUED,
  PullRequests,
  splitBatch,
  VIDEO_STALL_MS,
  VideoRouter,
  videoStats,
} from '../src/video';

describe('decodeFrameHeader', () => {
  it('reads id, width, height little-endian', () => {
    const buf = encodeFrame(7, 4, 2);
    expect(decodeFrameHeader(buf)).toEqual({ id: 7, width: 4, height: 2 });
  });

  it('reads large ids', () => {
    expect(decodeFrameHeader(encodeFrame(0xfffffffe, 1, 1))).toEqual({ id: 0xfffffffe, width: 1, height: 1 });
  });

  it('matches a hand-built header', () => {
    const bytes = new Uint8Array(HEADER_BYTES + 2 * 1 * 4);
    bytes.set([0x01, 0x02, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]);
    expect(decodeFrameHeader(bytes.buffer)).toEqual({ id: 0x0201, width: 2, height: 1 });
  });

  it.each([
    ['too short', new ArrayBuffer(11)],
    ['header only', encodeFrame(1, 2, 2).slice(0, HEADER_BYTES)],
    ['one byte short', encodeFrame(1, 2, 2).slice(0, HEADER_BYTES + 15)],
    ['one byte long', (() => { const b = new Uint8Array(HEADER_BYTES + 17); b.set(new Uint8Array(encodeFrame(1, 2, 2))); return b.buffer; })()],
    ['zero width', (() => { const b = encodeFrame(1, 1, 1); new DataView(b).setUint32(4, 0, true); return b; })()],
    ['absurd size', (() => { const b = new ArrayBuffer(HEADER_BYTES); const v = new DataView(b); v.setUint32(4, 0xffffffff, true); v.setUint32(8, 0xffffffff, true); return b; })()],
  ])('rejects %s', (_name, buf) => {
    expect(decodeFrameHeader(buf)).toBeNull();
  });
});

describe('VideoRouter', () => {
  function fakeCanvas() {
    const putImageData = vi.fn();
    const canvas = { width: 0, height: 0, dataset: {} as Record<string, string>, getContext: () => ({ putImageData }) };
    return { canvas: canvas as unknown as HTMLCanvasElement, putImageData };
  }

  it('draws into the right canvas, resizing it, and replays the last frame on attach', () => {
    globalThis.ImageData ??= class {
      constructor(public data: Uint8ClampedArray, public width: number, public height: number) {}
    } as unknown as typeof ImageData;
    const r = new VideoRouter();
    const a = fakeCanvas();
    const b = fakeCanvas();
    r.attach(1, a.canvas);
    r.receive(encodeFrame(1, 3, 2));
    r.receive(encodeFrame(2, 5, 4));
    expect(a.putImageData).toHaveBeenCalledTimes(1);
    expect(a.canvas.width).toBe(3);
    expect(a.canvas.height).toBe(2);
    r.attach(2, b.canvas);
    expect(b.putImageData).toHaveBeenCalledTimes(1);
    expect(b.canvas.width).toBe(5);
    r.receive(new ArrayBuffer(3)); // garbage is ignored
    expect(a.putImageData).toHaveBeenCalledTimes(1);
  });
});

describe('video stats', () => {
  it('count the pictures received, never a malformed one', () => {
    const router = new VideoRouter();
    const canvas = document.createElement('canvas');
    // jsdom has no 2D context: drawing is skipped, but nothing is counted as drawn either.
    router.attach(77, canvas);
    const before = videoStats.received;
    router.receive(encodeFrame(77, 2, 2));
    router.receive(new ArrayBuffer(3));
    expect(videoStats.received).toBe(before + 1);
  });
});

describe('batches', () => {
  it('split into their pictures, and a damaged batch keeps what came before the damage', () => {
    const a = encodeFrame(1, 2, 2);
    const b = encodeFrame(2, 1, 1);
    const parts = splitBatch(encodeBatch([a, b]));
    expect(parts.map((p) => decodeFrameHeader(p)?.id)).toEqual([1, 2]);
    const cut = encodeBatch([a, b]).slice(0, 4 + 4 + a.byteLength + 6);
    expect(splitBatch(cut).length).toBe(1);
    expect(splitBatch(new ArrayBuffer(2))).toEqual([]);
    // A count far larger than the bytes present stops at the end.
    const lying = new Uint8Array(encodeBatch([a]));
    new DataView(lying.buffer).setUint32(0, 1_000_000, true);
    expect(splitBatch(lying.buffer).length).toBe(1);
  });
});

describe('pictures from batches', () => {
  it('are drawn one per participant per screen frame, in order, from copies of their own', () => {
    globalThis.ImageData ??= class {
      constructor(public data: Uint8ClampedArray, public width: number, public height: number) {}
    } as unknown as typeof ImageData;
    const r = new VideoRouter();
    const put = vi.fn();
    const canvas = { width: 0, height: 0, dataset: {} as DOMStringMap, getContext: () => ({ putImageData: put }) };
    r.attach(1, canvas as unknown as HTMLCanvasElement);
    const black = encodeFrame(1, 2, 1, new Uint8Array([0, 0, 0, 255, 0, 0, 0, 255]));
    const white = encodeFrame(1, 2, 1, new Uint8Array(8).fill(255));
    const batch = encodeBatch([black, white]);
    const replacedBefore = videoStats.replaced;
    r.receiveBatch(batch);
    expect(put).not.toHaveBeenCalled(); // not before the screen frame
    expect(videoStats.replaced).toBe(replacedBefore); // a burst of two is shown, not replaced
    // The batch's memory may be reused or collected: the pictures were copied out of it.
    new Uint8Array(batch).fill(0);
    const firstColour = () => Array.from((put.mock.calls.at(-1)?.[0] as ImageData).data.slice(0, 4));
    expect(r.drawPending()).toBe(true); // one more waits
    expect(firstColour()).toEqual([0, 0, 0, 255]);
    expect(r.drawPending()).toBe(false);
    expect(firstColour()).toEqual([255, 255, 255, 255]);
    expect(r.drawPending()).toBe(false);
    expect(put).toHaveBeenCalledTimes(2); // nothing new, nothing drawn

    // A backlog longer than MAX_QUEUED loses its oldest.
    r.receiveBatch(encodeBatch([black, black, white, black, white]));
    expect(videoStats.replaced).toBe(replacedBefore + 5 - MAX_QUEUED);
    const shown: number[][] = [];
    while (r.drawPending()) shown.push(firstColour());
    shown.push(firstColour());
    expect(shown).toEqual([[255, 255, 255, 255], [0, 0, 0, 255], [255, 255, 255, 255]]);
  });
});

describe('the video socket requests', () => {
  it('measures each answer against its own request and tells a stuck socket', () => {
    const r = new PullRequests();
    expect(r.stalled(0)).toBe(false);
    r.ask(0);
    r.ask(10);
    expect(r.answered(40)).toBe(40);
    // The second request is the oldest now: silence is counted from it.
    expect(r.stalled(10 + VIDEO_STALL_MS)).toBe(false);
    expect(r.stalled(11 + VIDEO_STALL_MS)).toBe(true);
    expect(r.answered(20_000)).toBe(20_000 - 10);
    // Nothing asked: a quiet socket is not stuck, however long.
    expect(r.stalled(1_000_000)).toBe(false);
    expect(r.answered(1_000_001)).toBeUndefined();
  });
});
