import { httpBase } from "../../login";
import { exitCodes } from "../exit-codes";
import { formatDateTime } from "../format";
import type { CliIO, Out } from "../io";
import { bounded, withSession } from "../session";
import type { Target } from "../target";

/** `plauder whoami`: asks the server, so the answer also proves the token still works. */
export async function whoamiCommand(target: Target, io: CliIO, out: Out): Promise<number> {
  const user = await withSession(target, io, (session) =>
    bounded(session.api.auth.me.query(), session, io, target.url),
  );
  const expiresAt = target.auth.kind === "token" ? target.auth.expiresAt : undefined;
  const validity = expiresAt === undefined ? "" : ` (token valid until ${formatDateTime(expiresAt)})`;
  out.line(`${user.name} <${user.email}> on ${httpBase(target.url)}${validity}`);
  return exitCodes.ok;
}
