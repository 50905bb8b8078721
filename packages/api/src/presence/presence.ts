import { getLogger } from "@plauder/runtime";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Bus } from "../bus/index";
import { notifyEach, parseBusMessage } from "../bus/messages";

export type PresentUser = { id: string; name: string };
export type PresenceEvent =
  | { type: "snapshot"; users: PresentUser[] }
  | { type: "join"; user: PresentUser }
  | { type: "leave"; user: PresentUser };

const snapshotSchema = z.object({
  instanceId: z.string(),
  users: z.array(z.object({ id: z.string(), name: z.string() })),
  ttlMs: z.number().positive(),
});
type Snapshot = z.infer<typeof snapshotSchema>;

export type PresenceOptions = {
  bus: Bus;
  /** Redis for the stored snapshots new instances read at start; `null` on the embedded defaults. */
  redis: Redis | null;
  instanceId: string;
  /** Bus channel and key prefix, e.g. `plauder:presence`. */
  key: string;
  /** How often each instance announces its users; a snapshot expires after three of these. */
  heartbeatMs?: number;
};

/**
 * Who is online across all instances. Each instance counts its own users' open connections and
 * announces the list of users it serves (a heartbeat on the bus, also stored in Redis with an
 * expiry). Everyone online is the union of the unexpired announcements, so a person with three tabs,
 * or on two instances, is one person, and an instance that dies silently drops out after its
 * snapshot expires.
 */
export class Presence {
  private readonly log = getLogger().child({ component: "presence" });
  private readonly local = new Map<string, { user: PresentUser; connections: number }>();
  private readonly remote = new Map<string, { users: PresentUser[]; expiresAt: number }>();
  private readonly listeners = new Set<(event: PresenceEvent) => void>();
  private online = new Map<string, PresentUser>();
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | null = null;
  private announceSoon: NodeJS.Timeout | null = null;
  private stopBus: () => void = () => {};

  constructor(private readonly options: PresenceOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
  }

  async start(): Promise<void> {
    const { bus, redis, key } = this.options;
    this.stopBus = bus.subscribe(key, (payload) => this.onSnapshot(payload));
    if (redis?.status === "ready") {
      // Instances already running announced themselves before we listened: read what they stored.
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await redis.scan(cursor, "MATCH", `${key}:instance:*`, "COUNT", 200);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      const values = keys.length ? await redis.mget(...keys) : [];
      for (const value of values) if (value) this.onSnapshot(value);
    }
    this.timer = setInterval(() => {
      this.dropExpiredInstances();
      void this.announce();
    }, this.heartbeatMs);
    this.timer.unref();
    await this.announce();
  }

  /** Announces that this instance serves nobody, so others drop its users at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.announceSoon) clearTimeout(this.announceSoon);
    this.local.clear();
    await this.announce().catch(() => undefined);
    await this.options.redis?.del(this.instanceKey()).catch(() => undefined);
    this.stopBus();
  }

  /** A connection of this user opened on this instance. */
  connect(user: PresentUser): void {
    const entry = this.local.get(user.id);
    if (entry) {
      entry.connections += 1;
      return;
    }
    this.local.set(user.id, { user, connections: 1 });
    this.changed();
  }

  /** A connection of this user closed on this instance. */
  disconnect(userId: string): void {
    const entry = this.local.get(userId);
    if (!entry) return;
    entry.connections -= 1;
    if (entry.connections > 0) return;
    this.local.delete(userId);
    this.changed();
  }

  users(): PresentUser[] {
    return [...this.online.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  onChange(listener: (event: PresenceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private instanceKey(): string {
    return `${this.options.key}:instance:${this.options.instanceId}`;
  }

  private changed(): void {
    this.recompute();
    // Coalesce bursts of connects and disconnects into one announcement.
    this.announceSoon ??= setTimeout(() => {
      this.announceSoon = null;
      void this.announce();
    }, 50);
  }

  private async announce(): Promise<void> {
    const snapshot: Snapshot = {
      instanceId: this.options.instanceId,
      users: [...this.local.values()].map((entry) => entry.user),
      ttlMs: this.heartbeatMs * 3,
    };
    const payload = JSON.stringify(snapshot);
    await Promise.allSettled([
      this.options.bus.publish(this.options.key, payload),
      this.options.redis?.set(this.instanceKey(), payload, "PX", snapshot.ttlMs),
    ]);
  }

  private onSnapshot(payload: string): void {
    const snapshot = parseBusMessage(snapshotSchema, payload, this.log, "presence snapshot");
    if (!snapshot) return;
    if (snapshot.instanceId === this.options.instanceId) return;
    if (snapshot.users.length === 0) this.remote.delete(snapshot.instanceId);
    else this.remote.set(snapshot.instanceId, { users: snapshot.users, expiresAt: Date.now() + snapshot.ttlMs });
    this.recompute();
  }

  /** Forgets other instances whose last snapshot has expired (they stopped announcing). */
  private dropExpiredInstances(): void {
    const now = Date.now();
    let expired = false;
    for (const [instanceId, entry] of this.remote) {
      if (entry.expiresAt <= now) {
        this.remote.delete(instanceId);
        expired = true;
      }
    }
    if (expired) this.recompute();
  }

  /** Rebuilds the union of everyone online and tells listeners who joined and who left. */
  private recompute(): void {
    const next = new Map<string, PresentUser>();
    for (const { user } of this.local.values()) next.set(user.id, user);
    for (const { users } of this.remote.values())
      for (const user of users) if (!next.has(user.id)) next.set(user.id, user);
    const previous = this.online;
    this.online = next;
    for (const [id, user] of next) if (!previous.has(id)) this.emit({ type: "join", user });
    for (const [id, user] of previous) if (!next.has(id)) this.emit({ type: "leave", user });
  }

  private emit(event: PresenceEvent): void {
    notifyEach(this.listeners, event, this.log, "presence listener");
  }
}
