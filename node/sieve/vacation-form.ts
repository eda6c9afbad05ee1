/**
 * @module node/sieve/vacation-form
 * The vacation settings of the owner's web page as a Sieve script, and back:
 * the page writes a plain script (vacation, optionally inside a currentdate
 * window) and reads its settings from a comment line it put there, so a
 * script edited by hand is never misread as settings. Pure.
 */
export const VACATION_SCRIPT = 'haven-vacation';

export interface VacationSettings {
  enabled: boolean;
  /** YYYY-MM-DD or "". */
  from: string;
  until: string;
  subject: string;
  text: string;
}

const MARK = '# haven-vacation-settings: ';

function quoted(s: string): string {
  return `"${s.replace(/[\r\n]+/g, ' ').replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/** RFC 5228 §2.4.2 multi-line string: a leading "." doubled, ended by a lone ".". */
function multiline(s: string): string {
  const lines = s.replace(/\r\n?/g, '\n').split('\n').map((l) => (l.startsWith('.') ? '.' + l : l));
  return `text:\r\n${lines.join('\r\n')}\r\n.\r\n`;
}

export function vacationScript(s: VacationSettings): string {
  const head = `${MARK}${JSON.stringify(s)}\r\n`;
  if (!s.enabled) return head + 'keep;\r\n';
  const window = [s.from ? `currentdate :value "ge" "date" ${quoted(s.from)}` : '', s.until ? `currentdate :value "le" "date" ${quoted(s.until)}` : ''].filter(Boolean);
  const action = `vacation :days 7${s.subject ? ` :subject ${quoted(s.subject)}` : ''} ${multiline(s.text)};\r\n`;
  const body = window.length ? `if allof (${window.join(', ')}) {\r\n${action}}\r\n` : action;
  return `${head}require ["vacation", "date", "relational"];\r\n${body}`;
}

export function vacationSettings(script: string | null): VacationSettings {
  const off: VacationSettings = { enabled: false, from: '', until: '', subject: '', text: '' };
  if (!script?.startsWith(MARK)) return off;
  try {
    const v = JSON.parse(script.slice(MARK.length, script.indexOf('\n')).trim()) as Partial<VacationSettings>;
    return { ...off, ...v, enabled: v.enabled === true };
  } catch {
    return off;
  }
}
