/**
 * `plauder chat` against a real server whose tutor talks to a fake Ollama (the real wire format,
 * behaviour chosen per request): `main` in this process for the conversation itself, and the
 * `plauder` binary for Ctrl-C (a real SIGINT) and the exit codes a shell sees.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { type FakeBehaviour, type FakeProvider, type FakeRequest, startFakeOllama } from "@plauder/tutor/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exitCodes, main } from "../src/cli/index";
import { createPlauderClient, type PlauderClient } from "../src/index";
import { type Account, startTestServer, type TestServer, until } from "./support/server";

const binary = fileURLToPath(new URL("../bin/plauder.mjs", import.meta.url));
const model = "chat-test";
const answerTokens = ["Guten", " Tag", "!", " Was", " darf", " es", " sein", "?"];
const fullAnswer = answerTokens.join("");
/** A long answer, for stopping it midway: 200 words. */
const longTokens = Array.from({ length: 200 }, (_, index) => ` Wort${index}`);

const behaviours: Record<string, FakeBehaviour> = { [model]: { kind: "normal" } };
const useBehaviour = (behaviour: FakeBehaviour) => {
  behaviours[model] = behaviour;
};
/** What the next answers say; tests change it. */
let answer: string[] = answerTokens;

const correctionReply = JSON.stringify({
  corrected: "Ich habe einen Hund",
  edits: [
    { original: "ein", suggestion: "einen", category: "case", explanation: "Akkusativ: einen Hund", level: "A1" },
  ],
});
const noMistakes = JSON.stringify({ corrected: "Guten Morgen", edits: [] });

const isStructured = (request: FakeRequest) => (request.body as { format?: unknown }).format !== undefined;
const answerRequests = () => fake.chats().filter((request) => !isStructured(request));

let fake: FakeProvider;
let server: TestServer;
let anna: Account;
let bert: Account;
let configDir: string;
const clients: PlauderClient[] = [];

beforeAll(async () => {
  fake = await startFakeOllama({
    models: behaviours,
    reply: (request) => {
      if (!isStructured(request)) return answer;
      const asked = (request.body as { messages?: Array<{ content: string }> }).messages?.at(-1)?.content ?? "";
      if (asked.includes("Ich habe ein Hund")) return [correctionReply];
      if (asked.includes("Guten Morgen")) return [noMistakes];
      return ["{not json"];
    },
  });
  server = await startTestServer({
    TUTOR_PROVIDER: "ollama",
    OLLAMA_URL: fake.url,
    OLLAMA_MODEL: model,
    TUTOR_MAX_CONCURRENT: "1",
    TUTOR_MAX_QUEUED: "2",
  });
  [anna, bert] = await Promise.all([server.account("Anna"), server.account("Bert")]);
  configDir = await mkdtemp(join(tmpdir(), "plauder-cli-chat-"));
}, 90_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await server?.stop();
  await fake?.close();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

beforeEach(() => {
  useBehaviour({ kind: "normal" });
  answer = answerTokens;
});

const envOf = (account: Account) => ({
  PLAUDER_CONFIG_DIR: configDir,
  PLAUDER_URL: server.url,
  PLAUDER_TOKEN: account.token,
});

/** `plauder chat …` in this process: lines go in through `type`, Ctrl-C through `interrupt`. */
function chat(account: Account, ...argv: string[]) {
  const stdin = new PassThrough();
  const output = { stdout: "", stderr: "" };
  /** Every write to stdout with its time, to tell streaming from one block at the end. */
  const writes: { at: number; text: string }[] = [];
  const interrupts = new Set<() => void>();
  const exit = main(["chat", ...argv], {
    env: envOf(account),
    interactive: false,
    stdoutIsTerminal: false,
    stdin,
    stdout: (text) => {
      output.stdout += text;
      writes.push({ at: performance.now(), text });
    },
    stderr: (text) => {
      output.stderr += text;
    },
    onInterrupt: (listener) => {
      interrupts.add(listener);
      return () => interrupts.delete(listener);
    },
  });
  let code: number | undefined;
  void exit.then((value) => {
    code = value;
  });
  return {
    output,
    writes,
    exit,
    exited: () => code !== undefined,
    type: (line: string) => stdin.write(`${line}\n`),
    end: () => stdin.end(),
    interrupt: () => {
      for (const listener of interrupts) listener();
    },
    until: (check: () => boolean, what: string, timeoutMs = 10_000) =>
      until(
        check,
        `${what}; stdout: ${JSON.stringify(output.stdout)}, stderr: ${JSON.stringify(output.stderr)}`,
        timeoutMs,
      ),
  };
}

/** The conversation id a chat names on stderr. */
function conversationIdOf(stderr: string): string {
  const id = /conversation ([0-9a-f-]{36})/.exec(stderr)?.[1];
  if (!id) throw new Error(`no conversation id in ${JSON.stringify(stderr)}`);
  return id;
}

/** The binary as a shell runs it, stdin a pipe, so a test can type lines and press Ctrl-C (SIGINT). */
function spawnChat(account: Account, ...argv: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [binary, "chat", ...argv], {
    env: { PATH: process.env.PATH, HOME: configDir, ...envOf(account) },
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output,
    exit,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    until: (check: () => boolean, what: string, timeoutMs = 15_000) =>
      until(
        check,
        `${what}; stdout: ${JSON.stringify(output.stdout)}, stderr: ${JSON.stringify(output.stderr)}`,
        timeoutMs,
      ),
  };
}

describe("plauder chat", () => {
  it("lists the scenarios", async () => {
    const listing = chat(anna, "--list-scenarios");
    expect(await listing.exit).toBe(exitCodes.ok);
    expect(listing.output.stdout).toMatch(/^bakery +A1–A2 +In der Bäckerei \(At the bakery\)$/m);
  });

  it("starts a role-play, streams the answer as it arrives and prints the correction of the learner's line", async () => {
    useBehaviour({ kind: "slow", msPerToken: 30 });
    const session = chat(anna, "--scenario", "bakery", "--level", "a1");
    await session.until(
      () => session.output.stderr.includes("Type /help") || session.exited(),
      "the conversation to start",
      25_000,
    );
    // The scenario's opening line is the history.
    expect(session.output.stdout).toMatch(/^Tutor: \S.*\n$/);
    const before = session.writes.length;
    session.type("Ich habe ein Hund");
    session.end();
    expect(await session.exit).toBe(exitCodes.ok);
    const { stdout, stderr } = session.output;
    expect(stdout).toContain("You: Ich habe ein Hund\n");
    expect(stdout).toContain(`Tutor: ${fullAnswer}\n`);
    expect(stdout).toContain("  ✎ ");
    expect(stdout).toContain("Ich habe einen Hund");
    expect(stdout).toContain("    ein → einen (case, A1): Akkusativ: einen Hund\n");
    expect(stderr).toContain("To continue this conversation: plauder chat --conversation ");
    // Token by token: the answer came in many writes, spread over the time the model took.
    const answerWrites = session.writes.slice(before).filter((write) => answerTokens.includes(write.text));
    expect(answerWrites.length).toBeGreaterThanOrEqual(answerTokens.length - 2);
    const spread = (answerWrites.at(-1)?.at ?? 0) - (answerWrites[0]?.at ?? 0);
    expect(spread).toBeGreaterThan(100);
  });

  it("puts the correction right under the learner's line when it comes before the answer", async () => {
    // The answer's visible text starts with its second token, the correction is one token: it comes first.
    useBehaviour({ kind: "slow", msPerToken: 150 });
    answer = ["", ...answerTokens];
    const session = chat(anna, "--level", "A1");
    await session.until(
      () => session.output.stderr.includes("Type /help") || session.exited(),
      "the conversation to start",
      25_000,
    );
    session.type("Guten Morgen");
    session.end();
    expect(await session.exit).toBe(exitCodes.ok);
    expect(session.output.stdout).toBe(`You: Guten Morgen\n  ✓ no mistakes\nTutor: ${fullAnswer}\n`);
  });

  it("continues a conversation: the history with its corrections, then new lines", async () => {
    const first = chat(anna, "--level", "A1");
    await first.until(() => first.output.stderr.includes("Type /help"), "the conversation to start");
    first.type("Ich habe ein Hund");
    first.end();
    expect(await first.exit).toBe(exitCodes.ok);
    const conversationId = conversationIdOf(first.output.stderr);

    const again = chat(anna, "--conversation", conversationId);
    again.type("Guten Morgen");
    again.end();
    expect(await again.exit).toBe(exitCodes.ok);
    const lines = again.output.stdout.split("\n");
    expect(lines.slice(0, 5)).toEqual([
      "You: Ich habe ein Hund",
      "  ✎ Ich habe einen Hund",
      "    ein → einen (case, A1): Akkusativ: einen Hund",
      `Tutor: ${fullAnswer}`,
      "You: Guten Morgen",
    ]);
    expect(again.output.stdout).toContain("✓ no mistakes");
    expect(lines.filter((line) => line === `Tutor: ${fullAnswer}`)).toHaveLength(2);
  });

  it("/stop stops the answer, /regenerate answers the last line again", async () => {
    useBehaviour({ kind: "slow", msPerToken: 40 });
    answer = longTokens;
    const session = chat(anna, "--level", "A2");
    await session.until(
      () => session.output.stderr.includes("Type /help") || session.exited(),
      "the conversation to start",
      25_000,
    );
    const requestsBefore = answerRequests().length;
    session.type("Erzähl mir was");
    await session.until(() => session.output.stdout.includes("Wort3"), "the answer to stream");
    const request = answerRequests()[requestsBefore] as FakeRequest;
    session.type("/stop");
    await fake.waitForClientClose(request, 3_000);
    await session.until(() => session.output.stdout.includes("[stopped]"), "the stopped note");
    expect(session.output.stdout).not.toContain("Wort199");

    answer = answerTokens;
    useBehaviour({ kind: "normal" });
    session.type("/regenerate");
    session.end();
    expect(await session.exit).toBe(exitCodes.ok);
    expect(session.output.stderr).toContain("The answer is being written again");
    expect(session.output.stdout).toContain(`[stopped]\nTutor: ${fullAnswer}\n`);
  });

  it("says where an answer waits in line when the person's places are taken", async () => {
    const client = await createPlauderClient({ url: server.url, token: bert.token });
    clients.push(client);
    useBehaviour({ kind: "slow", msPerToken: 25 });
    answer = longTokens.slice(0, 60);
    // Bert's one place (TUTOR_MAX_CONCURRENT=1) is taken by an answer elsewhere.
    const other = await client.api.tutor.start.mutate({ level: "A2" });
    await client.api.tutor.send.mutate({ conversationId: other.conversation.id, text: "Erzähl was" });
    const session = chat(bert, "--level", "A2");
    await session.until(
      () => session.output.stderr.includes("Type /help") || session.exited(),
      "the conversation to start",
      25_000,
    );
    session.type("Und jetzt ich");
    session.end();
    expect(await session.exit).toBe(exitCodes.ok);
    expect(session.output.stderr).toContain("Waiting for a free place: next in line");
    expect(session.output.stdout).toContain(`Tutor: ${answer.join("").trimStart()}\n`);
  });

  it("shows a failed answer with its reason and ends with 1", async () => {
    useBehaviour({ kind: "missing" });
    const session = chat(anna, "--level", "A2");
    session.type("Hallo?");
    session.end();
    expect(await session.exit).toBe(exitCodes.error);
    expect(session.output.stdout).toMatch(/^You: Hallo\?\n/);
    expect(session.output.stdout).toMatch(/\[failed\] .*ollama pull chat-test/);
    expect(session.output.stdout).toContain("[no correction]");
  });

  it("reports refusals in one sentence with their exit code", async () => {
    const unknown = chat(anna, "--scenario", "mars-landing");
    expect(await unknown.exit).toBe(exitCodes.error);
    expect(unknown.output.stderr).toBe('No scenario "mars-landing"; `plauder chat --list-scenarios` lists them\n');

    const started = await createPlauderClient({ url: server.url, token: anna.token });
    clients.push(started);
    const { conversation } = await started.api.tutor.start.mutate({ level: "A2" });
    const foreign = chat(bert, "--conversation", conversation.id);
    expect(await foreign.exit).toBe(exitCodes.forbidden);
    expect(foreign.output.stderr.trim().split("\n")).toHaveLength(1);
    expect(foreign.output.stderr).toMatch(/^Only the owner of this conversation/);

    const usage = chat(anna, "--conversation", conversation.id, "--level", "B1");
    expect(await usage.exit).toBe(exitCodes.usage);
    expect(usage.output.stderr).toMatch(/^--level is for a new conversation/);

    const tooLong = chat(anna, "--level", "A2");
    tooLong.type("x".repeat(2_001));
    tooLong.end();
    expect(await tooLong.exit).toBe(exitCodes.error);
    expect(tooLong.output.stderr).toMatch(/A message has at most 2000 characters/);
  });
});

describe("the plauder binary", () => {
  it("stops the answer on Ctrl-C (closing the model's request) and leaves on the second", async () => {
    useBehaviour({ kind: "slow", msPerToken: 40 });
    answer = longTokens;
    const session = spawnChat(anna, "--level", "A2");
    await session.until(
      () => session.output.stderr.includes("Type /help") || session.exited(),
      "the conversation to start",
      25_000,
    );
    const requestsBefore = answerRequests().length;
    session.child.stdin.write("Erzähl mir eine lange Geschichte\n");
    await session.until(() => session.output.stdout.includes("Wort3"), "the answer to stream");
    const request = answerRequests()[requestsBefore] as FakeRequest;

    session.child.kill("SIGINT");
    const pressed = performance.now();
    const closedAt = await fake.waitForClientClose(request, 3_000);
    expect(closedAt - pressed).toBeLessThan(1_000);
    await session.until(() => session.output.stdout.includes("[stopped]"), "the stopped note");
    expect(session.output.stderr).toContain("Stopping the answer");
    expect(session.output.stdout).not.toContain("Wort199");

    session.child.kill("SIGINT");
    expect(await session.exit).toBe(exitCodes.interrupted);
  });

  it("ends with 0 at the end of its input, and with 2 without credentials", async () => {
    const session = spawnChat(anna, "--level", "A2");
    session.child.stdin.end("Guten Morgen\n");
    expect(await session.exit).toBe(exitCodes.ok);
    expect(session.output.stdout).toContain(`Tutor: ${fullAnswer}\n`);

    const anonymous = spawn(process.execPath, [binary, "chat"], {
      env: { PATH: process.env.PATH, HOME: configDir, PLAUDER_CONFIG_DIR: configDir, PLAUDER_URL: server.url },
    });
    let stderr = "";
    anonymous.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => anonymous.once("exit", resolve));
    expect(code).toBe(exitCodes.auth);
    expect(stderr).toMatch(/^Not signed in/);
  });
});
