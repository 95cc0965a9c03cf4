// Files in the meeting as the window keeps them: each transfer whole, by its number, as the
// backend last reported it (`file-changed`, or the answer to Save or Discard).
import type { FileView } from './api';

/** The meeting's transfers by number. */
export type Files = ReadonlyMap<number, FileView>;

/** `files` with `file` in place of the transfer with its number (a file change is whole). */
export function withFile(files: Files, file: FileView): Files {
  return new Map(files).set(file.transfer, file);
}

/**
 * `files` with those of a reloaded window's snapshot that are not there yet: one that already
 * came by event is as new as the snapshot or newer, so it stays.
 */
export function withFileSnapshot(files: Files, snapshot: FileView[]): Files {
  const next = new Map(files);
  for (const f of snapshot) if (!next.has(f.transfer)) next.set(f.transfer, f);
  return next;
}

/** Newest first (transfers are numbered in the order they began). */
export function newestFilesFirst(files: Files): FileView[] {
  return [...files.values()].sort((a, b) => b.transfer - a.transfer);
}

/** Whether the transfer is under way (a progress bar shows how far). */
export function inProgress(file: FileView): boolean {
  return file.state === 'coming' || file.state === 'sending';
}

/** How far a transfer is, 0–100. */
export function percentDone(file: FileView): number {
  if (file.size <= 0) return inProgress(file) ? 0 : 100;
  return Math.max(0, Math.min(100, Math.floor((file.done / file.size) * 100)));
}

/** A size in bytes for people: B, KB or MB (of 1024), numbers as the language writes them. */
export function formatSize(bytes: number, lang: string): string {
  const n = Math.max(0, bytes);
  const number = (v: number) => new Intl.NumberFormat(lang, { maximumFractionDigits: v < 10 ? 1 : 0 }).format(v);
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${number(n / 1024)} KB`;
  return `${number(n / (1024 * 1024))} MB`;
}
