/**
 * The embedded defaults (no Redis, PGlite): everything a single instance offers works, and a second
 * instance on the same data directory refuses to start with a clear message.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTutorEvent } from "@plauder/api/tutor-events";
import type { PlauderClient } from "@plauder/client";
import { freePort } from "@plauder/runtime/testing";
import { defaultReply, type FakeProvider, startFakeOllama } from "@plauder/tutor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordChannel } from "./support/channel-recorder";
import { type Account, connect, newAccount, record, sleep } from "./support/clients";
import { type Instance, runToExit, startInstance, tempDataDir } from "./support/processes";

const dataDir = tempDataDir();
let instance: Instance;
let anna: Account;
const clients: PlauderClient[] = [];

let fake: FakeProvider;

beforeAll(async () => {
  fake = await startFakeOllama({ models: { tutor: { kind: "slow", msPerToken: 10 } } });
  // Nothing but a data directory: no DATABASE_URL, no REDIS_URL, no AUTH_SECRET. (And a model
  // server for the tutor, which the embedded defaults do not include.)
  instance = await startInstance({
    id: "embedded",
    env: { DATA_DIR: dataDir, TUTOR_PROVIDER: "ollama", OLLAMA_URL: fake.url, OLLAMA_MODEL: "tutor" },
  });
  anna = await newAccount(instance.url, "Anna");
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await instance?.stop();
  await fake?.close();
});

async function client(): Promise<PlauderClient> {
  const c = await connect(instance.url, anna);
  clients.push(c);
  return c;
}

describe("embedded defaults", () => {
  it("report redis off and the database up", async () => {
    const health = await (await fetch(`${instance.url}/api/health`)).json();
    expect(health).toMatchObject({ status: "ok", redis: "off", db: "up", instanceId: "embedded" });
  });

  it("serve ping and echo", async () => {
    const c = await client();
    const pong = await new Promise<{ instanceId: string }>((resolve, reject) =>
      c.api.realtime.ping.subscribe({ clientTime: Date.now() }, { onData: resolve, onError: reject }),
    );
    expect(pong.instanceId).toBe("embedded");
    const echoed = await new Promise<{ text: string }>((resolve, reject) =>
      c.api.realtime.echo.subscribe({ text: "Hallo!" }, { onData: resolve, onError: reject }),
    );
    expect(echoed.text).toBe("Hallo!");
  });

  it("deliver broadcasts in order to every subscriber and resume after a disconnect", async () => {
    const publisher = await client();
    const listeners = [record(await client()), record(await client())];
    await Promise.all(listeners.map((l) => l.started));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await publisher.api.realtime.publish.mutate({ text: `eins ${i}` })).id);
    await Promise.all(listeners.map((l) => l.waitFor(10, 2_000)));
    for (const l of listeners) expect(l.ids()).toEqual(ids);

    const resumed = record(await client(), ids[4]);
    await resumed.waitFor(5);
    await sleep(200);
    expect(resumed.ids()).toEqual(ids.slice(5));
  });

  it("serve rooms on PGlite and the in-process logs: durable and ephemeral, in order, with presence", async () => {
    // A person of its own: the publish budget is per person, and the other cases spend Anna's.
    const c = await connect(instance.url, await newAccount(instance.url, "Bert"));
    clients.push(c);
    const room = await c.api.rooms.create.mutate({ name: "Zuhause" });
    const listening = recordChannel(c, room.channel);
    await listening.until((r) => r.syncs().length === 1, "the subscription");
    const presence = await new Promise<{ type: string; count?: number }>((resolve, reject) => {
      const subscription = c.api.channels.presence.subscribe(
        { channel: room.channel },
        {
          onData: (event) => {
            subscription.unsubscribe();
            resolve(event);
          },
          onError: reject,
        },
      );
    });
    expect(presence).toMatchObject({ type: "snapshot", count: 1 });
    for (let i = 1; i <= 5; i++) await c.api.channels.publish.mutate({ channel: room.channel, text: `d${i}` });
    for (let i = 1; i <= 3; i++) {
      await c.api.channels.publish.mutate({ channel: room.channel, text: `e${i}`, ephemeral: true });
    }
    await listening.until((r) => r.publications().length === 8, "eight publications");
    expect(listening.publications("durable").map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(listening.publications("ephemeral").map((p) => p.offset)).toEqual([1, 2, 3]);
    const history = await c.api.channels.history.query({ channel: room.channel });
    expect(history.publications.map((p) => p.text)).toEqual(["d1", "d2", "d3", "d4", "d5"]);
    listening.stop();
  });

  it("serve the tutor from the in-process state: the answer streams in order and is saved", async () => {
    const c = await connect(instance.url, await newAccount(instance.url, "Clara"));
    clients.push(c);
    const { conversation } = await c.api.tutor.start.mutate({ level: "A1" });
    const listening = recordChannel(c, conversation.channel);
    await listening.until((r) => r.syncs().length === 1, "the subscription");
    const events = () => listening.publications().flatMap((p) => decodeTutorEvent(p) ?? []);
    const sent = await c.api.tutor.send.mutate({ conversationId: conversation.id, text: "Hallo!" });
    await listening.until(() => events().some((e) => e.type === "end" && e.messageId === sent.answerId), "the end");
    const deltas = events().flatMap((e) => (e.type === "delta" && e.messageId === sent.answerId ? [e.text] : []));
    expect(deltas.join("")).toBe(defaultReply.join(""));
    const snapshot = await c.api.tutor.conversation.query({ conversationId: conversation.id });
    expect(snapshot.messages.at(-1)).toMatchObject({
      id: sent.answerId,
      status: "complete",
      content: defaultReply.join(""),
    });
    listening.stop();
  });

  it("keep broadcasts across a restart and resume from them", async () => {
    const publisher = await client();
    const first = await publisher.api.realtime.publish.mutate({ text: "before restart" });
    const second = await publisher.api.realtime.publish.mutate({ text: "also before restart" });
    expect(await instance.stop()).toBe(0);
    await instance.start();
    const resumed = record(await client(), first.id);
    await resumed.waitFor(1);
    await sleep(200);
    expect(resumed.ids()).toEqual([second.id]);
  });

  it("refuse a second instance on the same data directory with a clear message", async () => {
    const { code, output } = await runToExit({ DATA_DIR: dataDir, PORT: String(await freePort()) });
    expect(code).toBe(1);
    expect(output).toContain("already open in process");
    expect(output).toContain("set DATABASE_URL");
    // The first instance is unharmed.
    expect((await fetch(`${instance.url}/api/health`)).status).toBe(200);
  });
});

const cli = join(dirname(fileURLToPath(import.meta.url)), "../../../packages/client/bin/plauder.mjs");

/**
 * Runs the plauder CLI; resolves when it exits, or when `until` matches its output (then stops it).
 * `onStatus` sees stderr (the status lines) as it grows.
 */
function plauder(args: string[], env: Record<string, string>, until?: RegExp, onStatus?: (stderr: string) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (until?.test(stdout)) child.kill("SIGINT");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      onStatus?.(stderr);
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the plauder CLI against a running server", () => {
  it("signs in, publishes, replays with listen --since, pings and echoes", async () => {
    const env = { PLAUDER_CONFIG_DIR: tempDataDir(), PLAUDER_URL: instance.url };
    const login = await plauder(["login", "--email", anna.email], { ...env, PLAUDER_PASSWORD: anna.password });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain("Signed in as Anna");
    expect(login.stdout).not.toContain(anna.token.slice(0, 20));

    const first = await plauder(["publish", "vom Terminal"], env);
    expect(first.code).toBe(0);
    const firstId = /Published #(\d+)/.exec(first.stdout)?.[1];
    expect(firstId).toBeDefined();
    await plauder(["publish", "noch eine"], env);

    const listen = await plauder(["listen", "--json", "--since", String(firstId)], env, /noch eine/);
    const lines = listen.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { text: string; sender: { name: string } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ text: "noch eine", sender: { name: "Anna" } });

    const ping = await plauder(["ping", "--count", "2", "--interval", "50"], env);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(/2 pings: min\/median\/p99\/max = /);

    const echo = await plauder(["echo", "Hallo"], env);
    expect(echo.stdout.trim()).toBe("Hallo");
    const tooLong = await plauder(["echo", "x".repeat(4097)], env);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain("at most 4096 characters");

    // logout ends the stored token on the server, not just on disk: a copy of it no longer works.
    const stored = JSON.parse(readFileSync(join(env.PLAUDER_CONFIG_DIR, "credentials.json"), "utf8")) as {
      token: string;
    };
    const me = () =>
      fetch(`${instance.url}/api/trpc/auth.me`, { headers: { authorization: `Bearer ${stored.token}` } });
    expect((await me()).status).toBe(200);
    // A listener on the same token is told its session ended, instead of reconnecting forever.
    let listening: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      listening = resolve;
    });
    const listener = plauder(["listen"], env, undefined, (status) => {
      if (status.includes("Listening for broadcasts")) listening();
    });
    await started;
    const logout = await plauder(["logout"], env);
    expect(logout.code).toBe(0);
    expect(logout.stderr).not.toContain("Could not reach");
    expect((await me()).status).toBe(401);
    const listened = await listener;
    expect(listened.code).toBe(2);
    expect(listened.stderr).toContain("This session was signed out; run `plauder login` again");
    expect(listened.stderr).not.toContain("reconnecting");
  });

  it("says clearly when the password is wrong or the server is unreachable", async () => {
    const env = { PLAUDER_CONFIG_DIR: tempDataDir() };
    const wrong = await plauder(["login", "--url", instance.url, "--email", anna.email], {
      ...env,
      PLAUDER_PASSWORD: "nope-nope",
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong email or password/i);
    const unreachable = await plauder(
      ["login", "--url", `http://127.0.0.1:${await freePort()}`, "--email", anna.email],
      {
        ...env,
        PLAUDER_PASSWORD: anna.password,
      },
    );
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain("Cannot reach the Plauder server");
  });
});
