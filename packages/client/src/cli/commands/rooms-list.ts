import { exitCodes } from "../exit-codes";
import { formatRoom } from "../format";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/** `plauder rooms list`: the person's rooms, newest first, one per line (or one JSON object per line). */
export async function roomsListCommand(json: boolean, target: Target, io: CliIO, out: Out): Promise<number> {
  const rooms = await withSession(target, io, (session) =>
    bounded(session.api.rooms.list.query(), session, io, target.url),
  );
  if (rooms.length === 0) out.status("No rooms yet; create one with `plauder rooms create NAME`");
  for (const room of rooms) out.line(json ? JSON.stringify(room) : formatRoom(room));
  return exitCodes.ok;
}
