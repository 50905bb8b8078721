"use client";

import { lobbyChannel } from "~/channels/names";
import { SwitcherItem } from "~/components/switcher-item";

export type RoomEntry = { id: string; name: string; channel: string; role: "owner" | "member" };

/**
 * Lobby and the rooms the person is in, as a list of buttons; the selected one is marked
 * `aria-current`, so screen readers announce it as the current channel.
 */
export function ChannelSwitcher({
  rooms,
  selected,
  onSelect,
  loading,
}: {
  rooms: readonly RoomEntry[];
  selected: string;
  onSelect: (channel: string) => void;
  loading: boolean;
}) {
  const entries = [{ channel: lobbyChannel, name: "Lobby", role: null }, ...rooms];
  return (
    <nav aria-label="Channels" className="switcher-nav">
      <ul className="switcher" data-testid="channel-switcher">
        {entries.map((entry) => (
          <SwitcherItem
            key={entry.channel}
            current={entry.channel === selected}
            onSelect={() => onSelect(entry.channel)}
          >
            <span className="switcher-name">{entry.name}</span>
            {entry.role && <span className="switcher-role"> ({entry.role})</span>}
          </SwitcherItem>
        ))}
      </ul>
      {loading && <p className="muted field-hint">Loading your rooms…</p>}
      {!loading && rooms.length === 0 && <p className="muted field-hint">No rooms yet: create one below.</p>}
    </nav>
  );
}
