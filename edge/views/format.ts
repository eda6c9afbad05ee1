/**
 * @module edge/views/format
 * Numbers and times as people read them.
 */
export function bytes(n: number | null | undefined): string {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function toMs(t: string | number | null | undefined): number | null {
  if (t == null || t === '') return null;
  if (typeof t === 'number') return t < 1e12 ? t * 1000 : t; // unix seconds or ms
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export function when(t: string | number | null | undefined): string {
  const ms = toMs(t);
  return ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function seconds(s: number | null | undefined): string {
  if (s == null) return '—';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** Parses "2 GB", "500MB", "1.5g" or a byte count; '' means no quota. Throws with what to type instead. */
export function parseBytes(text: string): number | null {
  const t = text.trim();
  if (t === '' || t === '0') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(t);
  if (!m) throw new Error(`"${text}" is not a size: type something like 500 MB or 2 GB, or leave it empty for no quota`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
