import type { Invocation } from "../arguments";
import { exitCodes } from "../exit-codes";
import { formatPingLine, formatPingSummary } from "../format";
import type { CliIO, Out } from "../io";
import { bounded, firstValue, withSession } from "../session";
import { summarize } from "../stats";
import type { Target } from "../target";
import { delay } from "../wait";

type PingReply = { clientTime: number; serverTime: number; instanceId: string };

/** `plauder ping`: round trips over the socket, one line each and a summary, until done or Ctrl-C. */
export async function pingCommand(
  invocation: Extract<Invocation, { command: "ping" }>,
  target: Target,
  io: CliIO,
  out: Out,
): Promise<number> {
  const { count, intervalMs } = invocation;
  const stop = io.interrupt;
  const rtts: number[] = [];
  const pinging = withSession(target, io, async (session) => {
    const stopped = new Promise<null>((resolve) => stop?.addEventListener("abort", () => resolve(null)));
    // The first round trip should not include opening the socket.
    if ((await Promise.race([bounded(session.watch.ready, session, io, target.url), stopped])) === null) return;
    for (let sequence = 1; sequence <= count && !stop?.aborted; sequence++) {
      if (sequence > 1) await delay(intervalMs, { signal: stop });
      if (stop?.aborted) break;
      const clientTime = io.now();
      const reply = firstValue<PingReply>((handlers) => session.api.realtime.ping.subscribe({ clientTime }, handlers));
      const answer = await Promise.race([bounded(reply, session, io, target.url), stopped]);
      if (answer === null) break;
      const rtt = io.now() - answer.clientTime;
      rtts.push(rtt);
      out.line(formatPingLine(sequence, count, rtt, answer.instanceId));
    }
  });
  try {
    await pinging;
  } finally {
    // Like ping(8): what was measured before a failure is still worth a summary.
    if (rtts.length > 0 || stop?.aborted) out.line(formatPingSummary(summarize(rtts)));
  }
  return rtts.length > 0 ? exitCodes.ok : exitCodes.interrupted;
}
