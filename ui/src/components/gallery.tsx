import type { MeetingView } from '../api';
import { PAGE_SIZES, type Layout, type PageSize } from '../layout';
import { t } from '../i18n';
import { Icon } from './icons';
import { breakoutRoomOf } from '../breakouts';
import { Tile } from './tile';

type Props = {
  view: MeetingView;
  layout: Layout;
  speaker: boolean;
  pinned: number | null;
  perPage: PageSize;
  onPin: (id: number | null) => void;
  onPage: (page: number) => void;
  onPerPage: (n: PageSize) => void;
  onSpeaker: (on: boolean) => void;
};

export function Gallery({ view, layout, speaker, pinned, perPage, onPin, onPage, onPerPage, onSpeaker }: Props) {
  const people = new Map(view.participants.map((p) => [p.id, p]));
  const tiles = layout.ids.map((id) => people.get(id)).filter((p) => p !== undefined);
  const cols = Math.max(1, Math.ceil(Math.sqrt(speaker ? Math.max(1, tiles.length - 1) : tiles.length)));
  const [main, ...rest] = tiles;
  const tile = (p: (typeof tiles)[number], large = false) => (
    <Tile
      key={p.id}
      person={p}
      self={p.id === view.you}
      pinned={p.id === pinned}
      large={large}
      inRoom={breakoutRoomOf(view, p.id)}
      shedding={view.server_shedding !== 'none'}
      onPin={onPin}
    />
  );

  return (
    <section class="gallery-wrap" aria-label={speaker ? t('meeting.view.speaker') : t('meeting.view.gallery')}>
      <div class="gallery-tools">
        <button
          type="button"
          id="view-toggle"
          class="button small ghost"
          aria-pressed={speaker}
          onClick={() => onSpeaker(!speaker)}
          title={speaker ? t('meeting.view.gallery') : t('meeting.view.speaker')}
        >
          <Icon name={speaker ? 'grid' : 'speaker'} />
          <span>{speaker ? t('meeting.view.gallery') : t('meeting.view.speaker')}</span>
        </button>
        <label class="per-page">
          <span>{t('meeting.perPage')}</span>
          <select
            id="per-page"
            class="input small"
            value={String(perPage)}
            onChange={(e) => onPerPage(Number((e.target as HTMLSelectElement).value) as PageSize)}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        {layout.pages > 1 && (
          <div class="pager" role="group">
            <button type="button" id="prev-page" class="button small ghost" disabled={layout.page === 0} onClick={() => onPage(layout.page - 1)} aria-label={t('meeting.prevPage')}>
              ‹
            </button>
            <span>{t('meeting.page', { page: layout.page + 1, pages: layout.pages })}</span>
            <button
              type="button"
              id="next-page"
              class="button small ghost"
              disabled={layout.page >= layout.pages - 1}
              onClick={() => onPage(layout.page + 1)}
              aria-label={t('meeting.nextPage')}
            >
              ›
            </button>
          </div>
        )}
      </div>
      {view.participants.length <= 1 && <p class="alone muted">{t('meeting.alone')}</p>}
      {speaker && main ? (
        <div class="speaker-layout">
          <div class="speaker-main">{tile(main, true)}</div>
          {rest.length > 0 && <div class="speaker-strip">{rest.map((p) => tile(p))}</div>}
        </div>
      ) : (
        <div class="gallery" data-cols={String(Math.min(cols, 7))}>
          {tiles.map((p) => tile(p))}
        </div>
      )}
    </section>
  );
}
