import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createDownloadingEmbeddedProvider,
  defaultModel,
  defaultModelLocation,
  engineInstallCommand,
  ensureModelFile,
  isEngineInstalled,
  ModelDownloadError,
  ProviderUnavailableError,
  resolveModelUrl,
  selectProvider,
  showDownloadProgress,
} from "../src";
import { closedPortUrl } from "../src/testing";
import { collect, messages, within } from "./helpers";
import { serveTestModel } from "./model-server";

const model = serveTestModel();

describe("the default model", () => {
  it("is Qwen2.5 1.5B Instruct from Hugging Face, with its size and SHA-256, into DATA_DIR/models", () => {
    const location = defaultModelLocation({ DATA_DIR: "/srv/plauder" });
    expect(location).toEqual({
      url: defaultModel.url,
      file: "/srv/plauder/models/qwen2.5-1.5b-instruct-q4_k_m.gguf",
      expectedBytes: 1_117_320_736,
      sha256: "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
    });
    expect(defaultModel.licence).toBe("Apache-2.0");
    // hf: names the same file.
    const hf = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";
    expect(resolveModelUrl(hf)).toBe(defaultModel.url);
    expect(defaultModelLocation({ DATA_DIR: "/d", TUTOR_MODEL_URL: hf }).sha256).toBe(defaultModel.sha256);
  });

  it("TUTOR_MODEL_URL picks another file, checked against the size its server announces", () => {
    const location = defaultModelLocation({ DATA_DIR: "/d", TUTOR_MODEL_URL: "https://example.org/m/other.gguf?x=1" });
    expect(location).toEqual({ url: "https://example.org/m/other.gguf?x=1", file: "/d/models/other.gguf" });
    // Relative to the working directory, like DATA_DIR's other files.
    expect(defaultModelLocation({}).file).toBe(join(process.cwd(), ".data/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"));
  });

  it("downloads in the background with a state that says how far it is", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 128 * 1024, everyMs: 15 });
    const location = {
      url: model.server.url,
      file: model.target(),
      expectedBytes: model.bytes.length,
      sha256: model.sha256,
    };
    const download = ensureModelFile(location);
    expect(download.state.phase).toBe("downloading");
    expect(download.describe()).toBe("The tutor's model (tiny.gguf) is starting to download.");
    expect(ensureModelFile(location)).toBe(download);
    await download.started;
    await within(
      (async () => {
        while (download.state.phase === "downloading" && !download.state.progress?.downloadedBytes) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
      2_000,
      "the first bytes",
    );
    expect(download.describe()).toMatch(/^The tutor's model is downloading: \d+% \([\d.]+ \/ 1\.8 MB/);
    expect(await download.done).toBe(model.target());
    expect(download.state).toEqual({ phase: "ready" });
    // There now: ready at once, nothing fetched.
    const again = ensureModelFile(location);
    expect(again.state.phase).toBe("ready");
    expect(model.server.requests).toHaveLength(1);
  });

  it("keeps a failure in its state (no unhandled rejection) and a later call starts again", async () => {
    const location = { url: `${model.server.url}.missing`, file: model.target() };
    const download = ensureModelFile(location);
    await expect(download.done).rejects.toBeInstanceOf(ModelDownloadError);
    expect(download.state.phase).toBe("failed");
    expect(download.describe()).toContain("answered 404");
    expect(ensureModelFile(location)).not.toBe(download);
  });

  it("follows a download to its end", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 256 * 1024, everyMs: 10 });
    const download = ensureModelFile({ url: model.server.url, file: model.target() });
    const lines: string[] = [];
    showDownloadProgress(download, { stream: { write: () => true }, log: (line) => lines.push(line) });
    await download.done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[0]).toMatch(/^Downloading tiny\.gguf: /);
    expect(lines.at(-2)).toMatch(/^Downloading tiny\.gguf: 100% · 1\.8 \/ 1\.8 MB/);
    expect(lines.at(-1)).toMatch(/^Downloaded .*tiny\.gguf in \d+s\.$/);
  });
});

describe("the embedded provider while its model downloads", () => {
  /** An engine import that fails the way a missing package does. */
  const missingEngine = () => import(/* @vite-ignore */ "@plauder/no-such-engine" as string);

  it("says what went wrong, and the next chat starts the download again", async () => {
    model.server.plan({ kind: "missing" });
    const location = { url: model.server.url, file: model.target() };
    const first = ensureModelFile(location);
    await first.done.catch(() => {});
    const provider = createDownloadingEmbeddedProvider(first, { importEngine: missingEngine }, () =>
      ensureModelFile(location),
    );
    try {
      const health = await provider.health();
      expect(health.ok === false && health.reason).toContain("answered 404");
      await expect(provider.listModels()).rejects.toBeInstanceOf(ProviderUnavailableError);

      const attempt = await collect(provider.chat({ model: "tiny", messages, signal: signal() }));
      expect(attempt.error).toBeInstanceOf(ProviderUnavailableError);
      expect((attempt.error as Error).message).toMatch(/answered 404 .* Downloading it again: The tutor's model/);

      // This time the server has it; then the engine is missing here, and the provider says that.
      // (While it runs, ensureModelFile hands out the same download.)
      await within(ensureModelFile(location).done, 5_000, "the second download");
      expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
      const after = await collect(provider.chat({ model: "tiny", messages, signal: signal() }));
      expect(after.error).toBeInstanceOf(ProviderUnavailableError);
      expect((after.error as Error).message).toContain("npm run tutor:install-engine");
      expect(model.server.requests.map((request) => request.status)).toEqual([404, 200]);
    } finally {
      await provider.close();
    }
  });

  it("close() stops a download that is still running, keeping the part", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 64 * 1024, everyMs: 30 });
    const download = ensureModelFile({ url: model.server.url, file: model.target() });
    await download.started;
    const provider = createDownloadingEmbeddedProvider(download, { importEngine: missingEngine });
    await provider.close();
    await expect(download.done).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(download.state.phase).toBe("failed");
    expect(existsSync(`${model.target()}.part`)).toBe(true);
    expect(existsSync(model.target())).toBe(false);
    expect(await provider.health()).toMatchObject({ ok: false, reason: "The embedded engine has been closed." });
  });
});

/*
 * The first use for real: Ollama down, the engine installed, no TUTOR_MODEL_FILE. The model comes
 * from the local server (the tiny random-weight fixture: what it says is gibberish, so only the
 * stream is checked, never its content).
 */
const engineMissing = !(await isEngineInstalled());

describe("selectProvider on first use of the embedded engine", () => {
  if (engineMissing) {
    it("can run here", () => {
      throw new Error(
        `The first-use test cannot run: node-llama-cpp is not installed (install it with \`${engineInstallCommand}\`).`,
      );
    });
    return;
  }

  it("fetches the default model without holding up start, then the engine answers with a real token stream", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 64 * 1024, everyMs: 25 });
    const settings = {
      OLLAMA_URL: await closedPortUrl(),
      DATA_DIR: model.dir,
      TUTOR_MODEL_URL: model.server.url,
      TUTOR_ENGINE_THREADS: 1,
      TUTOR_ENGINE_CONTEXT_SIZE: 512,
    };
    const file = join(model.dir, "models", "llama-2-tiny-random.gguf");
    const selected = await selectProvider(settings);
    try {
      expect(selected.provider.kind).toBe("embedded");
      expect(selected.model).toBe("llama-2-tiny-random");
      expect(selected.reason).toContain("downloading into");
      expect(selected.download?.file).toBe(file);
      // Start-up did not wait for the file (about 700 ms at this server's pace): it is still coming.
      expect(selected.download?.state.phase).toBe("downloading");
      expect(model.server.requests[0]?.bytesSent).toBeLessThan(model.bytes.length);

      // Meanwhile the provider says how far it is instead of waiting.
      const health = await selected.provider.health();
      expect(health.ok).toBe(false);
      expect(health.ok === false && health.reason).toMatch(
        /^The tutor's model (is downloading: \d+%|\(.*\) is starting)/,
      );
      const early = await collect(selected.provider.chat({ model: selected.model, messages, signal: signal() }));
      expect(early.error).toBeInstanceOf(ProviderUnavailableError);
      expect((early.error as Error).message).toMatch(/The tutor's model .*download/);

      expect(await selected.download?.done).toBe(file);
      expect(readFileSync(file).equals(model.bytes)).toBe(true);
      expect(existsSync(`${file}.part`)).toBe(false);

      const reply = await collect(
        selected.provider.chat({
          model: selected.model,
          messages,
          options: { maxTokens: 20, temperature: 0.8 },
          signal: signal(),
        }),
      );
      expect(reply.error).toBeUndefined();
      expect(reply.deltas.length).toBeGreaterThan(1);
      expect(reply.done).toMatchObject({ type: "done", model: selected.model });
      expect(reply.done?.completionTokens).toBeGreaterThan(1);
      expect(await selected.provider.health()).toMatchObject({ ok: true, kind: "embedded" });
    } finally {
      await selected.provider.close();
    }

    // The next start finds the file and fetches nothing.
    const again = await selectProvider(settings);
    try {
      expect(again.download).toBeUndefined();
      expect(again.reason).toContain(file);
      expect(model.server.requests).toHaveLength(1);
    } finally {
      await again.provider.close();
    }
  }, 120_000);
});

const signal = () => AbortSignal.timeout(60_000);
