import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  defaultModel,
  defaultModelLocation,
  ensureModelFile,
  ModelDownloadError,
  resolveModelUrl,
  showDownloadProgress,
} from "../src";
import { testModelFile } from "../src/testing";
import { within } from "./helpers";
import { type ModelServer, startModelServer } from "./model-server";

const fixture = testModelFile() as string;
const fixtureBytes = readFileSync(fixture);
const fixtureSha = createHash("sha256").update(fixtureBytes).digest("hex");

let dir: string;
let server: ModelServer;
const target = () => join(dir, "models", "tiny.gguf");

beforeAll(async () => {
  server = await startModelServer(fixture);
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "plauder-model-"));
  server.requests.length = 0;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

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
    server.plan({ kind: "slow", chunkBytes: 128 * 1024, everyMs: 15 });
    const location = { url: server.url, file: target(), expectedBytes: fixtureBytes.length, sha256: fixtureSha };
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
    expect(await download.done).toBe(target());
    expect(download.state).toEqual({ phase: "ready" });
    // There now: ready at once, nothing fetched.
    const again = ensureModelFile(location);
    expect(again.state.phase).toBe("ready");
    expect(server.requests).toHaveLength(1);
  });

  it("keeps a failure in its state (no unhandled rejection) and a later call starts again", async () => {
    const location = { url: `${server.url}.missing`, file: target() };
    const download = ensureModelFile(location);
    await expect(download.done).rejects.toBeInstanceOf(ModelDownloadError);
    expect(download.state.phase).toBe("failed");
    expect(download.describe()).toContain("answered 404");
    expect(ensureModelFile(location)).not.toBe(download);
  });

  it("follows a download to its end", async () => {
    server.plan({ kind: "slow", chunkBytes: 256 * 1024, everyMs: 10 });
    const download = ensureModelFile({ url: server.url, file: target() });
    const lines: string[] = [];
    showDownloadProgress(download, { stream: { write: () => true }, log: (line) => lines.push(line) });
    await download.done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[0]).toMatch(/^Downloading tiny\.gguf: /);
    expect(lines.at(-2)).toMatch(/^Downloading tiny\.gguf: 100% · 1\.8 \/ 1\.8 MB/);
    expect(lines.at(-1)).toMatch(/^Downloaded .*tiny\.gguf in \d+s\.$/);
  });
});
