import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { Broadcast } from "@plauder/api";
import { closeCodes, credentialsEndedCodes } from "@plauder/api/close-codes";
import { TRPCClientError } from "@trpc/client";
import { jitteredBackoff } from "./backoff";
import { type CredentialsEnded, createPlauderClient, type PlauderClient, type PlauderClientOptions } from "./client";
import {
  CredentialsFileError,
  credentialsPath,
  deleteCredentials,
  isExpired,
  readCredentials,
  type StoredCredentials,
  writeCredentials,
} from "./credentials";
import {
  CredentialsEndedError,
  InvalidCredentialsError,
  PlauderClientError,
  RateLimitedError,
  ServerUnreachableError,
} from "./errors";
import { httpBase, type LoginResponse, login } from "./login";

// ---------------------------------------------------------------------------------------------
// Exit codes and errors

export const exitCodes = {
  ok: 0,
  error: 1,
  /** Wrong credentials, not signed in, expired or rejected token. */
  auth: 2,
  unreachable: 3,
  rateLimited: 4,
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

export const defaultUrl = "http://localhost:3000";

export const usage = `Usage: plauder <command> [options]

Commands:
  login [--email EMAIL] [--password-stdin]  Sign in and store a token
  logout                                    Forget the stored token
  whoami                                    Show whom the token belongs to
  ping [--count N] [--interval MS]          Measure round trips (default: 4 pings, 1000 ms apart)
  echo TEXT                                 Send TEXT and print what comes back
  publish TEXT                              Publish TEXT as a broadcast
  listen [--since ID] [--json]              Print broadcasts as they arrive, until Ctrl-C;
                                            --since replays those after ID first,
                                            --json prints one JSON object per line
  help                                      Show this help

Options for every command that talks to the server:
  --url URL      Server (default: $PLAUDER_URL, else the stored login's server,
                 else ${defaultUrl})
  --token TOKEN  Access token (default: $PLAUDER_TOKEN, else the stored login,
                 else sign in with $PLAUDER_EMAIL and $PLAUDER_PASSWORD)
  -h, --help     Show this help

login takes --url too. The password is never a flag: login reads one line from stdin
with --password-stdin, else $PLAUDER_PASSWORD, else asks for it in a terminal.
The stored login is $PLAUDER_CONFIG_DIR/credentials.json
(default: $XDG_CONFIG_HOME/plauder, else ~/.config/plauder).
Text that starts with "-" goes after "--": plauder echo -- -1

Exit codes: 0 done, 1 failed, 2 not signed in or wrong credentials,
3 server unreachable, 4 rate limited, 64 bad usage, 130 interrupted.
`;

// ---------------------------------------------------------------------------------------------
// Argument parsing

const optionSpecs = {
  url: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h" },
  email: { type: "string" },
  "password-stdin": { type: "boolean" },
  count: { type: "string" },
  interval: { type: "string" },
  since: { type: "string" },
  json: { type: "boolean" },
} as const;
type OptionName = keyof typeof optionSpecs;

const serverOptions: OptionName[] = ["url", "token"];
/** Which options each command accepts; `--help` goes with all of them. */
const commandOptions = {
  login: ["url", "email", "password-stdin"],
  logout: [],
  whoami: serverOptions,
  ping: [...serverOptions, "count", "interval"],
  echo: serverOptions,
  publish: serverOptions,
  listen: [...serverOptions, "since", "json"],
  help: [],
} as const satisfies Record<string, readonly OptionName[]>;
type Command = keyof typeof commandOptions;

/** Where to connect, as given on the command line (the environment and stored login fill the gaps). */
export type ServerFlags = { url?: string; token?: string };

export type Invocation =
  | { command: "help" }
  | { command: "login"; url?: string; email?: string; passwordStdin: boolean }
  | { command: "logout" }
  | { command: "whoami"; server: ServerFlags }
  | { command: "ping"; server: ServerFlags; count: number; intervalMs: number }
  | { command: "echo"; server: ServerFlags; text: string }
  | { command: "publish"; server: ServerFlags; text: string }
  | { command: "listen"; server: ServerFlags; since?: string; json: boolean };

type ParsedArgs = { values: Partial<Record<OptionName, string | boolean>>; positionals: string[]; given: string[] };

function isCommand(name: string): name is Command {
  return Object.hasOwn(commandOptions, name);
}

/** node's messages suggest `--` for every unknown option; the short form reads better in a CLI. */
function parseError(error: Error & { code?: string }): UsageError {
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /'([^']+)'/.exec(error.message)?.[1] ?? "";
    return new UsageError(`Unknown option ${option}`);
  }
  return new UsageError(error.message);
}

function tokenize(argv: string[]): ParsedArgs {
  // A password given as a flag ends up in shell history and process lists, so there is none; say why.
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (flags.some((arg) => arg === "--password" || arg.startsWith("--password="))) {
    throw new UsageError(
      "There is no --password flag (it would leak into shell history); set PLAUDER_PASSWORD or use --password-stdin",
    );
  }
  try {
    const { values, positionals, tokens } = parseArgs({
      args: argv,
      options: optionSpecs,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
    const given = tokens.flatMap((token) => (token.kind === "option" ? [token.name] : []));
    return { values, positionals, given };
  } catch (error) {
    throw parseError(error as Error);
  }
}

type Range = { min: number; max: number; fallback: number };

function integerOption(name: OptionName, raw: string | boolean | undefined, range: Range): number {
  if (raw === undefined) return range.fallback;
  const value = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new UsageError(`--${name} must be a whole number from ${range.min} to ${range.max}`);
  }
  return value;
}

function stringOption(values: ParsedArgs["values"], name: OptionName): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function textArgument(command: string, positionals: string[]): string {
  if (positionals.length === 0) throw new UsageError(`\`plauder ${command}\` needs a TEXT`);
  // Unquoted words are joined like echo(1) does, so `plauder echo hallo welt` works.
  return positionals.join(" ");
}

/** Turns argv (without node and the script) into what to do; throws {@link UsageError}. */
export function parseInvocation(argv: string[]): Invocation {
  const { values, positionals, given } = tokenize(argv);
  const [name, ...rest] = positionals;
  if (values.help === true || name === "help") return { command: "help" };
  if (name === undefined) throw new UsageError("No command given");
  if (!isCommand(name)) throw new UsageError(`Unknown command "${name}"`);

  const allowed: readonly string[] = commandOptions[name];
  const stray = given.find((option) => option !== "help" && !allowed.includes(option));
  if (stray !== undefined) throw new UsageError(`\`plauder ${name}\` does not take --${stray}`);
  const takesText = name === "echo" || name === "publish";
  if (!takesText && rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}" for \`plauder ${name}\``);

  const serverFlags: ServerFlags = { url: stringOption(values, "url"), token: stringOption(values, "token") };
  switch (name) {
    case "login":
      return {
        command: "login",
        url: serverFlags.url,
        email: stringOption(values, "email"),
        passwordStdin: values["password-stdin"] === true,
      };
    case "logout":
      return { command: "logout" };
    case "whoami":
      return { command: "whoami", server: serverFlags };
    case "ping":
      return {
        command: "ping",
        server: serverFlags,
        count: integerOption("count", values.count, { min: 1, max: 100_000, fallback: 4 }),
        intervalMs: integerOption("interval", values.interval, { min: 0, max: 3_600_000, fallback: 1_000 }),
      };
    case "echo":
    case "publish":
      return { command: name, server: serverFlags, text: textArgument(name, rest) };
    case "listen":
      return {
        command: "listen",
        server: serverFlags,
        since: stringOption(values, "since"),
        json: values.json === true,
      };
    default:
      return { command: "help" };
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

export type RttSummary = { count: number; min: number; median: number; p99: number; max: number };

/** Nearest-rank percentile of ascending `sorted` (non-empty): a value that was actually measured. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/** min/median/p99/max of round-trip times; `null` when there are none. */
export function summarize(samples: readonly number[]): RttSummary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: median(sorted),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Milliseconds without float noise: whole numbers stay whole, others get one decimal. */
export function formatMs(ms: number): string {
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(1);
}

export function formatPingLine(sequence: number, count: number, rttMs: number, instanceId: string): string {
  return `Pong ${sequence}/${count} from instance ${instanceId}: ${formatMs(rttMs)} ms`;
}

export function formatPingSummary(summary: RttSummary | null): string {
  if (!summary) return "No pongs received";
  const { count, min, median: mid, p99, max } = summary;
  const values = [min, mid, p99, max].map(formatMs).join("/");
  return `${count} ${count === 1 ? "ping" : "pings"}: min/median/p99/max = ${values} ms`;
}

const pad2 = (value: number): string => String(value).padStart(2, "0");

/** Local wall-clock time `HH:MM:SS`. */
export function formatClock(ms: number): string {
  const date = new Date(ms);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/** Local `YYYY-MM-DD HH:MM:SS`. */
export function formatDateTime(ms: number): string {
  const date = new Date(ms);
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(ms)}`;
}

function isControlCharacter(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
}

/**
 * Other people's text on this person's terminal: control characters are shown escaped, since
 * escape sequences could recolour, retitle or clear the terminal, and a newline would split one
 * broadcast over several lines.
 */
export function printable(text: string): string {
  return Array.from(text, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (!isControlCharacter(code)) return char;
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    return `\\u${code.toString(16).padStart(4, "0")}`;
  }).join("");
}

/** A broadcast as the wire contract delivers it. */
export type BroadcastMessage = Broadcast;

/** `[HH:MM:SS] #ID NAME: TEXT`, or with `json` the broadcast object as one line of JSON. */
export function formatBroadcast(broadcast: BroadcastMessage, json: boolean): string {
  if (json) return JSON.stringify(broadcast);
  return `[${formatClock(broadcast.sentAt)}] #${broadcast.id} ${printable(broadcast.sender.name)}: ${printable(broadcast.text)}`;
}

export function formatSignedIn(session: Pick<LoginResponse, "user" | "expiresAt">): string {
  const { name, email } = session.user;
  return `Signed in as ${name} <${email}> (token valid until ${formatDateTime(session.expiresAt)})`;
}

// ---------------------------------------------------------------------------------------------
// Error messages

/** How the command authenticates; error messages depend on where a token came from. */
export type Auth =
  | { kind: "token"; token: string; source: "flag" | "env" | "stored"; expiresAt?: number }
  | { kind: "password"; email: string; password: string };

export type Target = { url: string; auth: Auth };

export const sessionExpiredMessage = "Your session expired; run `plauder login` again";
const notSignedInMessage =
  "Not signed in; run `plauder login` (or set PLAUDER_TOKEN, or PLAUDER_EMAIL and PLAUDER_PASSWORD)";

export function unreachableMessage(url: string, detail?: string): string {
  return `Cannot reach the Plauder server at ${httpBase(url)}${detail ? ` (${detail})` : ""}`;
}

export function rateLimitedMessage(seconds: number): string {
  return `Rate limited; try again in ${seconds} s`;
}

/** The shape this server's error formatter gives `error.data` (see packages/api/src/trpc.ts). */
type ServerErrorData = { code?: string; retryAfter?: number; fieldErrors?: Record<string, string[] | undefined> };

/**
 * The human part of a validation error: tRPC puts zod's issue list, as JSON, in `message`, and the
 * server's formatter adds `fieldErrors`; both hold the sentences the server meant to show.
 */
export function validationMessage(message: string, data: ServerErrorData | undefined): string {
  const fromFields = Object.values(data?.fieldErrors ?? {}).flatMap((messages) => messages ?? []);
  if (fromFields.length > 0) return fromFields.join("; ");
  try {
    const issues: unknown = JSON.parse(message);
    if (Array.isArray(issues)) {
      const sentences = issues.flatMap((issue) => (typeof issue?.message === "string" ? [issue.message] : []));
      if (sentences.length > 0) return sentences.join("; ");
    }
  } catch {
    // Not JSON: the message is already a sentence.
  }
  return message;
}

/** Why the server ended the token a command ran with, and what to do about it. */
function credentialsEndedError(ended: CredentialsEnded): CliError {
  const why =
    ended.code === closeCodes.notAuthenticated.code
      ? "The server did not accept the token"
      : ended.reason === closeCodes.signedOut.reason
        ? "This session was signed out"
        : "Your session expired";
  return new CliError(`${why}; run \`plauder login\` again`, exitCodes.auth);
}

function unauthorized(auth: Auth | undefined, now: number): CliError {
  if (auth?.kind === "token" && auth.source === "stored") {
    if (auth.expiresAt !== undefined && auth.expiresAt <= now)
      return new CliError(sessionExpiredMessage, exitCodes.auth);
    return new CliError("The server rejected the stored token; run `plauder login` again", exitCodes.auth);
  }
  if (auth?.kind === "token") {
    const where = auth.source === "env" ? "PLAUDER_TOKEN" : "--token";
    return new CliError(`The server rejected the token from ${where}; run \`plauder login\` or pass a fresh one`, 2);
  }
  return new CliError(notSignedInMessage, exitCodes.auth);
}

function describeServerError(error: { message: string; data?: unknown }, target: Target | undefined, now: number) {
  const data = (error.data ?? undefined) as ServerErrorData | undefined;
  switch (data?.code) {
    case "UNAUTHORIZED":
      return unauthorized(target?.auth, now);
    case "TOO_MANY_REQUESTS":
      if (typeof data.retryAfter === "number") return new CliError(rateLimitedMessage(data.retryAfter), 4);
      return new CliError(`Rate limited: ${error.message}`, exitCodes.rateLimited);
    case "BAD_REQUEST":
      return new CliError(validationMessage(error.message, data), exitCodes.error);
    case undefined: {
      // No error data: the error is the socket's, not the server's answer.
      const url = target?.url ?? defaultUrl;
      return new CliError(`Lost the connection to the Plauder server at ${httpBase(url)}`, exitCodes.unreachable);
    }
    default:
      return new CliError(error.message, exitCodes.error);
  }
}

/** One line and an exit code for anything a command may throw. */
export function describeError(error: unknown, target?: Target, now: number = Date.now()): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof CredentialsFileError) return new CliError(error.message, exitCodes.auth);
  if (error instanceof InvalidCredentialsError) return new CliError(error.message, exitCodes.auth);
  if (error instanceof RateLimitedError) return new CliError(rateLimitedMessage(error.retryAfterSeconds), 4);
  if (error instanceof ServerUnreachableError) return new CliError(error.message, exitCodes.unreachable);
  if (error instanceof PlauderClientError) return new CliError(error.message, exitCodes.error);
  if (error instanceof TRPCClientError && error.cause instanceof CredentialsEndedError) {
    return credentialsEndedError(error.cause.ended);
  }
  if (error instanceof TRPCClientError) return describeServerError(error, target, now);
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`Unexpected error: ${message}`, exitCodes.error);
}

// ---------------------------------------------------------------------------------------------
// Input and output

/** What the CLI touches outside itself; tests replace any part. */
export type CliIO = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Where `--password-stdin` reads from. */
  stdin: NodeJS.ReadableStream;
  /** Whether a person is at a terminal who can be asked for email and password. */
  interactive: boolean;
  /** Asks on the terminal; `hidden` does not echo what is typed. */
  prompt: (question: string, options: { hidden: boolean }) => Promise<string>;
  /** Aborted on Ctrl-C: `listen` stops, `ping` prints its summary. Default: the process's SIGINT. */
  interrupt?: AbortSignal;
  now: () => number;
  connect: (options: PlauderClientOptions) => Promise<PlauderClient>;
  login: (url: string, email: string, password: string) => Promise<LoginResponse>;
  fetch: typeof fetch;
  /** Home directory, for the default credentials location. */
  home?: string;
  /** How long to wait for the socket to open (or reopen) before giving up on the server. */
  connectTimeoutMs: number;
  /** How long one request of a one-shot command may take. */
  requestTimeoutMs: number;
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Reads the first line of `input` (without its line break); `null` at once-empty input. */
export async function readFirstLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) return line;
    return null;
  } finally {
    lines.close();
  }
}

type RawInput = NodeJS.ReadStream & { setRawMode(mode: boolean): unknown };

/** Reads a secret in raw mode so nothing is echoed; Ctrl-C cancels, Backspace deletes. */
function readHidden(question: string, input: RawInput, output: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish();
        if (char === "\u0003") return finish(new CliError("Cancelled", exitCodes.interrupted));
        if (char === "\u007f" || char === "\b") value = Array.from(value).slice(0, -1).join("");
        else value += char;
      }
    };
    output.write(question);
    input.setRawMode(true);
    input.on("data", onData);
    input.resume();
  });
}

function terminalPrompt(question: string, options: { hidden: boolean }): Promise<string> {
  // Prompts go to stderr, so stdout carries only results.
  if (options.hidden) return readHidden(question, process.stdin as RawInput, process.stderr);
  const lines = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise<string>((resolve) => lines.question(question, resolve)).finally(() => lines.close());
}

function defaultIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stdin: process.stdin,
    interactive: process.stdin.isTTY === true,
    prompt: terminalPrompt,
    now: Date.now,
    connect: createPlauderClient,
    login,
    fetch: (input, init) => fetch(input, init),
    connectTimeoutMs: 10_000,
    requestTimeoutMs: 15_000,
  };
}

// ---------------------------------------------------------------------------------------------
// Resolving the server and the credentials

type StoredLookup = { credentials: StoredCredentials | null; error?: CredentialsFileError };

async function lookUpStored(io: CliIO): Promise<StoredLookup> {
  try {
    return { credentials: await readCredentials(io.env, io.home) };
  } catch (error) {
    // A damaged file only matters if its token is needed; the URL falls back to the default.
    if (error instanceof CredentialsFileError) return { credentials: null, error };
    throw error;
  }
}

/** Accepts http(s) and ws(s) URLs; anything else is a typo worth stopping for. */
export function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Not a server URL: "${url}" (expected e.g. ${defaultUrl})`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
    throw new UsageError(`Not a server URL: "${url}" (expected http://, https://, ws:// or wss://)`);
  }
  return url;
}

function resolveUrl(flag: string | undefined, io: CliIO, stored: StoredLookup): string {
  return checkUrl(flag ?? nonEmpty(io.env.PLAUDER_URL) ?? stored.credentials?.url ?? defaultUrl);
}

/** `--token`, else `$PLAUDER_TOKEN`, else the stored login, else `$PLAUDER_EMAIL` + `$PLAUDER_PASSWORD`. */
export async function resolveTarget(flags: ServerFlags, io: CliIO): Promise<Target> {
  const stored = await lookUpStored(io);
  const url = resolveUrl(nonEmpty(flags.url), io, stored);
  const flagToken = nonEmpty(flags.token);
  if (flagToken) return { url, auth: { kind: "token", token: flagToken, source: "flag" } };
  const envToken = nonEmpty(io.env.PLAUDER_TOKEN);
  if (envToken) return { url, auth: { kind: "token", token: envToken, source: "env" } };

  const saved = stored.credentials;
  if (saved && !isExpired(saved, io.now())) {
    return { url, auth: { kind: "token", token: saved.token, source: "stored", expiresAt: saved.expiresAt } };
  }
  const email = nonEmpty(io.env.PLAUDER_EMAIL);
  const password = nonEmpty(io.env.PLAUDER_PASSWORD);
  if (email && password) return { url, auth: { kind: "password", email, password } };
  if (stored.error) throw stored.error;
  if (saved) throw new CliError(sessionExpiredMessage, exitCodes.auth);
  throw new CliError(notSignedInMessage, exitCodes.auth);
}

// ---------------------------------------------------------------------------------------------
// Connections

/** Settles with whatever the health endpoint says; only "nothing answered" and "not Plauder" fail. */
async function checkReachable(url: string, io: CliIO): Promise<void> {
  let response: Response;
  try {
    response = await io.fetch(`${httpBase(url)}/api/health`, { signal: AbortSignal.timeout(io.connectTimeoutMs) });
  } catch (error) {
    const { name, message, cause } = error as Error & { cause?: { code?: string; message?: string } };
    const detail = name === "TimeoutError" ? `no answer within ${io.connectTimeoutMs / 1000} s` : undefined;
    throw new ServerUnreachableError(unreachableMessage(url, detail ?? cause?.code ?? cause?.message ?? message));
  }
  await response.body?.cancel();
  // 503 is a Plauder server whose database is down: reachable, and procedures will say what fails.
  if (response.status !== 200 && response.status !== 503) {
    throw new ServerUnreachableError(unreachableMessage(url, `/api/health answered ${response.status}`));
  }
}

type WatchMode = "one-shot" | "long-lived";

/**
 * Follows the socket through onOpen/onClose. wsLink retries a lost socket forever and holds
 * requests until it is back, so without this an unreachable server would hang a command. `failed`
 * rejects when the socket does not open in time, closes before it ever opened, or (for one-shot
 * commands) stays closed longer than the timeout.
 */
export class ConnectionWatch {
  readonly failed: Promise<never>;
  /** Resolves when the socket first opens. */
  readonly ready: Promise<void>;
  private fail: (error: Error) => void = () => {};
  private markReady: () => void = () => {};
  private timer: NodeJS.Timeout | undefined;
  private everOpened = false;
  private open = false;
  // Closing the client on purpose fires onClose too; that is not a lost connection.
  private disposed = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly mode: WatchMode,
    private readonly status: { opened?: (first: boolean) => void; lost?: () => void } = {},
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
    // Callers race against `failed`; a failure after they are done must not be "unhandled".
    this.failed.catch(() => {});
  }

  /** Starts the clock for the first connection. */
  start(): void {
    if (this.everOpened) return;
    this.arm(`no connection within ${this.timeoutMs / 1000} s`);
  }

  readonly onOpen = (): void => {
    if (this.disposed) return;
    clearTimeout(this.timer);
    const first = !this.everOpened;
    this.everOpened = true;
    this.open = true;
    this.markReady();
    this.status.opened?.(first);
  };

  readonly onClose = (cause?: { code?: number }): void => {
    if (this.disposed) return;
    if (cause?.code === closeCodes.tooManyForUser.code) {
      this.fail(new CliError("Too many open connections for this account; close some and try again", 4));
    } else if (!this.everOpened) {
      this.fail(new ServerUnreachableError(unreachableMessage(this.url, "the WebSocket connection failed")));
    } else if (this.open) {
      // Only the first close counts; failed reconnect attempts close too and must not move the deadline.
      this.open = false;
      // An ended sign-in is no lost connection: the client signs in again or reports it as such.
      const signInEnded = cause?.code !== undefined && credentialsEndedCodes.has(cause.code);
      if (!signInEnded) this.status.lost?.();
      if (this.mode === "one-shot") this.arm("the connection was lost");
    }
  };

  /** The server ended the token this command runs with (logged out elsewhere, or expired). */
  readonly onCredentialsEnded = (ended: CredentialsEnded): void => {
    if (this.disposed) return;
    this.fail(credentialsEndedError(ended));
  };

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
  }

  private arm(detail: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.fail(new ServerUnreachableError(unreachableMessage(this.url, detail))),
      this.timeoutMs,
    );
    this.timer.unref();
  }
}

type Session = { api: PlauderClient["api"]; watch: ConnectionWatch; close(): Promise<void> };

// One-shot commands never wait long between attempts, so closing does not leave a long sleep behind.
const oneShotRetryDelay = (attempt: number): number => Math.min(jitteredBackoff(attempt), 1_000);

async function openSession(target: Target, io: CliIO, watch: ConnectionWatch, mode: WatchMode): Promise<Session> {
  const { url, auth } = target;
  // A token alone skips the sign-in request that would otherwise show an unreachable server.
  if (auth.kind === "token") await checkReachable(url, io);
  const credentials =
    auth.kind === "token" ? { url, token: auth.token } : { url, email: auth.email, password: auth.password };
  const backoff = mode === "one-shot" ? oneShotRetryDelay : jitteredBackoff;
  // Closing the socket on purpose still schedules a reconnect attempt (which then sees it should
  // stop); without a delay the process need not wait for it before exiting.
  let closing = false;
  const client = await io.connect({
    ...credentials,
    retryDelayMs: (attempt) => (closing ? 0 : backoff(attempt)),
    onOpen: watch.onOpen,
    onClose: watch.onClose,
    onCredentialsEnded: watch.onCredentialsEnded,
  });
  watch.start();
  return {
    api: client.api,
    watch,
    async close() {
      closing = true;
      watch.dispose();
      // Closing waits for requests in flight; a dead socket must not keep the process alive.
      await Promise.race([client.close().catch(() => {}), delay(2_000, { unref: true })]);
    },
  };
}

async function withSession<T>(target: Target, io: CliIO, run: (session: Session) => Promise<T>): Promise<T> {
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "one-shot");
  const session = await openSession(target, io, watch, "one-shot");
  try {
    return await run(session);
  } finally {
    await session.close();
  }
}

/** Waits `ms` or until `signal` aborts. `unref`: the wait alone does not keep the process alive. */
function delay(ms: number, options: { signal?: AbortSignal; unref?: boolean } = {}): Promise<void> {
  const { signal } = options;
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    if (options.unref) timer.unref();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** `work`, unless the connection fails or no answer comes within the request timeout. */
async function bounded<T>(work: Promise<T>, session: Session, io: CliIO, url: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const detail = `no answer within ${io.requestTimeoutMs / 1000} s`;
      reject(new ServerUnreachableError(unreachableMessage(url, detail)));
    }, io.requestTimeoutMs);
  });
  try {
    return await Promise.race([work, session.watch.failed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type SubscriptionHandlers<T> = {
  onData: (value: T) => void;
  onError: (error: unknown) => void;
  onComplete: () => void;
};

/** The first value of a subscription that answers once (ping, echo). */
function firstValue<T>(start: (handlers: SubscriptionHandlers<T>) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = () => {
      const wasSettled = settled;
      settled = true;
      return !wasSettled;
    };
    start({
      onData: (value) => settle() && resolve(value),
      onError: (error) => settle() && reject(error),
      onComplete: () => settle() && reject(new CliError("The server ended the request without an answer", 1)),
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Commands

type Out = { line: (text: string) => void; status: (text: string) => void };

function writers(io: CliIO): Out {
  return { line: (text) => io.stdout(`${text}\n`), status: (text) => io.stderr(`${text}\n`) };
}

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

async function readEmail(flag: string | undefined, io: CliIO): Promise<string> {
  const given = nonEmpty(flag) ?? nonEmpty(io.env.PLAUDER_EMAIL);
  if (given) return given;
  if (!io.interactive) throw new CliError("No email: pass --email or set PLAUDER_EMAIL", exitCodes.usage);
  const typed = (await io.prompt("Email: ", { hidden: false })).trim();
  if (!typed) throw new CliError("No email given", exitCodes.usage);
  return typed;
}

async function loginCommand(
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

async function logoutCommand(io: CliIO, out: Out) {
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

async function whoamiCommand(target: Target, io: CliIO, out: Out) {
  const user = await withSession(target, io, (session) =>
    bounded(session.api.auth.me.query(), session, io, target.url),
  );
  const expiresAt = target.auth.kind === "token" ? target.auth.expiresAt : undefined;
  const validity = expiresAt === undefined ? "" : ` (token valid until ${formatDateTime(expiresAt)})`;
  out.line(`${user.name} <${user.email}> on ${httpBase(target.url)}${validity}`);
  return exitCodes.ok;
}

type PingReply = { clientTime: number; serverTime: number; instanceId: string };

async function pingCommand(invocation: Extract<Invocation, { command: "ping" }>, target: Target, io: CliIO, out: Out) {
  const { count, intervalMs } = invocation;
  const stop = io.interrupt;
  const rtts: number[] = [];
  const pinging = withSession(target, io, async (session) => {
    const stopped = new Promise<null>((resolve) => stop?.addEventListener("abort", () => resolve(null)));
    // The first round trip should not include opening the socket.
    if ((await Promise.race([bounded(session.watch.ready, session, io, target.url), stopped])) === null) return;
    for (let sequence = 1; sequence <= count && !stop?.aborted; sequence++) {
      if (sequence > 1) await delay(intervalMs, { signal: stop });
      if (stop?.aborted) break;
      const clientTime = io.now();
      const reply = firstValue<PingReply>((handlers) => session.api.realtime.ping.subscribe({ clientTime }, handlers));
      const answer = await Promise.race([bounded(reply, session, io, target.url), stopped]);
      if (answer === null) break;
      const rtt = io.now() - answer.clientTime;
      rtts.push(rtt);
      out.line(formatPingLine(sequence, count, rtt, answer.instanceId));
    }
  });
  try {
    await pinging;
  } finally {
    // Like ping(8): what was measured before a failure is still worth a summary.
    if (rtts.length > 0 || stop?.aborted) out.line(formatPingSummary(summarize(rtts)));
  }
  return rtts.length > 0 ? exitCodes.ok : exitCodes.interrupted;
}

type EchoReply = { text: string; serverTime: number; instanceId: string };

async function echoCommand(text: string, target: Target, io: CliIO, out: Out) {
  const reply = await withSession(target, io, (session) => {
    const echoed = firstValue<EchoReply>((handlers) => session.api.realtime.echo.subscribe({ text }, handlers));
    return bounded(echoed, session, io, target.url);
  });
  out.line(reply.text);
  return exitCodes.ok;
}

async function publishCommand(text: string, target: Target, io: CliIO, out: Out) {
  const published = await withSession(target, io, (session) =>
    bounded(session.api.realtime.publish.mutate({ text }), session, io, target.url),
  );
  out.line(`Published #${published.id}`);
  return exitCodes.ok;
}

/** Resolves when `signal` aborts (never without one). */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
}

async function listenCommand(
  invocation: Extract<Invocation, { command: "listen" }>,
  target: Target,
  io: CliIO,
  out: Out,
) {
  const base = httpBase(target.url);
  // Status goes to stderr only, so stdout stays one broadcast per line.
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "long-lived", {
    opened: (first) => {
      if (!first) out.status("Reconnected; catching up");
    },
    lost: () => out.status("Connection lost; reconnecting…"),
  });
  const session = await openSession(target, io, watch, "long-lived");
  try {
    const ended = new Promise<void>((resolve, reject) => {
      let started = false;
      const input = invocation.since === undefined ? {} : { lastEventId: invocation.since };
      session.api.realtime.broadcast.subscribe(input, {
        onStarted: () => {
          if (!started) out.status(`Listening for broadcasts on ${base}; press Ctrl-C to stop`);
          started = true;
        },
        onData: ({ data }) => out.line(formatBroadcast(data, invocation.json)),
        onError: reject,
        onComplete: resolve,
      });
    });
    await Promise.race([ended, watch.failed, aborted(io.interrupt)]);
    if (io.interrupt?.aborted) out.status("Stopped");
    return exitCodes.ok;
  } finally {
    await session.close();
  }
}

/** Ctrl-C (and SIGTERM) as an AbortSignal, for commands that stop gracefully. Once only: a second Ctrl-C kills. */
function processInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", abort);
      process.off("SIGTERM", abort);
    },
  };
}

type ConnectedInvocation = Exclude<Invocation, { command: "help" | "login" | "logout" }>;

async function runConnected(invocation: ConnectedInvocation, io: CliIO): Promise<number> {
  const out = writers(io);
  const target = await resolveTarget(invocation.server, io);
  try {
    switch (invocation.command) {
      case "whoami":
        return await whoamiCommand(target, io, out);
      case "ping":
        return await pingCommand(invocation, target, io, out);
      case "echo":
        return await echoCommand(invocation.text, target, io, out);
      case "publish":
        return await publishCommand(invocation.text, target, io, out);
      case "listen":
        return await listenCommand(invocation, target, io, out);
    }
  } catch (error) {
    throw describeError(error, target, io.now());
  }
}

async function run(invocation: Invocation, io: CliIO): Promise<number> {
  const out = writers(io);
  switch (invocation.command) {
    case "help":
      io.stdout(usage);
      return exitCodes.ok;
    case "login":
      return loginCommand(invocation, io, out);
    case "logout":
      return logoutCommand(io, out);
    default:
      return runConnected(invocation, io);
  }
}

/**
 * Runs the CLI with `argv` (without node and the script) and returns the exit code. Never throws:
 * failures become one line on stderr. `io` replaces any of the process's streams, environment and
 * network for tests.
 */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const resolved: CliIO = { ...defaultIO(), ...io };
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    const { message, exitCode } = describeError(error);
    resolved.stderr(`${message}\n\n${usage}`);
    return exitCode;
  }
  const graceful = invocation.command === "listen" || invocation.command === "ping";
  const interrupt = graceful && !resolved.interrupt ? processInterrupt() : undefined;
  if (interrupt) resolved.interrupt = interrupt.signal;
  try {
    return await run(invocation, resolved);
  } catch (error) {
    const { message, exitCode } = describeError(error, undefined, resolved.now());
    resolved.stderr(`${message}\n`);
    return exitCode;
  } finally {
    interrupt?.dispose();
  }
}
