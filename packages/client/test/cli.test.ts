import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ChannelPublication } from "@plauder/api";
import { TRPCClientError } from "@trpc/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BroadcastMessage,
  type CliIO,
  exitCodes,
  formatBroadcast,
  formatPingLine,
  formatPingSummary,
  formatPublication,
  formatRoom,
  main,
  parseInvocation,
  printable,
  sessionExpiredMessage,
  summarize,
  toCliError,
  UsageError,
  usage,
  validationMessage,
} from "../src/cli/index";
import type { PlauderClient, PlauderClientOptions } from "../src/client";
import {
  CredentialsFileError,
  configDir,
  credentialsPath,
  readCredentials,
  type StoredCredentials,
  writeCredentials,
} from "../src/credentials";
import {
  CredentialsEndedError,
  InvalidCredentialsError,
  RateLimitedError,
  ServerUnreachableError,
} from "../src/errors";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "plauder-cli-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const anna = { id: "u-1", email: "anna@example.com", name: "Anna" };

function storedLogin(overrides: Partial<StoredCredentials> = {}): StoredCredentials {
  return {
    url: "http://plauder.test",
    token: "secret-token",
    expiresAt: Date.now() + 600_000,
    user: anna,
    ...overrides,
  };
}

/** Runs `main` with captured output, a temporary config directory and no network unless given. */
async function run(argv: string[], io: Partial<CliIO> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { PLAUDER_CONFIG_DIR: dir },
    interactive: false,
    fetch: async () => new Response("{}", { status: 200 }),
    connect: async () => {
      throw new Error("this test must not connect");
    },
    login: async () => {
      throw new Error("this test must not sign in");
    },
    ...io,
  });
  return { code, stdout, stderr };
}

/** A client whose socket opens at once and whose `api` is the given fake. */
function fakeConnect(api: unknown, seen: PlauderClientOptions[] = []): CliIO["connect"] {
  return async (options) => {
    seen.push(options);
    setTimeout(() => options.onOpen?.(), 0);
    // The fake implements only the procedures a test calls.
    return { api: api as PlauderClient["api"], close: async () => options.onClose?.({ code: 1000 }) };
  };
}

type Handlers = { onData?: (value: unknown) => void; onError?: (error: unknown) => void; onComplete?: () => void };

describe("parseInvocation", () => {
  it("reads commands with their options and defaults", () => {
    expect(parseInvocation(["ping"])).toEqual({ command: "ping", server: {}, count: 4, intervalMs: 1000 });
    expect(parseInvocation(["--url", "http://x.test", "ping", "--count", "2", "--interval=50"])).toEqual({
      command: "ping",
      server: { url: "http://x.test" },
      count: 2,
      intervalMs: 50,
    });
    expect(parseInvocation(["listen", "--since", "41", "--json", "--token", "t"])).toEqual({
      command: "listen",
      server: { token: "t" },
      since: "41",
      json: true,
      channel: "lobby",
    });
    expect(parseInvocation(["login", "--email", "a@b.test", "--password-stdin"])).toEqual({
      command: "login",
      email: "a@b.test",
      passwordStdin: true,
    });
  });

  it("reads --channel for publish and listen (default: the lobby) and --ephemeral for publish", () => {
    const room = "room:0b4e6f53-8a57-4c1f-bd2f-3f8d9f0e1a22";
    expect(parseInvocation(["publish", "hallo"])).toMatchObject({ channel: "lobby", ephemeral: false });
    expect(parseInvocation(["publish", "--channel", room, "--ephemeral", "tippt", "…"])).toEqual({
      command: "publish",
      server: {},
      text: "tippt …",
      channel: room,
      ephemeral: true,
    });
    expect(parseInvocation(["listen", `--channel=${room}`, "--json"])).toMatchObject({ channel: room, json: true });
    expect(parseInvocation(["listen", "--channel", "lobby", "--since", "4"])).toMatchObject({ since: "4" });
  });

  it("reads the rooms subcommands; a room is its id or its channel", () => {
    const id = "0b4e6f53-8a57-4c1f-bd2f-3f8d9f0e1a22";
    expect(parseInvocation(["rooms", "list", "--json"])).toEqual({
      command: "rooms",
      server: {},
      action: "list",
      json: true,
    });
    expect(parseInvocation(["rooms", "create", "Kaffee", "und", "Kuchen"])).toMatchObject({
      action: "create",
      name: "Kaffee und Kuchen",
    });
    for (const room of [id, `room:${id}`]) {
      expect(parseInvocation(["rooms", "invite", room, "bert@example.com", "--token", "t"])).toEqual({
        command: "rooms",
        server: { token: "t" },
        action: "invite",
        roomId: id,
        email: "bert@example.com",
      });
    }
  });

  it("joins the words of TEXT and takes text after --", () => {
    expect(parseInvocation(["echo", "hallo", "welt"])).toMatchObject({ command: "echo", text: "hallo welt" });
    expect(parseInvocation(["publish", "--", "-1"])).toMatchObject({ command: "publish", text: "-1" });
  });

  it("treats help, --help and -h alike", () => {
    for (const argv of [["help"], ["--help"], ["-h"], ["ping", "--help"]]) {
      expect(parseInvocation(argv)).toEqual({ command: "help" });
    }
  });

  it.each([
    [[], "No command given"],
    [["frob"], 'Unknown command "frob"'],
    [["ping", "--frob"], "Unknown option --frob"],
    [["echo", "--count", "3", "x"], "`plauder echo` does not take --count"],
    [["login", "--token", "t"], "`plauder login` does not take --token"],
    [["echo"], "`plauder echo` needs a TEXT"],
    [["ping", "extra"], 'Unexpected argument "extra" for `plauder ping`'],
    [["ping", "--count", "0"], "--count must be a whole number from 1 to 100000"],
    [["ping", "--interval=-5"], "--interval must be a whole number"],
    [["ping", "--count", "2.5"], "--count must be a whole number"],
    [["ping", "--url"], "--url"],
    [["echo", "--channel", "lobby", "x"], "`plauder echo` does not take --channel"],
    [["listen", "--ephemeral"], "`plauder listen` does not take --ephemeral"],
    [["listen", "--channel", "room:x", "--since", "4"], "--since works with the lobby only"],
    [["rooms"], "`plauder rooms` needs list, create NAME or invite ROOM EMAIL"],
    [["rooms", "join"], 'Unknown rooms command "join"'],
    [["rooms", "list", "extra"], 'Unexpected argument "extra" for `plauder rooms list`'],
    [["rooms", "create"], "`plauder rooms create` needs a NAME"],
    [["rooms", "create", "--json", "x"], "`plauder rooms create` does not take --json"],
    [["rooms", "invite", "room:x"], "`plauder rooms invite` needs a ROOM and an EMAIL"],
    [["rooms", "invite", "r", "e@x.test", "more"], 'Unexpected argument "more" for `plauder rooms invite`'],
  ])("rejects %j", (argv, message) => {
    expect(() => parseInvocation(argv)).toThrow(UsageError);
    expect(() => parseInvocation(argv)).toThrow(message);
  });

  it("refuses a password flag, with the reason", () => {
    for (const argv of [
      ["login", "--password", "x"],
      ["login", "--password=x"],
    ]) {
      expect(() => parseInvocation(argv)).toThrow(/no --password flag.*PLAUDER_PASSWORD or use --password-stdin/);
    }
  });
});

describe("main: usage", () => {
  it("prints help to stdout", async () => {
    const { code, stdout, stderr } = await run(["help"]);
    expect(code).toBe(0);
    expect(stdout).toBe(usage);
    expect(stderr).toBe("");
  });

  it("answers bad usage with the reason and the usage on stderr, exit 64", async () => {
    const { code, stdout, stderr } = await run(["frob"]);
    expect(code).toBe(exitCodes.usage);
    expect(stdout).toBe("");
    expect(stderr).toBe(`Unknown command "frob"\n\n${usage}`);
  });

  it("rejects a URL that is not http(s) or ws(s)", async () => {
    const { code, stderr } = await run(["ping", "--url", "localhost:3000", "--token", "t"]);
    expect(code).toBe(64);
    expect(stderr).toMatch(/^Not a server URL: "localhost:3000"/);
  });
});

describe("round-trip statistics", () => {
  it("takes min, median, nearest-rank p99 and max", () => {
    expect(summarize([5, 1, 3, 2])).toEqual({ count: 4, min: 1, median: 2.5, p99: 5, max: 5 });
    expect(summarize([7])).toEqual({ count: 1, min: 7, median: 7, p99: 7, max: 7 });
    expect(summarize([])).toBeNull();
  });

  it("takes the 198th of 200 as p99 and the mean of the middle two as median", () => {
    const twoHundred = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(summarize(twoHundred)).toEqual({ count: 200, min: 1, median: 100.5, p99: 198, max: 200 });
  });

  it("formats pongs and the summary", () => {
    expect(formatPingLine(2, 4, 3, "web-1")).toBe("Pong 2/4 from instance web-1: 3 ms");
    expect(formatPingSummary(summarize([2, 3, 4, 10]))).toBe("4 pings: min/median/p99/max = 2/3.5/10/10 ms");
    expect(formatPingSummary(summarize([2]))).toBe("1 ping: min/median/p99/max = 2/2/2/2 ms");
    expect(formatPingSummary(null)).toBe("No pongs received");
  });
});

describe("broadcast output", () => {
  const broadcast: BroadcastMessage = {
    id: "42",
    text: "Guten Morgen!",
    sender: { id: "u-1", name: "Anna" },
    // Local time, so the expected clock does not depend on the machine's time zone.
    sentAt: new Date(2025, 0, 2, 3, 4, 5).getTime(),
    instanceId: "web-1",
  };

  it("prints a readable line", () => {
    expect(formatBroadcast(broadcast, false)).toBe("[03:04:05] #42 Anna: Guten Morgen!");
  });

  it("prints the broadcast object as one line of JSON", () => {
    const line = formatBroadcast({ ...broadcast, text: "zwei\nZeilen" }, true);
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toEqual({ ...broadcast, text: "zwei\nZeilen" });
  });

  it("escapes control characters from other people, so they cannot drive the terminal", () => {
    expect(printable("rot\u001b[31m\nneu\r\u0007\u009b\tTab – ünïcode 👋")).toBe(
      "rot\\u001b[31m\\nneu\\r\\u0007\\u009b\tTab – ünïcode 👋",
    );
    const line = formatBroadcast({ ...broadcast, sender: { id: "x", name: "\u001b]0;pwned\u0007" } }, false);
    expect(line).toBe("[03:04:05] #42 \\u001b]0;pwned\\u0007: Guten Morgen!");
  });
});

describe("publication output", () => {
  const publication: ChannelPublication = {
    type: "publication",
    channel: "room:0b4e6f53-8a57-4c1f-bd2f-3f8d9f0e1a22",
    id: "d:k2x9a1b0:7",
    kind: "durable",
    epoch: "k2x9a1b0",
    offset: 7,
    text: "Hallo\u001b[2J",
    sender: { id: "u-1", name: "Anna" },
    sentAt: new Date(2025, 0, 2, 3, 4, 5).getTime(),
  };

  it("prints the broadcast line with the channel before the id, escaped like broadcasts", () => {
    expect(formatPublication(publication, false)).toBe(
      "[03:04:05] room:0b4e6f53-8a57-4c1f-bd2f-3f8d9f0e1a22 #d:k2x9a1b0:7 Anna: Hallo\\u001b[2J",
    );
    expect(JSON.parse(formatPublication(publication, true))).toEqual(publication);
  });

  it("lists a room as its channel, role and name", () => {
    expect(formatRoom({ channel: "room:abc", role: "member", name: "Stammtisch" })).toBe(
      "room:abc  member  Stammtisch",
    );
    expect(formatRoom({ channel: "room:abc", role: "owner", name: "Eck\nkneipe" })).toBe(
      "room:abc  owner   Eck\\nkneipe",
    );
  });
});

describe("credentials", () => {
  it("writes the file with mode 0600 in a 0700 directory and reads it back", async () => {
    const env = { PLAUDER_CONFIG_DIR: join(dir, "nested", "plauder") };
    const stored = storedLogin();
    const path = await writeCredentials(env, stored);
    expect(path).toBe(join(dir, "nested", "plauder", "credentials.json"));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(env.PLAUDER_CONFIG_DIR)).mode & 0o777).toBe(0o700);
    expect(await readCredentials(env)).toEqual(stored);
  });

  it("tightens a file and directory that were readable by others", async () => {
    const env = { PLAUDER_CONFIG_DIR: dir };
    const path = credentialsPath(env);
    await writeFile(path, "{}", { mode: 0o644 });
    await writeCredentials(env, storedLogin());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("is null when nobody signed in, and an error when the file is damaged", async () => {
    const env = { PLAUDER_CONFIG_DIR: dir };
    expect(await readCredentials(env)).toBeNull();
    await writeFile(credentialsPath(env), "{ not json");
    await expect(readCredentials(env)).rejects.toThrow(CredentialsFileError);
  });

  it("lives in $PLAUDER_CONFIG_DIR, else $XDG_CONFIG_HOME/plauder, else ~/.config/plauder", () => {
    expect(configDir({ PLAUDER_CONFIG_DIR: "/c", XDG_CONFIG_HOME: "/x" }, "/home/a")).toBe("/c");
    expect(configDir({ XDG_CONFIG_HOME: "/x" }, "/home/a")).toBe("/x/plauder");
    expect(configDir({ XDG_CONFIG_HOME: "relative" }, "/home/a")).toBe("/home/a/.config/plauder");
    expect(configDir({}, "/home/a")).toBe("/home/a/.config/plauder");
  });
});

describe("main: signing in", () => {
  it("reads the password from stdin, stores the token and never prints it", async () => {
    const calls: string[][] = [];
    const { code, stdout, stderr } = await run(
      ["login", "--url", "http://plauder.test", "--email", "anna@example.com", "--password-stdin"],
      {
        stdin: Readable.from(["correct horse\nignored\n"]),
        login: async (url, email, password) => {
          calls.push([url, email, password]);
          return { token: "secret-token", expiresAt: new Date(2030, 5, 7, 8, 9, 10).getTime(), user: anna };
        },
      },
    );
    expect(code).toBe(0);
    expect(calls).toEqual([["http://plauder.test", "anna@example.com", "correct horse"]]);
    expect(stdout).toBe("Signed in as Anna <anna@example.com> (token valid until 2030-06-07 08:09:10)\n");
    expect(`${stdout}${stderr}`).not.toContain("secret-token");
    const stored = JSON.parse(await readFile(join(dir, "credentials.json"), "utf8"));
    expect(stored).toMatchObject({ url: "http://plauder.test", token: "secret-token", user: anna });
  });

  it("takes email and password from the environment", async () => {
    const { code } = await run(["login"], {
      env: { PLAUDER_CONFIG_DIR: dir, PLAUDER_EMAIL: "anna@example.com", PLAUDER_PASSWORD: "pw" },
      login: async (_url, email, password) => {
        expect([email, password]).toEqual(["anna@example.com", "pw"]);
        return { token: "t", expiresAt: Date.now() + 1000, user: anna };
      },
    });
    expect(code).toBe(0);
  });

  it("asks for what is missing only at a terminal", async () => {
    const { code, stderr } = await run(["login", "--email", "anna@example.com"]);
    expect(code).toBe(64);
    expect(stderr).toBe("No password: set PLAUDER_PASSWORD or pipe it in with --password-stdin\n");

    const prompts: Array<[string, boolean]> = [];
    const prompted = await run(["login"], {
      interactive: true,
      prompt: async (question, { hidden }) => {
        prompts.push([question, hidden]);
        return hidden ? "pw" : "anna@example.com";
      },
      login: async () => ({ token: "t", expiresAt: Date.now() + 1000, user: anna }),
    });
    expect(prompted.code).toBe(0);
    expect(prompts).toEqual([
      ["Email: ", false],
      ["Password: ", true],
    ]);
  });

  it("reports wrong credentials with exit 2", async () => {
    const { code, stderr } = await run(["login", "--email", "a@b.test"], {
      env: { PLAUDER_CONFIG_DIR: dir, PLAUDER_PASSWORD: "nope" },
      login: async () => {
        throw new InvalidCredentialsError("Wrong email or password");
      },
    });
    expect(code).toBe(2);
    expect(stderr).toBe("Wrong email or password\n");
  });
});

describe("main: missing or expired sign-in", () => {
  it("says the session expired when the stored token is past its expiry", async () => {
    await writeCredentials({ PLAUDER_CONFIG_DIR: dir }, storedLogin({ expiresAt: Date.now() - 1000 }));
    const { code, stdout, stderr } = await run(["whoami"]);
    expect(code).toBe(exitCodes.auth);
    expect(stdout).toBe("");
    expect(stderr).toBe(`${sessionExpiredMessage}\n`);
    expect(sessionExpiredMessage).toBe("Your session expired; run `plauder login` again");
  });

  it("signs in with PLAUDER_EMAIL and PLAUDER_PASSWORD instead of an expired token", async () => {
    await writeCredentials({ PLAUDER_CONFIG_DIR: dir }, storedLogin({ expiresAt: Date.now() - 1000 }));
    const seen: PlauderClientOptions[] = [];
    const api = { realtime: { publish: { mutate: async () => ({ id: "7", sentAt: 0 }) } } };
    const { code, stdout } = await run(["publish", "hallo"], {
      env: { PLAUDER_CONFIG_DIR: dir, PLAUDER_EMAIL: "anna@example.com", PLAUDER_PASSWORD: "pw" },
      connect: fakeConnect(api, seen),
    });
    expect(code).toBe(0);
    expect(stdout).toBe("Published #7\n");
    expect(seen[0]).toMatchObject({ url: "http://plauder.test", email: "anna@example.com", password: "pw" });
  });

  it("tells how to sign in when there is nothing to sign in with", async () => {
    const { code, stderr } = await run(["echo", "hi"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^Not signed in; run `plauder login`/);
  });
});

describe("toCliError", () => {
  const serverError = (code: string, message: string, extra: Record<string, unknown> = {}) =>
    TRPCClientError.from({ error: { code: -32600, message, data: { code, ...extra } } });
  const stored = { url: "http://plauder.test", auth: { kind: "token", token: "t", source: "stored" } } as const;

  it("tells a token that the server ended to sign in again, exit 2", () => {
    const ended = (code: number, reason: string) =>
      toCliError(TRPCClientError.from(new CredentialsEndedError({ code, reason })));
    expect(ended(4001, "Signed out")).toMatchObject({
      message: "This session was signed out; run `plauder login` again",
      exitCode: 2,
    });
    expect(ended(4001, "Session expired").message).toBe("Your session expired; run `plauder login` again");
    expect(ended(4401, "Not authenticated").message).toBe(
      "The server did not accept the token; run `plauder login` again",
    );
  });

  it("shows the server's validation sentence", () => {
    const issues = JSON.stringify([
      { code: "too_big", path: ["text"], message: "Text must be at most 4096 characters" },
    ]);
    const error = toCliError(
      serverError("BAD_REQUEST", issues, { fieldErrors: { text: ["Text must be at most 4096 characters"] } }),
    );
    expect(error).toMatchObject({ message: "Text must be at most 4096 characters", exitCode: 1 });
    expect(validationMessage(issues, undefined)).toBe("Text must be at most 4096 characters");
    expect(validationMessage("plain words", undefined)).toBe("plain words");
  });

  it("shows a FORBIDDEN answer's sentence with exit 5", () => {
    expect(toCliError(serverError("FORBIDDEN", "Only members of this room may use its channel"))).toMatchObject({
      message: "Only members of this room may use its channel",
      exitCode: exitCodes.forbidden,
    });
    expect(exitCodes.forbidden).toBe(5);
  });

  it("maps rate limits to exit 4 with the wait", () => {
    expect(toCliError(serverError("TOO_MANY_REQUESTS", "slow", { retryAfter: 7 }))).toMatchObject({
      message: "Rate limited; try again in 7 s",
      exitCode: 4,
    });
    expect(toCliError(new RateLimitedError("x", 30))).toMatchObject({
      message: "Rate limited; try again in 30 s",
      exitCode: 4,
    });
  });

  it("maps UNAUTHORIZED by where the token came from", () => {
    const now = Date.now();
    const expired = { ...stored, auth: { ...stored.auth, expiresAt: now - 1 } };
    expect(toCliError(serverError("UNAUTHORIZED", "Sign in"), expired, now)).toMatchObject({
      message: sessionExpiredMessage,
      exitCode: 2,
    });
    const fromEnv = { url: "http://x.test", auth: { kind: "token", token: "t", source: "env" } } as const;
    expect(toCliError(serverError("UNAUTHORIZED", "Sign in"), fromEnv, now)).toMatchObject({
      message: expect.stringContaining("PLAUDER_TOKEN"),
      exitCode: 2,
    });
  });

  it("maps unreachable servers and lost sockets to exit 3", () => {
    const unreachable = new ServerUnreachableError("Cannot reach the Plauder server at http://x.test (ECONNREFUSED)");
    expect(toCliError(unreachable)).toMatchObject({ message: unreachable.message, exitCode: 3 });
    expect(toCliError(TRPCClientError.from(new Error("WebSocket closed")), stored)).toMatchObject({
      message: "Lost the connection to the Plauder server at http://plauder.test",
      exitCode: 3,
    });
  });

  it("labels anything else as unexpected", () => {
    expect(toCliError(new TypeError("boom"))).toMatchObject({ message: "Unexpected error: boom", exitCode: 1 });
  });
});

describe("main: commands against a fake client", () => {
  it("pings count times and summarises the round trips", async () => {
    let now = 1_000;
    const rtts = [4, 2, 9];
    const api = {
      realtime: {
        ping: {
          subscribe: (input: { clientTime: number }, handlers: Handlers) => {
            setTimeout(() => {
              now += rtts.shift() ?? 0;
              handlers.onData?.({ clientTime: input.clientTime, serverTime: now, instanceId: "web-1" });
              handlers.onComplete?.();
            }, 0);
            return { unsubscribe() {} };
          },
        },
      },
    };
    const { code, stdout, stderr } = await run(["ping", "--count", "3", "--interval", "0"], {
      env: { PLAUDER_CONFIG_DIR: dir, PLAUDER_TOKEN: "t" },
      now: () => now,
      connect: fakeConnect(api),
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        "Pong 1/3 from instance web-1: 4 ms",
        "Pong 2/3 from instance web-1: 2 ms",
        "Pong 3/3 from instance web-1: 9 ms",
        "3 pings: min/median/p99/max = 2/4/9/9 ms",
        "",
      ].join("\n"),
    );
  });

  it("prints the echo, or the server's validation message with exit 1", async () => {
    const echo = (answer: (handlers: Handlers) => void) => ({
      realtime: {
        echo: {
          subscribe: (_input: { text: string }, handlers: Handlers) => {
            setTimeout(() => answer(handlers), 0);
            return { unsubscribe() {} };
          },
        },
      },
    });
    const env = { PLAUDER_CONFIG_DIR: dir, PLAUDER_TOKEN: "t" };
    const ok = await run(["echo", "hallo"], {
      env,
      connect: fakeConnect(echo((h) => h.onData?.({ text: "hallo", serverTime: 0, instanceId: "i" }))),
    });
    expect([ok.code, ok.stdout]).toEqual([0, "hallo\n"]);

    const invalid = TRPCClientError.from({
      error: { code: -32600, message: "[]", data: { code: "BAD_REQUEST", fieldErrors: { text: ["Too long"] } } },
    });
    const failed = await run(["echo", "x".repeat(4097)], {
      env,
      connect: fakeConnect(echo((h) => h.onError?.(invalid))),
    });
    expect(failed).toEqual({ code: 1, stdout: "", stderr: "Too long\n" });
  });

  it("listens with --since and prints exactly one JSON object per line until interrupted", async () => {
    const stop = new AbortController();
    const inputs: unknown[] = [];
    const broadcasts = [
      { id: "5", text: "eins", sender: { id: "u", name: "Anna" }, sentAt: 1, instanceId: "a" },
      { id: "6", text: "zwei\nzeilen", sender: { id: "u", name: "Ben" }, sentAt: 2, instanceId: "b" },
    ];
    const api = {
      realtime: {
        broadcast: {
          subscribe: (input: unknown, handlers: Handlers & { onStarted?: () => void }) => {
            inputs.push(input);
            setTimeout(() => {
              handlers.onStarted?.();
              for (const data of broadcasts) handlers.onData?.({ id: data.id, data });
              stop.abort();
            }, 0);
            return { unsubscribe() {} };
          },
        },
      },
    };
    const { code, stdout, stderr } = await run(["listen", "--since", "4", "--json"], {
      env: { PLAUDER_CONFIG_DIR: dir, PLAUDER_TOKEN: "t" },
      connect: fakeConnect(api),
      interrupt: stop.signal,
    });
    expect(code).toBe(0);
    expect(inputs).toEqual([{ lastEventId: "4" }]);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.map((line) => JSON.parse(line))).toEqual(broadcasts);
    expect(stderr).toContain("Listening for broadcasts on http://localhost:3000");
    expect(stderr).toContain("Stopped");
  });
});

describe("main: unreachable servers", () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function listen(handler: RequestListener): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("fails with exit 3 when nothing answers", async () => {
    const url = await listen((_req, res) => res.end());
    server?.close();
    const { code, stderr } = await run(["ping", "--url", url, "--token", "t"], { fetch: globalThis.fetch });
    expect(code).toBe(3);
    expect(stderr).toBe(`Cannot reach the Plauder server at ${url} (ECONNREFUSED)\n`);
  });

  it("fails with exit 3 instead of retrying when the WebSocket cannot open", async () => {
    // Health answers, but upgrades are refused: the real client's socket closes before it ever opens.
    const url = await listen((_req, res) => res.writeHead(200).end("{}"));
    server?.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 503 Service Unavailable\r\n\r\n"));
    const { createPlauderClient } = await import("../src/client");
    const started = Date.now();
    const { code, stderr } = await run(["echo", "--url", url, "--token", "t", "hi"], {
      fetch: globalThis.fetch,
      connect: createPlauderClient,
    });
    expect(code).toBe(3);
    expect(stderr).toBe(`Cannot reach the Plauder server at ${url} (the WebSocket connection failed)\n`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("gives up when the socket does not open in time", async () => {
    const url = await listen((_req, res) => res.writeHead(200).end("{}"));
    const neverOpens: CliIO["connect"] = async () => ({
      api: { realtime: { publish: { mutate: () => new Promise(() => {}) } } } as unknown as PlauderClient["api"],
      close: async () => {},
    });
    const { code, stderr } = await run(["publish", "--url", url, "--token", "t", "hi"], {
      fetch: globalThis.fetch,
      connect: neverOpens,
      // Long enough that the health probe before it answers even on a busy machine.
      connectTimeoutMs: 500,
    });
    expect(code).toBe(3);
    expect(stderr).toBe(`Cannot reach the Plauder server at ${url} (no connection within 0.5 s)\n`);
  });
});
