export {
  createDownloadingEmbeddedProvider,
  defaultModel,
  defaultModelLocation,
  type EnsureModelOptions,
  ensureDefaultModel,
  ensureModelFile,
  type ModelDownload,
  type ModelDownloadState,
  type ModelLocation,
  type ModelSettings,
  type ShowProgressOptions,
  showDownloadProgress,
} from "./default-model";
export {
  createProgressBar,
  formatProgress,
  type ProgressBar,
  type ProgressBarOptions,
  type ProgressOutput,
} from "./download-progress";
export {
  createEmbeddedProvider,
  type EmbeddedProviderOptions,
  engineInstallCommand,
  enginePackage,
  engineVersion,
  isEngineInstalled,
} from "./embedded";
export {
  ModelNotFoundError,
  ProviderError,
  ProviderRequestError,
  ProviderStreamError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from "./errors";
export {
  type DownloadModelOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadModel,
  ModelDownloadError,
  type ModelDownloadFailure,
  modelFileNameOf,
  resolveModelUrl,
} from "./model-download";
export { createOllamaProvider, defaultOllamaUrl, type OllamaProviderOptions } from "./ollama";
export { createOpenAIProvider, type OpenAIProviderOptions } from "./openai";
export {
  defaultOllamaModel,
  NoProviderError,
  type SelectedProvider,
  type SelectOptions,
  selectProvider,
  type TutorSettings,
} from "./select";
export {
  type ChatChunk,
  type ChatMessage,
  type ChatOptions,
  type ChatProvider,
  type ChatRequest,
  type ChatRole,
  defaultHttpTimeouts,
  type HttpTimeouts,
  type JsonSchema,
  type ModelInfo,
  type ProviderHealth,
  type ProviderKind,
} from "./types";
