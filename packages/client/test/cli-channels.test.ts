/**
 * The CLI's channels and rooms against a real server: `main` in this process with the real client,
 * and the `plauder` binary itself for the exit code a shell sees.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodes, main } from "../src/cli/index";
import { type Account, startTestServer, type TestServer, until } from "./support/server";

const binary = fileURLToPath(new URL("../bin/plauder.mjs", import.meta.url));

let server: TestServer;
let anna: Account;
let bert: Account;
let carl: Account;
let configDir: string;
let redis: Redis;

beforeAll(async () => {
  server = await startTestServer();
  [anna, bert, carl] = await Promise.all([server.account("Anna"), server.account("Bert"), server.account("Carl")]);
  configDir = await mkdtemp(join(tmpdir(), "plauder-cli-channels-"));
  redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** The environment a person's shell would have: the server and their token, no stored login. */
const envOf = (account: Account) => ({
  PLAUDER_CONFIG_DIR: configDir,
  PLAUDER_URL: server.url,
  PLAUDER_TOKEN: account.token,
});

/** Runs a command to its end as `account`, with its output. */
async function plauder(account: Account, ...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    env: envOf(account),
    interactive: false,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

/** Starts a long-running command (listen); `stop` is Ctrl-C and resolves with its exit code. */
function start(account: Account, ...argv: string[]) {
  const interrupt = new AbortController();
  const output = { stdout: "", stderr: "" };
  const exit = main(argv, {
    env: envOf(account),
    interactive: false,
    interrupt: interrupt.signal,
    stdout: (text) => {
      output.stdout += text;
    },
    stderr: (text) => {
      output.stderr += text;
    },
  });
  let code: number | undefined;
  void exit.then((value) => {
    code = value;
  });
  return {
    output,
    lines: () => output.stdout.split("\n").filter((line) => line !== ""),
    exited: () => code !== undefined,
    async stop() {
      interrupt.abort();
      return exit;
    },
    exit,
  };
}

/** Runs the binary as a shell would, to its exit. */
function runBinary(account: Account, ...argv: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH, HOME: configDir, ...envOf(account) };
    execFile(process.execPath, [binary, ...argv], { env, timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stderr });
    });
  });
}

const clock = String.raw`\[\d\d:\d\d:\d\d\]`;

/** `plauder rooms create` as Anna; the channel it printed. */
async function createRoom(name: string): Promise<string> {
  const created = await plauder(anna, "rooms", "create", name);
  expect(created).toMatchObject({ code: 0, stderr: "" });
  const channel = /: (room:[0-9a-f-]{36})\n$/.exec(created.stdout)?.[1];
  if (!channel) throw new Error(`no channel in ${JSON.stringify(created.stdout)}`);
  expect(created.stdout).toBe(`Created room "${name}": ${channel}\n`);
  return channel;
}

describe("plauder rooms", () => {
  it("creates, invites and lists, and says what the server refuses", async () => {
    const channel = await createRoom("Kaffee und Kuchen");
    const roomId = channel.slice("room:".length);

    expect(await plauder(anna, "rooms", "invite", roomId, bert.email)).toEqual({
      code: 0,
      stdout: `Added Bert to ${channel}\n`,
      stderr: "",
    });
    // The channel form of the room works too, and inviting twice is no error.
    expect(await plauder(anna, "rooms", "invite", channel, bert.email)).toMatchObject({
      code: 0,
      stdout: `Bert is already a member of ${channel}\n`,
    });
    expect(await plauder(bert, "rooms", "list")).toEqual({
      code: 0,
      stdout: `${channel}  member  Kaffee und Kuchen\n`,
      stderr: "",
    });
    const listed = await plauder(anna, "rooms", "list", "--json");
    expect(
      listed.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toContainEqual({
      id: roomId,
      name: "Kaffee und Kuchen",
      ownerId: anna.id,
      channel,
      role: "owner",
    });
    expect(await plauder(carl, "rooms", "list")).toEqual({
      code: 0,
      stdout: "",
      stderr: "No rooms yet; create one with `plauder rooms create NAME`\n",
    });

    expect(await plauder(bert, "rooms", "invite", roomId, carl.email)).toEqual({
      code: exitCodes.forbidden,
      stdout: "",
      stderr: "Only the room's owner may do this\n",
    });
    expect(await plauder(anna, "rooms", "invite", roomId, "niemand@example.com")).toEqual({
      code: exitCodes.error,
      stdout: "",
      stderr: "No account uses this email\n",
    });
  });
});

describe("plauder listen and publish with --channel", () => {
  it("carries a room's publications to an invited member: its history first, then live ones", async () => {
    const channel = await createRoom("Stammtisch");
    await plauder(anna, "rooms", "invite", channel, bert.email);
    const before = await plauder(anna, "publish", "--channel", channel, "Wer kommt heute?");
    expect(before.stdout).toMatch(new RegExp(`^Published #d:[a-z0-9]+:1 on ${channel}\\n$`));

    const listening = start(bert, "listen", "--channel", channel);
    await until(() => listening.lines().length === 1, "the history");
    await until(() => listening.output.stderr.includes("Listening on"), "the listening status");
    expect(await plauder(anna, "publish", "--channel", channel, "Ich!")).toMatchObject({ code: 0, stderr: "" });
    const typing = await plauder(anna, "publish", "--channel", channel, "--ephemeral", "tippt…");
    expect(typing.stdout).toMatch(new RegExp(`^Published #e:[a-z0-9]+:1 on ${channel}\\n$`));
    await until(() => listening.lines().length === 3, "the live publications");

    expect(await listening.stop()).toBe(exitCodes.ok);
    const [first, second, third] = listening.lines();
    expect(first).toMatch(new RegExp(`^${clock} ${channel} #d:[a-z0-9]+:1 Anna: Wer kommt heute\\?$`));
    expect(second).toMatch(new RegExp(`^${clock} ${channel} #d:[a-z0-9]+:2 Anna: Ich!$`));
    expect(third).toMatch(new RegExp(`^${clock} ${channel} #e:[a-z0-9]+:1 Anna: tippt…$`));
    expect(listening.output.stderr).toBe(
      [
        `Listening on ${channel} at ${server.url}; press Ctrl-C to stop`,
        `Loading the recent history of ${channel}; live publications follow`,
        "Stopped",
        "",
      ].join("\n"),
    );
  });

  it("prints one JSON object per publication with --json", async () => {
    const channel = await createRoom("Maschinenraum");
    const listening = start(anna, "listen", "--channel", channel, "--json");
    await until(() => listening.output.stderr.includes("Listening on"), "the listening status");
    await plauder(anna, "publish", "--channel", channel, "zwei\nZeilen");
    await until(() => listening.lines().length === 1, "the publication");
    await listening.stop();
    expect(JSON.parse(listening.lines()[0] ?? "")).toMatchObject({
      type: "publication",
      channel,
      kind: "durable",
      offset: 1,
      text: "zwei\nZeilen",
      sender: { id: anna.id, name: "Anna" },
    });
  });

  it("says so when a sync reports something unrecovered, and reloads the history", async () => {
    const channel = await createRoom("Vergesslich");
    const listening = start(anna, "listen", "--channel", channel);
    await until(() => listening.output.stderr.includes("Listening on"), "the listening status");
    await plauder(anna, "publish", "--channel", channel, "--ephemeral", "eins");
    await until(() => listening.lines().length === 1, "the first publication");

    // Redis loses the channel's ephemeral log while the listener is live.
    const key = `${server.env.REDIS_KEY_PREFIX}{ch:${channel}}`;
    await redis.del(`${key}:meta`, `${key}:log`);
    await plauder(anna, "publish", "--channel", channel, "--ephemeral", "zwei");
    await until(() => listening.lines().length === 2, "the publication in the new log");
    await until(() => listening.output.stderr.includes("reloaded"), "the reload");
    await listening.stop();

    expect(listening.output.stderr).toContain(
      `Publications on ${channel} may be missing (ephemeral not recovered); reloading its history\n` +
        `History of ${channel} reloaded: 0 missed publications (ephemeral publications are not kept in the history)\n`,
    );
  });

  it("keeps the lobby as v1 had it, with or without --channel lobby", async () => {
    const plain = start(bert, "listen");
    const named = start(bert, "listen", "--channel", "lobby");
    for (const listening of [plain, named]) {
      await until(() => listening.output.stderr.includes("Listening for broadcasts"), "the listening status");
    }
    const published = await plauder(anna, "publish", "Guten Morgen!");
    const id = /^Published #(\d+)\n$/.exec(published.stdout)?.[1];
    expect(id).toBeDefined();
    for (const listening of [plain, named]) {
      await until(() => listening.lines().length === 1, "the broadcast");
      await listening.stop();
      expect(listening.lines()).toEqual([expect.stringMatching(new RegExp(`^${clock} #${id} Anna: Guten Morgen!$`))]);
      expect(listening.output.stderr).toBe(
        `Listening for broadcasts on ${server.url}; press Ctrl-C to stop\nStopped\n`,
      );
    }
    // An ephemeral lobby publication goes through the channels API and names its channel.
    expect((await plauder(anna, "publish", "--ephemeral", "psst")).stdout).toMatch(
      /^Published #e:[a-z0-9]+:1 on lobby\n$/,
    );
  });

  it("refuses a stranger with the FORBIDDEN exit code and the server's sentence", async () => {
    const channel = await createRoom("Nur für Mitglieder");
    const refusal = "Only members of this room may use its channel\n";
    const listening = start(carl, "listen", "--channel", channel);
    expect(await listening.exit).toBe(exitCodes.forbidden);
    expect(listening.output).toEqual({ stdout: "", stderr: refusal });
    expect(await plauder(carl, "publish", "--channel", channel, "hallo?")).toEqual({
      code: exitCodes.forbidden,
      stdout: "",
      stderr: refusal,
    });
    // The binary, as a shell runs it, exits with the same code.
    expect(await runBinary(carl, "listen", "--channel", channel)).toEqual({
      code: exitCodes.forbidden,
      stderr: refusal,
    });
    expect(await plauder(carl, "publish", "--channel", `user:${anna.id}`, "hallo")).toEqual({
      code: exitCodes.forbidden,
      stdout: "",
      stderr: "Only the server publishes to user channels\n",
    });
  });

  it("refuses a malformed channel with BAD_REQUEST's exit code and the server's sentence", async () => {
    const listening = start(anna, "listen", "--channel", "room:nicht-so");
    expect(await listening.exit).toBe(exitCodes.error);
    expect(listening.output).toEqual({ stdout: "", stderr: "The id in a room channel must be a lower-case UUID\n" });
    expect(await plauder(anna, "publish", "--channel", "chat:1", "hallo")).toEqual({
      code: exitCodes.error,
      stdout: "",
      stderr: 'Unknown channel namespace "chat": use room, user or conversation\n',
    });
  });
});
