import { z } from "zod";
import { clearProcessSingleton, processSingleton } from "./singleton";

/** Reads a positive integer setting, so "abc" or "-1" fail loudly at start instead of misbehaving later. */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** An optional string setting: an empty value counts as unset, as it does in most .env tooling. */
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

/** An optional positive integer setting whose default lives with the code that uses it. */
const optionalPositiveInt = optionalString
  .transform((value) => (value === undefined ? undefined : Number(value)))
  .pipe(z.number().int().positive().optional());

/**
 * Every setting the server reads, with its default. Code reads settings through {@link getEnv}
 * only, never through `process.env`, so a wrong value fails at start with its name.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The origin people open in the browser; the default allowed WebSocket origin. */
  APP_URL: optionalString.pipe(z.url().optional()),
  DATA_DIR: z.string().default(".data"),
  DATABASE_URL: optionalString.pipe(z.url().optional()),
  REDIS_URL: optionalString.pipe(z.url().optional()),
  REDIS_KEY_PREFIX: z.string().default("plauder:"),
  /**
   * Redis Cluster nodes for the bus (sharded pub/sub), comma-separated `host:port` (or redis:// URLs
   * when the nodes need a password or TLS); a few are enough, the rest is discovered. Set, the bus
   * uses the cluster instead of `REDIS_URL`.
   */
  REDIS_CLUSTER_NODES: optionalString.transform((value, context) => {
    if (value === undefined) return undefined;
    const nodes = value
      .split(",")
      .map((node) => node.trim())
      .filter((node) => node !== "");
    const valid = (node: string) => {
      const url = URL.canParse(node) ? new URL(node) : null;
      if (url && /^rediss?:$/.test(url.protocol)) return url.hostname !== "" && url.port !== "";
      const match = /^(?:\[[\da-f:.]+\]|[^\s:/@[\]]+):(\d{1,5})$/i.exec(node);
      return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65_535;
    };
    const invalid = nodes.find((node) => !valid(node));
    if (invalid !== undefined) {
      context.addIssue({ code: "custom", message: `"${invalid}" is not host:port or a redis:// URL with a port` });
      return z.NEVER;
    }
    return nodes.length > 0 ? nodes : undefined;
  }),
  AUTH_SECRET: optionalString.pipe(z.string().min(32, "AUTH_SECRET must be at least 32 characters").optional()),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(900),
  /** A browser session's sliding lifetime: each refresh of the cookie extends it by this much. */
  SESSION_MAX_AGE_SECONDS: positiveInt(7 * 24 * 60 * 60),
  /** The longest a browser session lives after sign-in, however often it is refreshed; then sign in again. */
  SESSION_ABSOLUTE_MAX_AGE_SECONDS: positiveInt(30 * 24 * 60 * 60),
  /** How often each instance reads new revocations (logouts) from the database: the bound when the bus is down. */
  REVOCATION_POLL_MS: positiveInt(5_000),
  /** Sign-in attempts per client address and email in each window. */
  LOGIN_MAX_ATTEMPTS: positiveInt(10),
  /** Failed sign-ins for one account from all addresses together in each window (credential stuffing). */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: positiveInt(20),
  /** Failed sign-ins from one address for all emails together in each window (password spraying). */
  LOGIN_MAX_FAILURES_PER_ADDRESS: positiveInt(100),
  LOGIN_WINDOW_SECONDS: positiveInt(900),
  /** Registrations one client address may make in each window (every transport counts). */
  REGISTER_RATE_LIMIT: positiveInt(10),
  REGISTER_WINDOW_SECONDS: positiveInt(600),
  /**
   * How many proxies in front of the server append to `X-Forwarded-For`: `false`/`0` ignores the
   * header, `true`/`1` trusts one (the shipped nginx), `2` two, and so on. The client address is the
   * entry that many places from the right: entries further left are whatever the client sent.
   */
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((value, context) => {
      const normalised = value.trim().toLowerCase();
      if (normalised === "false" || normalised === "") return 0;
      if (normalised === "true") return 1;
      if (/^\d{1,2}$/.test(normalised)) return Number(normalised);
      context.addIssue({ code: "custom", message: "TRUST_PROXY must be true, false or a number of proxies" });
      return z.NEVER;
    }),
  /** Comma-separated origins allowed to open WebSockets; default: APP_URL's origin. */
  ALLOWED_ORIGINS: optionalString,
  MAX_CONNECTIONS: positiveInt(100),
  MAX_CONNECTIONS_PER_USER: positiveInt(10),
  /** Open connections from one client address on this instance (people behind one NAT share it). */
  MAX_CONNECTIONS_PER_ADDRESS: positiveInt(50),
  /** Connections from one address that have not authenticated yet (upgrading or awaiting a token). */
  MAX_UNAUTHENTICATED_PER_ADDRESS: positiveInt(10),
  WS_MAX_PAYLOAD: positiveInt(65_536),
  WS_HEARTBEAT_MS: positiveInt(30_000),
  WS_PONG_WAIT_MS: positiveInt(5_000),
  /** How long a connection may stay without a valid session or token before it is closed (4401). */
  WS_AUTH_TIMEOUT_MS: positiveInt(10_000),
  /** Live subscriptions one connection may hold; the next one is refused with TOO_MANY_REQUESTS. */
  WS_MAX_SUBSCRIPTIONS: positiveInt(100),
  /** Unsent bytes one connection may queue before it is closed as a slow consumer. */
  WS_MAX_BUFFERED: positiveInt(1_048_576),
  /** Failed reconnect attempts in a row after which the web app stops and shows Offline. */
  WS_CLIENT_MAX_RECONNECTS: positiveInt(5),
  PUBLISH_RATE_LIMIT: positiveInt(20),
  PUBLISH_RATE_WINDOW_SECONDS: positiveInt(10),
  /** Channel subscriptions one connection may hold (within WS_MAX_SUBSCRIPTIONS). */
  WS_MAX_CHANNELS: positiveInt(50),
  /** Durable channel publications older than this are deleted; resuming from before them reports `recovered: false`. */
  CHANNEL_RETENTION_DAYS: positiveInt(30),
  /** Most publications a resume replays per log; a longer gap reports `recovered: false` (reload the history instead). */
  CHANNEL_REPLAY_LIMIT: positiveInt(1_000),
  /** Ephemeral publications kept per channel for resume (approximately: Redis trims in whole nodes). */
  EPHEMERAL_HISTORY_SIZE: positiveInt(1_000),
  /** How long a quiet channel's ephemeral history is kept. */
  EPHEMERAL_HISTORY_SECONDS: positiveInt(600),
  /** A client's presence in a channel expires this long after its instance last refreshed it. */
  PRESENCE_TTL_SECONDS: positiveInt(30),
  /** Past this many people, channel presence sends counts instead of member lists. */
  PRESENCE_MAX_LISTED: positiveInt(100),
  BROADCAST_RETENTION_COUNT: positiveInt(10_000),
  BROADCAST_RETENTION_DAYS: positiveInt(7),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  INSTANCE_ID: optionalString,
  /** Bearer token for GET /api/diagnostics (leak figures); unset, the endpoint does not exist. */
  DIAGNOSTICS_TOKEN: optionalString.pipe(
    z.string().min(32, "DIAGNOSTICS_TOKEN must be at least 32 characters").optional(),
  ),
  /** Bearer token for GET /api/metrics (Prometheus); unset, the endpoint answers 404. */
  METRICS_TOKEN: optionalString.pipe(z.string().min(32, "METRICS_TOKEN must be at least 32 characters").optional()),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // The tutor's model provider (docs/tutor.md); unset ones take @plauder/tutor's defaults.
  /**
   * `auto` (default): Ollama at OLLAMA_URL when it answers, else the embedded engine (installed) with
   * TUTOR_MODEL_FILE, else with its default model, downloaded into DATA_DIR/models on first use.
   */
  TUTOR_PROVIDER: optionalString.pipe(z.enum(["auto", "ollama", "openai", "embedded"]).optional()),
  /** Ollama's address; default http://127.0.0.1:11434. */
  OLLAMA_URL: optionalString.pipe(z.url().optional()),
  /** The Ollama model the tutor asks for, as `ollama pull` names it; default qwen2.5:3b. */
  OLLAMA_MODEL: optionalString,
  /** An OpenAI-compatible server's API root, ending in /v1 (vLLM, llama.cpp's server, LM Studio). */
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  /** Sent as a bearer token to OPENAI_BASE_URL when set; never logged. */
  OPENAI_API_KEY: optionalString,
  OPENAI_MODEL: optionalString,
  /** A .gguf model file for the embedded engine (installed with `npm run tutor:install-engine`). */
  TUTOR_MODEL_FILE: optionalString,
  /**
   * Where the embedded engine downloads its model from when TUTOR_MODEL_FILE is unset: an http(s) URL
   * or hf:<user>/<repo>/<file>.gguf; it lands in DATA_DIR/models/<file name>. Default Qwen2.5 1.5B
   * Instruct (Q4_K_M) from Hugging Face.
   */
  TUTOR_MODEL_URL: optionalString.pipe(
    z.url({ protocol: /^(https?|hf)$/, error: "must be an http(s) URL or hf:<user>/<repo>/<file>.gguf" }).optional(),
  ),
  /** CPU threads for the embedded engine; default the engine's choice. Fewer can be faster on a busy machine. */
  TUTOR_ENGINE_THREADS: optionalPositiveInt,
  /** The embedded engine's context window in tokens; default 4096. */
  TUTOR_ENGINE_CONTEXT_SIZE: optionalPositiveInt,
  /** Milliseconds from a request to the provider's first byte (loading a model counts); default 120000. */
  TUTOR_FIRST_BYTE_TIMEOUT_MS: optionalPositiveInt,
  /** Longest silence in milliseconds between two pieces of a streaming reply; default 30000. */
  TUTOR_STALL_TIMEOUT_MS: optionalPositiveInt,
  /** Milliseconds a health check or model list may take; default 5000. */
  TUTOR_HEALTH_TIMEOUT_MS: optionalPositiveInt,
  /** Answers one person may have generating at once, over all their conversations and every instance. */
  TUTOR_MAX_CONCURRENT: positiveInt(2),
  /** Answers one person may have waiting for a free place; the next send is refused with TOO_MANY_REQUESTS. */
  TUTOR_MAX_QUEUED: positiveInt(3),
  /** Longest learner message in characters. */
  TUTOR_MAX_MESSAGE_LENGTH: positiveInt(2_000),
  /** Most tokens one answer may have. */
  TUTOR_ANSWER_MAX_TOKENS: positiveInt(400),
  /** The model's context window in tokens; the working context (summary and recent turns) is kept under it. */
  TUTOR_CONTEXT_TOKENS: positiveInt(4_096),
  /** How long corrections and generated scenarios stay cached. */
  TUTOR_CACHE_SECONDS: positiveInt(7 * 86_400),
});

export type Env = z.infer<typeof envSchema> & { APP_URL: string };

/** Parses the given variables; throws one error naming every bad setting. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${problems.join("\n")}`);
  }
  const env = result.data;
  return { ...env, APP_URL: env.APP_URL ?? `http://localhost:${env.PORT}` };
}

/** The process's settings, parsed once from `process.env` on first use. */
export function getEnv(): Env {
  return processSingleton("env", () => parseEnv(process.env));
}

/** Forgets the parsed settings so the next {@link getEnv} reads `process.env` again (start-up and tests). */
export function resetEnv(): void {
  clearProcessSingleton("env");
}
