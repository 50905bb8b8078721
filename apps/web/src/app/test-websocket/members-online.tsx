"use client";

import { useId } from "react";
import { usePresence } from "~/channels/use-presence";
import { PeopleList } from "./people-list";

/** Who is in the selected channel right now, on any instance; the person watching is among them. */
export function MembersOnline({ channel, me, hideError }: { channel: string; me: string; hideError: boolean }) {
  const { members, count, error } = usePresence(channel);
  const headingId = useId();
  return (
    <section className="members" aria-labelledby={headingId}>
      <h4 id={headingId} className="members-heading">
        Members online <span className="count-pill">{count}</span>
      </h4>
      {members && <PeopleList people={members} me={me} className="members-list" testId="channel-presence" />}
      {!members && <p className="muted">Too many to list.</p>}
      {/* The channel's own refusal says the same; one alert is enough. */}
      {error && !hideError && <p className="field-error">{error}</p>}
    </section>
  );
}
