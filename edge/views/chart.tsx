/**
 * @module edge/views/chart
 * The probe history as an inline SVG: response time as a line, failed probes
 * as red bars, time along the bottom. No script, no external asset.
 */
import type { FC } from 'hono/jsx';
import type { ProbeRecord } from '../probe.js';

const W = 720;
const H = 170;
const PAD = { l: 44, r: 10, t: 10, b: 24 };

/** HH:MM, with the date once the history spans more than a day's worth of hours. */
function label(ms: number, long: boolean): string {
  const iso = new Date(ms).toISOString();
  return long ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

export const HistoryChart: FC<{ history: ProbeRecord[] }> = ({ history }) => {
  if (history.length === 0) {
    return <p class="muted">No probe results yet. The scheduled probe runs every minute (the Worker's cron trigger) and keeps a point every five minutes and at every change; the first appears after its first run.</p>;
  }
  const t0 = history[0].t;
  const t1 = Math.max(history[history.length - 1].t, t0 + 60_000);
  const long = t1 - t0 > 20 * 3600_000;
  const okMs = history.filter((h) => h.ok).map((h) => h.ms);
  const max = Math.max(50, ...okMs) * 1.1;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (t: number) => PAD.l + ((t - t0) / (t1 - t0)) * iw;
  const y = (ms: number) => PAD.t + ih - (Math.min(ms, max) / max) * ih;
  const bar = Math.max(2, iw / Math.max(history.length, 1));
  const points = history.filter((h) => h.ok).map((h) => `${x(h.t).toFixed(1)},${y(h.ms).toFixed(1)}`).join(' ');
  const down = history.filter((h) => !h.ok);
  const up = history.length - down.length;
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Node response time, ${history.length} probes, ${down.length} failed`}>
        <line class="axis" x1={PAD.l} y1={PAD.t + ih} x2={W - PAD.r} y2={PAD.t + ih} />
        <line class="axis" x1={PAD.l} y1={PAD.t} x2={PAD.l} y2={PAD.t + ih} />
        <text x={PAD.l - 6} y={PAD.t + 10} text-anchor="end">{Math.round(max)} ms</text>
        <text x={PAD.l - 6} y={PAD.t + ih} text-anchor="end">0</text>
        <text x={PAD.l} y={H - 6}>{label(t0, long)} UTC</text>
        <text x={W - PAD.r} y={H - 6} text-anchor="end">{label(t1, long)} UTC</text>
        {down.map((h) => (
          <rect class="down" x={(x(h.t) - bar / 2).toFixed(1)} y={PAD.t} width={bar.toFixed(1)} height={ih}>
            <title>{`${new Date(h.t).toISOString()}: ${h.error ?? `status ${h.status}`}`}</title>
          </rect>
        ))}
        {points ? <polyline class="line" points={points} /> : null}
      </svg>
      <figcaption class="muted small">
        {history.length} probes since {new Date(t0).toISOString().replace('T', ' ').slice(0, 16)} UTC: {up} answered healthy
        ({((up / history.length) * 100).toFixed(1)}%), {down.length} failed.
      </figcaption>
    </figure>
  );
};
