import { closeCodes, credentialsEndedCodes } from "@plauder/api/close-codes";
import type { CredentialsEnded } from "../client";
import { ServerUnreachableError } from "../errors";
import { CliError, exitCodes } from "./exit-codes";
import { unreachableMessage } from "./messages";
import { credentialsEndedError } from "./to-cli-error";

/** One-shot commands give up on a connection that stays lost; long-lived ones wait for it to return. */
export type WatchMode = "one-shot" | "long-lived";

/**
 * Follows the socket through onOpen/onClose. wsLink retries a lost socket forever and holds
 * requests until it is back, so without this an unreachable server would hang a command. `failed`
 * rejects when the socket does not open in time, closes before it ever opened, or (for one-shot
 * commands) stays closed longer than the timeout.
 */
export class ConnectionWatch {
  readonly failed: Promise<never>;
  /** Resolves when the socket first opens. */
  readonly ready: Promise<void>;
  private fail: (error: Error) => void = () => {};
  private markReady: () => void = () => {};
  private timer: NodeJS.Timeout | undefined;
  private everOpened = false;
  private open = false;
  // Closing the client on purpose fires onClose too; that is not a lost connection.
  private disposed = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly mode: WatchMode,
    private readonly status: { opened?: (first: boolean) => void; lost?: () => void } = {},
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
    // Callers race against `failed`; a failure after they are done must not be "unhandled".
    this.failed.catch(() => {});
  }

  /** Starts the clock for the first connection. */
  start(): void {
    if (this.everOpened) return;
    this.arm(`no connection within ${this.timeoutMs / 1000} s`);
  }

  readonly onOpen = (): void => {
    if (this.disposed) return;
    clearTimeout(this.timer);
    const first = !this.everOpened;
    this.everOpened = true;
    this.open = true;
    this.markReady();
    this.status.opened?.(first);
  };

  readonly onClose = (cause?: { code?: number }): void => {
    if (this.disposed) return;
    if (cause?.code === closeCodes.tooManyForUser.code) {
      this.fail(
        new CliError("Too many open connections for this account; close some and try again", exitCodes.rateLimited),
      );
    } else if (!this.everOpened) {
      this.fail(new ServerUnreachableError(unreachableMessage(this.url, "the WebSocket connection failed")));
    } else if (this.open) {
      // Only the first close counts; failed reconnect attempts close too and must not move the deadline.
      this.open = false;
      // An ended sign-in is no lost connection: the client signs in again or reports it as such.
      const signInEnded = cause?.code !== undefined && credentialsEndedCodes.has(cause.code);
      if (!signInEnded) this.status.lost?.();
      if (this.mode === "one-shot") this.arm("the connection was lost");
    }
  };

  /** The server ended the token this command runs with (logged out elsewhere, or expired). */
  readonly onCredentialsEnded = (ended: CredentialsEnded): void => {
    if (this.disposed) return;
    this.fail(credentialsEndedError(ended));
  };

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
  }

  private arm(detail: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.fail(new ServerUnreachableError(unreachableMessage(this.url, detail))),
      this.timeoutMs,
    );
    this.timer.unref();
  }
}
