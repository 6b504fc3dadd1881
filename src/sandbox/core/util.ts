/** Small helpers shared by sandbox modules. */

/** ISO-8601 with milliseconds and Z, as Keap's v2 prints date-times. */
export function iso(d: Date): string {
  return d.toISOString();
}

/** v2 JSON ids are strings. */
export function idStr(n: number): string {
  return String(n);
}

/** Parse a v2 string id (or number) into a number; NaN when not an integer. */
export function idNum(v: unknown): number {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number.NaN;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return Number.NaN;
}

/** Cents → a decimal amount (e.g. 1999 → 19.99). */
export function money(cents: number): number {
  return Math.round(cents) / 100;
}

/** Mulberry32 — a small deterministic PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rnd: () => number, items: readonly T[]): T {
  const v = items[Math.floor(rnd() * items.length) % items.length];
  if (v === undefined) throw new Error('pick from empty list');
  return v;
}

export function intBetween(rnd: () => number, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}

const GIVEN = [
  'Mary',
  'James',
  'Patricia',
  'John',
  'Jennifer',
  'Robert',
  'Linda',
  'Michael',
  'Elizabeth',
  'William',
  'Barbara',
  'David',
  'Susan',
  'Richard',
  'Jessica',
  'Joseph',
  'Sarah',
  'Thomas',
  'Karen',
  'Charles',
  'Nancy',
  'Daniel',
  'Lisa',
  'Matthew',
  'Margaret',
  'Anthony',
  'Sandra',
  'Mark',
  'Ashley',
  'Donald',
  'Maria',
  'Marcus',
  'Emily',
  'Steven',
  'Michelle',
  'Paul',
  'Carol',
  'Andrew',
  'Amanda',
  'Joshua',
] as const;
const FAMILY = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Harris',
  'Sanchez',
  'Clark',
  'Ramirez',
  'Lewis',
  'Robinson',
  'Smithson',
  'Walker',
  'Young',
  'Allen',
  'King',
  'Wright',
  'Scott',
  'Torres',
  'Nguyen',
  'Hill',
] as const;
const CITIES = [
  { locality: 'Chandler', region: 'Arizona', postal: '85224' },
  { locality: 'Phoenix', region: 'Arizona', postal: '85004' },
  { locality: 'Austin', region: 'Texas', postal: '73301' },
  { locality: 'Denver', region: 'Colorado', postal: '80202' },
  { locality: 'Portland', region: 'Oregon', postal: '97201' },
  { locality: 'Chicago', region: 'Illinois', postal: '60601' },
  { locality: 'Boston', region: 'Massachusetts', postal: '02108' },
  { locality: 'Seattle', region: 'Washington', postal: '98101' },
  { locality: 'Nashville', region: 'Tennessee', postal: '37201' },
  { locality: 'Charlotte', region: 'North Carolina', postal: '28202' },
] as const;
const STREETS = [
  'Main St',
  'Oak Ave',
  'Maple Dr',
  'Cedar Ln',
  'Pine St',
  'Elm St',
  'Washington Blvd',
  'Lake Rd',
] as const;
const COMPANY_WORDS = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark',
  'Wayne',
  'Hooli',
  'Vandelay',
  'Soylent',
  'Cyberdyne',
  'Tyrell',
  'Wonka',
  'Gringotts',
  'Oscorp',
  'Aperture',
  'Massive',
  'Dunder',
  'Pied Piper',
  'Prestige',
  'Monarch',
] as const;
const COMPANY_SUFFIX = ['LLC', 'Inc.', 'Co.', 'Group', 'Partners', 'Studio'] as const;

export interface FakePerson {
  given: string;
  family: string;
  email: string;
  phone: string;
  address: { line1: string; locality: string; region: string; postal: string; country: string };
}

/** Seeded generator of names, emails, phones, addresses and company names. */
export class FakeGen {
  private readonly used = new Set<string>();
  constructor(private readonly rnd: () => number) {}

  person(domain = 'example.com'): FakePerson {
    const given = pick(this.rnd, GIVEN);
    const family = pick(this.rnd, FAMILY);
    let base = `${given}.${family}`.toLowerCase().replace(/[^a-z.]/g, '');
    let email = `${base}@${domain}`;
    let n = 2;
    while (this.used.has(email)) {
      email = `${base}${n}@${domain}`;
      n++;
    }
    base = '';
    this.used.add(email);
    const city = pick(this.rnd, CITIES);
    return {
      given,
      family,
      email,
      phone: this.phone(),
      address: {
        line1: `${intBetween(this.rnd, 10, 9999)} ${pick(this.rnd, STREETS)}`,
        locality: city.locality,
        region: city.region,
        postal: city.postal,
        country: 'USA',
      },
    };
  }

  phone(): string {
    return `(${intBetween(this.rnd, 201, 989)}) 555-${String(intBetween(this.rnd, 0, 9999)).padStart(4, '0')}`;
  }

  company(i: number): string {
    const w = COMPANY_WORDS[i % COMPANY_WORDS.length] ?? 'Acme';
    const s = pick(this.rnd, COMPANY_SUFFIX);
    return i < COMPANY_WORDS.length ? `${w} ${s}` : `${w} ${s} ${Math.floor(i / COMPANY_WORDS.length) + 1}`;
  }

  city(): { locality: string; region: string; postal: string } {
    return pick(this.rnd, CITIES);
  }
}
