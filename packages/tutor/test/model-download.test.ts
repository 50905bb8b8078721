import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createProgressBar,
  type DownloadProgress,
  downloadModel,
  formatProgress,
  ModelDownloadError,
  modelFileNameOf,
  resolveModelUrl,
} from "../src";
import { closedPortUrl, testModelFile } from "../src/testing";
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

/** What a failed download rejected with. */
async function failure(promise: Promise<unknown>): Promise<ModelDownloadError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ModelDownloadError);
  return error as ModelDownloadError;
}

describe("downloading a model file", () => {
  it("fetches the whole file through a .part file, checks size and SHA-256, and reports progress", async () => {
    const reports: DownloadProgress[] = [];
    let startedWith: DownloadProgress | undefined;
    const result = await downloadModel({
      url: server.url,
      destination: target(),
      expectedBytes: fixtureBytes.length,
      sha256: fixtureSha,
      onStart: (progress) => {
        startedWith = progress;
      },
      onProgress: (progress) => reports.push(progress),
      progressIntervalMs: 0,
    });
    expect(result).toEqual({ file: target(), bytes: fixtureBytes.length, resumedFromBytes: 0, sha256: fixtureSha });
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
    expect(existsSync(`${target()}.part`)).toBe(false);
    expect(existsSync(`${target()}.lock`)).toBe(false);
    expect(startedWith).toMatchObject({ downloadedBytes: 0, totalBytes: fixtureBytes.length });
    expect(reports.length).toBeGreaterThan(1);
    const sizes = reports.map((report) => report.downloadedBytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(reports.at(-1)).toMatchObject({ downloadedBytes: fixtureBytes.length, finished: true });
    expect(server.requests).toMatchObject([{ status: 200, range: undefined }]);
  });

  it("resumes after a broken connection with a Range request and ends with the right bytes", async () => {
    server.plan({ kind: "cut", afterBytes: 600_000 });
    const first = await failure(downloadModel({ url: server.url, destination: target(), sha256: fixtureSha }));
    expect(first.failure).toBe("network");
    expect(first.message).toMatch(/broke off after .*Run again to resume/);
    // A crash or a cut never leaves a file under the final name.
    expect(existsSync(target())).toBe(false);
    const kept = statSync(`${target()}.part`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(600_000);

    const second = await downloadModel({ url: server.url, destination: target(), sha256: fixtureSha });
    expect(second.resumedFromBytes).toBe(kept);
    expect(server.requests[1]).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(server.requests[1]?.bytesSent).toBe(fixtureBytes.length - kept);
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
    expect(existsSync(`${target()}.part`)).toBe(false);
  });

  it("starts again from the beginning when the server does not do ranges", async () => {
    const plain = await startModelServer(fixture, { ranges: false });
    try {
      plain.plan({ kind: "cut", afterBytes: 300_000 });
      await failure(downloadModel({ url: plain.url, destination: target() }));
      const result = await downloadModel({ url: plain.url, destination: target(), sha256: fixtureSha });
      expect(result.resumedFromBytes).toBe(0);
      expect(plain.requests[1]).toMatchObject({ status: 200 });
      expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  it("finishes a complete .part file that never got its name, without fetching it again", async () => {
    mkdirSync(dirname(target()), { recursive: true });
    writeFileSync(`${target()}.part`, fixtureBytes);
    const result = await downloadModel({
      url: server.url,
      destination: target(),
      expectedBytes: fixtureBytes.length,
      sha256: fixtureSha,
    });
    expect(result).toMatchObject({ bytes: fixtureBytes.length, resumedFromBytes: fixtureBytes.length });
    expect(server.requests).toHaveLength(0);
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
    // Without the size known beforehand, the server's 416 says the part is whole.
    rmSync(target());
    writeFileSync(`${target()}.part`, fixtureBytes);
    await downloadModel({ url: server.url, destination: target(), sha256: fixtureSha });
    expect(server.requests).toMatchObject([{ status: 416 }]);
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
  });

  it("refuses a file of another size before fetching it", async () => {
    const error = await failure(
      downloadModel({ url: server.url, destination: target(), expectedBytes: fixtureBytes.length + 1 }),
    );
    expect(error.failure).toBe("size");
    expect(error.message).toContain(`offers 1.8 MB (${fixtureBytes.length} bytes)`);
    expect(error.message).toContain(`(${fixtureBytes.length + 1} bytes)`);
    expect(existsSync(target())).toBe(false);
    expect(existsSync(`${target()}.part`)).toBe(false);
  });

  it("refuses bytes with the wrong SHA-256 and removes them", async () => {
    const error = await failure(downloadModel({ url: server.url, destination: target(), sha256: "0".repeat(64) }));
    expect(error.failure).toBe("checksum");
    expect(error.message).toContain(`its SHA-256 is ${fixtureSha}`);
    expect(existsSync(target())).toBe(false);
    expect(existsSync(`${target()}.part`)).toBe(false);
  });

  it("says so clearly when the server has no such file (404)", async () => {
    const error = await failure(downloadModel({ url: `${server.url}.missing`, destination: target() }));
    expect(error.failure).toBe("not-found");
    expect(error.status).toBe(404);
    expect(error.message).toBe(
      `Could not download the tutor's model: ${server.url}.missing answered 404 (Not Found), so no file is there. Check TUTOR_MODEL_URL.`,
    );
    expect(existsSync(`${target()}.part`)).toBe(false);
  });

  it("says so clearly when the connection is refused", async () => {
    const url = `${await closedPortUrl()}/models/tiny.gguf`;
    const error = await failure(downloadModel({ url, destination: target() }));
    expect(error.failure).toBe("network");
    expect(error.message).toBe(
      `Could not download the tutor's model from ${url}: connection refused. Check the network connection, or set TUTOR_MODEL_FILE to a .gguf file you already have.`,
    );
  });

  it("says so clearly when the file cannot be written", async () => {
    writeFileSync(join(dir, "not-a-folder"), "");
    const destination = join(dir, "not-a-folder", "models", "tiny.gguf");
    const error = await failure(downloadModel({ url: server.url, destination }));
    expect(error.failure).toBe("disk");
    expect(error.message).toMatch(/^Could not save the tutor's model to .*ENOTDIR.*set DATA_DIR/);
  });

  it("stops on abort, keeps the part for the next run, and closes the connection", async () => {
    server.plan({ kind: "slow", chunkBytes: 64 * 1024, everyMs: 20 });
    const controller = new AbortController();
    const running = downloadModel({
      url: server.url,
      destination: target(),
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (progress) => {
        if (progress.downloadedBytes >= 256 * 1024) controller.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ name: "AbortError" });
    expect(existsSync(target())).toBe(false);
    expect(existsSync(`${target()}.lock`)).toBe(false);
    const kept = statSync(`${target()}.part`).size;
    expect(kept).toBeGreaterThanOrEqual(256 * 1024);
    await within(
      (async () => {
        while (!server.requests[0]?.closedByClient) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      1_000,
      "the server sees the client leave",
    );
    expect(server.requests[0]?.bytesSent).toBeLessThan(fixtureBytes.length);

    const resumed = await downloadModel({ url: server.url, destination: target(), sha256: fixtureSha });
    expect(resumed.resumedFromBytes).toBe(kept);
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
  });

  it("lets one download of a file run at a time", async () => {
    server.plan({ kind: "slow", chunkBytes: 256 * 1024, everyMs: 20 });
    const first = downloadModel({ url: server.url, destination: target() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await failure(downloadModel({ url: server.url, destination: target() }));
    expect(second.failure).toBe("busy");
    await first;
    expect(readFileSync(target()).equals(fixtureBytes)).toBe(true);
  });

  it("names files by URL: http(s), or hf:<user>/<repo>/<file>.gguf on Hugging Face", () => {
    expect(resolveModelUrl("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf")).toBe(
      "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    );
    expect(resolveModelUrl("hf:me/repo/sub/dir/model.gguf#dev")).toBe(
      "https://huggingface.co/me/repo/resolve/dev/sub/dir/model.gguf",
    );
    expect(modelFileNameOf("https://example.org/m/other.gguf?download=true")).toBe("other.gguf");
    expect(() => modelFileNameOf("hf:me/repo:Q4_K_M")).toThrow(/hf:<user>\/<repo>\/<file>\.gguf/);
    expect(() => modelFileNameOf("https://example.org/")).toThrow(/does not end with a file name/);
    expect(() => resolveModelUrl("ftp://example.org/m.gguf")).toThrow(/not an http\(s\) URL/);
  });

  it("takes over the lock of a process that is gone", async () => {
    const destination = target();
    mkdirSync(dirname(destination), { recursive: true });
    // A pid that cannot be running (above the kernel's limit), on this host.
    writeFileSync(`${destination}.lock`, `4194305 ${hostname()}`);
    await downloadModel({ url: server.url, destination });
    expect(existsSync(`${destination}.lock`)).toBe(false);
  });
});

describe("the progress display", () => {
  const progress = (downloadedBytes: number, finished = false): DownloadProgress => ({
    downloadedBytes,
    totalBytes: 1_117_320_736,
    resumedFromBytes: 0,
    bytesPerSecond: 12_300_000,
    finished,
  });

  it("formats percent, megabytes, rate and time left", () => {
    expect(formatProgress(progress(380_000_000))).toBe("34% · 380.0 / 1117.3 MB · 12.3 MB/s · 1m 00s left");
    expect(formatProgress({ ...progress(5_000_000), totalBytes: undefined })).toBe("5.0 MB so far · 12.3 MB/s");
  });

  it("draws a bar in place on a terminal, on one line however narrow", () => {
    const written: string[] = [];
    const terminal = { isTTY: true, columns: 100, write: (text: string) => written.push(text) };
    const bar = createProgressBar({ label: "Downloading model.gguf", stream: terminal, redrawIntervalMs: 0 });
    bar.update(progress(380_000_000));
    bar.update(progress(1_117_320_736, true));
    bar.finish("Downloaded.");
    // Back to the line's start and clear it, then the line.
    expect(written[0]?.startsWith("\r\u001b[K")).toBe(true);
    expect(written[0]?.slice(4)).toMatch(
      /^Downloading model\.gguf █{7,10}░{17,20} 34% · 380\.0 \/ 1117\.3 MB · 12\.3 MB\/s · 1m 00s left$/,
    );
    expect(written[1]).toMatch(/ █{26,30} 100% · 1117\.3 \/ 1117\.3 MB/);
    expect(written.at(-1)).toBe("\nDownloaded.\n");

    // Narrower: the bar shrinks, then goes; the label is shortened; the time left and the rate go last.
    for (const columns of [80, 60, 40]) {
      written.length = 0;
      terminal.columns = columns;
      createProgressBar({ label: "Downloading qwen2.5-1.5b-instruct-q4_k_m.gguf", stream: terminal }).update(
        progress(380_000_000),
      );
      const line = written[0]?.slice(4) ?? "";
      expect(line.length).toBeLessThanOrEqual(columns - 1);
      expect(line).toContain("34% · 380.0 / 1117.3 MB");
    }
    expect(written[0]?.slice(4)).toBe("34% · 380.0 / 1117.3 MB · 12.3 MB/s");
  });

  it("writes plain lines every few seconds elsewhere", () => {
    const lines: string[] = [];
    const bar = createProgressBar({ label: "Downloading model.gguf", log: (line) => lines.push(line) });
    bar.update(progress(100_000_000));
    bar.update(progress(200_000_000));
    bar.update(progress(1_117_320_736, true));
    bar.finish("Downloaded.");
    expect(lines).toEqual([
      "Downloading model.gguf: 8% · 100.0 / 1117.3 MB · 12.3 MB/s · 1m 23s left",
      "Downloading model.gguf: 100% · 1117.3 / 1117.3 MB · 12.3 MB/s",
      "Downloaded.",
    ]);
  });
});
