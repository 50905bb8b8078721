/**
 * Writes the figures the resilience suite recorded (test/resilience/results/*.json) into
 * docs/reliability.md, between its results markers; the prose around them is kept as written.
 * Run after the suite: `npm run reliability` does both.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

type Recorded = {
  id: string;
  section: string;
  title: string;
  method: string;
  figures: Record<string, string | number | boolean>;
  /** A table of its own under the figures (the channel cases give one row per room). */
  breakdown?: { caption: string; columns: string[]; rows: (string | number | boolean)[][] };
  file?: string;
  profile: string;
  recordedAt: string;
};

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const resultsDir = join(appDir, "test/resilience/results");
const reportPath = join(appDir, "../../docs/reliability.md");
const sections = ["Faults", "Channel faults", "Floods and slow clients", "Hostile input", "Security"];
const start = "<!-- results:start -->";
const end = "<!-- results:end -->";

if (!existsSync(resultsDir)) {
  console.error("No results yet: run the resilience suite first (npm run test:resilience -w @plauder/web).");
  process.exit(1);
}
const cases = readdirSync(resultsDir)
  .filter((name) => name.endsWith(".json"))
  .map((name) => JSON.parse(readFileSync(join(resultsDir, name), "utf8")) as Recorded);

const cell = (value: string | number | boolean) => String(value).replaceAll("|", "\\|");

function breakdown(table: NonNullable<Recorded["breakdown"]>): string[] {
  return [
    "",
    `${table.caption}:`,
    "",
    `| ${table.columns.map(cell).join(" | ")} |`,
    `|${table.columns.map(() => "---").join("|")}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
}

function render(recorded: Recorded): string {
  const rows = Object.entries(recorded.figures).map(([name, value]) => `| ${cell(name)} | ${cell(value)} |`);
  const profile = recorded.profile === "heavy" ? "RESILIENCE_PROFILE=heavy " : "";
  const rerun = recorded.file
    ? `\n\nRerun: \`${profile}npm run test:resilience -w @plauder/web -- ${recorded.file}\``
    : "";
  return [
    `#### ${recorded.title}`,
    "",
    `${recorded.method}`,
    "",
    "| figure | value |",
    "|---|---|",
    ...rows,
    ...(recorded.breakdown ? breakdown(recorded.breakdown) : []),
    "",
    `<sub>${recorded.profile} profile, recorded ${recorded.recordedAt.slice(0, 16).replace("T", " ")} UTC.</sub>${rerun}`,
  ].join("\n");
}

const known = new Set(sections);
const body = [...sections, ...new Set(cases.map((c) => c.section).filter((s) => !known.has(s)))]
  .map((section) => {
    const inSection = cases.filter((c) => c.section === section).sort((x, y) => x.id.localeCompare(y.id));
    return inSection.length ? `### ${section}\n\n${inSection.map(render).join("\n\n")}` : "";
  })
  .filter(Boolean)
  .join("\n\n");

const current = existsSync(reportPath) ? readFileSync(reportPath, "utf8") : `# Reliability\n\n${start}\n${end}\n`;
const from = current.indexOf(start);
const to = current.indexOf(end);
if (from === -1 || to === -1) {
  console.error(`docs/reliability.md lacks the ${start} / ${end} markers`);
  process.exit(1);
}
writeFileSync(reportPath, `${current.slice(0, from + start.length)}\n\n${body}\n\n${current.slice(to)}`);
console.log(`docs/reliability.md: ${cases.length} cases`);
