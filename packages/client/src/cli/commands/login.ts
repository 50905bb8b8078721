import { writeCredentials } from "../../credentials";
import type { Invocation } from "../arguments";
import { CliError, exitCodes } from "../exit-codes";
import { formatSignedIn } from "../format";
import { type CliIO, type Out, readFirstLine } from "../io";
import { lookUpStored, nonEmpty, resolveUrl } from "../target";

/** The password never comes from a flag, so it stays out of shell history and process lists. */
async function readPassword(passwordStdin: boolean, io: CliIO): Promise<string> {
  // An explicit --password-stdin wins over the environment.
  if (passwordStdin) {
    const line = await readFirstLine(io.stdin);
    if (!line) throw new CliError("No password on stdin", exitCodes.usage);
    return line;
  }
  const fromEnv = nonEmpty(io.env.PLAUDER_PASSWORD);
  if (fromEnv) return fromEnv;
  if (!io.interactive) {
    throw new CliError("No password: set PLAUDER_PASSWORD or pipe it in with --password-stdin", exitCodes.usage);
  }
  const typed = await io.prompt("Password: ", { hidden: true });
  if (!typed) throw new CliError("No password given", exitCodes.usage);
  return typed;
}

/** `--email`, else `$PLAUDER_EMAIL`, else a prompt when someone is at the terminal. */
async function readEmail(flag: string | undefined, io: CliIO): Promise<string> {
  const given = nonEmpty(flag) ?? nonEmpty(io.env.PLAUDER_EMAIL);
  if (given) return given;
  if (!io.interactive) throw new CliError("No email: pass --email or set PLAUDER_EMAIL", exitCodes.usage);
  const typed = (await io.prompt("Email: ", { hidden: false })).trim();
  if (!typed) throw new CliError("No email given", exitCodes.usage);
  return typed;
}

/** `plauder login`: signs in once and stores the token for later commands. */
export async function loginCommand(
  invocation: Extract<Invocation, { command: "login" }>,
  io: CliIO,
  out: Out,
): Promise<number> {
  const url = resolveUrl(nonEmpty(invocation.url), io, await lookUpStored(io));
  const email = await readEmail(invocation.email, io);
  const password = await readPassword(invocation.passwordStdin, io);
  const session = await io.login(url, email, password);
  await writeCredentials(
    io.env,
    { url, token: session.token, expiresAt: session.expiresAt, user: session.user },
    io.home,
  );
  out.line(formatSignedIn(session));
  if (nonEmpty(io.env.PLAUDER_TOKEN)) out.status("Note: PLAUDER_TOKEN is set and is used instead of this login");
  return exitCodes.ok;
}
