import { parseEnv } from "@plauder/runtime";
import { describe, expect, it } from "vitest";
import { defaultModelLocation, selectProvider } from "../src";
import { startFakeOllama } from "../src/testing";

describe("the tutor's settings", () => {
  it("are optional: with none set the tutor's own defaults apply", () => {
    const env = parseEnv({});
    expect(env.TUTOR_PROVIDER).toBeUndefined();
    expect(env.OLLAMA_URL).toBeUndefined();
    expect(env.TUTOR_FIRST_BYTE_TIMEOUT_MS).toBeUndefined();
  });

  it("are checked at start: a bad value names its setting", () => {
    expect(() => parseEnv({ TUTOR_PROVIDER: "gpt", TUTOR_STALL_TIMEOUT_MS: "-5", OLLAMA_URL: "nowhere" })).toThrow(
      /TUTOR_PROVIDER[\s\S]*OLLAMA_URL[\s\S]*TUTOR_STALL_TIMEOUT_MS/,
    );
  });

  it("name where the embedded engine's model comes from: an http(s) URL or hf:<user>/<repo>/<file>.gguf", () => {
    const hf = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";
    expect(parseEnv({ TUTOR_MODEL_URL: hf }).TUTOR_MODEL_URL).toBe(hf);
    expect(parseEnv({ TUTOR_MODEL_URL: "https://example.org/m.gguf" }).TUTOR_MODEL_URL).toBe(
      "https://example.org/m.gguf",
    );
    expect(parseEnv({ TUTOR_MODEL_URL: "" }).TUTOR_MODEL_URL).toBeUndefined();
    expect(() => parseEnv({ TUTOR_MODEL_URL: "ftp://example.org/m.gguf" })).toThrow(
      /TUTOR_MODEL_URL: must be an http\(s\) URL or hf:/,
    );
    // Where it lands: DATA_DIR/models, from the same parsed settings.
    expect(defaultModelLocation(parseEnv({ DATA_DIR: "/srv/plauder" })).file).toBe(
      "/srv/plauder/models/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    );
  });

  it("go straight from the parsed environment into selectProvider", async () => {
    const fake = await startFakeOllama();
    try {
      const env = parseEnv({
        TUTOR_PROVIDER: "ollama",
        OLLAMA_URL: fake.url,
        OLLAMA_MODEL: "normal",
        TUTOR_FIRST_BYTE_TIMEOUT_MS: "250",
        TUTOR_STALL_TIMEOUT_MS: "",
      });
      expect(env.TUTOR_FIRST_BYTE_TIMEOUT_MS).toBe(250);
      expect(env.TUTOR_STALL_TIMEOUT_MS).toBeUndefined();
      const { provider, model } = await selectProvider(env);
      expect(model).toBe("normal");
      const hang = provider.chat({ model: "hang", messages: [], signal: new AbortController().signal });
      await expect(hang[Symbol.asyncIterator]().next()).rejects.toMatchObject({ phase: "first-byte", ms: 250 });
    } finally {
      await fake.close();
    }
  });
});
