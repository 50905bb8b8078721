import { describeError, getEnv, getLogger, processSingleton } from "@plauder/runtime";
import {
  engineInstallCommand,
  NoProviderError,
  ProviderError,
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
      (selected) =>
        getLogger().info({ kind: selected.provider.kind, model: selected.model }, `tutor: ${selected.reason}`),
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
      return { ready: true, kind: provider.kind, model };
    } catch (error) {
      return { ready: false, ...explainMissing(error) };
    }
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
    return {
      problem:
        "The tutor has no language model to talk to: Ollama is not running and the embedded engine is not set up.",
      fix: "ollama serve & ollama pull qwen2.5:3b",
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
