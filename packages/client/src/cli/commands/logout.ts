import { credentialsPath, deleteCredentials, isExpired, readCredentials } from "../../credentials";
import { httpBase } from "../../login";
import { exitCodes } from "../exit-codes";
import type { CliIO, Out } from "../io";

/** `plauder logout`: forgets the stored login; succeeds even when there is none or the server is away. */
export async function logoutCommand(io: CliIO, out: Out): Promise<number> {
  const stored = await readCredentials(io.env, io.home).catch(() => null);
  // Ends the token on the server too, so a copy of it is worthless and its sockets close.
  if (stored && !isExpired(stored, io.now())) {
    const ended = await io
      .fetch(`${httpBase(stored.url)}/api/trpc/auth.logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${stored.token}`, "content-type": "application/json" },
        signal: AbortSignal.timeout(io.connectTimeoutMs),
      })
      .then((response) => response.ok)
      .catch(() => false);
    if (!ended) out.status("Could not reach the server to end the token; it expires by itself");
  }
  const removed = await deleteCredentials(io.env, io.home);
  out.line(removed ? `Signed out (removed ${credentialsPath(io.env, io.home)})` : "Not signed in");
  return exitCodes.ok;
}
