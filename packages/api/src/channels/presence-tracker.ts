import { describeError, getLogger } from "@plauder/runtime";
import type { PresenceSnapshot, PresenceStore, PresentUser } from "./presence";

export type PresenceMessage = { kind: "presence"; event: "join" | "leave"; user: PresentUser };

/**
 * This instance's part in channel presence: it records each local client in the shared store,
 * refreshes their expiry while they stay, removes them when they go, and sweeps out clients whose
 * instance died. Joins and leaves are announced on the channel's topic by whoever caused them.
 */
export class ChannelPresence {
  private readonly log = getLogger().child({ component: "channel-presence" });
  /** channel → client → who, and how many subscriptions of that client are in the channel. */
  private readonly local = new Map<string, Map<string, { user: PresentUser; refs: number }>>();
  private timer: NodeJS.Timeout | null = null;
  /** A heartbeat still running when the next is due is not doubled (a slow Redis would pile them up). */
  private beating = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly ttlMs: number,
    private readonly announce: (channel: string, message: PresenceMessage) => Promise<void>,
  ) {}

  async join(channel: string, user: PresentUser, clientId: string): Promise<void> {
    let clients = this.local.get(channel);
    if (!clients) {
      clients = new Map();
      this.local.set(channel, clients);
    }
    const entry = clients.get(clientId);
    if (entry) {
      entry.refs++;
      return;
    }
    clients.set(clientId, { user, refs: 1 });
    this.startTimer();
    if (await this.store.add(channel, user, clientId, Date.now() + this.ttlMs)) {
      await this.say(channel, { kind: "presence", event: "join", user });
    }
  }

  async leave(channel: string, clientId: string): Promise<void> {
    const clients = this.local.get(channel);
    const entry = clients?.get(clientId);
    if (!clients || !entry) return;
    if (--entry.refs > 0) return;
    clients.delete(clientId);
    if (clients.size === 0) this.local.delete(channel);
    const left = await this.store.remove(channel, entry.user.id, clientId);
    if (left) await this.say(channel, { kind: "presence", event: "leave", user: entry.user });
  }

  snapshot(channel: string, maxListed: number): Promise<PresenceSnapshot> {
    return this.store.snapshot(channel, maxListed);
  }

  /** Refreshes every local client's expiry and sweeps the channels this instance is in. */
  async heartbeat(): Promise<void> {
    const entries = [];
    for (const [channel, clients] of this.local) {
      for (const [clientId, { user }] of clients) entries.push({ channel, userId: user.id, clientId });
    }
    await this.store.refresh(entries, Date.now() + this.ttlMs);
    const now = Date.now();
    await Promise.all(
      [...this.local.keys()].map(async (channel) => {
        for (const user of await this.store.sweep(channel, now)) {
          await this.say(channel, { kind: "presence", event: "leave", user });
        }
      }),
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.beating) return;
      this.beating = true;
      this.heartbeat()
        .catch((error: unknown) => this.log.warn({ err: describeError(error) }, "presence heartbeat failed; retrying"))
        .finally(() => {
          this.beating = false;
        });
    }, this.ttlMs / 3);
    this.timer.unref();
  }

  private async say(channel: string, message: PresenceMessage): Promise<void> {
    await this.announce(channel, message).catch((error: unknown) =>
      this.log.warn({ channel, err: describeError(error) }, "could not announce presence"),
    );
  }
}
