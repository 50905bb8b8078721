import type { ChannelEvent, ChannelPublication, ChannelSync } from "@plauder/api";
import type { PlauderClient } from "./client";

/** How a publication reached `onPublication`: live, replayed after a resume, or reloaded from the history. */
export type PublicationSource = "live" | "replay" | "history";

/** What a history reload found (see {@link ChannelHandlers.onRecovered}). */
export type ChannelRecovery = {
  /** The `sync` event that asked for the reload, or `null` when `reload()` did. */
  sync: ChannelSync | null;
  /** The publications the reload found that had not been delivered; already passed to `onPublication`, oldest first. */
  added: ChannelPublication[];
  /**
   * Whether the reload reached back to the last durable publication seen before the gap. False when
   * more were missed than `maxReload` allows (the newest of them were delivered) or the log was replaced.
   */
  complete: boolean;
};

export type ChannelHandlers = {
  /**
   * Each publication exactly once, in order within its log (durable or ephemeral). Together these
   * calls are the channel's list without gaps: what a fresh subscription finds in the history
   * first, then what arrives; after a gap, what the history reload fills in before anything newer.
   */
  onPublication?: (publication: ChannelPublication, source: PublicationSource) => void;
  /** Every `sync` event, before the reload it may cause. */
  onSync?: (sync: ChannelSync) => void;
  /**
   * A `sync` said `recovered: false` (always on a fresh subscription, and when a gap could not be
   * replayed): what was delivered may be missing publications until the reload settles. Publications
   * that arrive meanwhile are held back, so they follow the reloaded ones. A returned promise is
   * awaited before the reload starts.
   */
  onRecoveryNeeded?: (sync: ChannelSync) => void | Promise<void>;
  /** A history reload settled. */
  onRecovered?: (recovery: ChannelRecovery) => void;
  /** A history reload failed; the next `sync` event or `reload()` tries again. */
  onRecoveryFailed?: (error: unknown) => void;
  /** The server accepted the subscription (again after a reconnect). */
  onStarted?: () => void;
  /**
   * The subscription ended with the server's error: BAD_REQUEST for a malformed channel name,
   * FORBIDDEN for someone else's channel or a room the person was removed from, TOO_MANY_REQUESTS
   * past the connection's channel cap. The error is tRPC's `TRPCClientError`, its code in `data.code`.
   */
  onError?: (error: unknown) => void;
  /** The subscription ended without an error (the client closed). */
  onComplete?: () => void;
};

export type SubscribeChannelOptions = {
  /**
   * Resume after this position (a `lastEventId()` of an earlier subscription) instead of from now:
   * the server replays what was missed, and a reload after a gap pages back to it.
   */
  lastEventId?: string | null;
  /** Publications per `channels.history` page, 1 to 200. Default 50: also what a fresh subscription shows first. */
  historyPageSize?: number;
  /** Most publications one reload fetches while paging back to the last one seen. Default 1000. */
  maxReload?: number;
  /** How many of the newest publications `publications()` keeps. Default 1000. */
  retain?: number;
};

export type ChannelSubscription = {
  readonly channel: string;
  /** The newest delivered publications (up to `retain`), in delivery order: the list without gaps. */
  publications(): ChannelPublication[];
  /** The position of the last event received, for `lastEventId` of a later subscription; null before any. */
  lastEventId(): string | null;
  /** Reloads the history now (say, after `onRecoveryFailed`); resolves when that reload settled. */
  reload(): Promise<void>;
  /** Ends the subscription; nothing is delivered afterwards. */
  unsubscribe(): void;
};

/** The last publication delivered from one log: its epoch and offset. */
type Mark = { epoch: string; offset: number };

type Queued = { event: ChannelEvent } | { reloaded: () => void };

/** `<durable epoch>:<durable offset>:<ephemeral epoch>:<ephemeral offset>`, as the server's tracked ids read. */
const positionPattern = /^([a-z0-9]*):(\d+):([a-z0-9]*):(\d+)$/;

function marksFrom(position: string | null | undefined): Record<ChannelPublication["kind"], Mark> | null {
  const match = position ? positionPattern.exec(position) : null;
  if (!match) return null;
  return {
    durable: { epoch: match[1] ?? "", offset: Number(match[2]) },
    ephemeral: { epoch: match[3] ?? "", offset: Number(match[4]) },
  };
}

/**
 * Subscribes to a channel (`lobby`, `room:<id>`, `user:<id>`, `conversation:<id>`) over
 * `channels.subscribe` and hands each publication to `onPublication` once, with no gaps:
 *
 * - Repeats are dropped. A publication's id is its log's epoch and offset, and each log arrives in
 *   offset order, so the last offset delivered per log tells a repeat apart.
 * - When a `sync` event says `recovered: false`, `onRecoveryNeeded` is called and the history is
 *   reloaded with `channels.history`: on a fresh subscription its newest page, after a gap every page
 *   back to the last publication seen (up to `maxReload`). Publications arriving meanwhile wait, so
 *   the reloaded ones come first.
 *
 * Reconnects are the client's: wsLink resumes the subscription from its last position by itself.
 */
export function subscribeChannel(
  client: Pick<PlauderClient, "api">,
  channel: string,
  handlers: ChannelHandlers,
  options: SubscribeChannelOptions = {},
): ChannelSubscription {
  const pageSize = options.historyPageSize ?? 50;
  const maxReload = options.maxReload ?? 1000;
  const retain = options.retain ?? 1000;
  const resumedFrom = marksFrom(options.lastEventId);
  const seen = resumedFrom ?? { durable: { epoch: "", offset: 0 }, ephemeral: { epoch: "", offset: 0 } };
  // Whether what was delivered starts somewhere: then a reload fills everything after it, not just the newest page.
  let anchored = resumedFrom !== null;
  let position = options.lastEventId ?? null;
  const delivered: ChannelPublication[] = [];
  const queue: Queued[] = [];
  let reloading = false;
  let retryReload = false;
  let stopped = false;

  const deliver = (publication: ChannelPublication, source: PublicationSource): boolean => {
    const mark = seen[publication.kind];
    if (publication.epoch === mark.epoch && publication.offset <= mark.offset) return false;
    seen[publication.kind] = { epoch: publication.epoch, offset: publication.offset };
    delivered.push(publication);
    if (delivered.length > retain) delivered.splice(0, delivered.length - retain);
    handlers.onPublication?.(publication, source);
    return true;
  };

  /** The durable publications the reload should offer, oldest first. */
  const missedHistory = async (): Promise<{ publications: ChannelPublication[]; complete: boolean }> => {
    const mark = { ...seen.durable };
    let publications: ChannelPublication[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await client.api.channels.history.query({ channel, limit: pageSize, before });
      publications = [...page.publications, ...publications];
      const oldest = page.publications[0];
      // A fresh list starts with the newest page; everything older is history, not a gap.
      if (!anchored || !page.hasMore || oldest === undefined) return { publications, complete: true };
      if (mark.epoch !== "" && oldest.epoch !== mark.epoch) return { publications, complete: false };
      if (oldest.offset <= mark.offset + 1) return { publications, complete: true };
      if (publications.length >= maxReload) return { publications, complete: false };
      before = oldest.offset;
    }
  };

  const recover = async (sync: ChannelSync | null): Promise<void> => {
    try {
      if (sync && !sync.recovered) await handlers.onRecoveryNeeded?.(sync);
      if (stopped) return;
      const { publications, complete } = await missedHistory();
      if (stopped) return;
      anchored = true;
      retryReload = false;
      const added = publications.filter((publication) => deliver(publication, "history"));
      handlers.onRecovered?.({ sync, added, complete });
    } catch (error) {
      if (stopped) return;
      retryReload = true;
      handlers.onRecoveryFailed?.(error);
    }
  };

  const startReload = (sync: ChannelSync | null, settled?: () => void): void => {
    reloading = true;
    void recover(sync).finally(() => {
      reloading = false;
      settled?.();
      pump();
    });
  };

  /** Works through what arrived in order; a reload holds back everything behind it until it settles. */
  const pump = (): void => {
    while (!reloading && !stopped) {
      const next = queue.shift();
      if (next === undefined) return;
      if ("reloaded" in next) {
        startReload(null, next.reloaded);
        continue;
      }
      const event = next.event;
      if (event.type === "publication") {
        deliver(event, event.replayed ? "replay" : "live");
        continue;
      }
      handlers.onSync?.(event);
      if (!event.recovered || retryReload) startReload(event);
    }
  };

  const subscription = client.api.channels.subscribe.subscribe(
    { channel, lastEventId: options.lastEventId ?? null },
    {
      onStarted: () => handlers.onStarted?.(),
      onData: ({ id, data }) => {
        position = id;
        queue.push({ event: data });
        pump();
      },
      onError: (error) => {
        stopped = true;
        handlers.onError?.(error);
      },
      onComplete: () => handlers.onComplete?.(),
    },
  );

  return {
    channel,
    publications: () => [...delivered],
    lastEventId: () => position,
    reload: () =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve();
        queue.push({ reloaded: resolve });
        pump();
      }),
    unsubscribe() {
      stopped = true;
      for (const item of queue.splice(0)) if ("reloaded" in item) item.reloaded();
      subscription.unsubscribe();
    },
  };
}
