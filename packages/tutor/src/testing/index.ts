import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export { startFakeOllama } from "./fake-ollama";
export { type FakeOpenAIOptions, startFakeOpenAI } from "./fake-openai";
export {
  behaviourOf,
  defaultJsonReply,
  defaultReply,
  type FakeBehaviour,
  type FakeBehaviourKind,
  type FakeCounts,
  type FakeOptions,
  type FakeProvider,
  type FakeRequest,
  fakeModel,
  fixedReplyModel,
  splitIntoTokens,
} from "./fake-server";

/** A URL on 127.0.0.1 where nothing listens (a port the kernel just handed out and took back): a provider that is down. */
export function closedPortUrl(): Promise<string> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port ? resolve(`http://127.0.0.1:${port}`) : reject(new Error("no free port"))));
    });
  });
}

/**
 * The GGUF model file the engine test runs against: `PLAUDER_TEST_GGUF`, or undefined when unset.
 * (A tiny random-weight llama model is enough: the test proves streaming, abort and grammar, not meaning.)
 */
export function testModelFile(): string | undefined {
  const file = process.env.PLAUDER_TEST_GGUF?.trim();
  if (file) return file;
  // The tiny random-weight model that ships with the tests (test/fixtures/README.md).
  const fixture = fileURLToPath(new URL("../../test/fixtures/llama-2-tiny-random.gguf", import.meta.url));
  return existsSync(fixture) ? fixture : undefined;
}
