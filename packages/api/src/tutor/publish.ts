import { type ChannelName, conversationChannel } from "../channels/names";
import { publishAs } from "../channels/service";
import { encodeTutorEvent, type TutorEvent, tutorSender } from "./events";

/**
 * Says something on a conversation's channel as the tutor: an ephemeral publication (never stored
 * in Postgres). Called for every piece of every answer, so the channel's name is built, not parsed:
 * conversation ids come from the database and are UUIDs already.
 */
export async function publishTutorEvent(conversationId: string, event: TutorEvent): Promise<void> {
  const channel: ChannelName = {
    namespace: "conversation",
    id: conversationId,
    name: conversationChannel(conversationId),
  };
  await publishAs(tutorSender, channel, encodeTutorEvent(event), "ephemeral");
}
