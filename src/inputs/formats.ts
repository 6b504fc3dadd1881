/**
 * The string formats Keap documents, checked strictly: `date` is YYYY-MM-DD (a real calendar date),
 * `date-time` is RFC 3339 with an offset or Z. Only unambiguous ISO variants are normalised (midnight UTC for a
 * date field, a date-time without seconds); everything else is an error naming the expected form.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
/** Midnight UTC written as a date-time: the date it names is unambiguous. */
const MIDNIGHT_UTC = /^(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)$/;
/** A date-time without seconds (still RFC 3339 once ':00' is added). */
const NO_SECONDS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})$/;

export function isCalendarDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [
    31,
    y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  return d <= (days[mo - 1] ?? 0);
}

export function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m || !isCalendarDate(m[1] as string)) return false;
  const [h, mi, se] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || se > 60) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return true;
}

export interface FormatResult {
  /** The value to send (the input, or its normalised form). */
  readonly value: string;
  /** Set when the value was rewritten. */
  readonly normalizedFrom?: string;
  /** Set when the value is invalid: the expected form. */
  readonly expected?: string;
}

export const EXPECTED: Readonly<Record<string, string>> = {
  date: 'a date YYYY-MM-DD',
  'date-time': 'a date-time YYYY-MM-DDTHH:MM:SSZ (RFC 3339, with Z or an offset like +02:00)',
};

/** Checks (and where unambiguous normalises) a string against a documented format. Unknown formats pass. */
export function checkFormat(format: string, s: string): FormatResult {
  if (format === 'date') {
    if (isCalendarDate(s)) return { value: s };
    const m = MIDNIGHT_UTC.exec(s);
    if (m && isCalendarDate(m[1] as string)) return { value: m[1] as string, normalizedFrom: s };
    return { value: s, expected: EXPECTED.date as string };
  }
  if (format === 'date-time') {
    if (isDateTime(s)) return { value: s };
    const m = NO_SECONDS.exec(s);
    if (m) {
      const v = `${m[1]}:00${m[2]}`;
      if (isDateTime(v)) return { value: v, normalizedFrom: s };
    }
    return { value: s, expected: EXPECTED['date-time'] as string };
  }
  if (format === 'byte') {
    return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0
      ? { value: s }
      : { value: s, expected: 'Base64 text' };
  }
  return { value: s };
}
