import { exitCodes } from "../exit-codes";
import { printable } from "../format";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/** `plauder rooms invite`: adds the person with this email to a room this person owns. */
export async function roomsInviteCommand(
  roomId: string,
  email: string,
  target: Target,
  io: CliIO,
  out: Out,
): Promise<number> {
  const { member, added } = await withSession(target, io, (session) =>
    bounded(session.api.rooms.invite.mutate({ roomId, email }), session, io, target.url),
  );
  const name = printable(member.name);
  out.line(added ? `Added ${name} to room:${roomId}` : `${name} is already a member of room:${roomId}`);
  return exitCodes.ok;
}
