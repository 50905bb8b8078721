import { percentile } from "@plauder/runtime/stats";

/** A small line chart of recent round-trip times, with p50 and p99 marked. */
export function RttChart({ samples }: { samples: readonly number[] }) {
  const width = 320;
  const height = 96;
  const pad = 4;
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  const max = Math.max(1, ...samples, Number.isNaN(p99) ? 0 : p99) * 1.1;
  const x = (i: number) => pad + (i * (width - 2 * pad)) / Math.max(1, samples.length - 1);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const points = samples.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Round-trip times of the last ${samples.length} pings`}
    >
      <rect x="0" y="0" width={width} height={height} rx="6" className="chart-bg" />
      {!Number.isNaN(p50) && <line x1={pad} x2={width - pad} y1={y(p50)} y2={y(p50)} className="chart-p50" />}
      {!Number.isNaN(p99) && <line x1={pad} x2={width - pad} y1={y(p99)} y2={y(p99)} className="chart-p99" />}
      {samples.length > 1 && <polyline points={points} className="chart-line" />}
      {samples.length === 1 && <circle cx={x(0)} cy={y(samples[0] ?? 0)} r="3" className="chart-dot" />}
    </svg>
  );
}
