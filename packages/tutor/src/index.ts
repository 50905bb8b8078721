export {
  buildPrompt,
  estimateTokens,
  maxSummaryWords,
  messageOverheadTokens,
  summaryPromptVersion,
  summaryRequest,
  type Turn,
  truncationMark,
} from "./context";
export {
  type Correction,
  type CorrectionCategory,
  type CorrectionEdit,
  correctionCategories,
  correctionCategorySchema,
  correctionEditSchema,
  correctionPromptVersion,
  correctionRequest,
  correctionSchema,
  correctText,
  type ModelCorrection,
  maxCorrectedLength,
  maxCorrectionEdits,
  maxCorrectionTextLength,
  modelCorrectionSchema,
  modelEditSchema,
  parseCorrection,
} from "./corrections";
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
export { type CefrLevel, cefrLevelSchema, cefrLevels, levelGuidance } from "./levels";
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
export { ModelOutputError, parseModelJson } from "./output";
export { tutorPromptVersion, tutorSystemPrompt } from "./prompts";
export {
  clampText,
  findScenario,
  maxScenarioTopicLength,
  parseGeneratedScenario,
  type Scenario,
  scenarioGenerationRequest,
  scenarioLibrary,
  scenarioLimits,
  scenarioPromptVersion,
  scenarioSchema,
} from "./scenarios";
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
