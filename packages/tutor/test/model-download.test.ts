import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createProgressBar,
  type DownloadProgress,
  downloadModel,
  formatProgress,
  ModelDownloadError,
  modelFileNameOf,
  resolveModelUrl,
} from "../src";
import { closedPortUrl } from "../src/testing";
import { within } from "./helpers";
import { serveTestModel, startModelServer } from "./model-server";

const model = serveTestModel();

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
      url: model.server.url,
      destination: model.target(),
      expectedBytes: model.bytes.length,
      sha256: model.sha256,
      onStart: (progress) => {
        startedWith = progress;
      },
      onProgress: (progress) => reports.push(progress),
      progressIntervalMs: 0,
    });
    expect(result).toEqual({
      file: model.target(),
      bytes: model.bytes.length,
      resumedFromBytes: 0,
      sha256: model.sha256,
    });
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
    expect(existsSync(`${model.target()}.part`)).toBe(false);
    expect(existsSync(`${model.target()}.lock`)).toBe(false);
    expect(startedWith).toMatchObject({ downloadedBytes: 0, totalBytes: model.bytes.length });
    expect(reports.length).toBeGreaterThan(1);
    const sizes = reports.map((report) => report.downloadedBytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(reports.at(-1)).toMatchObject({ downloadedBytes: model.bytes.length, finished: true });
    expect(model.server.requests).toMatchObject([{ status: 200, range: undefined }]);
  });

  it("resumes after a broken connection with a Range request and ends with the right bytes", async () => {
    model.server.plan({ kind: "cut", afterBytes: 600_000 });
    const first = await failure(
      downloadModel({ url: model.server.url, destination: model.target(), sha256: model.sha256 }),
    );
    expect(first.failure).toBe("network");
    expect(first.message).toMatch(/broke off after .*Run again to resume/);
    // A crash or a cut never leaves a file under the final name.
    expect(existsSync(model.target())).toBe(false);
    const kept = statSync(`${model.target()}.part`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(600_000);

    const second = await downloadModel({ url: model.server.url, destination: model.target(), sha256: model.sha256 });
    expect(second.resumedFromBytes).toBe(kept);
    expect(model.server.requests[1]).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(model.server.requests[1]?.bytesSent).toBe(model.bytes.length - kept);
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
    expect(existsSync(`${model.target()}.part`)).toBe(false);
  });

  it("starts again from the beginning when the server does not do ranges", async () => {
    const plain = await startModelServer(model.file, { ranges: false });
    try {
      plain.plan({ kind: "cut", afterBytes: 300_000 });
      await failure(downloadModel({ url: plain.url, destination: model.target() }));
      const result = await downloadModel({ url: plain.url, destination: model.target(), sha256: model.sha256 });
      expect(result.resumedFromBytes).toBe(0);
      expect(plain.requests[1]).toMatchObject({ status: 200 });
      expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  it("finishes a complete .part file that never got its name, without fetching it again", async () => {
    mkdirSync(dirname(model.target()), { recursive: true });
    writeFileSync(`${model.target()}.part`, model.bytes);
    const result = await downloadModel({
      url: model.server.url,
      destination: model.target(),
      expectedBytes: model.bytes.length,
      sha256: model.sha256,
    });
    expect(result).toMatchObject({ bytes: model.bytes.length, resumedFromBytes: model.bytes.length });
    expect(model.server.requests).toHaveLength(0);
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
    // Without the size known beforehand, the server's 416 says the part is whole.
    rmSync(model.target());
    writeFileSync(`${model.target()}.part`, model.bytes);
    await downloadModel({ url: model.server.url, destination: model.target(), sha256: model.sha256 });
    expect(model.server.requests).toMatchObject([{ status: 416 }]);
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
  });

  it("refuses a file of another size before fetching it", async () => {
    const error = await failure(
      downloadModel({ url: model.server.url, destination: model.target(), expectedBytes: model.bytes.length + 1 }),
    );
    expect(error.failure).toBe("size");
    expect(error.message).toContain(`offers 1.8 MB (${model.bytes.length} bytes)`);
    expect(error.message).toContain(`(${model.bytes.length + 1} bytes)`);
    expect(existsSync(model.target())).toBe(false);
    expect(existsSync(`${model.target()}.part`)).toBe(false);
  });

  it("refuses bytes with the wrong SHA-256 and removes them", async () => {
    const error = await failure(
      downloadModel({ url: model.server.url, destination: model.target(), sha256: "0".repeat(64) }),
    );
    expect(error.failure).toBe("checksum");
    expect(error.message).toContain(`its SHA-256 is ${model.sha256}`);
    expect(existsSync(model.target())).toBe(false);
    expect(existsSync(`${model.target()}.part`)).toBe(false);
  });

  it("says so clearly when the server has no such file (404)", async () => {
    const error = await failure(downloadModel({ url: `${model.server.url}.missing`, destination: model.target() }));
    expect(error.failure).toBe("not-found");
    expect(error.status).toBe(404);
    expect(error.message).toBe(
      `Could not download the tutor's model: ${model.server.url}.missing answered 404 (Not Found), so no file is there. Check TUTOR_MODEL_URL.`,
    );
    expect(existsSync(`${model.target()}.part`)).toBe(false);
  });

  it("says so clearly when the connection is refused", async () => {
    const url = `${await closedPortUrl()}/models/tiny.gguf`;
    const error = await failure(downloadModel({ url, destination: model.target() }));
    expect(error.failure).toBe("network");
    expect(error.message).toBe(
      `Could not download the tutor's model from ${url}: connection refused. Check the network connection, or set TUTOR_MODEL_FILE to a .gguf file you already have.`,
    );
  });

  it("says so clearly when the file cannot be written", async () => {
    writeFileSync(join(model.dir, "not-a-folder"), "");
    const destination = join(model.dir, "not-a-folder", "models", "tiny.gguf");
    const error = await failure(downloadModel({ url: model.server.url, destination }));
    expect(error.failure).toBe("disk");
    expect(error.message).toMatch(/^Could not save the tutor's model to .*ENOTDIR.*set DATA_DIR/);
  });

  it("stops on abort, keeps the part for the next run, and closes the connection", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 64 * 1024, everyMs: 20 });
    const controller = new AbortController();
    const running = downloadModel({
      url: model.server.url,
      destination: model.target(),
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (progress) => {
        if (progress.downloadedBytes >= 256 * 1024) controller.abort();
      },
    });
    await expect(running).rejects.toMatchObject({ name: "AbortError" });
    expect(existsSync(model.target())).toBe(false);
    expect(existsSync(`${model.target()}.lock`)).toBe(false);
    const kept = statSync(`${model.target()}.part`).size;
    expect(kept).toBeGreaterThanOrEqual(256 * 1024);
    await within(
      (async () => {
        while (!model.server.requests[0]?.closedByClient) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      1_000,
      "the server sees the client leave",
    );
    expect(model.server.requests[0]?.bytesSent).toBeLessThan(model.bytes.length);

    const resumed = await downloadModel({ url: model.server.url, destination: model.target(), sha256: model.sha256 });
    expect(resumed.resumedFromBytes).toBe(kept);
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
  });

  it("lets one download of a file run at a time", async () => {
    model.server.plan({ kind: "slow", chunkBytes: 256 * 1024, everyMs: 20 });
    const first = downloadModel({ url: model.server.url, destination: model.target() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await failure(downloadModel({ url: model.server.url, destination: model.target() }));
    expect(second.failure).toBe("busy");
    await first;
    expect(readFileSync(model.target()).equals(model.bytes)).toBe(true);
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
    const destination = model.target();
    mkdirSync(dirname(destination), { recursive: true });
    // A pid that cannot be running (above the kernel's limit), on this host.
    writeFileSync(`${destination}.lock`, `4194305 ${hostname()}`);
    await downloadModel({ url: model.server.url, destination });
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
