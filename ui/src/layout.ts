// Which tiles are on the current gallery page (pure; tested).
import type { Person } from './api';

// Up to 7×7: the SFU gives each receiver up to 49 pictures, each the small layer a small
// tile needs.
export const PAGE_SIZES = [4, 9, 16, 25, 49] as const;
export type PageSize = (typeof PAGE_SIZES)[number];

export type Layout = { ids: number[]; page: number; pages: number };

/** Order: the pinned person first, then people sharing, then everyone else as listed. */
export function orderTiles(people: Person[], pinned: number | null): number[] {
  const ids = people.map((p) => p.id);
  const sharing = people.filter((p) => p.sharing && p.id !== pinned).map((p) => p.id);
  const rest = ids.filter((id) => id !== pinned && !sharing.includes(id));
  const first = pinned !== null && ids.includes(pinned) ? [pinned] : [];
  return [...first, ...sharing, ...rest];
}

export function pageOf(order: number[], perPage: number, page: number): Layout {
  const pages = Math.max(1, Math.ceil(order.length / perPage));
  const p = Math.min(Math.max(0, page), pages - 1);
  return { ids: order.slice(p * perPage, p * perPage + perPage), page: p, pages };
}

/** The ids whose video the backend should send: visible tiles except yourself. */
export function visibleVideoIds(pageIds: number[], you: number | null): number[] {
  return pageIds.filter((id) => id !== you).sort((a, b) => a - b);
}
