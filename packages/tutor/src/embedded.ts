import { stat } from "node:fs/promises";
import { basename } from "node:path";
import {
  ModelNotFoundError,
  ProviderError,
  ProviderRequestError,
  ProviderStreamError,
  ProviderUnavailableError,
} from "./errors";
import type { ChatChunk, ChatMessage, ChatProvider, ChatRequest, JsonSchema, ModelInfo, ProviderHealth } from "./types";

/** The engine: llama.cpp's Node binding. Not a dependency of the default install (it adds about 700 MB of binaries). */
export const enginePackage = "node-llama-cpp";
export const engineVersion = "3.21.1";
/** The one command that installs the engine (run at the repository root). */
export const engineInstallCommand = "npm run tutor:install-engine";

export interface EmbeddedProviderOptions {
  /** A GGUF model file. */
  modelFile: string;
  /** Context window in tokens for every conversation (the engine allocates it at start). Default 4096. */
  contextSize?: number;
  /**
   * CPU threads for generation. Default: the engine's choice (at least 4). On a busy machine with
   * few cores fewer threads can be much faster: the engine's threads wait for each other by spinning.
   */
  threads?: number;
  /** `false`: CPU only. Default `"auto"`: a GPU when the engine finds a usable one. */
  gpu?: "auto" | false;
  /** Conversations generated at once; more wait their turn. Default 1. */
  parallel?: number;
  /** Loads the engine module. Default: `import("node-llama-cpp")`. */
  importEngine?: () => Promise<unknown>;
}

/*
 * The part of the engine's API this provider uses. The engine is an optional install, so its own
 * types are not available to the type checker; these are checked against it by the engine test.
 */
type EngineHistoryItem =
  | { type: "system"; text: string }
  | { type: "user"; text: string }
  | { type: "model"; response: string[] };

interface EngineMeterState {
  readonly usedInputTokens: number;
  readonly usedOutputTokens: number;
}

interface EngineSequence {
  readonly tokenMeter: {
    getState(): EngineMeterState;
    diff(state: EngineMeterState): { usedInputTokens: number; usedOutputTokens: number };
  };
}

interface EngineGrammar {
  readonly grammar: string;
}

interface EngineChat {
  readonly sequence: EngineSequence;
  generateResponse(
    history: EngineHistoryItem[],
    options: {
      onTextChunk: (text: string) => void;
      signal: AbortSignal;
      stopOnAbortSignal: false;
      maxTokens?: number;
      temperature?: number;
      grammar?: EngineGrammar;
    },
  ): Promise<{ response: string }>;
}

interface EngineContext {
  getSequence(): EngineSequence;
  dispose(): Promise<void>;
}

interface EngineModel {
  createContext(options: { contextSize: number; sequences: number; threads?: number }): Promise<EngineContext>;
  dispose(): Promise<void>;
}

interface EngineLlama {
  readonly gpu: string | false;
  loadModel(options: { modelPath: string }): Promise<EngineModel>;
  createGrammarForJsonSchema(schema: JsonSchema): Promise<EngineGrammar>;
  dispose(): Promise<void>;
}

interface Engine {
  getLlama(options: {
    gpu: "auto" | false;
    build: "never";
    logLevel: "error";
    progressLogs: false;
    maxThreads?: number;
  }): Promise<EngineLlama>;
  LlamaChat: new (options: { contextSequence: EngineSequence }) => EngineChat;
}

// A variable specifier: the type checker and bundlers must not look for the optional package.
const defaultImport = (): Promise<unknown> =>
  import(/* @vite-ignore */ /* webpackIgnore: true */ /* turbopackIgnore: true */ enginePackage as string);

/** Whether the engine can be imported here (installed with {@link engineInstallCommand}). */
export async function isEngineInstalled(importEngine: () => Promise<unknown> = defaultImport): Promise<boolean> {
  try {
    await loadEngine(importEngine);
    return true;
  } catch {
    return false;
  }
}

async function loadEngine(importEngine: () => Promise<unknown>): Promise<Engine> {
  let module: unknown;
  try {
    module = await importEngine();
  } catch (error) {
    if (isModuleNotFound(error)) {
      throw new ProviderUnavailableError(
        "embedded",
        `The embedded engine (${enginePackage}) is not installed. Install it with: ${engineInstallCommand}`,
        { cause: error },
      );
    }
    throw new ProviderUnavailableError(
      "embedded",
      `The embedded engine (${enginePackage}) could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const candidate = module as Partial<Record<keyof Engine, unknown>> | null;
  if (typeof candidate?.getLlama !== "function" || typeof candidate.LlamaChat !== "function") {
    throw new ProviderUnavailableError(
      "embedded",
      `The installed ${enginePackage} is not the expected version ${engineVersion}. Reinstall it with: ${engineInstallCommand}`,
    );
  }
  return candidate as Engine;
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return true;
  return error instanceof Error && /Cannot find (package|module)|Failed to load url/i.test(error.message);
}

/**
 * llama.cpp in this process, through node-llama-cpp, with one GGUF model. Rejects with
 * ProviderUnavailableError (naming the install command) when the engine is not installed, and
 * with ModelNotFoundError when the file is missing. The model's name is the file's name without
 * `.gguf`. Structured output goes through the engine's JSON-schema grammar.
 */
export async function createEmbeddedProvider(options: EmbeddedProviderOptions): Promise<ChatProvider> {
  const engine = await loadEngine(options.importEngine ?? defaultImport);
  const modelFile = options.modelFile;
  const name = basename(modelFile).replace(/\.gguf$/i, "");
  const fix = `set TUTOR_MODEL_FILE to the path of a .gguf model file`;
  let sizeBytes: number;
  try {
    const info = await stat(modelFile);
    if (!info.isFile()) throw new Error("not a file");
    sizeBytes = info.size;
  } catch (error) {
    throw new ModelNotFoundError("embedded", modelFile, fix, { cause: error });
  }

  let llama: EngineLlama | undefined;
  let model: EngineModel | undefined;
  let context: EngineContext | undefined;
  const parallel = Math.max(1, options.parallel ?? 1);
  const chats: EngineChat[] = [];
  try {
    llama = await engine.getLlama({
      gpu: options.gpu ?? "auto",
      build: "never",
      logLevel: "error",
      progressLogs: false,
      ...(options.threads !== undefined ? { maxThreads: options.threads } : {}),
    });
    model = await llama.loadModel({ modelPath: modelFile });
    context = await model.createContext({
      contextSize: options.contextSize ?? 4096,
      sequences: parallel,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    });
    for (let index = 0; index < parallel; index++) {
      chats.push(new engine.LlamaChat({ contextSequence: context.getSequence() }));
    }
  } catch (error) {
    await context?.dispose().catch(() => {});
    await model?.dispose().catch(() => {});
    await llama?.dispose().catch(() => {});
    throw new ProviderUnavailableError(
      "embedded",
      `The embedded engine could not load ${modelFile}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const engineLlama = llama;
  const gpu = engineLlama.gpu;

  const idle = [...chats];
  const waiting: Array<(chat: EngineChat) => void> = [];
  const grammars = new Map<string, Promise<EngineGrammar>>();
  let closed = false;

  const acquire = (signal: AbortSignal) =>
    new Promise<EngineChat>((resolve, reject) => {
      const free = idle.pop();
      if (free) return resolve(free);
      const onAbort = () => {
        const index = waiting.indexOf(take);
        if (index !== -1) waiting.splice(index, 1);
        reject(signal.reason);
      };
      const take = (chat: EngineChat) => {
        signal.removeEventListener("abort", onAbort);
        resolve(chat);
      };
      waiting.push(take);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  const release = (chat: EngineChat) => {
    const next = waiting.shift();
    if (next) next(chat);
    else idle.push(chat);
  };

  const grammarFor = async (schema: JsonSchema): Promise<EngineGrammar> => {
    const key = JSON.stringify(schema);
    let grammar = grammars.get(key);
    if (!grammar) {
      grammar = engineLlama.createGrammarForJsonSchema(schema);
      grammars.set(key, grammar);
      grammar.catch(() => grammars.delete(key));
    }
    try {
      return await grammar;
    } catch (error) {
      throw new ProviderRequestError(
        "embedded",
        `The embedded engine cannot follow this JSON schema: ${error instanceof Error ? error.message : String(error)}`,
        undefined,
        { cause: error },
      );
    }
  };

  return {
    kind: "embedded",

    async *chat(request: ChatRequest): AsyncGenerator<ChatChunk, void, undefined> {
      const { model: wanted, messages, format, options: chatOptions = {}, signal } = request;
      signal.throwIfAborted();
      if (closed) throw new ProviderUnavailableError("embedded", "The embedded engine has been closed.");
      if (wanted !== name && wanted !== modelFile && wanted !== basename(modelFile)) {
        throw new ModelNotFoundError("embedded", wanted, `${fix} (the engine has "${name}")`);
      }
      const grammar = format ? await grammarFor(format) : undefined;
      const chat = await acquire(signal);

      const controller = new AbortController();
      const forward = () => controller.abort(signal.reason);
      signal.addEventListener("abort", forward, { once: true });
      const pending: string[] = [];
      let wake: (() => void) | undefined;
      let settled = false;
      let failed = false;
      let failure: unknown;
      const before = chat.sequence.tokenMeter.getState();
      const run = chat
        .generateResponse(toHistory(messages), {
          onTextChunk: (text) => {
            pending.push(text);
            wake?.();
          },
          signal: controller.signal,
          stopOnAbortSignal: false,
          ...(chatOptions.maxTokens !== undefined ? { maxTokens: chatOptions.maxTokens } : {}),
          ...(chatOptions.temperature !== undefined ? { temperature: chatOptions.temperature } : {}),
          ...(grammar ? { grammar } : {}),
        })
        .then(
          () => {},
          (error: unknown) => {
            failed = true;
            failure = error;
          },
        )
        .finally(() => {
          settled = true;
          wake?.();
        });

      try {
        for (;;) {
          if (signal.aborted) throw signal.reason;
          const text = pending.shift();
          if (text !== undefined) {
            if (text !== "") yield { type: "delta", text };
            continue;
          }
          if (settled) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        if (failed) {
          if (signal.aborted) throw signal.reason;
          if (failure instanceof ProviderError) throw failure;
          throw new ProviderStreamError(
            "embedded",
            `The embedded engine stopped with an error: ${failure instanceof Error ? failure.message : String(failure)}`,
            { cause: failure },
          );
        }
        const used = chat.sequence.tokenMeter.diff(before);
        yield {
          type: "done",
          model: name,
          promptTokens: used.usedInputTokens,
          completionTokens: used.usedOutputTokens,
        };
      } finally {
        signal.removeEventListener("abort", forward);
        if (!settled) controller.abort(signal.aborted ? signal.reason : undefined);
        await run;
        release(chat);
      }
    },

    async listModels(): Promise<ModelInfo[]> {
      return [{ name, sizeBytes }];
    },

    async health(): Promise<ProviderHealth> {
      if (closed) return { ok: false, kind: "embedded", reason: "The embedded engine has been closed." };
      return {
        ok: true,
        kind: "embedded",
        detail: `${name} from ${modelFile} (${gpu === false ? "CPU" : gpu})`,
        latencyMs: 0,
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await context?.dispose();
      await model?.dispose();
      await engineLlama.dispose();
    },
  };
}

/** The engine's history ends with the model's turn to write: an empty one, or the assistant's text to continue. */
function toHistory(messages: readonly ChatMessage[]): EngineHistoryItem[] {
  const history: EngineHistoryItem[] = messages.map((message) =>
    message.role === "assistant"
      ? { type: "model", response: [message.content] }
      : { type: message.role, text: message.content },
  );
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}
