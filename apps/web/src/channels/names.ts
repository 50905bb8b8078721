/**
 * Channel names the page builds itself, as packages/api/src/channels/names.ts defines them (the
 * page cannot import that module's values: @plauder/api's entry also loads server code). The
 * server parses every name again and refuses what it does not accept, with a sentence.
 */
export const lobbyChannel = "lobby";

/** A person's own channel: notices from the server, such as being added to a room. */
export const userChannel = (userId: string) => `user:${userId}`;
