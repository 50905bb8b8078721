import { createEmbeddedProvider, engineInstallCommand, isEngineInstalled } from "./embedded";
import { label, ProviderUnavailableError } from "./errors";
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
          `(\`${engineInstallCommand}\`) and set TUTOR_MODEL_FILE to a .gguf file. See docs/tutor.md.`,
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
 * OLLAMA_URL, else the embedded engine when it is installed and TUTOR_MODEL_FILE is set, else
 * throws {@link NoProviderError}. OpenAI-compatible servers are used only when asked for by name.
 */
export async function selectProvider(settings: TutorSettings, options: SelectOptions = {}): Promise<SelectedProvider> {
  const timeouts: HttpTimeouts = {
    firstByteMs: settings.TUTOR_FIRST_BYTE_TIMEOUT_MS ?? defaultHttpTimeouts.firstByteMs,
    stallMs: settings.TUTOR_STALL_TIMEOUT_MS ?? defaultHttpTimeouts.stallMs,
    requestMs: settings.TUTOR_HEALTH_TIMEOUT_MS ?? defaultHttpTimeouts.requestMs,
  };
  const ollamaUrl = settings.OLLAMA_URL ?? defaultOllamaUrl;
  const ollamaModel = settings.OLLAMA_MODEL ?? defaultOllamaModel;
  const embedded = async (modelFile: string): Promise<SelectedProvider> => {
    const provider = await createEmbeddedProvider({
      modelFile,
      ...(settings.TUTOR_ENGINE_CONTEXT_SIZE !== undefined ? { contextSize: settings.TUTOR_ENGINE_CONTEXT_SIZE } : {}),
      ...(settings.TUTOR_ENGINE_THREADS !== undefined ? { threads: settings.TUTOR_ENGINE_THREADS } : {}),
      ...(options.importEngine ? { importEngine: options.importEngine } : {}),
    });
    const [info] = await provider.listModels();
    return { provider, model: info?.name ?? modelFile, reason: `the embedded engine with ${modelFile}` };
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
      if (!settings.TUTOR_MODEL_FILE) {
        throw new ProviderUnavailableError(
          "embedded",
          "TUTOR_PROVIDER=embedded needs TUTOR_MODEL_FILE (a .gguf file).",
        );
      }
      return embedded(settings.TUTOR_MODEL_FILE);
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
        attempts.push({ kind: "embedded", reason: "installed, but TUTOR_MODEL_FILE is not set." });
      } else {
        attempts.push({ kind: "embedded", reason: `not installed (${engineInstallCommand}).` });
      }
      throw new NoProviderError(attempts);
    }
  }
}
