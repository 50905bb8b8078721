import { z } from "zod";
import type { PublicationKind } from "./names";

/** One publication on a channel, as subscribers receive it (wire contract v2). */
export type ChannelPublication = {
  type: "publication";
  channel: string;
  /** `<d|e>:<epoch>:<offset>`: unique within the channel. */
  id: string;
  kind: PublicationKind;
  /** The incarnation of the channel's log of this kind; offsets restart only with a new epoch. */
  epoch: string;
  /** This publication's place in its kind's log: 1, 2, 3… with no gaps within an epoch. */
  offset: number;
  text: string;
  sender: { id: string; name: string };
  sentAt: number;
  /** Set on publications a resumed subscription replays (missed while away). */
  replayed?: true;
};

/**
 * Where a subscription stands. Sent once after subscribing (after any replay) and again whenever
 * continuity breaks while live. `recovered: false` means: something may be missing, reload the
 * channel's history (`channels.history`) before trusting what you show.
 */
export type ChannelSync = {
  type: "sync";
  channel: string;
  /** Whether this subscription asked to resume (`lastEventId`). */
  resumed: boolean;
  /** Whether every publication since `lastEventId` was replayed. False on a fresh subscription. */
  recovered: boolean;
  /** Which logs could not be replayed in full. */
  lost: PublicationKind[];
};

export type ChannelEvent = ChannelPublication | ChannelSync;

/**
 * A subscriber's place in both of a channel's logs: what `tracked()` ids carry and `lastEventId`
 * sends back. Format `<durable epoch>:<durable offset>:<ephemeral epoch>:<ephemeral offset>`; an
 * empty epoch with offset 0 means "nothing seen yet" and resumes into any epoch.
 */
export type Position = { durableEpoch: string; durable: number; ephemeralEpoch: string; ephemeral: number };

const epochPattern = "[a-z0-9]{0,16}";
const positionPattern = new RegExp(`^(${epochPattern}):(\\d{1,15}):(${epochPattern}):(\\d{1,15})$`);

export const positionInput = z.string().regex(positionPattern, "lastEventId must be an id this channel sent");

export function formatPosition(position: Position): string {
  return `${position.durableEpoch}:${position.durable}:${position.ephemeralEpoch}:${position.ephemeral}`;
}

export function parsePosition(value: string): Position | null {
  const match = positionPattern.exec(value);
  if (!match) return null;
  return {
    durableEpoch: match[1] as string,
    durable: Number(match[2]),
    ephemeralEpoch: match[3] as string,
    ephemeral: Number(match[4]),
  };
}

export const publicationId = (kind: PublicationKind, epoch: string, offset: number) =>
  `${kind === "durable" ? "d" : "e"}:${epoch}:${offset}`;

/** What a publish answers: the publication's id and place, once it is stored. */
export type PublishAck = { id: string; offset: number; epoch: string; sentAt: number };

const epoch = z.string().regex(/^[a-z0-9]{1,16}$/);
const body = z.object({
  text: z.string(),
  sender: z.object({ id: z.string(), name: z.string() }),
  sentAt: z.number(),
});
export type PublicationBody = z.infer<typeof body>;

/**
 * A message on a channel's bus topic. Publications travel as a run of consecutive offsets from
 * `first` in one epoch (a durable batch commits them together; an ephemeral batch is one script
 * call), so the channel name, kind and ids are not repeated per publication. Anything with access
 * to Redis could write here: every message is checked.
 */
export const channelBusMessageSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.enum(["durable", "ephemeral"]),
    epoch,
    first: z.number().int().positive(),
    bodies: z.array(body).min(1).max(10_000),
  }),
  z.object({
    kind: z.literal("presence"),
    event: z.enum(["join", "leave"]),
    user: z.object({ id: z.string(), name: z.string() }),
  }),
]);
export type ChannelBusMessage = z.infer<typeof channelBusMessageSchema>;

/** Expands a run into publications. */
export function expandRun(
  channel: string,
  kind: PublicationKind,
  epoch: string,
  first: number,
  bodies: readonly PublicationBody[],
): ChannelPublication[] {
  return bodies.map((item, index) => ({
    type: "publication",
    channel,
    id: publicationId(kind, epoch, first + index),
    kind,
    epoch,
    offset: first + index,
    text: item.text,
    sender: item.sender,
    sentAt: item.sentAt,
  }));
}

/** A fresh epoch: short, random, lower-case (it travels in every resume token). */
export function newEpoch(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, "0");
}
