import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, statfs } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";

/*
 * Downloads a model file with plain `fetch`. node-llama-cpp's own downloader (`createModelDownloader`,
 * built on ipull) does not fit: it needs the optional engine installed just to download, writes into
 * the final file name when `skipExisting` is on (its default), and retries a refused connection up to
 * 150 times before it gives up, so "the network is down" would take minutes to surface.
 */

/** How a download failed; the message is one sentence saying what happened and what to do. */
export type ModelDownloadFailure =
  /** The server could not be reached, or the connection broke off. Running again resumes. */
  | "network"
  /** The server answered 404 (or 410): the URL names no file. */
  | "not-found"
  /** The server answered with another status that is not a success (401/403, 5xx, …). */
  | "http"
  /** The server offers, or sent, another number of bytes than expected. */
  | "size"
  /** The bytes do not have the expected SHA-256. */
  | "checksum"
  /** The file could not be written (disk full, no permission, read-only). */
  | "disk"
  /** Another process on this machine is downloading the same file. */
  | "busy";

export class ModelDownloadError extends Error {
  readonly failure: ModelDownloadFailure;
  /** The HTTP status, for `not-found` and `http`. */
  readonly status: number | undefined;

  constructor(failure: ModelDownloadFailure, message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.name = "ModelDownloadError";
    this.failure = failure;
    this.status = options?.status;
  }
}

export interface DownloadProgress {
  /** Bytes in the file so far, including those a resumed download started from. */
  downloadedBytes: number;
  /** The whole file's size, when the server said it (or it was expected). */
  totalBytes: number | undefined;
  /** Bytes that were already there when this run started (a resumed `.part` file). */
  resumedFromBytes: number;
  /** Recent download rate (the last few seconds). */
  bytesPerSecond: number;
  /** True on the last report, once every byte is in. */
  finished: boolean;
}

export interface DownloadModelOptions {
  /** An `http(s)://` URL, or `hf:<user>/<repo>/<file>.gguf` (optionally `#<branch>`). */
  url: string;
  /** Where the finished file goes. The download writes `<destination>.part` and renames it at the end. */
  destination: string;
  /** The file's exact size in bytes: a server offering another size is refused before any byte is fetched. */
  expectedBytes?: number;
  /** The file's SHA-256 (hex): checked before the file gets its final name. */
  sha256?: string;
  signal?: AbortSignal;
  /** Called as bytes arrive (at most every `progressIntervalMs`) and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Called once the server has answered and the bytes start to flow. */
  onStart?: (progress: DownloadProgress) => void;
  /** Milliseconds between progress reports. Default 200. */
  progressIntervalMs?: number;
  /** Give up when nothing arrives for this long (no answer, or a stalled transfer). Default 60000. */
  stallTimeoutMs?: number;
}

export interface DownloadResult {
  file: string;
  bytes: number;
  /** Bytes that were already in the `.part` file and were not fetched again. */
  resumedFromBytes: number;
  /** The SHA-256 of the file when one was expected (and matched). */
  sha256: string | undefined;
}

const MB = 1_000_000;
const GB = 1_000_000_000;

/**
 * Downloads `url` to `destination` through `<destination>.part`: the file gets its final name only
 * once every byte is in, its size is right and (when given) its SHA-256 matches, so a crash or an
 * abort never leaves a half file that looks complete. A `.part` left by an earlier run is resumed
 * with a Range request when the server supports it (else fetched again from the start).
 *
 * Rejects with {@link ModelDownloadError} (a sentence saying what went wrong and what to do), or
 * with the signal's reason after an abort; the `.part` file stays for the next run to resume,
 * except when its bytes are known to be wrong (size or checksum).
 */
export async function downloadModel(options: DownloadModelOptions): Promise<DownloadResult> {
  const url = resolveModelUrl(options.url);
  const shown = displayUrl(url);
  const { destination, expectedBytes, signal } = options;
  const part = `${destination}.part`;
  const lock = `${destination}.lock`;
  const expectedSha = options.sha256?.toLowerCase();
  signal?.throwIfAborted();

  await diskStep(destination, () => mkdir(dirname(destination), { recursive: true }));
  await takeLock(lock, destination);
  try {
    return await transfer();
  } finally {
    await releaseLock(lock);
  }

  async function transfer(): Promise<DownloadResult> {
    let offset = await sizeOf(part);
    if (expectedBytes !== undefined && offset > expectedBytes) {
      // Longer than the whole file: not a prefix of it.
      await rm(part, { force: true });
      offset = 0;
    }
    if (expectedBytes !== undefined && offset === expectedBytes) {
      // Complete but never renamed (the process stopped right before): only the checks are left.
      return finish(offset, offset, undefined);
    }

    const stall = new AbortController();
    const stallMs = options.stallTimeoutMs ?? 60_000;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stall.abort(new StallError(stallMs)), stallMs);
    };
    const fetchSignal = signal ? AbortSignal.any([signal, stall.signal]) : stall.signal;
    const aborted = () => signal?.aborted === true;

    armStall();
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { "accept-encoding": "identity", ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
          signal: fetchSignal,
          redirect: "follow",
        });
      } catch (error) {
        if (aborted()) throw signal?.reason;
        throw networkError(error, shown, stall.signal.reason);
      }

      if (response.status === 416 && offset > 0) {
        // The range starts at or past the end: the `.part` may already hold the whole file.
        await response.body?.cancel().catch(() => {});
        const total = totalFromContentRange(response.headers.get("content-range"));
        if (total !== undefined && total === offset && (expectedBytes === undefined || expectedBytes === offset)) {
          clearTimeout(stallTimer);
          return finish(offset, offset, undefined);
        }
        await rm(part, { force: true });
        return transfer();
      }
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel().catch(() => {});
        throw new ModelDownloadError(
          "not-found",
          `Could not download the tutor's model: ${shown} answered ${response.status} (${response.statusText || "Not Found"}), so no file is there. Check TUTOR_MODEL_URL.`,
          { status: response.status },
        );
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        const hint =
          response.status === 401 || response.status === 403
            ? "the server refused access (the file may need an access token, or be gated)"
            : response.status >= 500
              ? "the server has a problem; try again later"
              : "check TUTOR_MODEL_URL";
        throw new ModelDownloadError(
          "http",
          `Could not download the tutor's model: ${shown} answered ${response.status} ${response.statusText}`.trimEnd() +
            `: ${hint}.`,
          { status: response.status },
        );
      }

      const resumed = response.status === 206;
      if (!resumed) offset = 0;
      const length = Number(response.headers.get("content-length") ?? Number.NaN);
      const totalBytes = resumed
        ? (totalFromContentRange(response.headers.get("content-range")) ??
          (Number.isFinite(length) ? offset + length : undefined))
        : Number.isFinite(length)
          ? length
          : undefined;
      if (resumed) {
        const start = startFromContentRange(response.headers.get("content-range"));
        if (start !== undefined && start !== offset) {
          await response.body?.cancel().catch(() => {});
          await rm(part, { force: true });
          return transfer();
        }
      }
      if (expectedBytes !== undefined && totalBytes !== undefined && totalBytes !== expectedBytes) {
        await response.body?.cancel().catch(() => {});
        throw new ModelDownloadError(
          "size",
          `Refused the tutor's model from ${shown}: the server offers ${formatBytes(totalBytes)} (${totalBytes} bytes), ` +
            `but the file should be ${formatBytes(expectedBytes)} (${expectedBytes} bytes). Check TUTOR_MODEL_URL.`,
        );
      }
      await checkFreeSpace(destination, totalBytes === undefined ? undefined : totalBytes - offset);

      const hash = expectedSha ? createHash("sha256") : undefined;
      if (hash && offset > 0) await hashPrefix(part, offset, hash);

      const file = await diskStep(destination, () => open(part, offset > 0 ? "a" : "w"));
      let written = offset;
      const rate = new RateMeter();
      const progressEvery = options.progressIntervalMs ?? 200;
      let lastReport = 0;
      const progress = (finished: boolean): DownloadProgress => ({
        downloadedBytes: written,
        totalBytes,
        resumedFromBytes: offset,
        bytesPerSecond: rate.perSecond(),
        finished,
      });
      try {
        options.onStart?.(progress(false));
        const body = response.body;
        if (body) {
          try {
            // Read with a reader, not `for await`: DOM's ReadableStream type (in projects that load it) is not async-iterable.
            const reader = body.getReader();
            for (;;) {
              const { done, value: chunk } = await reader.read();
              if (done) break;
              armStall();
              await diskStep(destination, () => file.write(chunk));
              hash?.update(chunk);
              written += chunk.byteLength;
              rate.add(chunk.byteLength);
              if (totalBytes !== undefined && written > totalBytes) {
                await reader.cancel().catch(() => {});
                break;
              }
              const now = performance.now();
              if (options.onProgress && now - lastReport >= progressEvery) {
                lastReport = now;
                options.onProgress(progress(false));
              }
            }
          } catch (error) {
            if (error instanceof ModelDownloadError) throw error;
            if (aborted()) throw signal?.reason;
            throw networkError(error, shown, stall.signal.reason, written);
          }
        }
        clearTimeout(stallTimer);
        if (aborted()) throw signal?.reason;
        await diskStep(destination, () => file.sync());
      } finally {
        await file.close().catch(() => {});
      }

      const finalTotal = totalBytes ?? expectedBytes;
      if (finalTotal !== undefined && written !== finalTotal) {
        if (written > finalTotal) await rm(part, { force: true });
        throw new ModelDownloadError(
          written > finalTotal ? "size" : "network",
          written > finalTotal
            ? `Refused the tutor's model from ${shown}: the server sent more than the ${finalTotal} bytes it announced. The partial file was removed; run again.`
            : `The download of the tutor's model from ${shown} ended after ${formatBytes(written)} of ${formatBytes(finalTotal)}. Run again to resume.`,
        );
      }
      options.onProgress?.(progress(true));
      return finish(written, offset, hash);
    } finally {
      clearTimeout(stallTimer);
    }
  }

  async function finish(bytes: number, resumedFromBytes: number, hash: Hash | undefined): Promise<DownloadResult> {
    let sha = hash?.digest("hex");
    if (expectedSha && sha === undefined) {
      const full = createHash("sha256");
      await hashPrefix(part, bytes, full);
      sha = full.digest("hex");
    }
    if (expectedSha && sha !== expectedSha) {
      await rm(part, { force: true });
      throw new ModelDownloadError(
        "checksum",
        `Refused the tutor's model from ${shown}: its SHA-256 is ${sha}, not the expected ${expectedSha}. ` +
          "The file was removed; run again, and if it happens again, the file on the server has changed (check TUTOR_MODEL_URL).",
      );
    }
    await diskStep(destination, () => rename(part, destination));
    return { file: destination, bytes, resumedFromBytes, sha256: sha };
  }
}

/** The URL to fetch: `hf:<user>/<repo>/<path>.gguf#<branch>` becomes Hugging Face's `resolve` URL. */
export function resolveModelUrl(url: string): string {
  if (!url.startsWith("hf:")) {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new ModelDownloadError(
        "not-found",
        `The model URL "${url}" is not an http(s) URL nor hf:<user>/<repo>/<file>.gguf.`,
      );
    }
    return parsed.href;
  }
  const [path = "", branch = "main"] = url.slice(3).replace(/^\/+/, "").split("#");
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.length < 3 || !/\.gguf$/i.test(segments.at(-1) ?? "")) {
    throw new ModelDownloadError(
      "not-found",
      `"${url}" does not name a file: write hf:<user>/<repo>/<file>.gguf (for example hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf).`,
    );
  }
  const [user, repo, ...file] = segments.map(encodeURIComponent);
  return `https://huggingface.co/${user}/${repo}/resolve/${encodeURIComponent(branch)}/${file.join("/")}`;
}

/** The file name a model URL ends with (what the file is saved as). */
export function modelFileNameOf(url: string): string {
  const resolved = new URL(resolveModelUrl(url));
  const name = decodeURIComponent(resolved.pathname.split("/").at(-1) ?? "");
  if (name === "" || name === "." || name === ".." || /[\\/]/.test(name)) {
    throw new ModelDownloadError(
      "not-found",
      `The model URL ${displayUrl(resolved.href)} does not end with a file name (…/<name>.gguf).`,
    );
  }
  return name;
}

/** A URL fit for messages and logs: no credentials, no query (it may carry a token). */
export function displayUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Bytes in decimal units, as download sites show them: "1.12 GB", "380.2 MB". */
export function formatBytes(bytes: number): string {
  if (bytes >= GB) return `${(bytes / GB).toFixed(2)} GB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes >= 1000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${bytes} B`;
}

class StallError extends Error {
  constructor(readonly ms: number) {
    super(`nothing arrived for ${Math.round(ms / 1000)} s`);
  }
}

/** The rate over the last few seconds. */
class RateMeter {
  private readonly samples: Array<{ at: number; bytes: number }> = [];
  private readonly windowMs = 5_000;

  add(bytes: number): void {
    const now = performance.now();
    this.samples.push({ at: now, bytes });
    while (this.samples.length > 1 && now - (this.samples[0]?.at ?? now) > this.windowMs) this.samples.shift();
  }

  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 50) return 0;
    const bytes = this.samples.reduce((sum, sample) => sum + sample.bytes, 0) - first.bytes;
    return (bytes * 1000) / (last.at - first.at);
  }
}

function networkError(error: unknown, shown: string, stallReason: unknown, written?: number): ModelDownloadError {
  const resume = "Run again to resume (the part already downloaded is kept).";
  if (stallReason instanceof StallError) {
    return new ModelDownloadError(
      "network",
      `The download of the tutor's model from ${shown} stalled: ${stallReason.message}. ${resume}`,
      { cause: error },
    );
  }
  const code = errorCode(error);
  const host = URL.canParse(shown) ? new URL(shown).host : shown;
  let what: string;
  switch (code) {
    case "ECONNREFUSED":
      what = "connection refused";
      break;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      what = `the host ${host} was not found (no network, or a DNS problem)`;
      break;
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      what = `${host} cannot be reached (${code})`;
      break;
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
    case "EPIPE":
      what = "the connection broke off";
      break;
    default:
      what = describe(error);
  }
  if (written !== undefined) {
    return new ModelDownloadError(
      "network",
      `The download of the tutor's model from ${shown} broke off after ${formatBytes(written)}: ${what}. ${resume}`,
      { cause: error },
    );
  }
  return new ModelDownloadError(
    "network",
    `Could not download the tutor's model from ${shown}: ${what}. Check the network connection, or set TUTOR_MODEL_FILE to a .gguf file you already have.`,
    { cause: error },
  );
}

function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause instanceof Error && message === "fetch failed" ? cause.message : message;
}

/** Runs a file-system step, turning its failure into a sentence about the disk. */
async function diskStep<T>(destination: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw diskError(error, destination);
  }
}

function diskError(error: unknown, destination: string): ModelDownloadError {
  const code = errorCode(error);
  const folder = dirname(destination);
  const what =
    code === "ENOSPC" || code === "EDQUOT"
      ? "the disk is full"
      : code === "EACCES" || code === "EPERM"
        ? `no permission to write in ${folder}`
        : code === "EROFS"
          ? `${folder} is on a read-only file system`
          : describe(error);
  return new ModelDownloadError(
    "disk",
    `Could not save the tutor's model to ${destination}: ${what}${code && !what.includes(code) ? ` (${code})` : ""}. ` +
      "Free some space, or set DATA_DIR to a folder on a disk with room.",
    { cause: error },
  );
}

async function checkFreeSpace(destination: string, needed: number | undefined): Promise<void> {
  if (needed === undefined || needed <= 0) return;
  let free: number;
  try {
    const info = await statfs(dirname(destination));
    free = info.bavail * info.bsize;
  } catch {
    return;
  }
  if (free < needed) {
    throw new ModelDownloadError(
      "disk",
      `Could not save the tutor's model to ${destination}: it needs ${formatBytes(needed)} more, and only ${formatBytes(free)} is free there. ` +
        "Free some space, or set DATA_DIR to a folder on a disk with room.",
    );
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : 0;
  } catch {
    return 0;
  }
}

async function hashPrefix(file: string, bytes: number, hash: Hash): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
}

function totalFromContentRange(header: string | null): number | undefined {
  const match = header ? /\/(\d+)\s*$/.exec(header) : null;
  return match ? Number(match[1]) : undefined;
}

function startFromContentRange(header: string | null): number | undefined {
  const match = header ? /^bytes\s+(\d+)-/.exec(header) : null;
  return match ? Number(match[1]) : undefined;
}

/** Locks this process holds (a lock file naming this process but not in here is left from an earlier run). */
const heldLocks = new Set<string>();

/**
 * One download of a file at a time: `<destination>.lock` names the process (id and host) downloading
 * it. A lock whose process is gone (a crash) is taken over, and so is one from another host (a
 * container that shared the folder and is gone now: its process cannot be checked from here).
 */
async function takeLock(lock: string, destination: string): Promise<void> {
  const me = `${process.pid} ${hostname()}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lock, "wx");
      try {
        await handle.writeFile(me);
      } finally {
        await handle.close();
      }
      heldLocks.add(lock);
      return;
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw diskError(error, destination);
    }
    const [pidText = "", host = ""] = (await readFile(lock, "utf8").catch(() => "")).trim().split(" ");
    const pid = Number.parseInt(pidText, 10);
    const held =
      host === hostname() &&
      Number.isInteger(pid) &&
      pid > 0 &&
      (pid === process.pid ? heldLocks.has(lock) : isAlive(pid));
    if (held) {
      throw new ModelDownloadError(
        "busy",
        `${pid === process.pid ? "This process" : `Another process (pid ${pid})`} is downloading ${destination} right now; ` +
          `wait for it to finish (if none is, remove ${lock}).`,
      );
    }
    await rm(lock, { force: true });
  }
  throw new ModelDownloadError(
    "busy",
    `Could not take the download lock ${lock}; remove it if no download is running.`,
  );
}

async function releaseLock(lock: string): Promise<void> {
  heldLocks.delete(lock);
  await rm(lock, { force: true }).catch(() => {});
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM";
  }
}
