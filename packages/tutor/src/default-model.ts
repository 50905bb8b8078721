import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import {
  createProgressBar,
  formatDuration,
  formatProgress,
  type ProgressOutput,
  percentOf,
  progressParts,
} from "./download-progress";
import { createEmbeddedProvider, type EmbeddedProviderOptions } from "./embedded";
import { ProviderUnavailableError } from "./errors";
import {
  type DownloadProgress,
  displayUrl,
  downloadModel,
  formatBytes,
  modelFileNameOf,
  resolveModelUrl,
} from "./model-download";
import type { ChatChunk, ChatProvider, ChatRequest, ModelInfo, ProviderHealth } from "./types";

/**
 * The embedded engine's default model: small enough for a laptop's CPU, multilingual, and it
 * speaks German. Apache-2.0, by the Qwen team (Alibaba Cloud); the official GGUF build.
 */
export const defaultModel = {
  name: "Qwen2.5 1.5B Instruct, GGUF Q4_K_M",
  url: "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf",
  fileName: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
  /** 1.12 GB. */
  bytes: 1_117_320_736,
  /** As Hugging Face lists it for the file (repository commit 91cad51170dc346986eccefdc2dd33a9da36ead9). */
  sha256: "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
  licence: "Apache-2.0",
  author: "the Qwen team, Alibaba Cloud",
} as const;

/** The settings that say where the default model comes from and where it goes. */
export interface ModelSettings {
  /** Relative paths are taken from the working directory, as for the other files in it. Default `.data`. */
  DATA_DIR?: string;
  /** Default {@link defaultModel}'s URL. */
  TUTOR_MODEL_URL?: string;
}

export interface ModelLocation {
  /** The URL as set (http(s) or `hf:`). */
  url: string;
  /** `${DATA_DIR}/models/<the URL's file name>`, absolute. */
  file: string;
  /** Known for the default model only; other URLs are checked against the size the server announces. */
  expectedBytes?: number;
  sha256?: string;
}

/** Where the default model (or the one TUTOR_MODEL_URL names) is downloaded from and to. */
export function defaultModelLocation(settings: ModelSettings): ModelLocation {
  const url = settings.TUTOR_MODEL_URL ?? defaultModel.url;
  const file = resolve(settings.DATA_DIR ?? ".data", "models", modelFileNameOf(url));
  const isDefault = resolveModelUrl(url) === defaultModel.url;
  return isDefault ? { url, file, expectedBytes: defaultModel.bytes, sha256: defaultModel.sha256 } : { url, file };
}

export type ModelDownloadState =
  /** `progress` is undefined until the server has answered. */
  | { phase: "downloading"; progress: DownloadProgress | undefined }
  | { phase: "ready" }
  | { phase: "failed"; error: Error };

/** A model file being made available: already there, downloading, or failed. */
export interface ModelDownload {
  readonly url: string;
  readonly file: string;
  readonly state: ModelDownloadState;
  /** Resolves once the server has answered and bytes flow (at once when the file is there); rejects like `done` when it fails before. */
  readonly started: Promise<void>;
  /** Resolves with the file once it is complete and checked; rejects with a ModelDownloadError, or the reason given to `cancel`. */
  readonly done: Promise<string>;
  /** Calls `listener` as bytes arrive; returns the function that stops it. */
  onProgress(listener: (progress: DownloadProgress) => void): () => void;
  /** One sentence for people: "The tutor's model is downloading: 34% (380.2 / 1117.3 MB, 12.3 MB/s)." */
  describe(): string;
  /** Stops the download; the `.part` file stays, and the next download resumes it. */
  cancel(reason?: unknown): void;
}

const downloads = new Map<string, ModelDownload>();

export interface EnsureModelOptions {
  /** Give up when nothing arrives for this long. Default 60000. */
  stallTimeoutMs?: number;
}

/**
 * The model file at `location`: there already, or fetched now in the background (resuming an
 * earlier `.part`). One download per file in this process: a second call while it runs gets the
 * same object; a call after a failure starts again.
 */
export function ensureModelFile(location: ModelLocation, options: EnsureModelOptions = {}): ModelDownload {
  const running = downloads.get(location.file);
  if (running && running.state.phase === "downloading") return running;
  const download = existsSync(location.file) ? readyDownload(location) : startDownload(location, options);
  downloads.set(location.file, download);
  return download;
}

/** {@link ensureModelFile} for the default model (or the one TUTOR_MODEL_URL names) in DATA_DIR/models. */
export function ensureDefaultModel(settings: ModelSettings, options: EnsureModelOptions = {}): ModelDownload {
  return ensureModelFile(defaultModelLocation(settings), options);
}

function readyDownload(location: ModelLocation): ModelDownload {
  return {
    url: location.url,
    file: location.file,
    state: { phase: "ready" },
    started: Promise.resolve(),
    done: Promise.resolve(location.file),
    onProgress: () => () => {},
    describe: () => `The tutor's model is ready (${location.file}).`,
    cancel: () => {},
  };
}

function startDownload(location: ModelLocation, options: EnsureModelOptions): ModelDownload {
  const controller = new AbortController();
  const listeners = new Set<(progress: DownloadProgress) => void>();
  let state: ModelDownloadState = { phase: "downloading", progress: undefined };
  let markStarted: () => void = () => {};
  let failStart: (error: unknown) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStart = reject;
  });
  const report = (progress: DownloadProgress) => {
    state = { phase: "downloading", progress };
    for (const listener of listeners) listener(progress);
  };
  const done = downloadModel({
    url: location.url,
    destination: location.file,
    ...(location.expectedBytes !== undefined ? { expectedBytes: location.expectedBytes } : {}),
    ...(location.sha256 !== undefined ? { sha256: location.sha256 } : {}),
    ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
    signal: controller.signal,
    onStart: (progress) => {
      report(progress);
      markStarted();
    },
    onProgress: report,
  }).then(
    (result) => {
      state = { phase: "ready" };
      markStarted();
      return result.file;
    },
    (error: unknown) => {
      state = { phase: "failed", error: error instanceof Error ? error : new Error(String(error)) };
      failStart(error);
      throw error;
    },
  );
  // Nobody may be waiting: a failure is kept in `state`, never an unhandled rejection.
  done.catch(() => {});
  started.catch(() => {});

  return {
    url: location.url,
    file: location.file,
    get state() {
      return state;
    },
    started,
    done,
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    describe() {
      return describeState(state, location.file);
    },
    cancel(reason) {
      controller.abort(reason);
    },
  };
}

function describeState(state: ModelDownloadState, file: string): string {
  switch (state.phase) {
    case "ready":
      return `The tutor's model is ready (${file}).`;
    case "failed":
      return state.error.message;
    case "downloading": {
      const progress = state.progress;
      if (!progress) return `The tutor's model (${basename(file)}) is starting to download.`;
      if (progress.totalBytes === undefined) {
        return `The tutor's model is downloading: ${formatProgress(progress)}.`;
      }
      return `The tutor's model is downloading: ${percentOf(progress)}% (${progressParts(progress).slice(1).join(", ")}).`;
    }
  }
}

export interface ShowProgressOptions {
  /** Default `process.stderr`: a bar on a terminal, plain lines every few seconds elsewhere. */
  stream?: ProgressOutput;
  /** Plain lines go here when `stream` is not a terminal (a logger's `info`, say). */
  log?: (line: string) => void;
  /** Milliseconds between plain lines. Default 5000. */
  lineIntervalMs?: number;
}

/**
 * Shows a download's progress until it ends, then one line saying how it ended. Returns the
 * function that stops showing it (the download goes on).
 */
export function showDownloadProgress(download: ModelDownload, options: ShowProgressOptions = {}): () => void {
  if (download.state.phase !== "downloading") return () => {};
  const bar = createProgressBar({
    label: `Downloading ${basename(download.file)}`,
    ...(options.stream ? { stream: options.stream } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.lineIntervalMs !== undefined ? { lineIntervalMs: options.lineIntervalMs } : {}),
  });
  const startedAt = performance.now();
  let stopped = false;
  const stop = download.onProgress((progress) => bar.update(progress));
  download.done.then(
    (file) => {
      if (stopped) return;
      stop();
      bar.finish(`Downloaded ${file} in ${formatDuration(performance.now() - startedAt)}.`);
    },
    (error: unknown) => {
      if (stopped) return;
      stop();
      bar.finish(error instanceof Error ? error.message : String(error));
    },
  );
  return () => {
    stopped = true;
    stop();
  };
}

/**
 * The embedded engine with a model that is still downloading. Until the file is complete, `chat`
 * and `listModels` throw ProviderUnavailableError and `health` says how far the download is
 * ("The tutor's model is downloading: 34% …"); nothing waits for it. Once it is, the engine loads the
 * model in the background and the provider behaves like `createEmbeddedProvider`'s. After a failed
 * download, the next `chat` starts it again (resuming the part already fetched).
 */
export function createDownloadingEmbeddedProvider(
  first: ModelDownload,
  engineOptions: Omit<EmbeddedProviderOptions, "modelFile">,
  restart: () => ModelDownload = () => first,
): ChatProvider {
  let download = first;
  let loading: Promise<ChatProvider> | undefined;
  let loaded: ChatProvider | undefined;
  let loadError: unknown;
  let closed = false;
  const name = basename(first.file).replace(/\.gguf$/i, "");

  const load = (file: string): Promise<ChatProvider> => {
    if (!loading) {
      loading = createEmbeddedProvider({ ...engineOptions, modelFile: file });
      loading.then(
        async (provider) => {
          if (closed) await provider.close().catch(() => {});
          else loaded = provider;
        },
        (error: unknown) => {
          loadError = error;
        },
      );
    }
    return loading;
  };
  // Load the engine as soon as the file is complete, so the first conversation does not wait for it.
  const follow = (current: ModelDownload) => {
    current.done.then(
      (file) => {
        if (!closed && current === download) load(file).catch(() => {});
      },
      () => {},
    );
  };
  follow(download);

  const notReady = (): ProviderUnavailableError | undefined => {
    if (closed) return new ProviderUnavailableError("embedded", "The embedded engine has been closed.");
    const state = download.state;
    if (state.phase === "downloading") return new ProviderUnavailableError("embedded", download.describe());
    if (state.phase === "failed") {
      return new ProviderUnavailableError("embedded", state.error.message, { cause: state.error });
    }
    return undefined;
  };

  const provider = async (): Promise<ChatProvider> => {
    const problem = notReady();
    if (problem) {
      if (download.state.phase === "failed" && !closed) {
        download = restart();
        follow(download);
        const again = download.state.phase === "downloading" ? ` Downloading it again: ${download.describe()}` : "";
        throw new ProviderUnavailableError("embedded", `${problem.message}${again}`, { cause: problem.cause });
      }
      throw problem;
    }
    // The file is complete: the engine loads it in seconds; wait for that.
    return loaded ?? load(download.file);
  };

  return {
    kind: "embedded",

    async *chat(request: ChatRequest): AsyncGenerator<ChatChunk, void, undefined> {
      request.signal.throwIfAborted();
      const engine = await provider();
      yield* engine.chat(request);
    },

    async listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
      const problem = notReady();
      if (problem) throw problem;
      return (await provider()).listModels(signal);
    },

    async health(signal?: AbortSignal): Promise<ProviderHealth> {
      const problem = notReady();
      if (problem) return { ok: false, kind: "embedded", reason: problem.message };
      if (loaded) return loaded.health(signal);
      if (loadError !== undefined) {
        const message = loadError instanceof Error ? loadError.message : String(loadError);
        return { ok: false, kind: "embedded", reason: message };
      }
      return { ok: false, kind: "embedded", reason: `The embedded engine is loading ${name} (downloaded).` };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (download.state.phase === "downloading") {
        download.cancel(new ProviderUnavailableError("embedded", "The embedded engine has been closed."));
      }
      const engine = loaded ?? (await loading?.catch(() => undefined));
      await engine?.close();
    },
  };
}

/** One line for start-up logs: where the model comes from, how big it is. */
export function describeModelSource(location: ModelLocation): string {
  const size = location.expectedBytes !== undefined ? ` (${formatBytes(location.expectedBytes)})` : "";
  return `${displayUrl(resolveModelUrl(location.url))}${size} into ${location.file}`;
}
