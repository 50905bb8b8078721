import { getEnv } from "@plauder/runtime";
import type { Connection } from "../context";
import { metrics } from "../metrics";
import { FrameGroups, sendFrame } from "../server/frame-groups";
import { type DetachedSubscription, SubscriptionHandover } from "../server/handover";
import type { ChannelEvent } from "./types";

/** A channel event and the position it leaves its subscribers at (the tracked id). */
export type PositionedEvent = { event: ChannelEvent; position: string };

/** The rest of a data frame after its `{"id":…` prefix: the same for every subscriber, built once. */
function frameTail(event: ChannelEvent, position: string): string {
  const id = JSON.stringify(position);
  return `,"result":{"type":"data","id":${id},"data":{"id":${id},"data":${JSON.stringify(event)}}}}`;
}

/** How far one subscription has got in each of a channel's logs, so nothing is sent to it twice. */
export class LogCursor {
  constructor(
    public lastDurable: number,
    public ephemeralEpoch: string,
    public lastEphemeral: number,
  ) {}

  /** Whether this subscription still lacks the event (and records that it now has it). */
  wants(event: ChannelEvent): boolean {
    if (event.type !== "publication") return true;
    if (event.kind === "durable") {
      if (event.offset <= this.lastDurable) return false;
      this.lastDurable = event.offset;
      return true;
    }
    if (event.epoch === this.ephemeralEpoch && event.offset <= this.lastEphemeral) return false;
    this.ephemeralEpoch = event.epoch;
    this.lastEphemeral = event.offset;
    return true;
  }
}

/**
 * One live channel subscription once its replay is done: the socket, the start of its frames, and
 * its cursor. This object and its place in the channel's fan-out are all a channel subscription costs.
 */
export class ChannelMember extends LogCursor implements DetachedSubscription {
  constructor(
    readonly connection: Connection,
    readonly userId: string,
    readonly framePrefix: string,
    private readonly fanout: ChannelFanout,
    private readonly onEnd: () => void,
    start: LogCursor,
  ) {
    super(start.lastDurable, start.ephemeralEpoch, start.lastEphemeral);
  }

  /** Sends a frame unless the socket is gone or over its buffer limit (then it is closed as slow). */
  send(frame: string | Buffer, maxBuffered: number): boolean {
    return sendFrame(this.connection, frame, maxBuffered);
  }

  stop(): void {
    if (this.fanout.remove(this)) this.onEnd();
  }
}

/**
 * A channel's subscribers on this instance on the direct path: each event is serialised once per
 * frame prefix (clients number subscriptions from 1, so a few prefixes cover nearly everyone) and
 * the same bytes go to every socket.
 */
export class ChannelFanout extends FrameGroups<ChannelMember> {
  private readonly maxBuffered = getEnv().WS_MAX_BUFFERED;

  deliver = (event: ChannelEvent, position: string): void => {
    if (this.size() === 0) return;
    const tail = frameTail(event, position);
    let sent = 0;
    for (const [prefix, group] of this.entries()) {
      let frame: Buffer | null = null;
      for (const member of group) {
        if (!member.wants(event)) continue;
        frame ??= Buffer.from(prefix + tail);
        if (member.send(frame, this.maxBuffered)) sent++;
      }
    }
    if (sent > 0) metrics().messagesOut.inc({ procedure: "channel" }, sent);
  };

  /** Ends every subscription of one person here with an error frame (they lost access). */
  expel(userId: string, errorFrameBody: string): void {
    for (const [prefix, group] of this.entries()) {
      for (const member of [...group]) {
        if (member.userId !== userId) continue;
        member.send(`${prefix},${errorFrameBody}}`, Number.POSITIVE_INFINITY);
        member.stop();
      }
    }
  }
}

/**
 * What a channel subscription hands the socket protocol once its replay is done: the events that
 * arrived meanwhile, and the listener that collected them. Attaching sends those, stops the
 * listener and joins the fan-out in one synchronous step, so nothing falls in between.
 */
export class ChannelHandover extends SubscriptionHandover {
  constructor(
    private readonly connection: Connection,
    private readonly userId: string,
    private readonly fanout: ChannelFanout,
    private readonly backlog: () => PositionedEvent[],
    private readonly stopListening: () => void,
    private readonly onEnd: () => void,
    private readonly start: LogCursor,
  ) {
    super();
  }

  attach(framePrefix: string): DetachedSubscription {
    const member = new ChannelMember(this.connection, this.userId, framePrefix, this.fanout, this.onEnd, this.start);
    const maxBuffered = getEnv().WS_MAX_BUFFERED;
    for (const { event, position } of this.backlog()) {
      if (member.wants(event)) member.send(framePrefix + frameTail(event, position), maxBuffered);
    }
    this.stopListening();
    this.fanout.add(member);
    return member;
  }

  cancel(): void {
    this.stopListening();
    this.onEnd();
  }
}
