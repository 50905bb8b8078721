/** What the channels orchestrator (run.ts) and its load processes (load.ts) say to each other over IPC. */

export type ChannelSystem = "plauder" | "socketio";

/** One connection to open: where, as whom, what to subscribe to, and what it may publish to. */
export type ConnectionSpec = {
  url: string;
  token: string;
  /** Channels (Plauder) or rooms (Socket.IO) to subscribe to / join. */
  subscribe: string[];
  /** Channels this connection publishes to, round-robin, when it is a publisher. */
  publish: string[];
  /** Channels to subscribe to later, on the `subscribe` command (the memory scenario). */
  later?: string[];
  /** Parse every delivery and check durable offsets per channel (the in-order scenario). */
  verify?: boolean;
};

export type LoadCommand =
  | { type: "connect"; system: ChannelSystem; connections: ConnectionSpec[]; concurrency: number }
  | {
      type: "closed";
      /** Calls each publisher connection keeps in flight. */
      depth: number;
      warmupSeconds: number;
      seconds: number;
      ephemeral: boolean;
      bytes: number;
    }
  | { type: "open"; rate: number; warmupSeconds: number; seconds: number; ephemeral: boolean; bytes: number }
  | { type: "subscribe"; concurrency: number }
  | { type: "reset" }
  | { type: "report" }
  | { type: "close" };

export type PublishResult = {
  type: "published";
  /** Acknowledged publishes inside the measured window. */
  acks: number;
  /** Error answers inside the measured window (refusals, rate limits, timeouts of the server). */
  errors: number;
  firstError: string | null;
  seconds: number;
  /** Ack latency in ms (closed loop: from send; open loop: from the scheduled send time). */
  p50: number;
  p99: number;
  max: number;
  /** Open loop only: how far behind its schedule the load process fell at worst (ms). */
  maxLagMs: number;
  /** Calls still unanswered 10 s after the window closed. */
  unanswered: number;
  /** Share of one core this process used during the window. */
  cpu: number;
};

export type DeliveryReport = {
  type: "report";
  connections: number;
  /** Publications received since the last reset. */
  received: number;
  /** Delivery latency in ms: receive time minus the publisher's send time carried in the text. */
  p50: number;
  p99: number;
  max: number;
  /** The in-order check over connections with `verify`. */
  order: { checked: number; gaps: number; duplicates: number; outOfOrder: number; firstOffset: number; last: number };
  cpu: number;
};

export type ConnectResult = { type: "connected"; ok: number; failed: number; firstError: string | null; ms: number };
export type SubscribeResult = { type: "subscribed"; ok: number; failed: number; firstError: string | null; ms: number };
