"use client";

import { useCallback, useState } from "react";
import { lobbyChannel } from "~/channels/names";
import { FormError } from "~/components/form-error";
import { errorMessage } from "~/lib/error-message";
import { api } from "~/trpc/react";
import { ChannelSwitcher, type RoomEntry } from "./channel-switcher";
import { ChannelView } from "./channel-view";
import type { AddLog } from "./panels";
import { CreateRoomForm, OpenChannelForm } from "./room-forms";
import { formatTime } from "./stats";
import { useRoomNotices } from "./use-room-notices";

/** What to call a channel: its room's name, Lobby, or the name as typed. */
function titleOf(channel: string, room: RoomEntry | null): string {
  if (room) return room.name;
  return channel === lobbyChannel ? "Lobby" : channel;
}

/** Channels v2: Lobby and rooms, switch between them, create rooms, invite people, talk. */
export function ChannelsPanel({ me, addLog }: { me: { id: string; name: string }; addLog: AddLog }) {
  const [selected, setSelected] = useState(lobbyChannel);
  const [focusRequest, setFocusRequest] = useState(0);
  const rooms = api.rooms.list.useQuery();
  const notice = useRoomNotices(me.id);
  const room = rooms.data?.find((entry) => entry.channel === selected) ?? null;

  const onCreated = useCallback(
    (created: RoomEntry) => {
      addLog("sent", `created room ${created.name} (${created.channel})`);
      setSelected(created.channel);
      setFocusRequest((previous) => previous + 1);
    },
    [addLog],
  );

  return (
    <section className="panel panel-channels" aria-labelledby="channels-heading">
      <h2 id="channels-heading">Channels</h2>
      {/* DOM order (switcher, channel, forms) is the phone's order; wide screens put the forms under the switcher. */}
      <div className="channels-layout">
        <div className="channels-nav">
          <ChannelSwitcher
            rooms={rooms.data ?? []}
            selected={selected}
            onSelect={setSelected}
            loading={rooms.isPending}
          />
          <FormError message={rooms.error && errorMessage(rooms.error)} />
          <p className="notice" role="status" data-testid="notice">
            {notice && (
              <>
                <span className="muted">{formatTime(notice.sentAt)} </span>
                {notice.text}
              </>
            )}
          </p>
        </div>
        <ChannelView
          channel={selected}
          title={titleOf(selected, room)}
          room={room}
          me={me.id}
          focusRequest={focusRequest}
          addLog={addLog}
        />
        <div className="channels-forms">
          <CreateRoomForm onCreated={onCreated} />
          <OpenChannelForm onOpen={setSelected} />
        </div>
      </div>
    </section>
  );
}
