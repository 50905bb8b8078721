import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import {
  createDownloadingEmbeddedProvider,
  defaultModel,
  defaultModelLocation,
  ensureModelFile,
  type ModelDownload,
} from "./default-model";
import {
  createEmbeddedProvider,
  type EmbeddedProviderOptions,
  engineInstallCommand,
  enginePackage,
  isEngineInstalled,
} from "./embedded";
import { label, ProviderUnavailableError } from "./errors";
import { formatBytes, ModelDownloadError } from "./model-download";
import { createOllamaProvider, defaultOllamaUrl } from "./ollama";
import { createOpenAIProvider } from "./openai";
import { type ChatProvider, defaultHttpTimeouts, type HttpTimeouts, type ProviderKind } from "./types";

/**
 * The tutor's settings, named as in the environment (`@plauder/runtime`'s `getEnv()` result fits
 * as it is). Unset ones take the defaults documented in docs/tutor.md.
 */
export interface TutorSettings {
  TUTOR_PROVIDER?: "auto" | ProviderKind;
  OLLAMA_URL?: string;
  OLLAMA_MODEL?: string;
  OPENAI_BASE_URL?: string;
  OPENAI_API_KEY?: string;
  OPENAI_MODEL?: string;
  TUTOR_MODEL_FILE?: string;
  /** Where the embedded engine's model is downloaded from when TUTOR_MODEL_FILE is unset. */
  TUTOR_MODEL_URL?: string;
  /** The downloaded model goes to `${DATA_DIR}/models/` (relative to the working directory). */
  DATA_DIR?: string;
  TUTOR_ENGINE_THREADS?: number;
  TUTOR_ENGINE_CONTEXT_SIZE?: number;
  TUTOR_FIRST_BYTE_TIMEOUT_MS?: number;
  TUTOR_STALL_TIMEOUT_MS?: number;
  TUTOR_HEALTH_TIMEOUT_MS?: number;
}

export const defaultOllamaModel = "qwen2.5:3b";

export interface SelectedProvider {
  provider: ChatProvider;
  /** The model to ask for in `chat`. */
  model: string;
  /** Why this provider, in one sentence for the start-up log. */
  reason: string;
  /**
   * Set when the embedded engine's model is still downloading (its first use): the provider answers
   * "The tutor's model is downloading: 34% …" until it is complete. Show it with `showDownloadProgress`.
   */
  download?: ModelDownload;
}

/** No provider could be used; the message lists what was tried and how to fix each. */
export class NoProviderError extends Error {
  readonly attempts: ReadonlyArray<{ kind: ProviderKind; reason: string }>;

  constructor(attempts: Array<{ kind: ProviderKind; reason: string }>) {
    super(
      [
        "The tutor has no model to talk to:",
        ...attempts.map((attempt) => `  - ${label(attempt.kind)}: ${attempt.reason}`),
        "Start Ollama (`ollama serve`, then `ollama pull <model>`), or install the embedded engine " +
          `(\`${engineInstallCommand}\`): it downloads its default model (${defaultModel.name}, ` +
          `${formatBytes(defaultModel.bytes)}) into DATA_DIR on first use, or uses the .gguf file TUTOR_MODEL_FILE names. ` +
          "See docs/tutor.md.",
      ].join("\n"),
    );
    this.name = "NoProviderError";
    this.attempts = attempts;
  }
}

export interface SelectOptions {
  signal?: AbortSignal;
  /** Loads the engine module (tests replace it). */
  importEngine?: () => Promise<unknown>;
}

/**
 * Picks the provider the settings ask for. `auto` (the default) takes Ollama when it answers at
 * OLLAMA_URL, else the embedded engine when it is installed (with TUTOR_MODEL_FILE, else its
 * default model in DATA_DIR/models, downloaded on first use), else throws {@link NoProviderError}.
 * OpenAI-compatible servers are used only when asked for by name.
 *
 * A first-use download does not hold up the caller: once the server has answered (or
 * TUTOR_HEALTH_TIMEOUT_MS has passed) the embedded provider is returned with `download` set, and it
 * says how far the download is until the model is there. A download that fails at once (no
 * network, 404) makes the engine's attempt fail with that sentence.
 */
export async function selectProvider(settings: TutorSettings, options: SelectOptions = {}): Promise<SelectedProvider> {
  const timeouts: HttpTimeouts = {
    firstByteMs: settings.TUTOR_FIRST_BYTE_TIMEOUT_MS ?? defaultHttpTimeouts.firstByteMs,
    stallMs: settings.TUTOR_STALL_TIMEOUT_MS ?? defaultHttpTimeouts.stallMs,
    requestMs: settings.TUTOR_HEALTH_TIMEOUT_MS ?? defaultHttpTimeouts.requestMs,
  };
  const ollamaUrl = settings.OLLAMA_URL ?? defaultOllamaUrl;
  const ollamaModel = settings.OLLAMA_MODEL ?? defaultOllamaModel;
  const engineOptions: Omit<EmbeddedProviderOptions, "modelFile"> = {
    ...(settings.TUTOR_ENGINE_CONTEXT_SIZE !== undefined ? { contextSize: settings.TUTOR_ENGINE_CONTEXT_SIZE } : {}),
    ...(settings.TUTOR_ENGINE_THREADS !== undefined ? { threads: settings.TUTOR_ENGINE_THREADS } : {}),
    ...(options.importEngine ? { importEngine: options.importEngine } : {}),
  };
  const embedded = async (
    modelFile: string,
    why = `the embedded engine with ${modelFile}`,
  ): Promise<SelectedProvider> => {
    const provider = await createEmbeddedProvider({ ...engineOptions, modelFile });
    const [info] = await provider.listModels();
    return { provider, model: info?.name ?? modelFile, reason: why };
  };
  /** The engine (installed) with its default model: there, or downloading from now on. */
  const withDefaultModel = async (): Promise<SelectedProvider> => {
    const location = defaultModelLocation(settings);
    const name = basename(location.file).replace(/\.gguf$/i, "");
    if (await isFile(location.file)) {
      return embedded(location.file, `the embedded engine with its model ${location.file}`);
    }
    const ensure = () => ensureModelFile(location);
    const download = ensure();
    await waitForStart(download, timeouts.requestMs);
    return {
      provider: createDownloadingEmbeddedProvider(download, engineOptions, ensure),
      model: name,
      reason: `the embedded engine with ${name}, downloading into ${dirname(location.file)} on its first use`,
      download,
    };
  };

  switch (settings.TUTOR_PROVIDER ?? "auto") {
    case "ollama":
      return {
        provider: createOllamaProvider({ baseUrl: ollamaUrl, timeouts }),
        model: ollamaModel,
        reason: `TUTOR_PROVIDER=ollama at ${ollamaUrl}`,
      };
    case "openai": {
      if (!settings.OPENAI_BASE_URL || !settings.OPENAI_MODEL) {
        throw new ProviderUnavailableError("openai", "TUTOR_PROVIDER=openai needs OPENAI_BASE_URL and OPENAI_MODEL.");
      }
      return {
        provider: createOpenAIProvider({
          baseUrl: settings.OPENAI_BASE_URL,
          ...(settings.OPENAI_API_KEY ? { apiKey: settings.OPENAI_API_KEY } : {}),
          timeouts,
        }),
        model: settings.OPENAI_MODEL,
        reason: `TUTOR_PROVIDER=openai at ${settings.OPENAI_BASE_URL}`,
      };
    }
    case "embedded":
      if (settings.TUTOR_MODEL_FILE) return embedded(settings.TUTOR_MODEL_FILE);
      if (!(await isEngineInstalled(options.importEngine))) {
        throw new ProviderUnavailableError(
          "embedded",
          `The embedded engine (${enginePackage}) is not installed. Install it with: ${engineInstallCommand}`,
        );
      }
      try {
        return await withDefaultModel();
      } catch (error) {
        if (error instanceof ModelDownloadError) {
          throw new ProviderUnavailableError("embedded", error.message, { cause: error });
        }
        throw error;
      }
    case "auto": {
      const attempts: Array<{ kind: ProviderKind; reason: string }> = [];
      const ollama = createOllamaProvider({ baseUrl: ollamaUrl, timeouts });
      const health = await ollama.health(options.signal);
      if (health.ok) return { provider: ollama, model: ollamaModel, reason: `Ollama answers at ${ollamaUrl}` };
      attempts.push({ kind: "ollama", reason: health.reason });
      if (settings.TUTOR_MODEL_FILE) {
        try {
          return await embedded(settings.TUTOR_MODEL_FILE);
        } catch (error) {
          attempts.push({ kind: "embedded", reason: error instanceof Error ? error.message : String(error) });
        }
      } else if (await isEngineInstalled(options.importEngine)) {
        try {
          return await withDefaultModel();
        } catch (error) {
          attempts.push({ kind: "embedded", reason: error instanceof Error ? error.message : String(error) });
        }
      } else {
        attempts.push({ kind: "embedded", reason: `not installed (${engineInstallCommand}).` });
      }
      throw new NoProviderError(attempts);
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Waits until the download is under way (or `ms` pass: a slow server is not a failure); a
 * download that fails before that throws its error.
 */
async function waitForStart(download: ModelDownload, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const patience = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([download.started, patience]);
  } finally {
    clearTimeout(timer);
  }
}
