import { exitCodes } from "../exit-codes";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/** `plauder publish`: prints the broadcast's id, which `listen --since` takes. */
export async function publishCommand(text: string, target: Target, io: CliIO, out: Out): Promise<number> {
  const published = await withSession(target, io, (session) =>
    bounded(session.api.realtime.publish.mutate({ text }), session, io, target.url),
  );
  out.line(`Published #${published.id}`);
  return exitCodes.ok;
}
