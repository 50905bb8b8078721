import { parseArgs } from "node:util";
import { type CefrLevel, cefrLevels } from "@plauder/tutor/schemas";
import { UsageError } from "./exit-codes";

/**
 * Every option of every command, so node's parser knows their types; which command accepts which
 * is checked afterwards, so the error can name the command.
 */
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
  channel: { type: "string" },
  ephemeral: { type: "boolean" },
  conversation: { type: "string" },
  level: { type: "string" },
  scenario: { type: "string" },
  "list-scenarios": { type: "boolean" },
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
  publish: [...serverOptions, "channel", "ephemeral"],
  listen: [...serverOptions, "since", "json", "channel"],
  rooms: [...serverOptions, "json"],
  chat: [...serverOptions, "conversation", "level", "scenario", "list-scenarios"],
  help: [],
} as const satisfies Record<string, readonly OptionName[]>;
type Command = keyof typeof commandOptions;

/** Where to connect, as given on the command line (the environment and stored login fill the gaps). */
export type ServerFlags = { url?: string; token?: string };

/** The channel `publish` and `listen` use without `--channel`: the v1 broadcast log. */
export const defaultChannel = "lobby";

/** What `plauder rooms` does: its subcommands, each with its own file in commands/. */
export type RoomsAction =
  | { action: "list"; json: boolean }
  | { action: "create"; name: string }
  | { action: "invite"; roomId: string; email: string };

export type Invocation =
  | { command: "help" }
  | { command: "login"; url?: string; email?: string; passwordStdin: boolean }
  | { command: "logout" }
  | { command: "whoami"; server: ServerFlags }
  | { command: "ping"; server: ServerFlags; count: number; intervalMs: number }
  | { command: "echo"; server: ServerFlags; text: string }
  | { command: "publish"; server: ServerFlags; text: string; channel: string; ephemeral: boolean }
  | { command: "listen"; server: ServerFlags; since?: string; json: boolean; channel: string }
  | ({ command: "rooms"; server: ServerFlags } & RoomsAction)
  | {
      command: "chat";
      server: ServerFlags;
      /** Continue this conversation instead of starting one. */
      conversationId?: string;
      /** The level of a new conversation; by default the scenario's or {@link defaultChatLevel}. */
      level?: CefrLevel;
      scenarioId?: string;
      listScenarios: boolean;
    };

/** The level of a new conversation when `--level` does not say. */
export const defaultChatLevel: CefrLevel = "A2";

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

const roomsUsage = "`plauder rooms` needs list, create NAME or invite ROOM EMAIL";

/** `rooms list`, `rooms create NAME…`, `rooms invite ROOM EMAIL`; ROOM is a room's id or its channel `room:<id>`. */
function roomsAction(positionals: string[], given: string[], json: boolean): RoomsAction {
  const [action, ...rest] = positionals;
  if (action === undefined) throw new UsageError(roomsUsage);
  if (action !== "list" && given.includes("json")) {
    throw new UsageError(`\`plauder rooms ${action}\` does not take --json`);
  }
  switch (action) {
    case "list":
      if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}" for \`plauder rooms list\``);
      return { action: "list", json };
    case "create":
      if (rest.length === 0) throw new UsageError("`plauder rooms create` needs a NAME");
      return { action: "create", name: rest.join(" ") };
    case "invite": {
      const [room, email, extra] = rest;
      if (room === undefined || email === undefined) {
        throw new UsageError("`plauder rooms invite` needs a ROOM and an EMAIL");
      }
      if (extra !== undefined) throw new UsageError(`Unexpected argument "${extra}" for \`plauder rooms invite\``);
      return { action: "invite", roomId: room.startsWith("room:") ? room.slice("room:".length) : room, email };
    }
    default:
      throw new UsageError(`Unknown rooms command "${action}": use list, create NAME or invite ROOM EMAIL`);
  }
}

function levelOption(raw: string): CefrLevel {
  const level = cefrLevels.find((candidate) => candidate === raw.toUpperCase());
  if (!level) throw new UsageError(`--level must be one of ${cefrLevels.join(", ")}`);
  return level;
}

/** `chat`: a new conversation (level, scenario), an existing one, or the list of scenarios. */
function chatInvocation(server: ServerFlags, values: ParsedArgs["values"], given: string[]): Invocation {
  const conversationId = stringOption(values, "conversation");
  const level = stringOption(values, "level");
  const scenarioId = stringOption(values, "scenario");
  if (values["list-scenarios"] === true) {
    const other = given.find((option) => ["conversation", "level", "scenario"].includes(option));
    if (other !== undefined) throw new UsageError(`--list-scenarios does not go with --${other}`);
    return { command: "chat", server, listScenarios: true };
  }
  if (conversationId !== undefined) {
    const other = given.find((option) => option === "level" || option === "scenario");
    if (other !== undefined) {
      throw new UsageError(`--${other} is for a new conversation; a continued one keeps its own`);
    }
    return { command: "chat", server, conversationId, listScenarios: false };
  }
  return {
    command: "chat",
    server,
    ...(level === undefined ? {} : { level: levelOption(level) }),
    ...(scenarioId === undefined ? {} : { scenarioId }),
    listScenarios: false,
  };
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
  const takesArguments = name === "echo" || name === "publish" || name === "rooms";
  if (!takesArguments && rest.length > 0)
    throw new UsageError(`Unexpected argument "${rest[0]}" for \`plauder ${name}\``);

  const serverFlags: ServerFlags = { url: stringOption(values, "url"), token: stringOption(values, "token") };
  // The server judges the name (a malformed one is its BAD_REQUEST, with its sentence).
  const channel = stringOption(values, "channel");
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
      return { command: "echo", server: serverFlags, text: textArgument(name, rest) };
    case "publish":
      return {
        command: "publish",
        server: serverFlags,
        text: textArgument(name, rest),
        channel: channel ?? defaultChannel,
        ephemeral: values.ephemeral === true,
      };
    case "listen": {
      const since = stringOption(values, "since");
      if (since !== undefined && channel !== undefined && channel !== defaultChannel) {
        throw new UsageError("--since works with the lobby only; other channels show their recent history first");
      }
      return {
        command: "listen",
        server: serverFlags,
        since,
        json: values.json === true,
        channel: channel ?? defaultChannel,
      };
    }
    case "rooms":
      return { command: "rooms", server: serverFlags, ...roomsAction(rest, given, values.json === true) };
    case "chat":
      return chatInvocation(serverFlags, values, given);
    default:
      return { command: "help" };
  }
}
