"use client";

import { type FormEvent, useId, useState } from "react";
import { FormError } from "~/components/form-error";
import { errorMessage } from "~/lib/error-message";
import { api } from "~/trpc/react";
import type { RoomEntry } from "./channel-switcher";

/** The server's limit on room names (`roomName` in packages/api/src/router/rooms.ts). */
const maxRoomName = 80;

/** Creates a room; the creator owns it and is its first member. */
export function CreateRoomForm({ onCreated }: { onCreated: (room: RoomEntry) => void }) {
  const [name, setName] = useState("");
  const inputId = useId();
  const utils = api.useUtils();
  const create = api.rooms.create.useMutation({
    onSuccess: async (room) => {
      setName("");
      await utils.rooms.list.invalidate();
      onCreated(room);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name });
  };
  return (
    <form onSubmit={submit} className="stack-sm">
      <label htmlFor={inputId}>Room name</label>
      <div className="row">
        <input
          id={inputId}
          className="input grow"
          value={name}
          maxLength={maxRoomName}
          placeholder="Stammtisch"
          onChange={(event) => setName(event.target.value)}
        />
        <button type="submit" className="button" disabled={create.isPending || !name.trim()}>
          Create room
        </button>
      </div>
      <FormError message={create.error && errorMessage(create.error)} />
    </form>
  );
}

/** Opens any channel by its name, as a client would: the server decides, and says why it refuses. */
export function OpenChannelForm({ onOpen }: { onOpen: (channel: string) => void }) {
  const [name, setName] = useState("");
  const inputId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) onOpen(name.trim());
  };
  return (
    <form onSubmit={submit} className="stack-sm">
      <label htmlFor={inputId}>Open a channel by name</label>
      <div className="row">
        <input
          id={inputId}
          className="input grow mono"
          value={name}
          placeholder="room:…"
          autoComplete="off"
          spellCheck={false}
          aria-describedby={`${inputId}-hint`}
          onChange={(event) => setName(event.target.value)}
        />
        <button type="submit" className="button button-quiet" disabled={!name.trim()}>
          Open
        </button>
      </div>
      <p id={`${inputId}-hint`} className="field-hint">
        lobby, room:&lt;id&gt;, user:&lt;id&gt; or conversation:&lt;id&gt;
      </p>
    </form>
  );
}

/** Adds a member by email (the room's owner only); the server says when no account uses it. */
export function InviteForm({ room }: { room: RoomEntry }) {
  const [email, setEmail] = useState("");
  const inputId = useId();
  const invite = api.rooms.invite.useMutation({ onSuccess: () => setEmail("") });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate({ roomId: room.id, email: email.trim() });
  };
  const result = invite.data;
  return (
    <form onSubmit={submit} className="stack-sm" noValidate>
      <label htmlFor={inputId}>Invite by email</label>
      <div className="row">
        <input
          id={inputId}
          className="input grow"
          type="email"
          autoComplete="off"
          value={email}
          placeholder="name@example.com"
          onChange={(event) => setEmail(event.target.value)}
        />
        <button type="submit" className="button" disabled={invite.isPending || !email.trim()}>
          Invite
        </button>
      </div>
      <p className="field-hint" role="status">
        {result &&
          (result.added ? `${result.member.name} is now a member.` : `${result.member.name} was a member already.`)}
      </p>
      <FormError message={invite.error && errorMessage(invite.error)} />
    </form>
  );
}
