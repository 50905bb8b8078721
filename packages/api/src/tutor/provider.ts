import { describeError, getEnv, getLogger, processSingleton } from "@plauder/runtime";
import {
  type ChatProvider,
  engineInstallCommand,
  NoProviderError,
  ProviderError,
  type ProviderHealth,
  type ProviderKind,
  type SelectedProvider,
  selectProvider,
  showDownloadProgress,
} from "@plauder/tutor";
import { TRPCError } from "@trpc/server";

/** Whether the tutor can answer, for the chat page and the CLI. */
export type TutorStatus = { ready: true; kind: string; model: string } | { ready: false; problem: string; fix: string };

// After a failed selection, the next request tries again only after this long: a page that polls
// the status must not make every instance probe Ollama on every request.
const retryAfterFailureMs = 10_000;
const healthMaxAgeMs = 5_000;

/** The one command that brings a provider of this kind back, as far as one command can. */
function fixFor(kind: ProviderKind): string {
  if (kind === "ollama") return "ollama serve";
  if (kind === "embedded") return engineInstallCommand;
  return "Start the OpenAI-compatible server at OPENAI_BASE_URL";
}

type Selection = { at: number; result: Promise<SelectedProvider> };

/**
 * The model provider this process uses, chosen once by the settings (docs/tutor.md) and chosen
 * again after a failure, so starting Ollama after the server is enough.
 */
class TutorProvider {
  private selection: Selection | null = null;

  get(): Promise<SelectedProvider> {
    const current = this.selection;
    if (current && (current.at === 0 || Date.now() - current.at < retryAfterFailureMs)) return current.result;
    const result = selectProvider(getEnv());
    const selection: Selection = { at: 0, result };
    this.selection = selection;
    result.then(
      (selected) => {
        const log = getLogger();
        log.info({ kind: selected.provider.kind, model: selected.model }, `tutor: ${selected.reason}`);
        // The engine's model on its first use: its progress goes to the log until it is there.
        if (selected.download) showDownloadProgress(selected.download, { log: (line) => log.info(line) });
      },
      (error: unknown) => {
        // Remember the failure for a while, then select again.
        selection.at = Date.now();
        getLogger().warn({ err: describeError(error) }, "tutor: no model provider");
      },
    );
    return result;
  }

  async status(): Promise<TutorStatus> {
    try {
      const { provider, model, download } = await this.get();
      if (download?.state.phase === "downloading") {
        return { ready: false, problem: download.describe(), fix: "npm run tutor:fetch-model" };
      }
      if (download?.state.phase === "failed") {
        return { ready: false, problem: download.state.error.message, fix: "npm run tutor:fetch-model" };
      }
      const health = await this.health(provider);
      if (!health.ok) return { ready: false, problem: health.reason, fix: fixFor(provider.kind) };
      return { ready: true, kind: provider.kind, model };
    } catch (error) {
      return { ready: false, ...explainMissing(error) };
    }
  }

  private checked: { at: number; health: Promise<ProviderHealth> } | null = null;

  /** The provider's health, asked at most once per few seconds however many pages poll the status. */
  private health(provider: ChatProvider): Promise<ProviderHealth> {
    const now = Date.now();
    if (!this.checked || now - this.checked.at > healthMaxAgeMs) {
      this.checked = { at: now, health: provider.health() };
    }
    return this.checked.health;
  }

  async close(): Promise<void> {
    const current = this.selection;
    this.selection = null;
    if (!current) return;
    const selected = await current.result.catch(() => null);
    await selected?.provider.close();
  }
}

export function getTutorProvider(): TutorProvider {
  return processSingleton("tutor.provider", () => new TutorProvider());
}

/** What is missing and the one command that fixes it. */
export function explainMissing(error: unknown): { problem: string; fix: string } {
  if (error instanceof NoProviderError) {
    const engine = error.attempts.find((attempt) => attempt.kind === "embedded");
    if (engine && !engine.reason.includes("not installed")) {
      // The engine is there; its model is what is missing (the download failed, or no file was named).
      return {
        problem: `The tutor's embedded engine has no model: ${engine.reason}`,
        fix: "npm run tutor:fetch-model",
      };
    }
    return {
      problem:
        "The tutor has no language model to talk to: Ollama is not answering and the embedded engine is not " +
        "installed. Install the engine (it downloads its model on first use), or start Ollama.",
      fix: engineInstallCommand,
    };
  }
  if (error instanceof ProviderError) return { problem: error.message, fix: "See docs/tutor.md" };
  return { problem: "The tutor could not start its model provider.", fix: "See the server log and docs/tutor.md" };
}

/** The provider, or PRECONDITION_FAILED with the sentence the chat page shows. */
export async function requireProvider(): Promise<SelectedProvider> {
  try {
    return await getTutorProvider().get();
  } catch (error) {
    const { problem, fix } = explainMissing(error);
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: `${problem} Fix: ${fix}` });
  }
}
