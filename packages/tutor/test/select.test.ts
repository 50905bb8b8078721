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
    expect(error.message).toContain("TUTOR_MODEL_FILE");
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
    await expect(selectProvider({ TUTOR_PROVIDER: "embedded" })).rejects.toThrow(/TUTOR_MODEL_FILE/);
    const openai = await selectProvider({
      TUTOR_PROVIDER: "openai",
      OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
      OPENAI_MODEL: "qwen",
    });
    expect(openai).toMatchObject({ model: "qwen", provider: { kind: "openai" } });
  });
});
