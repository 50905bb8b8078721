/**
 * The tutor benchmark's model provider: the fake Ollama of @plauder/tutor/testing (the real wire
 * format), in a process of its own so its CPU is counted apart. Each answer is as many fixed-length
 * tokens as the learner's line asks for (protocol.ts), `msPerToken` apart; a correction request gets
 * a valid correction with one edit at once. The orchestrator reads back, per request, when it
 * arrived and when each token was written.
 */
import { type FakeBehaviour, type FakeRequest, startFakeOllama } from "@plauder/tutor/testing";
import { type FakeCommand, type FakeTiming, parseLearnerLine, tokenText } from "./protocol";

const model = "bench-tutor";
const behaviours: Record<string, FakeBehaviour> = { [model]: { kind: "slow", msPerToken: 33 } };

const lastUserText = (request: FakeRequest): string => {
  const messages = (request.body as { messages?: Array<{ role?: string; content?: unknown }> }).messages ?? [];
  const last = messages.findLast((message) => message.role === "user");
  return typeof last?.content === "string" ? last.content : "";
};
const isStructured = (request: FakeRequest) => (request.body as { format?: unknown }).format !== undefined;

function correctionOf(text: string): string[] {
  const line = /Ich habe ein Hund \[[^\]]*\]/.exec(text)?.[0] ?? "Ich habe ein Hund";
  return [
    JSON.stringify({
      corrected: line.replace("ein Hund", "einen Hund"),
      edits: [
        { original: "ein", suggestion: "einen", category: "case", explanation: "Akkusativ: einen Hund", level: "A1" },
      ],
    }),
  ];
}

const fake = await startFakeOllama({
  models: behaviours,
  // The whole answer of a run that stops is never streamed; endless ones end on Stop (or after this).
  maxStreamMs: 60_000,
  reply(request) {
    const text = lastUserText(request);
    if (isStructured(request)) return correctionOf(text);
    const asked = parseLearnerLine(text);
    return Array.from({ length: asked?.tokens ?? 10 }, (_, index) => tokenText(index));
  },
});

const origin = performance.timeOrigin;
const byTag = new Map<string, FakeRequest[]>();
let indexed = 0;

/** Files new requests under their tag (read from the learner's line in the prompt). */
function index(): void {
  for (; indexed < fake.requests.length; indexed++) {
    const request = fake.requests[indexed] as FakeRequest;
    if (request.behaviour === undefined) continue;
    const tag = parseLearnerLine(lastUserText(request))?.tag;
    if (!tag) continue;
    byTag.set(tag, [...(byTag.get(tag) ?? []), request]);
  }
}

function timing(tag: string, request: FakeRequest): FakeTiming {
  return {
    tag,
    structured: isStructured(request),
    arrival: origin + request.startedAt,
    tokenTimes: request.tokenTimes.map((at) => origin + at),
    outcome: request.outcome,
    closedAt: request.closedAt === undefined ? null : origin + request.closedAt,
  };
}

process.on("message", (command: FakeCommand) => {
  switch (command.type) {
    case "behaviour":
      behaviours[model] = { kind: command.kind, msPerToken: command.msPerToken };
      process.send?.({ type: "behaviour" });
      return;
    case "timings": {
      index();
      const timings = command.tags.flatMap((tag) => (byTag.get(tag) ?? []).map((request) => timing(tag, request)));
      process.send?.({ type: "timings", timings });
      return;
    }
    case "cpu": {
      const usage = process.cpuUsage();
      process.send?.({ type: "cpu", micros: usage.user + usage.system });
      return;
    }
  }
});

process.on("SIGTERM", () => {
  void fake.close().finally(() => process.exit(0));
});
process.send?.({ type: "ready", url: fake.url, model });
