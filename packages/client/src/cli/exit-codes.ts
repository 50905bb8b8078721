/**
 * The process's exit codes, in one table so scripts can rely on them and every return and exit
 * names what it means instead of a number.
 */
export const exitCodes = {
  ok: 0,
  error: 1,
  /** Wrong credentials, not signed in, expired or rejected token. */
  auth: 2,
  unreachable: 3,
  rateLimited: 4,
  /** The server refused this person: someone else's channel, a room they are not a member or owner of. */
  forbidden: 5,
  /** sysexits' EX_USAGE. */
  usage: 64,
  /** 128 + SIGINT, as shells report a Ctrl-C. */
  interrupted: 130,
} as const;

/** An error whose message is fit to show as is, with the exit code it ends the process with. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Bad command line: reported together with the usage text. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super(message, exitCodes.usage);
  }
}
