"use client";

import type { ChannelPublication } from "@plauder/api";
import { useEffect } from "react";
import { userChannel } from "~/channels/names";
import { useChannel } from "~/channels/use-channel";
import { api } from "~/trpc/react";

/**
 * Listens on the person's own channel, where the server says things like "Anna added you to the
 * room …". Each new notice refreshes the room list, so a room someone added them to appears (or one
 * they were removed from goes) without reloading the page. Returns the newest notice.
 */
export function useRoomNotices(userId: string): ChannelPublication | null {
  const notices = useChannel(userChannel(userId));
  const utils = api.useUtils();
  const latest = notices.publications.at(-1) ?? null;
  const latestId = latest?.id;
  useEffect(() => {
    if (latestId) void utils.rooms.list.invalidate();
  }, [latestId, utils]);
  return latest;
}
