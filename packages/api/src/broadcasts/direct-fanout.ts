import { getEnv } from "@plauder/runtime";
import type { Connection } from "../context";
import { metrics } from "../metrics";
import { type Broadcast, idNumber } from "./types";

/** A broadcast subscription that has learnt its tRPC id and now receives frames written directly. */
export type DirectSubscriber = {
  connection: Connection;
  /** `{"id":<subscription id>` (and `jsonrpc` when the client sent it): the per-subscriber part of a frame. */
  framePrefix: string;
  lastSentId: number;
};

/** The start of a tRPC data frame for one subscription, serialised once when it goes direct. */
export function framePrefix(subscriptionId: string | number, jsonrpc: string | undefined): string {
  return `{"id":${JSON.stringify(subscriptionId)}${jsonrpc === undefined ? "" : `,"jsonrpc":${JSON.stringify(jsonrpc)}`}`;
}

/** The rest of the frame for one broadcast: the same bytes for every subscriber, built once. */
export function frameTail(broadcast: Broadcast): string {
  const id = JSON.stringify(broadcast.id);
  return `,"result":{"type":"data","id":${id},"data":{"id":${id},"data":${JSON.stringify(broadcast)}}}}`;
}

/**
 * Sends a frame unless the connection is gone or has more unsent data than `WS_MAX_BUFFERED`, in
 * which case it is closed as a slow consumer. Returns whether the frame was sent.
 */
export function sendFrame(
  subscriber: DirectSubscriber,
  id: number,
  frame: string | Buffer,
  maxBuffered: number,
): boolean {
  const socket = subscriber.connection.socket;
  if (socket.readyState !== socket.OPEN || id <= subscriber.lastSentId) return false;
  if (socket.bufferedAmount > maxBuffered) {
    subscriber.connection.closeAsSlowConsumer();
    return false;
  }
  socket.send(frame, textFrame);
  subscriber.lastSentId = id;
  return true;
}

// A prebuilt Buffer goes out as a text frame (tRPC speaks text) and is written as is, not copied.
const textFrame = { binary: false } as const;

/**
 * The broadcast hot path. The stock tRPC adapter runs an async generator, a promise race and a
 * `JSON.stringify` of the whole envelope per subscriber per event; here each broadcast is
 * serialised once and written to every live subscription's socket in one loop, as the same tRPC
 * data frame the adapter would have produced. Subscriptions join once they know their tRPC id
 * (see router/realtime.ts).
 */
export class DirectFanout {
  /**
   * Subscribers grouped by frame prefix. Clients number their subscriptions from 1, so a handful
   * of prefixes covers nearly everyone: each group's frame is encoded once per broadcast and the
   * same bytes are handed to every socket in it.
   */
  private readonly groups = new Map<string, Set<DirectSubscriber>>();
  private count = 0;
  private readonly maxBuffered = getEnv().WS_MAX_BUFFERED;

  add(subscriber: DirectSubscriber): () => void {
    let group = this.groups.get(subscriber.framePrefix);
    if (!group) {
      group = new Set();
      this.groups.set(subscriber.framePrefix, group);
    }
    group.add(subscriber);
    this.count++;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.count--;
      group.delete(subscriber);
      if (group.size === 0) this.groups.delete(subscriber.framePrefix);
    };
  }

  size(): number {
    return this.count;
  }

  deliver = (broadcast: Broadcast): void => {
    if (this.count === 0) return;
    const id = idNumber(broadcast);
    const tail = frameTail(broadcast);
    let sent = 0;
    for (const [prefix, group] of this.groups) {
      const frame = Buffer.from(prefix + tail);
      for (const subscriber of group) if (sendFrame(subscriber, id, frame, this.maxBuffered)) sent++;
    }
    // One metrics update per broadcast, not per delivery.
    if (sent > 0) metrics().messagesOut.inc({ procedure: "broadcast" }, sent);
  };
}
