import { exitCodes } from "../exit-codes";
import { printable } from "../format";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/** `plauder rooms create`: makes a room owned by this person; prints its channel, which `--channel` takes. */
export async function roomsCreateCommand(name: string, target: Target, io: CliIO, out: Out): Promise<number> {
  const room = await withSession(target, io, (session) =>
    bounded(session.api.rooms.create.mutate({ name }), session, io, target.url),
  );
  out.line(`Created room "${printable(room.name)}": ${room.channel}`);
  return exitCodes.ok;
}
