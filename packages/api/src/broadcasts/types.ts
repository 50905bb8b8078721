import { z } from "zod";

/** A broadcast as clients receive it (wire contract). */
export type Broadcast = {
  id: string;
  text: string;
  sender: { id: string; name: string };
  sentAt: number;
  instanceId: string;
  /** Set on broadcasts a resumed subscription replays from the store (missed while away). */
  replayed?: true;
};

/** Checks broadcasts arriving from the bus: another instance (or anything with access to Redis) wrote them. */
export const broadcastSchema = z.object({
  id: z.string().regex(/^\d{1,15}$/),
  text: z.string(),
  sender: z.object({ id: z.string(), name: z.string() }),
  sentAt: z.number(),
  instanceId: z.string(),
});

/** Broadcast ids are decimal strings on the wire and safe integers inside. */
export const idNumber = (broadcast: Pick<Broadcast, "id">): number => Number(broadcast.id);
