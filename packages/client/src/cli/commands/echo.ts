import { exitCodes } from "../exit-codes";
import type { CliIO, Out } from "../io";
import { bounded, firstValue, withSession } from "../session";
import type { Target } from "../target";

type EchoReply = { text: string; serverTime: number; instanceId: string };

/** `plauder echo`: prints the text as the server sends it back, to check the whole path. */
export async function echoCommand(text: string, target: Target, io: CliIO, out: Out): Promise<number> {
  const reply = await withSession(target, io, (session) => {
    const echoed = firstValue<EchoReply>((handlers) => session.api.realtime.echo.subscribe({ text }, handlers));
    return bounded(echoed, session, io, target.url);
  });
  out.line(reply.text);
  return exitCodes.ok;
}
