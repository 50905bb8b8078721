import { clearScreenDown, createInterface, cursorTo, type Interface, moveCursor } from "node:readline";
import { Writable } from "node:stream";
import type { MessageView } from "@plauder/api/tutor-events";
import type { CefrLevel } from "@plauder/tutor/schemas";
import { type ConversationFollower, followConversation } from "../../conversation";
import { defaultChatLevel, type Invocation } from "../arguments";
import {
  ChatScreen,
  formatCorrection,
  formatCorrectionFailed,
  labels,
  type PromptLine,
  rowsAboveCursor,
} from "../chat-screen";
import { ConnectionWatch } from "../connection-watch";
import { CliError, exitCodes } from "../exit-codes";
import type { CliIO, Out } from "../io";
import { bounded, openSession, type Session } from "../session";
import type { Target } from "../target";
import { toCliError } from "../to-cli-error";

type ChatInvocation = Extract<Invocation, { command: "chat" }>;

/** How long, after an answer, the next line (or the end of input) waits for the previous line's correction. */
const correctionWaitMs = 10_000;

export const chatHelp = [
  "Type a line and press Enter to send it; the tutor's answer streams below it.",
  "  /stop        stop the answer under way (or press Ctrl+C)",
  "  /regenerate  answer your last line again",
  "  /quit        leave (or Ctrl+D; Ctrl+C twice); an answer under way goes on and is saved",
];

/**
 * `plauder chat`: starts a conversation with the tutor (or continues one with `--conversation`),
 * prints what was said so far, then sends each line typed and prints the answer as it streams,
 * with the correction of the learner's line under it. `--list-scenarios` lists the role-plays.
 */
export async function chatCommand(invocation: ChatInvocation, target: Target, io: CliIO, out: Out): Promise<number> {
  const watch = new ConnectionWatch(target.url, io.connectTimeoutMs, "long-lived", {
    opened: (first) => {
      if (!first) chat?.status("Reconnected; catching up");
    },
    lost: () => chat?.status("Connection lost; reconnecting…"),
  });
  let chat: Chat | null = null;
  const session = await openSession(target, io, watch, "long-lived");
  try {
    if (invocation.listScenarios) return await listScenarios(session, target, io, out);
    chat = new Chat(invocation, session, target, io);
    return await chat.run();
  } finally {
    chat?.dispose();
    await session.close();
  }
}

async function listScenarios(session: Session, target: Target, io: CliIO, out: Out): Promise<number> {
  const scenarios = await bounded(session.api.tutor.scenarios.query(), session, io, target.url);
  const width = Math.max(0, ...scenarios.map((scenario) => scenario.id.length));
  const levels = scenarios.map(levelRange);
  const levelWidth = Math.max(0, ...levels.map((range) => range.length));
  scenarios.forEach((scenario, index) => {
    const range = (levels[index] as string).padEnd(levelWidth);
    out.line(`${scenario.id.padEnd(width)}  ${range}  ${scenario.title} (${scenario.titleEn})`);
  });
  out.status(
    `Start one with \`plauder chat --scenario ID\` (at ${defaultChatLevel} when the scenario offers it, else its lowest level; --level says otherwise)`,
  );
  return exitCodes.ok;
}

/** "A1–A2", or the one level. */
function levelRange(scenario: { levels: readonly string[] }): string {
  const first = scenario.levels[0] ?? "";
  const last = scenario.levels.at(-1) ?? "";
  return first === last ? first : `${first}–${last}`;
}

/** One line of input to work through in order: something to send, or a command that waits its turn. */
type Work = { kind: "send"; text: string; echoed: boolean } | { kind: "regenerate" };

class Chat {
  private readonly screen: ChatScreen;
  private readonly terminal: boolean;
  private follower: ConversationFollower | null = null;
  private conversationId = "";
  private lines: Interface | null = null;
  private readonly queue: Work[] = [];
  private working = false;
  private inputEnded = false;
  /** Set by a first Ctrl+C that stopped nothing, or stopped an answer: the next one leaves. */
  private leaveOnInterrupt = false;
  private readonly stopsSent = new Set<string>();
  /** The text of a send in flight: its `message` event is this terminal's own line, not another tab's. */
  private sending: string | null = null;
  private readonly ownMessages = new Set<string>();
  /** Learner messages whose correction has not come yet (id → settle). */
  private readonly corrections = new Map<string, () => void>();
  private firstFailure: number | null = null;
  private finish: (code: number) => void = () => {};
  private fail: (error: unknown) => void = () => {};
  private readonly finished: Promise<number>;
  private readonly disposers: Array<() => void> = [];
  private promptShowing = false;
  private ending = false;

  constructor(
    private readonly invocation: ChatInvocation,
    private readonly session: Session,
    private readonly target: Target,
    private readonly io: CliIO,
  ) {
    this.terminal = io.interactive && io.stdoutIsTerminal;
    const colour = io.stdoutIsTerminal && io.env.NO_COLOR === undefined && io.env.TERM !== "dumb";
    this.screen = new ChatScreen({
      stdout: io.stdout,
      stderr: io.stderr,
      colour,
      terminal: this.terminal,
      size: io.terminalSize,
    });
    this.finished = new Promise<number>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    this.finished.catch(() => {});
  }

  status(text: string): void {
    this.screen.status(text);
  }

  async run(): Promise<number> {
    const { api } = this.session;
    const bound = <T>(work: Promise<T>) => bounded(work, this.session, this.io, this.target.url);
    let conversationId = this.invocation.conversationId;
    if (conversationId === undefined) {
      const { scenarioId } = this.invocation;
      const level = this.invocation.level ?? (scenarioId ? await this.scenarioLevel(scenarioId) : defaultChatLevel);
      const [started, status] = await Promise.all([
        bound(api.tutor.start.mutate({ level, ...(scenarioId ? { scenarioId } : {}) })).catch((error: unknown) => {
          throw this.startError(error);
        }),
        bound(api.tutor.status.query()).catch(() => null),
      ]);
      conversationId = started.conversation.id;
      if (status && !status.ready) this.status(`The tutor cannot answer yet: ${status.problem} Fix: ${status.fix}`);
    }
    this.conversationId = conversationId;
    this.follower = this.follow(conversationId);
    const state = await Promise.race([
      bound(this.follower.ready),
      this.session.watch.failed,
      this.finished.then(() => null),
    ]);
    if (state === null) return this.finished;
    this.listen();
    this.pump();
    try {
      return await Promise.race([this.finished, this.session.watch.failed]);
    } finally {
      this.clearPrompt();
      this.status(`To continue this conversation: plauder chat --conversation ${conversationId}`);
    }
  }

  dispose(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
    this.follower?.stop();
    this.lines?.close();
  }

  /** The level a scenario starts at without --level: the default when it offers it, else its lowest. */
  private async scenarioLevel(scenarioId: string): Promise<CefrLevel> {
    const scenarios = await bounded(this.session.api.tutor.scenarios.query(), this.session, this.io, this.target.url);
    const scenario = scenarios.find((candidate) => candidate.id === scenarioId);
    if (!scenario) throw this.startError({ data: { code: "NOT_FOUND" } });
    return scenario.levels.includes(defaultChatLevel) ? defaultChatLevel : (scenario.levels[0] ?? defaultChatLevel);
  }

  /** `start` refused: an unknown scenario names the command that lists them. */
  private startError(error: unknown): unknown {
    const code = (error as { data?: { code?: string } }).data?.code;
    if (code === "NOT_FOUND" && this.invocation.scenarioId !== undefined) {
      return new CliError(
        `No scenario "${this.invocation.scenarioId}"; \`plauder chat --list-scenarios\` lists them`,
        exitCodes.error,
      );
    }
    return error;
  }

  private follow(conversationId: string): ConversationFollower {
    const screen = this.screen;
    const colour = screen.colour;
    return followConversation(this.session, conversationId, {
      // Before any change is handed on: the history comes first.
      onReady: ({ conversation, messages }) => {
        const kind = conversation.scenario ? "role-play" : "free conversation";
        this.status(
          `${conversation.title} (${kind}, ${conversation.level}), conversation ${conversation.id}. Type /help for commands, Ctrl+D to leave.`,
        );
        this.printHistory(messages);
      },
      onMessage: (message) => {
        if (message.role !== "user") return;
        if (this.sending !== null && message.content === this.sending && !this.ownMessages.has(message.id)) {
          this.ownMessages.add(message.id);
          return;
        }
        if (this.ownMessages.has(message.id)) return;
        // Said in another window (or edited there).
        this.ownMessages.add(message.id);
        this.awaitCorrection(message.id);
        screen.learner(message.id, message.content, false);
      },
      onTruncate: (afterMessageId) => {
        if (afterMessageId !== null) this.status("The answer is being written again");
      },
      onQueued: (_messageId, position) => this.status(queuedLine(position)),
      onText: (message) => {
        if (message.role === "assistant") screen.answer(message.id, message.content);
      },
      onEnd: (message) => this.ended(message),
      onCorrection: (message, correction) => {
        screen.correction(message.id, message.content, (of) => formatCorrection(correction, colour, of));
        this.corrections.get(message.id)?.();
      },
      onCorrectionFailed: (messageId, reason) => {
        const message = this.follower?.message(messageId);
        screen.correction(messageId, message?.content ?? "", (of) => formatCorrectionFailed(reason, colour, of));
        this.corrections.get(messageId)?.();
      },
      onSnapshotFailed: (error) => {
        const { message } = toCliError(error, this.target, this.io.now());
        this.status(`Could not read the conversation (${message}); trying again after the next reconnect`);
      },
      onError: (error) => this.fail(error),
    });
  }

  private printHistory(messages: MessageView[]): void {
    const colour = this.screen.colour;
    for (const message of messages) {
      if (message.role === "user") {
        this.ownMessages.add(message.id);
        this.screen.learner(message.id, message.content, false);
        if (message.correction) this.screen.lines(formatCorrection(message.correction, colour));
        continue;
      }
      if (message.status === "queued" || message.status === "streaming") {
        // The answer under way: its text so far, the rest as it streams.
        if (message.content) this.screen.answer(message.id, message.content);
        continue;
      }
      this.screen.answer(message.id, message.content);
      this.screen.endAnswer(message.id, endNote(message));
      this.screen.markWritten(message.id, message.content.length);
    }
  }

  private ended(message: MessageView): void {
    if (message.role !== "assistant") return;
    this.screen.endAnswer(message.id, endNote(message));
    if (message.status === "failed") this.firstFailure ??= exitCodes.error;
    if (this.stopsSent.has(message.id) && message.status === "stopped")
      this.status("Stopped; what had arrived is kept");
  }

  /** Lines from stdin: commands that act at once, and the rest in order. */
  private listen(): void {
    const lines = createInterface({
      input: this.io.stdin,
      ...(this.terminal ? { output: this.echo(), terminal: true } : { terminal: false }),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    this.lines = lines;
    if (this.terminal) this.screen.attachPrompt(this.promptLine(lines));
    lines.on("line", (line) => this.onLine(line));
    lines.on("close", () => {
      // Ctrl+D at the prompt: what follows starts on a line of its own.
      if (this.terminal && this.promptShowing) process.stdout.write("\n");
      this.inputEnded = true;
      this.promptShowing = false;
      this.pump();
    });
    lines.on("SIGINT", () => this.onInterrupt());
    this.disposers.push(this.io.onInterrupt(() => this.onInterrupt()));
  }

  /**
   * Where readline echoes what is typed: the terminal while the prompt shows, nowhere while an
   * answer streams (the typing would land in the middle of it). What was typed meanwhile shows
   * after the prompt when it comes back; a line entered meanwhile is printed when it is sent.
   */
  private echo(): NodeJS.WritableStream {
    const stdout = process.stdout;
    const echo = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (this.promptShowing) stdout.write(chunk);
        done();
      },
    });
    Object.defineProperty(echo, "columns", { get: () => stdout.columns });
    Object.defineProperty(echo, "rows", { get: () => stdout.rows });
    Object.assign(echo, { isTTY: true });
    stdout.on("resize", () => echo.emit("resize"));
    return echo;
  }

  /** Takes the prompt off the screen for good (leaving with Ctrl+C or /quit). */
  private clearPrompt(): void {
    if (!this.terminal || !this.promptShowing) return;
    this.screen.attachPrompt({ showing: false, show() {}, hide() {}, redraw() {} });
    cursorTo(process.stdout, 0);
    clearScreenDown(process.stdout);
    this.promptShowing = false;
  }

  private promptLine(lines: Interface): PromptLine {
    const text = this.screen.colour ? `\u001b[1m${labels.learner}\u001b[0m` : labels.learner;
    lines.setPrompt(text);
    const chat = this;
    return {
      get showing() {
        return chat.promptShowing;
      },
      show: () => {
        this.promptShowing = true;
        lines.prompt();
      },
      hide: () => {
        const { columns } = this.io.terminalSize();
        moveCursor(process.stdout, 0, -rowsAboveCursor(`${labels.learner}${lines.line}`, columns));
        cursorTo(process.stdout, 0);
        clearScreenDown(process.stdout);
      },
      redraw: () => lines.prompt(true),
    };
  }

  private onLine(raw: string): void {
    const echoed = this.terminal && this.promptShowing;
    this.promptShowing = false;
    this.leaveOnInterrupt = false;
    const line = raw.trim();
    switch (line) {
      case "":
        this.prompt();
        return;
      case "/quit":
      case "/exit":
        this.finish(this.firstFailure ?? exitCodes.ok);
        return;
      case "/stop":
        void this.stop();
        this.prompt();
        return;
      case "/help":
        this.screen.lines(chatHelp);
        this.prompt();
        return;
      case "/regenerate":
        this.queue.push({ kind: "regenerate" });
        break;
      default:
        if (line.startsWith("/")) {
          this.status(`Unknown command ${line.split(/\s/)[0]}; type /help for the commands`);
          this.prompt();
          return;
        }
        this.queue.push({ kind: "send", text: line, echoed });
    }
    this.pump();
  }

  /** Works through the queue one line at a time: each waits for the answer before it. */
  private pump(): void {
    if (this.working) return;
    const next = this.queue.shift();
    if (next === undefined) {
      if (this.inputEnded) void this.endOfInput();
      else this.prompt();
      return;
    }
    this.working = true;
    void this.work(next)
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.working = false;
        this.pump();
      });
  }

  private async work(item: Work): Promise<void> {
    const { api } = this.session;
    const conversationId = this.conversationId;
    await this.correctionsSettled();
    const active = this.activeAnswer();
    if (active) {
      // An answer from another window is under way: this line waits for it.
      await this.follower?.settled(active.id);
    }
    if (item.kind === "regenerate") {
      const answer = await bounded(
        api.tutor.regenerate.mutate({ conversationId }),
        this.session,
        this.io,
        this.target.url,
      );
      if (answer.position > 0) this.status(queuedLine(answer.position));
      await this.follower?.settled(answer.answerId);
      return;
    }
    this.screen.learner(null, item.text, item.echoed);
    this.sending = item.text;
    let sent: Awaited<ReturnType<typeof api.tutor.send.mutate>>;
    try {
      sent = await bounded(
        api.tutor.send.mutate({ conversationId, text: item.text }),
        this.session,
        this.io,
        this.target.url,
      );
    } finally {
      this.sending = null;
    }
    this.ownMessages.add(sent.message.id);
    this.screen.identify(sent.message.id);
    this.awaitCorrection(sent.message.id);
    if (sent.position > 0) this.status(queuedLine(sent.position));
    await this.follower?.settled(sent.answerId);
  }

  /** Remembers that `messageId`'s correction is on its way (the next line waits for it a while). */
  private awaitCorrection(messageId: string): void {
    const known = this.follower?.message(messageId);
    if (known?.correction) return;
    this.corrections.set(messageId, () => this.corrections.delete(messageId));
  }

  private async correctionsSettled(): Promise<void> {
    if (this.corrections.size === 0) return;
    const deadline = Date.now() + correctionWaitMs;
    while (this.corrections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.corrections.clear();
  }

  private async endOfInput(): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    const active = this.activeAnswer();
    if (active) await this.follower?.settled(active.id);
    await this.correctionsSettled();
    this.finish(this.firstFailure ?? exitCodes.ok);
  }

  private activeAnswer(): MessageView | undefined {
    return this.follower
      ?.state()
      ?.messages.find(
        (message) => message.role === "assistant" && (message.status === "queued" || message.status === "streaming"),
      );
  }

  private prompt(): void {
    if (!this.terminal || this.working || this.inputEnded || this.queue.length > 0) return;
    if (this.promptShowing) return;
    this.promptShowing = true;
    this.lines?.prompt();
  }

  /** Ctrl+C: stops the answer under way; with none (or a second time), leaves. */
  private onInterrupt(): void {
    const active = this.activeAnswer();
    if (active && !this.stopsSent.has(active.id)) {
      this.leaveOnInterrupt = true;
      this.status("Stopping the answer… (Ctrl+C again to leave)");
      void this.stop();
      return;
    }
    if (this.leaveOnInterrupt) {
      this.finish(exitCodes.interrupted);
      return;
    }
    this.leaveOnInterrupt = true;
    if (this.terminal && this.lines) this.lines.write(null, { ctrl: true, name: "u" });
    this.status("To leave, press Ctrl+C again or Ctrl+D, or type /quit");
  }

  private async stop(): Promise<void> {
    const active = this.activeAnswer();
    if (active) this.stopsSent.add(active.id);
    try {
      const { stopped } = await bounded(
        this.session.api.tutor.stop.mutate({ conversationId: this.conversationId }),
        this.session,
        this.io,
        this.target.url,
      );
      if (!stopped) this.status("Nothing to stop");
    } catch (error) {
      this.report(error);
    }
  }

  /** One sentence for a failed line; the chat goes on, and the exit code remembers the first failure. */
  private report(error: unknown): void {
    const { message, exitCode } = toCliError(error, this.target, this.io.now());
    this.firstFailure ??= exitCode;
    this.status(message);
    if (exitCode === exitCodes.auth) this.fail(error);
  }
}

function queuedLine(position: number): string {
  return position === 1
    ? "Waiting for a free place: next in line"
    : `Waiting for a free place: position ${position} in line`;
}

/** The note after an answer that did not complete. */
function endNote(message: MessageView): string | undefined {
  if (message.status === "stopped") return "[stopped]";
  if (message.status === "failed") return `[failed] ${message.error ?? "The answer failed."}`;
  return undefined;
}
