import type { ChannelPublication } from "@plauder/api";

/**
 * The publications a page shows for one channel, as plain list operations. Every operation keeps
 * each id once: the same publication can reach the page twice (live and again in a history page
 * loaded meanwhile, or again in a replay after a reconnect), and must still show once.
 */

/** How many publications a channel view keeps; older ones can be loaded again with loadOlder. */
export const maxShown = 500;

/** Appends a live (or replayed) publication unless the list already has it; drops the oldest past `maxShown`. */
export function withLive(list: readonly ChannelPublication[], publication: ChannelPublication): ChannelPublication[] {
  if (list.some((shown) => shown.id === publication.id)) return list as ChannelPublication[];
  const next = list.length >= maxShown ? list.slice(list.length - maxShown + 1) : [...list];
  next.push(publication);
  return next;
}

/**
 * The list after a history reload: the history page (oldest first), then what arrived live while it
 * loaded and the page does not hold. Those came after the page was read, so they belong after it.
 */
export function fromHistory(
  history: readonly ChannelPublication[],
  liveMeanwhile: readonly ChannelPublication[],
): ChannelPublication[] {
  return [...history, ...notIn(history, liveMeanwhile)];
}

/** Puts an older history page in front of the list, skipping what the list already holds. */
export function withOlder(
  list: readonly ChannelPublication[],
  older: readonly ChannelPublication[],
): ChannelPublication[] {
  return [...notIn(list, older), ...list];
}

/** The publications of `candidates` that `list` does not hold, in their order and each once. */
function notIn(list: readonly ChannelPublication[], candidates: readonly ChannelPublication[]): ChannelPublication[] {
  const ids = new Set(list.map((publication) => publication.id));
  return candidates.filter((publication) => {
    if (ids.has(publication.id)) return false;
    ids.add(publication.id);
    return true;
  });
}

/** The offset to load older history before: the oldest durable publication shown (ephemeral ones have no history). */
export function oldestDurableOffset(list: readonly ChannelPublication[]): number | undefined {
  return list.find((publication) => publication.kind === "durable")?.offset;
}
