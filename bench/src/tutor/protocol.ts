/**
 * What the tutor benchmark's orchestrator (run.ts) says to its two helper processes over IPC: the
 * fake model provider (fake.ts) and the load client (load.ts). Every time is wall-clock milliseconds
 * from `nowMs()` (performance.timeOrigin + performance.now()), comparable across the processes.
 */

/** Every answer token is this many characters, so a delta's offset says which tokens it carries. */
export const tokenLength = 6;

/** The i-th token of an answer: ` t0042`. */
export function tokenText(index: number): string {
  return ` t${String(index % 10_000).padStart(4, "0")}`;
}

/**
 * A learner line that tells the fake what to answer: its tag (to find the request again) and how
 * many tokens. The mistake ("ein Hund") gives the correction one edit to place.
 */
export function learnerLine(tag: string, tokens: number): string {
  return `Ich habe ein Hund [${tag} n${tokens}]`;
}

const linePattern = /\[([a-z][a-z0-9-]*) n(\d+)\]/;

export function parseLearnerLine(text: string): { tag: string; tokens: number } | null {
  const match = linePattern.exec(text);
  return match ? { tag: match[1] as string, tokens: Number(match[2]) } : null;
}

/** The fake's own timing of one request. */
export type FakeTiming = {
  tag: string;
  /** A correction request (structured output) rather than an answer. */
  structured: boolean;
  arrival: number;
  /** When each token was written. */
  tokenTimes: number[];
  outcome: "open" | "completed" | "closed-by-client" | "reset-by-server";
  closedAt: number | null;
};

export type FakeCommand =
  | { type: "behaviour"; kind: "slow" | "endless"; msPerToken: number }
  | { type: "timings"; tags: string[] }
  | { type: "cpu" };

export type FakeReady = { type: "ready"; url: string; model: string };

/** One load connection: a person on an instance. */
export type ConnSpec = { url: string; token: string };

export type LoadCommand =
  | { type: "connect"; conns: ConnSpec[]; concurrency: number }
  /** Starts a conversation on each of these connections and subscribes to its channel. */
  | { type: "start"; conns: number[]; level: string; concurrency: number }
  /** Sends one line at a time (rotating over `conns`), each after the previous answer ended. */
  | { type: "sequential"; conns: number[]; sends: number; tokens: number; tagPrefix: string }
  /** Every connection sends at once (spread over `spreadMs`); "streams-started" once all are acknowledged. */
  | { type: "streams"; conns: number[]; tokens: number; tagPrefix: string; spreadMs: number; keepArrivals: boolean }
  /** Send on `owner`, wait for `afterDeltas` deltas, Stop through `stopper`; `rounds` times per pair, pairs side by side. */
  | {
      type: "stops";
      pairs: { owner: number; stopper: number }[];
      rounds: number;
      afterDeltas: number;
      tokens: number;
      tagPrefix: string;
    }
  /** The same load client, straight to the fake: POST /api/chat, time to the first token. */
  | { type: "direct"; url: string; model: string; sends: number; tokens: number; tagPrefix: string }
  | { type: "stats" }
  | { type: "close" };

/** One answer as the load client saw it. */
export type SendRecord = {
  tag: string;
  /** Just before the `tutor.send` frame went out. */
  sentAt: number;
  /** The send's answer arrived. */
  ackAt: number;
  position: number;
  firstDeltaAt: number | null;
  endAt: number | null;
  status: string | null;
  length: number;
  /** Arrival time of each token (by index), when asked to keep them. */
  arrivals?: number[];
  /** Deltas received, and deltas that carried more than one token. */
  deltas: number;
  merged: number;
  /** Text that did not line up (a gap or a repeat): should stay 0. */
  misplaced: number;
};

export type StopRecord = {
  tag: string;
  stopAt: number;
  stopAckAt: number;
  endAt: number | null;
  status: string | null;
};

export type DirectRecord = { tag: string; sentAt: number; firstTokenAt: number };

export type LoadStats = {
  type: "stats";
  /** Share of one core since the last `stats`. */
  cpu: number;
  /** Event loop delay since the last `stats`, ms. */
  eventLoopP50: number;
  eventLoopP99: number;
  eventLoopMax: number;
};
