import type { ReactNode } from "react";

type ScenarioOutline = { setting: string; learnerRole: string; tutorRole: string; goals: readonly string[] };

/** A role-play's setting, who plays whom and its goals, in German; `children` come after them. */
export function ScenarioBrief({ scenario, children }: { scenario: ScenarioOutline; children?: ReactNode }) {
  return (
    <div lang="de">
      <p>{scenario.setting}</p>
      <p>
        <strong>Du:</strong> {scenario.learnerRole} · <strong>Tutor:</strong> {scenario.tutorRole}
      </p>
      <ul>
        {scenario.goals.map((goal) => (
          <li key={goal}>{goal}</li>
        ))}
      </ul>
      {children}
    </div>
  );
}
