import { httpBase } from "../../login";
import type { Invocation } from "../arguments";
import { ConnectionWatch } from "../connection-watch";
import { exitCodes } from "../exit-codes";
import { formatBroadcast } from "../format";
import type { CliIO, Out } from "../io";
import { openSession } from "../session";
import type { Target } from "../target";
import { aborted } from "../wait";

/** `plauder listen`: prints broadcasts until Ctrl-C, riding out lost connections instead of failing. */
export async function listenCommand(
  invocation: Extract<Invocation, { command: "listen" }>,
  target: Target,
  io: CliIO,
  out: Out,
): Promise<number> {
  const base = httpBase(target.url);
  // Status goes to stderr only, so stdout stays one broadcast per line.
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "long-lived", {
    opened: (first) => {
      if (!first) out.status("Reconnected; catching up");
    },
    lost: () => out.status("Connection lost; reconnecting…"),
  });
  const session = await openSession(target, io, watch, "long-lived");
  try {
    const ended = new Promise<void>((resolve, reject) => {
      let started = false;
      const input = invocation.since === undefined ? {} : { lastEventId: invocation.since };
      session.api.realtime.broadcast.subscribe(input, {
        onStarted: () => {
          if (!started) out.status(`Listening for broadcasts on ${base}; press Ctrl-C to stop`);
          started = true;
        },
        onData: ({ data }) => out.line(formatBroadcast(data, invocation.json)),
        onError: reject,
        onComplete: resolve,
      });
    });
    await Promise.race([ended, watch.failed, aborted(io.interrupt)]);
    if (io.interrupt?.aborted) out.status("Stopped");
    return exitCodes.ok;
  } finally {
    await session.close();
  }
}
