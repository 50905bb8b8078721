import { randomUUID } from "node:crypto";
import { issueAccessToken } from "@plauder/auth";
import { openDatabase, roomMembers, rooms, users } from "@plauder/db";
import { migrateDatabase } from "@plauder/db/migrate";
import { createTestPostgres } from "@plauder/db/testing";

export type BenchUser = { id: string; name: string; token: string };
export type BenchRoom = { id: string; channel: string; members: number[] };

/**
 * The people and rooms of one channels benchmark run, written straight into a fresh Postgres
 * database (rooms.create and rooms.invite would only take longer):
 *
 * - `users` people, each with their own access token;
 * - `rooms` rooms of `membersPerRoom` members each. Person u belongs to rooms
 *   `u mod stride + k·stride` (k = 0 … roomsPerUser−1), so the first `stride` people between
 *   them belong to every room, and each room has members from the whole range;
 * - two extra rooms: one for the in-order scenario and one for the fan-out check, whose members
 *   are the first ten people.
 */
export type Layout = {
  users: BenchUser[];
  rooms: BenchRoom[];
  roomsPerUser: number;
  stride: number;
  orderRoom: BenchRoom;
  fanoutRoom: BenchRoom;
  /** The rooms person `u` belongs to (of the main set). */
  roomsOf(u: number): BenchRoom[];
};

export async function prepareChannelServices(options: { users: number; rooms: number; membersPerRoom: number }) {
  const roomsPerUser = (options.rooms * options.membersPerRoom) / options.users;
  const stride = options.rooms / roomsPerUser;
  if (!Number.isInteger(roomsPerUser) || !Number.isInteger(stride) || options.users % stride !== 0) {
    throw new Error(`${options.users} users cannot fill ${options.rooms} rooms of ${options.membersPerRoom} evenly`);
  }
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const database = await createTestPostgres();
  const authSecret = `${randomUUID()}${randomUUID()}`;
  process.env.AUTH_SECRET = authSecret;
  // Tokens valid for the whole run.
  process.env.ACCESS_TOKEN_TTL_SECONDS = "7200";
  const handle = openDatabase({ kind: "postgres", url: database.url });
  let ready = false;
  try {
    await migrateDatabase(handle);
    const { db } = handle;
    const run = randomUUID().slice(0, 8);
    const userRows: { id: string; email: string; name: string }[] = [];
    for (let from = 0; from < options.users; from += 1_000) {
      const values = Array.from({ length: Math.min(1_000, options.users - from) }, (_, i) => ({
        email: `bench-${run}-${from + i}@example.com`,
        name: `Bench ${from + i}`,
        passwordHash: "not-used",
      }));
      const inserted = await db
        .insert(users)
        .values(values)
        .returning({ id: users.id, email: users.email, name: users.name });
      // Postgres returns rows in insert order for a single multi-row insert.
      userRows.push(...inserted);
    }

    const roomSpecs: { members: number[] }[] = [];
    for (let r = 0; r < options.rooms; r++) {
      const members: number[] = [];
      for (let u = r % stride; u < options.users; u += stride) members.push(u);
      roomSpecs.push({ members });
    }
    const firstTen = Array.from({ length: Math.min(10, options.users) }, (_, i) => i);
    roomSpecs.push({ members: firstTen }, { members: firstTen });

    const roomRows: BenchRoom[] = [];
    for (let from = 0; from < roomSpecs.length; from += 1_000) {
      const part = roomSpecs.slice(from, from + 1_000);
      const inserted = await db
        .insert(rooms)
        .values(
          part.map((spec, i) => ({
            name: `Bench room ${from + i}`,
            ownerId: (userRows[spec.members[0] as number] as { id: string }).id,
          })),
        )
        .returning({ id: rooms.id });
      inserted.forEach((row, i) => {
        const spec = part[i] as { members: number[] };
        roomRows.push({ id: row.id, channel: `room:${row.id}`, members: spec.members });
      });
    }
    const memberRows = roomRows.flatMap((room) =>
      room.members.map((u) => ({ roomId: room.id, userId: (userRows[u] as { id: string }).id })),
    );
    for (let from = 0; from < memberRows.length; from += 5_000) {
      await db.insert(roomMembers).values(memberRows.slice(from, from + 5_000));
    }

    const benchUsers: BenchUser[] = [];
    for (const row of userRows) {
      const { token } = await issueAccessToken({ id: row.id, email: row.email, name: row.name });
      benchUsers.push({ id: row.id, name: row.name, token });
    }
    const main = roomRows.slice(0, options.rooms);
    const layout: Layout = {
      users: benchUsers,
      rooms: main,
      roomsPerUser,
      stride,
      orderRoom: roomRows[options.rooms] as BenchRoom,
      fanoutRoom: roomRows[options.rooms + 1] as BenchRoom,
      roomsOf: (u) => Array.from({ length: roomsPerUser }, (_, k) => main[(u % stride) + k * stride] as BenchRoom),
    };
    ready = true;
    return {
      prefix,
      layout,
      databaseUrl: database.url,
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
        REDIS_KEY_PREFIX: prefix,
        BENCH_PREFIX: prefix,
        AUTH_SECRET: authSecret,
        LOG_LEVEL: "error",
        MAX_CONNECTIONS: "30000",
        MAX_CONNECTIONS_PER_USER: "1000",
        // Every load connection comes from 127.0.0.1: per-address ceilings would stop the load tool.
        MAX_CONNECTIONS_PER_ADDRESS: "30000",
        MAX_UNAUTHENTICATED_PER_ADDRESS: "30000",
        // The per-person publish limit would stop a closed loop within a second; the benchmark
        // measures what the server can carry, so it is out of reach (it is still checked per publish).
        PUBLISH_RATE_LIMIT: "1000000000",
        WS_HEARTBEAT_MS: "30000",
      } satisfies NodeJS.ProcessEnv,
      cleanup: async () => {
        await database.drop();
      },
    };
  } finally {
    await handle.close();
    // A run that could not be set up leaves no database behind.
    if (!ready) await database.drop().catch(() => undefined);
  }
}
