import { type Invocation, parseInvocation } from "./arguments";
import { chatCommand } from "./commands/chat";
import { echoCommand } from "./commands/echo";
import { listenCommand } from "./commands/listen";
import { loginCommand } from "./commands/login";
import { logoutCommand } from "./commands/logout";
import { pingCommand } from "./commands/ping";
import { publishCommand } from "./commands/publish";
import { roomsCreateCommand } from "./commands/rooms-create";
import { roomsInviteCommand } from "./commands/rooms-invite";
import { roomsListCommand } from "./commands/rooms-list";
import { whoamiCommand } from "./commands/whoami";
import { exitCodes } from "./exit-codes";
import { type CliIO, defaultIO, processInterrupt, writers } from "./io";
import { resolveTarget } from "./target";
import { toCliError } from "./to-cli-error";
import { usage } from "./usage";

type ConnectedInvocation = Exclude<Invocation, { command: "help" | "login" | "logout" }>;

/** Commands that talk to the server: their errors are described knowing which server and credentials were used. */
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
        return await publishCommand(invocation, target, io, out);
      case "listen":
        return await listenCommand(invocation, target, io, out);
      case "chat":
        return await chatCommand(invocation, target, io, out);
      case "rooms":
        switch (invocation.action) {
          case "list":
            return await roomsListCommand(invocation.json, target, io, out);
          case "create":
            return await roomsCreateCommand(invocation.name, target, io, out);
          case "invite":
            return await roomsInviteCommand(invocation.roomId, invocation.email, target, io, out);
        }
    }
  } catch (error) {
    throw toCliError(error, target, io.now());
  }
}

/** Dispatches to the command; only help, login and logout work without a server to resolve first. */
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
    const { message, exitCode } = toCliError(error);
    resolved.stderr(`${message}\n\n${usage}`);
    return exitCode;
  }
  const graceful = invocation.command === "listen" || invocation.command === "ping";
  const interrupt = graceful && !resolved.interrupt ? processInterrupt() : undefined;
  if (interrupt) resolved.interrupt = interrupt.signal;
  try {
    return await run(invocation, resolved);
  } catch (error) {
    const { message, exitCode } = toCliError(error, undefined, resolved.now());
    resolved.stderr(`${message}\n`);
    return exitCode;
  } finally {
    interrupt?.dispose();
  }
}
