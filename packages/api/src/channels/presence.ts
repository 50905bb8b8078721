import type { Redis } from "ioredis";

export type PresentUser = { id: string; name: string };
export type PresenceChange = { event: "join" | "leave"; user: PresentUser };

/** Who is in a channel: the list while it is small, only the count past `maxListed`. */
export type PresenceSnapshot = { count: number; users: PresentUser[] | null };

/**
 * Per-channel presence records, one per client (connection) with an expiry, counted per person: a
 * person with three tabs is one member, and leaves when the last tab goes or stops refreshing.
 * `add` says whether the person just joined, `remove` and `sweep` whom the channel just lost; the
 * caller announces those, so each join and leave is announced once, by whoever caused it.
 */
export interface PresenceStore {
  add(channel: string, user: PresentUser, clientId: string, expiresAt: number): Promise<boolean>;
  remove(channel: string, userId: string, clientId: string): Promise<PresentUser | null>;
  /** Pushes back the expiry of clients that are still here. */
  refresh(entries: readonly { channel: string; userId: string; clientId: string }[], expiresAt: number): Promise<void>;
  /** Removes clients whose expiry passed (an instance died without saying goodbye); returns who left. */
  sweep(channel: string, now: number): Promise<PresentUser[]>;
  snapshot(channel: string, maxListed: number): Promise<PresenceSnapshot>;
}

// Keys: a sorted set of clients scored by expiry, a hash of clients per person, a hash of names.
const addScript = `
local added = redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1] .. '|' .. ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
if added == 0 then return 0 end
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1) == 1 and 1 or 0
`;
const removeScript = `
if redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. ARGV[2]) == 0 then return false end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) > 0 then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
local name = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return name or ''
`;
const sweepScript = `
local gone = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)) do
  redis.call('ZREM', KEYS[1], member)
  local user = string.match(member, '^([^|]+)|')
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    table.insert(gone, user)
    table.insert(gone, redis.call('HGET', KEYS[3], user) or '')
    redis.call('HDEL', KEYS[3], user)
  end
end
return gone
`;

type Scripts = {
  plauderPresenceAdd(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<number>;
  plauderPresenceRemove(k1: string, k2: string, k3: string, ...args: string[]): Promise<string | null>;
  plauderPresenceSweep(k1: string, k2: string, k3: string, now: number): Promise<string[]>;
};

export function createRedisPresenceStore(redis: Redis, prefix: string, keyTtlMs: number): PresenceStore {
  for (const [name, lua] of [
    ["plauderPresenceAdd", addScript],
    ["plauderPresenceRemove", removeScript],
    ["plauderPresenceSweep", sweepScript],
  ] as const) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 3, lua });
  }
  // defineCommand adds these methods at run time; ioredis cannot type them.
  const scripts = redis as unknown as Scripts;
  const keys = (channel: string) =>
    [`${prefix}{ch:${channel}}:presence`, `${prefix}{ch:${channel}}:people`, `${prefix}{ch:${channel}}:names`] as const;
  return {
    async add(channel, user, clientId, expiresAt) {
      return (
        (await scripts.plauderPresenceAdd(...keys(channel), user.id, clientId, user.name, expiresAt, keyTtlMs)) === 1
      );
    },
    async remove(channel, userId, clientId) {
      const name = await scripts.plauderPresenceRemove(...keys(channel), userId, clientId);
      return typeof name === "string" ? { id: userId, name } : null;
    },
    async refresh(entries, expiresAt) {
      if (entries.length === 0) return;
      // One ZADD and one expiry per key for each channel, however many of its clients are here:
      // a channel with a thousand local subscribers costs four commands, not four thousand.
      const byChannel = new Map<string, string[]>();
      for (const entry of entries) {
        const members = byChannel.get(entry.channel);
        const member = `${entry.userId}|${entry.clientId}`;
        if (members) members.push(member);
        else byChannel.set(entry.channel, [member]);
      }
      const pipeline = redis.pipeline();
      for (const [channel, members] of byChannel) {
        const [clients, people, names] = keys(channel);
        pipeline.zadd(clients, "XX", ...members.flatMap((member) => [expiresAt, member]));
        for (const key of [clients, people, names]) pipeline.pexpire(key, keyTtlMs);
      }
      await pipeline.exec();
    },
    async sweep(channel, now) {
      const flat = await scripts.plauderPresenceSweep(...keys(channel), now);
      const gone: PresentUser[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) gone.push({ id: flat[i] as string, name: flat[i + 1] as string });
      return gone;
    },
    async snapshot(channel, maxListed) {
      const [, people, names] = keys(channel);
      const count = await redis.hlen(people);
      if (count > maxListed) return { count, users: null };
      const all = await redis.hgetall(names);
      return { count, users: Object.entries(all).map(([id, name]) => ({ id, name })) };
    },
  };
}

/** The embedded defaults' presence: one process, so maps. */
export function createMemoryPresenceStore(): PresenceStore {
  const channels = new Map<string, Map<string, { user: PresentUser; clients: Map<string, number> }>>();
  const people = (channel: string) => {
    let map = channels.get(channel);
    if (!map) {
      map = new Map();
      channels.set(channel, map);
    }
    return map;
  };
  return {
    async add(channel, user, clientId, expiresAt) {
      const map = people(channel);
      const person = map.get(user.id) ?? { user, clients: new Map() };
      map.set(user.id, person);
      const joined = person.clients.size === 0;
      person.clients.set(clientId, expiresAt);
      return joined;
    },
    async remove(channel, userId, clientId) {
      const map = people(channel);
      const person = map.get(userId);
      if (!person?.clients.delete(clientId) || person.clients.size > 0) return null;
      map.delete(userId);
      if (map.size === 0) channels.delete(channel);
      return person.user;
    },
    async refresh(entries, expiresAt) {
      for (const entry of entries) {
        const clients = channels.get(entry.channel)?.get(entry.userId)?.clients;
        if (clients?.has(entry.clientId)) clients.set(entry.clientId, expiresAt);
      }
    },
    async sweep(channel, now) {
      const gone: PresentUser[] = [];
      for (const [id, person] of channels.get(channel) ?? []) {
        for (const [client, expiresAt] of person.clients) if (expiresAt <= now) person.clients.delete(client);
        if (person.clients.size === 0) {
          channels.get(channel)?.delete(id);
          gone.push(person.user);
        }
      }
      return gone;
    },
    async snapshot(channel, maxListed) {
      const map = channels.get(channel);
      const count = map?.size ?? 0;
      if (count > maxListed) return { count, users: null };
      return { count, users: [...(map?.values() ?? [])].map((person) => person.user) };
    },
  };
}
