import { createInterface } from "node:readline";
import { createPlauderClient, type PlauderClient, type PlauderClientOptions } from "../client";
import { type LoginResponse, login } from "../login";
import { CliError, exitCodes } from "./exit-codes";

/** What the CLI touches outside itself; tests replace any part. */
export type CliIO = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Where `--password-stdin` reads from. */
  stdin: NodeJS.ReadableStream;
  /** Whether a person is at a terminal who can be asked for email and password. */
  interactive: boolean;
  /** Asks on the terminal; `hidden` does not echo what is typed. */
  prompt: (question: string, options: { hidden: boolean }) => Promise<string>;
  /** Aborted on Ctrl-C: `listen` stops, `ping` prints its summary. Default: the process's SIGINT. */
  interrupt?: AbortSignal;
  /**
   * Calls `listener` on every Ctrl-C (SIGINT) until the returned function is called: `chat` stops
   * an answer on the first and leaves on the second. Default: the process's SIGINT.
   */
  onInterrupt: (listener: () => void) => () => void;
  /** Whether stdout is a terminal: `chat` colours its output and redraws lines only then. */
  stdoutIsTerminal: boolean;
  /** The terminal's size, when stdout is one. */
  terminalSize: () => { columns: number; rows: number };
  now: () => number;
  connect: (options: PlauderClientOptions) => Promise<PlauderClient>;
  login: (url: string, email: string, password: string) => Promise<LoginResponse>;
  fetch: typeof fetch;
  /** Home directory, for the default credentials location. */
  home?: string;
  /** How long to wait for the socket to open (or reopen) before giving up on the server. */
  connectTimeoutMs: number;
  /** How long one request of a one-shot command may take. */
  requestTimeoutMs: number;
};

/** Reads the first line of `input` (without its line break); `null` at once-empty input. */
export async function readFirstLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) return line;
    return null;
  } finally {
    lines.close();
  }
}

type RawInput = NodeJS.ReadStream & { setRawMode(mode: boolean): unknown };

/** Reads a secret in raw mode so nothing is echoed; Ctrl-C cancels, Backspace deletes. */
function readHidden(question: string, input: RawInput, output: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish();
        if (char === "\u0003") return finish(new CliError("Cancelled", exitCodes.interrupted));
        if (char === "\u007f" || char === "\b") value = Array.from(value).slice(0, -1).join("");
        else value += char;
      }
    };
    output.write(question);
    input.setRawMode(true);
    input.on("data", onData);
    input.resume();
  });
}

function terminalPrompt(question: string, options: { hidden: boolean }): Promise<string> {
  // Prompts go to stderr, so stdout carries only results.
  if (options.hidden) return readHidden(question, process.stdin as RawInput, process.stderr);
  const lines = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise<string>((resolve) => lines.question(question, resolve)).finally(() => lines.close());
}

/** The real process: its streams, environment, terminal, clock and network. */
export function defaultIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stdin: process.stdin,
    interactive: process.stdin.isTTY === true,
    prompt: terminalPrompt,
    now: Date.now,
    onInterrupt: (listener) => {
      process.on("SIGINT", listener);
      return () => process.off("SIGINT", listener);
    },
    stdoutIsTerminal: process.stdout.isTTY === true,
    terminalSize: () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }),
    connect: createPlauderClient,
    login,
    fetch: (input, init) => fetch(input, init),
    connectTimeoutMs: 10_000,
    requestTimeoutMs: 15_000,
  };
}

/** Results on stdout, one per line; status on stderr, so piping stdout stays clean. */
export type Out = { line: (text: string) => void; status: (text: string) => void };

export function writers(io: CliIO): Out {
  return { line: (text) => io.stdout(`${text}\n`), status: (text) => io.stderr(`${text}\n`) };
}

/** Ctrl-C (and SIGTERM) as an AbortSignal, for commands that stop gracefully. Once only: a second Ctrl-C kills. */
export function processInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", abort);
      process.off("SIGTERM", abort);
    },
  };
}
