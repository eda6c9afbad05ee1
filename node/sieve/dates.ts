/**
 * @module node/sieve/dates
 * The date extension's date-parts (RFC 5260 §4.2) of an instant seen in a
 * given zone, and the parsing of RFC 5322 Date fields that keeps the
 * field's own zone (for :originalzone).
 */
export interface ZonedInstant {
  ms: number;
  /** Offset east of UTC in minutes. */
  offset: number;
}

const NAMED_ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, edt: -240, est: -300, cdt: -300, cst: -360, mdt: -360, mst: -420, pdt: -420, pst: -480 };

/** "+0200" / "-0530" to minutes; null when malformed. */
export function parseZone(z: string): number | null {
  const m = /^([+-])([0-9]{2})([0-9]{2})$/.exec(z.trim());
  if (!m) return null;
  const min = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -min : min;
}

export function formatZone(offset: number): string {
  const a = Math.abs(offset);
  return `${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

/** An RFC 5322 date-time with its zone; null when it cannot be read (the date test is then false). */
export function parseDateField(value: string): ZonedInstant | null {
  const v = value.replace(/\([^)]*\)/g, ' ').trim();
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) return null;
  const num = /([+-][0-9]{4})\s*$/.exec(v);
  let offset = 0;
  if (num) offset = parseZone(num[1]) ?? 0;
  else {
    const named = /([A-Za-z]+)\s*$/.exec(v);
    offset = named ? (NAMED_ZONES[named[1].toLowerCase()] ?? 0) : 0;
  }
  return { ms, offset };
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Modified Julian Day 0 is 1858-11-17 (RFC 5260 §4.2, "julian"). */
const MJD_EPOCH_MS = Date.UTC(1858, 10, 17);

export function datePart(at: ZonedInstant, part: string): string | null {
  const d = new Date(at.ms + at.offset * 60_000);
  const Y = pad(d.getUTCFullYear(), 4);
  const M = pad(d.getUTCMonth() + 1);
  const D = pad(d.getUTCDate());
  const h = pad(d.getUTCHours());
  const m = pad(d.getUTCMinutes());
  const s = pad(d.getUTCSeconds());
  const zone = formatZone(at.offset);
  switch (part.toLowerCase()) {
    case 'year':
      return Y;
    case 'month':
      return M;
    case 'day':
      return D;
    case 'date':
      return `${Y}-${M}-${D}`;
    case 'julian':
      return String(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - MJD_EPOCH_MS) / 86_400_000));
    case 'hour':
      return h;
    case 'minute':
      return m;
    case 'second':
      return s;
    case 'time':
      return `${h}:${m}:${s}`;
    case 'iso8601':
      return `${Y}-${M}-${D}T${h}:${m}:${s}${zone.slice(0, 3)}:${zone.slice(3)}`;
    case 'std11':
      return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${Y} ${h}:${m}:${s} ${zone}`;
    case 'zone':
      return zone;
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return null;
  }
}
