import type { ChannelPublication, ChannelSync } from "@plauder/api";
import type { RealtimeConnection } from "~/realtime/connection";

/** The tracked position of the last event a channel subscription saw: where the next one resumes. */
export type ResumePoint = { channel: string; position: string };

export type ChannelEventHandlers = {
  onPublication(publication: ChannelPublication): void;
  onSync(sync: ChannelSync): void;
  /** The server refused the subscription. */
  onError(error: unknown): void;
  /** wsLink lost the socket and is reconnecting: until the resumed subscription's sync, nothing is live. */
  onReconnecting(): void;
};

/**
 * Subscribes to a channel from where `resumeFrom` says the last subscription to the same channel
 * stopped (from its start otherwise, or for another channel), and moves `resumeFrom` on with every
 * event, so that a manual reconnect resumes without a gap. After a dropped connection wsLink resumes
 * by itself with the last position it saw. Returns what ends the subscription: no handler runs after it.
 */
export function subscribeResuming(
  connection: RealtimeConnection,
  channel: string,
  resumeFrom: { current: ResumePoint | null },
  handlers: ChannelEventHandlers,
): () => void {
  let active = true;
  const lastEventId = resumeFrom.current?.channel === channel ? resumeFrom.current.position : null;
  const subscription = connection.api.channels.subscribe.subscribe(
    { channel, lastEventId },
    {
      onData: ({ id, data }) => {
        if (!active) return;
        resumeFrom.current = { channel, position: id };
        if (data.type === "publication") handlers.onPublication(data);
        else handlers.onSync(data);
      },
      onError: (error) => {
        if (active) handlers.onError(error);
      },
      onConnectionStateChange: (change) => {
        if (active && change.state === "connecting") handlers.onReconnecting();
      },
    },
  );
  return () => {
    active = false;
    subscription.unsubscribe();
  };
}
