/** People who are online, the one watching marked "(you)": the lobby's and a channel's members alike. */
export function PeopleList({
  people,
  me,
  className,
  testId,
}: {
  people: readonly { id: string; name: string }[];
  me: string;
  className: string;
  testId: string;
}) {
  return (
    <ul className={className} data-testid={testId}>
      {people.length === 0 && <li className="muted">Nobody yet.</li>}
      {people.map((person) => (
        <li key={person.id}>
          <span className="presence-dot" aria-hidden="true" />
          {person.name}
          {person.id === me && <span className="muted"> (you)</span>}
        </li>
      ))}
    </ul>
  );
}
