import { getEnv } from "@plauder/runtime";
import type { Connection } from "../context";
import { metrics } from "../metrics";
import { FrameGroups, sendFrame } from "../server/frame-groups";
import { type DetachedSubscription, SubscriptionHandover } from "../server/handover";
import type { Inbox } from "./inbox";
import { type Broadcast, idNumber } from "./types";

/** Something that counts one subscription's life and the events it sends (see router/realtime.ts). */
export interface DeliveryCounter {
  sent(count?: number): void;
  done(): void;
}

/** The rest of a data frame after its `{"id":…` prefix: the same bytes for every subscriber, built once. */
export function frameTail(broadcast: Broadcast): string {
  const id = JSON.stringify(broadcast.id);
  return `,"result":{"type":"data","id":${id},"data":{"id":${id},"data":${JSON.stringify(broadcast)}}}}`;
}

/**
 * A live broadcast subscription on the direct path: the socket, the start of its frames and the last
 * id it was sent. This object and its place in the fan-out set are all a subscription costs.
 */
export class FanoutMember implements DetachedSubscription {
  constructor(
    readonly connection: Connection,
    /** `{"id":<subscription id>` (and `jsonrpc` when the client sent it). */
    readonly framePrefix: string,
    public lastSentId: number,
    private readonly fanout: DirectFanout,
    private readonly counter: DeliveryCounter,
  ) {}

  /**
   * Sends the frame of broadcast `id` unless the socket is gone, it was sent already, or the socket
   * has more unsent data than `maxBuffered` (then the connection is closed as a slow consumer).
   */
  send(id: number, frame: string | Buffer, maxBuffered: number): boolean {
    if (id <= this.lastSentId || !sendFrame(this.connection, frame, maxBuffered)) return false;
    this.lastSentId = id;
    return true;
  }

  stop(): void {
    if (this.fanout.remove(this)) this.counter.done();
  }
}

/**
 * The broadcast hot path. Per subscriber and event, a generator-based subscription costs a promise
 * chain and a `JSON.stringify` of the whole envelope; here each broadcast is serialised once and
 * written to every subscriber's socket in one loop, as the same tRPC data frame the generic path
 * would produce.
 */
export class DirectFanout extends FrameGroups<FanoutMember> {
  private readonly maxBuffered = getEnv().WS_MAX_BUFFERED;

  deliver = (broadcast: Broadcast): void => {
    if (this.size() === 0) return;
    const id = idNumber(broadcast);
    const tail = frameTail(broadcast);
    let sent = 0;
    for (const [prefix, group] of this.entries()) {
      const frame = Buffer.from(prefix + tail);
      for (const member of group) if (member.send(id, frame, this.maxBuffered)) sent++;
    }
    // One metrics update per broadcast, not per delivery.
    if (sent > 0) metrics().messagesOut.inc({ procedure: "broadcast" }, sent);
  };
}

/**
 * What a broadcast subscription hands the socket protocol once its replay is done: the broadcasts
 * that arrived meanwhile (its inbox), and the listener that filled it. Attaching sends those, stops
 * the listener and joins the fan-out in one synchronous step, so no broadcast falls in between or
 * is sent twice.
 */
export class BroadcastHandover extends SubscriptionHandover {
  constructor(
    private readonly connection: Connection,
    private readonly fanout: DirectFanout,
    private readonly inbox: Inbox<Broadcast>,
    private readonly stopListening: () => void,
    private readonly counter: DeliveryCounter,
    private readonly lastSentId: number,
  ) {
    super();
  }

  attach(framePrefix: string): DetachedSubscription {
    const member = new FanoutMember(this.connection, framePrefix, this.lastSentId, this.fanout, this.counter);
    const maxBuffered = getEnv().WS_MAX_BUFFERED;
    let sent = 0;
    for (const broadcast of this.inbox.takeAll()) {
      if (member.send(idNumber(broadcast), framePrefix + frameTail(broadcast), maxBuffered)) sent++;
    }
    if (sent > 0) this.counter.sent(sent);
    this.stopListening();
    this.fanout.add(member);
    return member;
  }

  cancel(): void {
    this.stopListening();
    this.counter.done();
  }
}
