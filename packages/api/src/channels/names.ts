import { z } from "zod";

/**
 * The channel namespaces and their rules, in one place.
 *
 * - `lobby`: everyone signed in reads and writes it; the v1 broadcast procedures are its first face.
 * - `room:<id>`: the room's members read and write it; the owner manages who is a member.
 * - `user:<id>`: that person alone reads it; only the server writes to it (notices).
 * - `conversation:<id>`: the conversation's owner alone reads and writes it (the tutor's streams).
 *
 * `kind` is the default for a publication that does not say: durable publications are stored in
 * Postgres and acknowledged after commit; ephemeral ones (typing, token deltas) live in a bounded
 * history in Redis and never touch Postgres.
 */
export const namespaces = {
  lobby: { kind: "durable", clientsPublish: true },
  room: { kind: "durable", clientsPublish: true },
  user: { kind: "durable", clientsPublish: false },
  conversation: { kind: "ephemeral", clientsPublish: true },
} as const satisfies Record<string, { kind: PublicationKind; clientsPublish: boolean }>;

export type PublicationKind = "durable" | "ephemeral";
export type Namespace = keyof typeof namespaces;

export type ChannelName =
  | { namespace: "lobby"; name: "lobby" }
  | { namespace: Exclude<Namespace, "lobby">; id: string; name: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Longest channel name accepted: `conversation:` and a UUID, with room to spare. */
export const maxChannelNameLength = 64;

/** Reads a channel name, or says in a sentence why it is not one. */
export function parseChannelName(value: string): ChannelName | { error: string } {
  if (value === "lobby") return { namespace: "lobby", name: "lobby" };
  const colon = value.indexOf(":");
  if (colon < 0) return { error: `Unknown channel "${value}": use lobby, room:<id>, user:<id> or conversation:<id>` };
  const namespace = value.slice(0, colon);
  const id = value.slice(colon + 1);
  if (namespace !== "room" && namespace !== "user" && namespace !== "conversation") {
    return { error: `Unknown channel namespace "${namespace}": use room, user or conversation` };
  }
  if (!uuidPattern.test(id)) return { error: `The id in a ${namespace} channel must be a lower-case UUID` };
  return { namespace, id, name: value };
}

/** The zod form of a channel name for procedure inputs; the parse itself gives the sentence. */
export const channelNameInput = z
  .string()
  .max(maxChannelNameLength, `A channel name has at most ${maxChannelNameLength} characters`)
  .transform((value, context) => {
    const parsed = parseChannelName(value);
    if ("error" in parsed) {
      context.addIssue({ code: "custom", message: parsed.error });
      return z.NEVER;
    }
    return parsed;
  });

export const roomChannel = (roomId: string) => `room:${roomId}`;
export const userChannel = (userId: string) => `user:${userId}`;
export const conversationChannel = (conversationId: string) => `conversation:${conversationId}`;
