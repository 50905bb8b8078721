import type { ChannelEvent, ChannelPublication, ChannelSync } from "@plauder/api";
import type { PlauderClient } from "@plauder/client";

/** A channel subscription that records what arrives, in order, with each event's tracked id. */
export type ChannelRecorder = {
  events: { id: string; event: ChannelEvent }[];
  publications(kind?: ChannelPublication["kind"]): ChannelPublication[];
  syncs(): ChannelSync[];
  /** The id of the last event: what wsLink would send back as `lastEventId`. */
  lastId(): string | undefined;
  error(): (Error & { data?: { code?: string } }) | null;
  /** Resolves once `check` holds; rejects with what arrived after `timeoutMs`. */
  until(check: (recorder: ChannelRecorder) => boolean, what: string, timeoutMs?: number): Promise<void>;
  stop(): void;
};

export function recordChannel(client: PlauderClient, channel: string, lastEventId?: string): ChannelRecorder {
  const events: ChannelRecorder["events"] = [];
  let failure: (Error & { data?: { code?: string } }) | null = null;
  const subscription = client.api.channels.subscribe.subscribe(
    { channel, lastEventId: lastEventId ?? null },
    {
      onData: (tracked) => events.push({ id: tracked.id, event: tracked.data }),
      onError: (error) => {
        failure = error as Error & { data?: { code?: string } };
      },
    },
  );
  const recorder: ChannelRecorder = {
    events,
    publications: (kind) =>
      events
        .map((entry) => entry.event)
        .filter((event): event is ChannelPublication => event.type === "publication" && (!kind || event.kind === kind)),
    syncs: () => events.map((entry) => entry.event).filter((event): event is ChannelSync => event.type === "sync"),
    lastId: () => events.at(-1)?.id,
    error: () => failure,
    async until(check, what, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check(recorder)) {
        if (Date.now() > deadline) {
          const failed = failure ? ` (subscription failed: ${(failure as Error).message})` : "";
          throw new Error(`timed out waiting for ${what}: ${events.length} events${failed}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: () => subscription.unsubscribe(),
  };
  return recorder;
}

/** Offsets of publications, to compare with 1…n. */
export const offsets = (publications: ChannelPublication[]) => publications.map((publication) => publication.offset);

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);
