// Charts for KQL's `render`: time lines, columns/bars and pies drawn as SVG from the result
// rows. The first datetime (or string) column is the x axis, every numeric column a series;
// a string column besides them splits one numeric column into series.

export interface Column {
  name: string;
  type: string;
}

const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781"];
const NUMERIC = new Set(["long", "int", "real", "double", "decimal"]);

interface Series {
  name: string;
  points: { x: string | number; y: number }[];
}

function build(columns: Column[], rows: Record<string, any>[], kind: string) {
  const xCol =
    columns.find((c) => c.type === "datetime") ??
    columns.find((c) => !NUMERIC.has(c.type)) ??
    columns[0];
  const nums = columns.filter((c) => NUMERIC.has(c.type) && c !== xCol);
  const split = columns.find((c) => c !== xCol && !NUMERIC.has(c.type) && c.type !== "datetime");
  const isTime = xCol?.type === "datetime" && kind !== "piechart";
  const xv = (r: Record<string, any>) => (isTime ? Date.parse(r[xCol.name]) : String(r[xCol.name] ?? ""));
  const series: Series[] = [];
  if (split && nums.length >= 1 && isTime) {
    const by = new Map<string, Series>();
    for (const r of rows) {
      const k = String(r[split.name] ?? "");
      if (!by.has(k)) by.set(k, { name: k, points: [] });
      by.get(k)!.points.push({ x: xv(r), y: Number(r[nums[0].name]) || 0 });
    }
    series.push(...by.values());
  } else {
    for (const c of nums) series.push({ name: c.name, points: rows.map((r) => ({ x: xv(r), y: Number(r[c.name]) || 0 })) });
  }
  for (const s of series) if (isTime) s.points.sort((a, b) => (a.x as number) - (b.x as number));
  return { xCol, series: series.slice(0, PALETTE.length), isTime };
}

export function Chart(props: { kind: string; columns: Column[]; rows: Record<string, any>[]; format: (v: number) => string }) {
  const { kind, columns, rows } = props;
  if (!rows.length) return <div className="muted">No rows to chart.</div>;
  const { series, isTime } = build(columns, rows, kind);
  if (!series.length) return <div className="muted">Nothing numeric to chart: the query needs a numeric column.</div>;
  if (kind === "piechart") return <Pie series={series[0]} />;
  const W = 860, H = 280, L = 56, R = 12, T = 12, B = 40;
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const yMax = Math.max(1, ...ys);
  const yMin = Math.min(0, ...ys);
  const sy = (y: number) => T + (H - T - B) * (1 - (y - yMin) / (yMax - yMin || 1));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => yMin + f * (yMax - yMin));
  const legend = (
    <div className="legend">
      {series.map((s, i) => (
        <span key={s.name}>
          <i className={`swatch c${i}`} /> {s.name}
        </span>
      ))}
    </div>
  );
  const yAxis = ticks.map((t) => (
    <g key={t}>
      <line x1={L} x2={W - R} y1={sy(t)} y2={sy(t)} stroke="#e5e7eb" />
      <text x={L - 6} y={sy(t) + 4} textAnchor="end" fontSize="11" fill="#57606a">
        {Math.round(t * 100) / 100}
      </text>
    </g>
  ));
  const line = isTime && (kind === "timechart" || kind === "linechart" || kind === "areachart" || kind === "scatterchart");
  if (line) {
    const xs = series.flatMap((s) => s.points.map((p) => p.x as number));
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const sx = (x: number) => L + (W - L - R) * ((x - x0) / (x1 - x0 || 1));
    return (
      <div className="chart" data-chart={kind}>
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${kind} of ${series.length} series`}>
          {yAxis}
          {[0, 0.5, 1].map((f) => (
            <text key={f} x={L + f * (W - L - R)} y={H - 14} textAnchor={f === 0 ? "start" : f === 1 ? "end" : "middle"} fontSize="11" fill="#57606a">
              {props.format(x0 + f * (x1 - x0))}
            </text>
          ))}
          {series.map((s, i) => (
            <polyline
              key={s.name}
              fill="none"
              stroke={PALETTE[i]}
              strokeWidth="2"
              points={s.points.map((p) => `${sx(p.x as number).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}
            />
          ))}
        </svg>
        {legend}
      </div>
    );
  }
  // Columns (or bars: drawn the same way, as columns, which reads better at this width).
  const cats = series[0].points.map((p) => (isTime ? props.format(p.x as number) : String(p.x))).slice(0, 60);
  const band = (W - L - R) / cats.length;
  const bw = Math.max(2, (band * 0.8) / series.length);
  return (
    <div className="chart" data-chart={kind}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${kind} of ${cats.length} categories`}>
        {yAxis}
        {series.map((s, i) =>
          s.points.slice(0, 60).map((p, j) => (
            <rect
              key={`${i}-${j}`}
              x={L + j * band + band * 0.1 + i * bw}
              y={sy(Math.max(0, p.y))}
              width={bw}
              height={Math.abs(sy(p.y) - sy(0))}
              fill={PALETTE[i]}
            >
              <title>{`${cats[j]}: ${p.y}`}</title>
            </rect>
          )),
        )}
        {cats.map((c, j) =>
          cats.length <= 12 || j % Math.ceil(cats.length / 12) === 0 ? (
            <text key={j} x={L + j * band + band / 2} y={H - 14} textAnchor="middle" fontSize="11" fill="#57606a">
              {c.length > 14 ? c.slice(0, 13) + "…" : c}
            </text>
          ) : null,
        )}
      </svg>
      {legend}
    </div>
  );
}

function Pie({ series }: { series: Series }) {
  const pts = series.points.filter((p) => p.y > 0).slice(0, PALETTE.length);
  const sum = pts.reduce((a, p) => a + p.y, 0) || 1;
  let angle = -Math.PI / 2;
  const R = 110, C = 130;
  return (
    <div className="chart" data-chart="piechart">
      <svg viewBox="0 0 560 260" role="img" aria-label={`piechart of ${pts.length} slices`}>
        {pts.map((p, i) => {
          const a0 = angle;
          const a1 = (angle += (p.y / sum) * Math.PI * 2);
          const large = a1 - a0 > Math.PI ? 1 : 0;
          const d =
            pts.length === 1
              ? `M ${C} ${C - R} A ${R} ${R} 0 1 1 ${C - 0.01} ${C - R} Z`
              : `M ${C} ${C} L ${C + R * Math.cos(a0)} ${C + R * Math.sin(a0)} A ${R} ${R} 0 ${large} 1 ${C + R * Math.cos(a1)} ${C + R * Math.sin(a1)} Z`;
          return (
            <path key={i} d={d} fill={PALETTE[i]}>
              <title>{`${p.x}: ${p.y}`}</title>
            </path>
          );
        })}
        {pts.map((p, i) => (
          <g key={`l${i}`}>
            <rect x={290} y={20 + i * 24} width={12} height={12} fill={PALETTE[i]} />
            <text x={310} y={31 + i * 24} fontSize="12" fill="#24292f">
              {`${p.x} — ${p.y} (${Math.round((p.y / sum) * 100)}%)`}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
