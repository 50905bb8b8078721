import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createEmbeddedProvider,
  engineInstallCommand,
  isEngineInstalled,
  NoProviderError,
  ProviderUnavailableError,
  selectProvider,
} from "../src";
import { closedPortUrl, startFakeOllama } from "../src/testing";

/** An engine import that fails the way a missing package does. */
const missingEngine = () => import(/* @vite-ignore */ "@plauder/no-such-engine" as string);
/** An engine that counts as installed (nothing here gets as far as loading a model with it). */
const presentEngine = async () => ({ getLlama: async () => ({}), LlamaChat: class {} });

describe("choosing the tutor's provider", () => {
  it("without the engine installed, the embedded provider names the one command that installs it", async () => {
    const attempt = createEmbeddedProvider({ modelFile: "model.gguf", importEngine: missingEngine });
    await expect(attempt).rejects.toBeInstanceOf(ProviderUnavailableError);
    await expect(attempt).rejects.toThrow(`Install it with: ${engineInstallCommand}`);
    expect(engineInstallCommand).toBe("npm run tutor:install-engine");
    expect(await isEngineInstalled(missingEngine)).toBe(false);
  });

  it("auto takes Ollama when it answers", async () => {
    const fake = await startFakeOllama();
    try {
      const selected = await selectProvider(
        { OLLAMA_URL: fake.url, OLLAMA_MODEL: "normal" },
        { importEngine: missingEngine },
      );
      expect(selected.provider.kind).toBe("ollama");
      expect(selected.model).toBe("normal");
      expect(selected.reason).toContain(fake.url);
    } finally {
      await fake.close();
    }
  });

  it("auto with Ollama down and no engine explains both and what to do", async () => {
    const url = await closedPortUrl();
    const attempt = selectProvider({ OLLAMA_URL: url }, { importEngine: missingEngine });
    await expect(attempt).rejects.toBeInstanceOf(NoProviderError);
    const error = (await attempt.catch((caught: unknown) => caught)) as NoProviderError;
    expect(error.attempts.map((attempt) => attempt.kind)).toEqual(["ollama", "embedded"]);
    expect(error.message).toContain(`is not answering at ${url} (connection refused)`);
    expect(error.message).toContain(engineInstallCommand);
    expect(error.message).toContain("downloads its default model (Qwen2.5 1.5B Instruct");
    expect(error.message).toContain("TUTOR_MODEL_FILE");
  });

  it("auto with Ollama down and the engine installed reports a default model that cannot be fetched", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "plauder-select-"));
    try {
      const modelUrl = `${await closedPortUrl()}/models/tiny.gguf`;
      const attempt = selectProvider(
        { OLLAMA_URL: await closedPortUrl(), DATA_DIR: dataDir, TUTOR_MODEL_URL: modelUrl },
        { importEngine: presentEngine },
      );
      const error = (await attempt.catch((caught: unknown) => caught)) as NoProviderError;
      expect(error).toBeInstanceOf(NoProviderError);
      expect(error.attempts[1]).toEqual({
        kind: "embedded",
        reason: `Could not download the tutor's model from ${modelUrl}: connection refused. Check the network connection, or set TUTOR_MODEL_FILE to a .gguf file you already have.`,
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("auto with Ollama down tries the embedded engine with TUTOR_MODEL_FILE and reports why it could not", async () => {
    const url = await closedPortUrl();
    const attempt = selectProvider(
      { OLLAMA_URL: url, TUTOR_MODEL_FILE: "/nowhere/model.gguf" },
      { importEngine: missingEngine },
    );
    const error = (await attempt.catch((caught: unknown) => caught)) as NoProviderError;
    expect(error).toBeInstanceOf(NoProviderError);
    expect(error.attempts[1]?.reason).toContain("not installed");
  });

  it("a named provider needs its settings", async () => {
    await expect(selectProvider({ TUTOR_PROVIDER: "openai" })).rejects.toThrow(/OPENAI_BASE_URL and OPENAI_MODEL/);
    // Without TUTOR_MODEL_FILE the engine takes its default model, but it has to be installed.
    const embedded = selectProvider({ TUTOR_PROVIDER: "embedded" }, { importEngine: missingEngine });
    await expect(embedded).rejects.toBeInstanceOf(ProviderUnavailableError);
    await expect(embedded).rejects.toThrow(`Install it with: ${engineInstallCommand}`);
    const openai = await selectProvider({
      TUTOR_PROVIDER: "openai",
      OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
      OPENAI_MODEL: "qwen",
    });
    expect(openai).toMatchObject({ model: "qwen", provider: { kind: "openai" } });
  });
});
