import type { ChannelSync } from "@plauder/api";
import { type ChannelRecovery, subscribeChannel } from "../../channels";
import { httpBase } from "../../login";
import { defaultChannel, type Invocation } from "../arguments";
import { ConnectionWatch } from "../connection-watch";
import { exitCodes } from "../exit-codes";
import { formatBroadcast, formatPublication } from "../format";
import type { CliIO, Out } from "../io";
import { openSession, type Session } from "../session";
import type { Target } from "../target";
import { aborted } from "../wait";

type ListenInvocation = Extract<Invocation, { command: "listen" }>;

/** A running subscription: `ended` settles when the server ends it; `stop` ends it from here. */
type Listening = { ended: Promise<void>; stop(): void };

/**
 * `plauder listen`: prints publications until Ctrl-C, riding out lost connections instead of
 * failing. The lobby is the v1 broadcast feed, printed as it always was; other channels go through
 * `channels.subscribe`.
 */
export async function listenCommand(
  invocation: ListenInvocation,
  target: Target,
  io: CliIO,
  out: Out,
): Promise<number> {
  const base = httpBase(target.url);
  // Status goes to stderr only, so stdout stays one publication per line.
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "long-lived", {
    opened: (first) => {
      if (!first) out.status("Reconnected; catching up");
    },
    lost: () => out.status("Connection lost; reconnecting…"),
  });
  const session = await openSession(target, io, watch, "long-lived");
  const listening =
    invocation.channel === defaultChannel
      ? listenToBroadcasts(invocation, session, base, out)
      : listenToChannel(invocation, session, base, out);
  try {
    await Promise.race([listening.ended, watch.failed, aborted(io.interrupt)]);
    if (io.interrupt?.aborted) out.status("Stopped");
    return exitCodes.ok;
  } finally {
    listening.stop();
    await session.close();
  }
}

/** The lobby as v1 has it: `realtime.broadcast`, resumable with `--since`. */
function listenToBroadcasts(invocation: ListenInvocation, session: Session, base: string, out: Out): Listening {
  let stop = () => {};
  const ended = new Promise<void>((resolve, reject) => {
    let started = false;
    const input = invocation.since === undefined ? {} : { lastEventId: invocation.since };
    const subscription = session.api.realtime.broadcast.subscribe(input, {
      onStarted: () => {
        if (!started) out.status(`Listening for broadcasts on ${base}; press Ctrl-C to stop`);
        started = true;
      },
      onData: ({ data }) => out.line(formatBroadcast(data, invocation.json)),
      onError: reject,
      onComplete: resolve,
    });
    stop = () => subscription.unsubscribe();
  });
  return { ended, stop };
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;

/** Why a channel's history is (re)loaded, in words: a fresh start, or what the server could not replay. */
function recoveryLine(channel: string, sync: ChannelSync): string {
  if (sync.lost.length === 0) return `Loading the recent history of ${channel}; live publications follow`;
  return `Publications on ${channel} may be missing (${sync.lost.join(" and ")} not recovered); reloading its history`;
}

function recoveredLine(channel: string, { sync, added, complete }: ChannelRecovery): string | null {
  if (sync !== null && sync.lost.length === 0) return null;
  const notes = [];
  if (sync?.lost.includes("ephemeral")) notes.push("ephemeral publications are not kept in the history");
  if (!complete) notes.push("older missed ones are beyond the reload limit");
  const found = `History of ${channel} reloaded: ${plural(added.length, "missed publication")}`;
  return notes.length === 0 ? found : `${found} (${notes.join("; ")})`;
}

/**
 * Any channel through `subscribeChannel`: its recent history first, then live publications; when
 * the server says something could not be recovered, a status line and the missed publications
 * from the history. A refusal (FORBIDDEN, BAD_REQUEST) rejects `ended` with the server's error.
 */
function listenToChannel(invocation: ListenInvocation, session: Session, base: string, out: Out): Listening {
  const { channel, json } = invocation;
  let stop = () => {};
  const ended = new Promise<void>((resolve, reject) => {
    let started = false;
    const subscription = subscribeChannel(session, channel, {
      // The first sync, not the start: access is checked after a subscription starts.
      onSync: () => {
        if (!started) out.status(`Listening on ${channel} at ${base}; press Ctrl-C to stop`);
        started = true;
      },
      onPublication: (publication) => out.line(formatPublication(publication, json)),
      onRecoveryNeeded: (sync) => out.status(recoveryLine(channel, sync)),
      onRecovered: (recovery) => {
        const line = recoveredLine(channel, recovery);
        if (line !== null) out.status(line);
      },
      onRecoveryFailed: (error) => {
        const reason = error instanceof Error ? error.message : String(error);
        out.status(`Could not reload the history of ${channel} (${reason}); trying again after the next reconnect`);
      },
      onError: reject,
      onComplete: resolve,
    });
    stop = () => subscription.unsubscribe();
  });
  return { ended, stop };
}
