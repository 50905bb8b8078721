import type { z } from "zod";

/**
 * The model answered, but not with what was asked for: text that is not JSON, or JSON of another
 * shape. Retrying may help (models are not deterministic); the message says what was wrong.
 */
export class ModelOutputError extends Error {
  /** What the answer should have been, e.g. "correction" or "scenario". */
  readonly what: string;
  /** The model's answer as received (at most 2,000 characters), for the log. */
  readonly raw: string;

  constructor(what: string, reason: string, raw: string, options?: ErrorOptions) {
    super(`The model's ${what} could not be used: ${reason}.`, options);
    this.name = "ModelOutputError";
    this.what = what;
    this.raw = raw.length > 2_000 ? `${raw.slice(0, 2_000)}…` : raw;
  }
}

/**
 * Parses a model's JSON answer and checks it with `schema`. A Markdown code fence around the JSON
 * (```json … ```), which models without structured output like to add, is taken off first.
 * Throws {@link ModelOutputError} when the answer is not JSON or not of the schema's shape.
 */
export function parseModelJson<T>(raw: string, schema: z.ZodType<T>, what: string): T {
  const text = stripCodeFence(raw);
  if (text === "") throw new ModelOutputError(what, "the answer was empty", raw);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ModelOutputError(what, `the answer is not valid JSON (${detail})`, raw, { cause: error });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "the answer"}: ${issue.message}`);
    const more = result.error.issues.length > 3 ? ` and ${result.error.issues.length - 3} more` : "";
    throw new ModelOutputError(what, `the JSON does not have the expected shape (${issues.join("; ")}${more})`, raw, {
      cause: result.error,
    });
  }
  return result.data;
}

function stripCodeFence(raw: string): string {
  const text = raw.trim();
  const fenced = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(text);
  return (fenced?.[1] ?? text).trim();
}
