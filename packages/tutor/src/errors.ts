import type { ProviderKind } from "./types";

/** Every error a provider throws (besides the signal's reason after an abort) is one of these. */
export class ProviderError extends Error {
  readonly kind: ProviderKind;

  constructor(kind: ProviderKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
  }
}

/** The provider is down, refuses connections, is not installed, or refused our credentials. The message says what to do. */
export class ProviderUnavailableError extends ProviderError {}

/** The provider answers but does not have the model; `fix` is the command (or step) that makes it available. */
export class ModelNotFoundError extends ProviderError {
  readonly model: string;
  readonly fix: string;

  constructor(kind: ProviderKind, model: string, fix: string, options?: ErrorOptions) {
    super(kind, `Model "${model}" is not available. Fix: ${fix}`, options);
    this.model = model;
    this.fix = fix;
  }
}

/** The provider rejected the request itself (a schema it cannot follow, a prompt too long): retrying it as is will not help. */
export class ProviderRequestError extends ProviderError {
  readonly status: number | undefined;

  constructor(kind: ProviderKind, message: string, status?: number, options?: ErrorOptions) {
    super(kind, message, options);
    this.status = status;
  }
}

/** A reply broke off midway: the connection dropped, the provider reported an error, or a piece was not what it should be. */
export class ProviderStreamError extends ProviderError {}

/** No first byte within `ms` (`phase: "first-byte"`), or silence between two pieces longer than `ms` (`"stall"`). */
export class ProviderTimeoutError extends ProviderError {
  readonly phase: "first-byte" | "stall";
  readonly ms: number;

  constructor(kind: ProviderKind, phase: "first-byte" | "stall", ms: number) {
    super(
      kind,
      phase === "first-byte"
        ? `${label(kind)} sent nothing within ${ms} ms`
        : `${label(kind)} went silent for ${ms} ms in the middle of a reply`,
    );
    this.phase = phase;
    this.ms = ms;
  }
}

/** The provider's name as it appears in messages. */
export function label(kind: ProviderKind): string {
  return kind === "ollama" ? "Ollama" : kind === "openai" ? "The OpenAI-compatible server" : "The embedded engine";
}
