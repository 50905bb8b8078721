import { conversationChannel, parseChannelName } from "../channels/names";
import { publishAs } from "../channels/service";
import { encodeTutorEvent, type TutorEvent, tutorSender } from "./events";

/** Says something on a conversation's channel as the tutor: an ephemeral publication (never stored in Postgres). */
export async function publishTutorEvent(conversationId: string, event: TutorEvent): Promise<void> {
  const channel = parseChannelName(conversationChannel(conversationId));
  if ("error" in channel) throw new Error(channel.error);
  await publishAs(tutorSender, channel, encodeTutorEvent(event), "ephemeral");
}
