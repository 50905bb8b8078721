import { defaultChannel, type Invocation } from "../arguments";
import { exitCodes } from "../exit-codes";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/**
 * `plauder publish`: prints the publication's id. A durable lobby publication is a v1 broadcast,
 * whose id `listen --since` takes; any other goes through `channels.publish` and names its channel.
 */
export async function publishCommand(
  invocation: Extract<Invocation, { command: "publish" }>,
  target: Target,
  io: CliIO,
  out: Out,
): Promise<number> {
  const { text, channel, ephemeral } = invocation;
  if (channel === defaultChannel && !ephemeral) {
    const published = await withSession(target, io, (session) =>
      bounded(session.api.realtime.publish.mutate({ text }), session, io, target.url),
    );
    out.line(`Published #${published.id}`);
    return exitCodes.ok;
  }
  // Without --ephemeral the channel's own default applies (a conversation's is ephemeral).
  const input = ephemeral ? { channel, text, ephemeral } : { channel, text };
  const ack = await withSession(target, io, (session) =>
    bounded(session.api.channels.publish.mutate(input), session, io, target.url),
  );
  out.line(`Published #${ack.id} on ${channel}`);
  return exitCodes.ok;
}
