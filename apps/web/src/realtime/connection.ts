import type { AppRouter } from "@plauder/api";
import { credentialsEndedCodes } from "@plauder/api/close-codes";
import { jitteredBackoff } from "@plauder/runtime/backoff";
import { createWSClient, type TRPCClient, TRPCClientError } from "@trpc/client";
import { observable } from "@trpc/server/observable";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export type ConnectionStatus = {
  state: ConnectionState;
  /** Reconnect attempts since the connection was last open. */
  attempt: number;
  /** When the next reconnect attempt starts (epoch ms), while reconnecting. */
  nextRetryAt: number | null;
  /** Whether the person chose to be offline (Disconnect) rather than running out of attempts. */
  manual: boolean;
  connectedSince: number | null;
  /** Times the connection came back after being lost. */
  reconnects: number;
  /** Bumped on every manual (re)connect: subscriptions restart with the id they last saw. */
  generation: number;
  connectionId: string | null;
  instanceId: string | null;
  lastHeartbeat: number | null;
  lastHeartbeatRtt: number | null;
};

export type RealtimeOptions = {
  url: string;
  /** Failed reconnect attempts in a row before giving up and showing Offline. */
  maxAttempts?: number;
  heartbeatMs?: number;
  /**
   * Called when the server closed the connection because its credentials ended (4001: expired or
   * signed out, perhaps in another tab) or never existed (4401). The page decides whether it is
   * still signed in; reconnecting continues meanwhile.
   */
  onCredentialsEnded?: () => void;
};

type WsClient = ReturnType<typeof createWSClient>;

/**
 * The browser's one WebSocket to the realtime server, with the status the UI shows. Reconnects with
 * exponential backoff and jitter (also after the server's drain notification, so a restarting
 * instance's clients do not all return at the same instant), gives up after `maxAttempts` failures
 * in a row, and can be disconnected and reconnected by hand.
 */
export class RealtimeConnection {
  private ws: WsClient | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Set<() => void>();
  private everConnected = false;
  private client: TRPCClient<AppRouter> | null = null;
  status: ConnectionStatus = {
    state: "connecting",
    attempt: 0,
    nextRetryAt: null,
    manual: false,
    connectedSince: null,
    reconnects: 0,
    generation: 0,
    connectionId: null,
    instanceId: null,
    lastHeartbeat: null,
    lastHeartbeatRtt: null,
  };

  constructor(private readonly options: RealtimeOptions) {}

  /**
   * Hands over the page's one tRPC client (built on {@link proxy}). Two clients on one socket would
   * each number their requests from 1 and answer each other's calls, so the connection uses the
   * page's client for its own pings instead of making one.
   */
  attach(client: TRPCClient<AppRouter>): void {
    this.client = client;
  }

  /** The typed client whose `realtime.*` calls travel on this connection. */
  get api(): TRPCClient<AppRouter> {
    if (!this.client) throw new Error("RealtimeConnection.attach() was not called");
    return this.client;
  }

  /** A stand-in wsClient that forwards to the current one, so links survive a manual reconnect. */
  proxy(): WsClient {
    // The getters below run with `this` bound to the returned object, so they read `self`.
    const self = this;
    return {
      request: (...args: Parameters<WsClient["request"]>) => self.current().request(...args),
      close: () => self.current().close(),
      get connectionState() {
        return self.current().connectionState;
      },
      get connection() {
        return self.current().connection;
      },
    } as WsClient;
  }

  /**
   * The live client, opened on first use (child components subscribe before the provider's effect
   * runs); while offline, one that fails every call instead of quietly reconnecting.
   */
  private current(): WsClient {
    if (!this.ws && this.status.state !== "offline") this.connect();
    return this.ws ?? offlineClient;
  }

  /** Connects unless already connected or connecting (mount; React may mount twice in development). */
  start(): void {
    if (!this.ws) this.connect();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(patch: Partial<ConnectionStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const listener of this.listeners) listener();
  }

  /** Opens a new connection (first start, or the Reconnect / Connect buttons). */
  connect(): void {
    const previous = this.ws;
    this.ws = null;
    void previous?.close();
    const maxAttempts = this.options.maxAttempts ?? 5;
    const ws = createWSClient({
      url: this.options.url,
      retryDelayMs: (attempt) => {
        // A client that was replaced or closed still runs its retry timer once; it must not touch the status.
        if (this.ws !== ws) return 0;
        if (attempt >= maxAttempts) {
          // Give up: closing stops wsLink's retry loop after this (zero) wait.
          queueMicrotask(() => this.goOffline(false, ws));
          return 0;
        }
        const delay = jitteredBackoff(attempt);
        this.update({ state: "reconnecting", attempt: attempt + 1, nextRetryAt: Date.now() + delay });
        return delay;
      },
      onOpen: () => {
        if (this.ws !== ws) return;
        const reconnected = this.everConnected;
        this.everConnected = true;
        this.update({
          state: "connected",
          attempt: 0,
          nextRetryAt: null,
          connectedSince: Date.now(),
          reconnects: this.status.reconnects + (reconnected ? 1 : 0),
        });
        void this.describe();
      },
      onClose: (cause) => {
        if (this.ws !== ws || this.status.state === "offline") return;
        this.update({ state: "reconnecting", connectedSince: null, connectionId: null });
        if (cause?.code !== undefined && credentialsEndedCodes.has(cause.code)) this.options.onCredentialsEnded?.();
      },
    });
    this.ws = ws;
    this.update({ state: "connecting", manual: false, attempt: 0, generation: this.status.generation + 1 });
    this.startHeartbeat();
  }

  /** Closes the connection on purpose (the Disconnect button, signing out). */
  disconnect(): void {
    this.goOffline(true, this.ws);
  }

  private goOffline(manual: boolean, ws: WsClient | null): void {
    if (!ws || ws !== this.ws) return;
    this.stopHeartbeat();
    this.ws = null;
    // Offline first: closing completes the subscriptions, and nothing reacting to that may reopen.
    this.update({ state: "offline", manual, nextRetryAt: null, connectedSince: null, connectionId: null });
    void ws.close();
  }

  /** Asks the server which connection and instance this is (shown in the info panel and the badge). */
  private async describe(): Promise<void> {
    try {
      const session = await this.api.realtime.session.query();
      this.update({ connectionId: session.connectionId, instanceId: session.instanceId });
      await this.beat();
    } catch {
      // The connection went away again; the next open describes it.
    }
  }

  private async beat(): Promise<void> {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const sub = this.api.realtime.ping.subscribe(
        { clientTime: Date.now() },
        {
          onData: (pong) => {
            this.update({
              lastHeartbeat: Date.now(),
              lastHeartbeatRtt: performance.now() - started,
              instanceId: pong.instanceId,
            });
            resolve();
          },
          onError: (error) => {
            sub.unsubscribe();
            reject(error);
          },
        },
      );
    });
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (this.status.state === "connected") void this.beat().catch(() => undefined);
    }, this.options.heartbeatMs ?? 15_000);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Closes the connection without a status change (unmount, sign-out). */
  dispose(): void {
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    void ws?.close();
  }
}

const offlineError = () => TRPCClientError.from(new Error("Offline: reconnect to continue"));

/** Stands in while offline: every call fails at once, and nothing opens a socket behind the person's back. */
const offlineClient = {
  request: () =>
    observable((observer) => {
      observer.error(offlineError());
      return () => {};
    }),
  close: async () => {},
  connectionState: { subscribe: () => ({ unsubscribe: () => {} }) },
  connection: null,
} as unknown as WsClient;

/** The WebSocket URL of the page's own origin. */
export function realtimeUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}/api/trpc-ws`;
}
