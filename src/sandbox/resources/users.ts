/** Users: GET /v2/users, GET /v2/users/{user_id}, GET /v2/oauth/connect/userinfo. The credential's user is id 1. */
import { badRequest, notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule } from '../core/types.js';
import { idStr, iso } from '../core/util.js';
import { pathId } from '../core/validate.js';

export const USERS_TABLE = 'users';

export interface UserRow {
  id: number;
  given_name: string;
  family_name: string;
  email: string;
  title: string;
  phone: string;
  admin: boolean;
  partner: boolean;
  status: 'ACTIVE' | 'INVITED' | 'INACTIVE' | 'NOT_A_USER';
  create_time: string;
  update_time: string;
}

const SEED_USERS: readonly Omit<UserRow, 'id' | 'create_time' | 'update_time'>[] = [
  {
    given_name: 'Alex',
    family_name: 'Morgan',
    email: 'alex.morgan@sandbox.example',
    title: 'Owner',
    phone: '(480) 555-0100',
    admin: true,
    partner: false,
    status: 'ACTIVE',
  },
  {
    given_name: 'Jordan',
    family_name: 'Lee',
    email: 'jordan.lee@sandbox.example',
    title: 'Sales Manager',
    phone: '(480) 555-0101',
    admin: false,
    partner: false,
    status: 'ACTIVE',
  },
  {
    given_name: 'Casey',
    family_name: 'Rivera',
    email: 'casey.rivera@sandbox.example',
    title: 'Support Lead',
    phone: '(480) 555-0102',
    admin: false,
    partner: false,
    status: 'ACTIVE',
  },
  {
    given_name: 'Sam',
    family_name: 'Patel',
    email: 'sam.patel@sandbox.example',
    title: 'Bookkeeper',
    phone: '(480) 555-0103',
    admin: false,
    partner: true,
    status: 'ACTIVE',
  },
  {
    given_name: 'Riley',
    family_name: 'Chen',
    email: 'riley.chen@sandbox.example',
    title: 'Former Rep',
    phone: '(480) 555-0104',
    admin: false,
    partner: false,
    status: 'INACTIVE',
  },
];

/** Ids of users that can own records (active, non-partner). */
export function activeUserIds(sb: SandboxApi): number[] {
  return sb
    .table<UserRow>(USERS_TABLE)
    .all()
    .filter((u) => u.status === 'ACTIVE')
    .map((u) => u.id);
}

/** A body's `owner_id` as a user id (undefined stays undefined); an unknown user → 400 naming `owner_id`. */
export function ownerIdOrThrow(sb: SandboxApi, owner: string | number | undefined): number | undefined {
  if (owner === undefined) return undefined;
  const id = Number(owner);
  if (!sb.table(USERS_TABLE).get(id))
    throw badRequest('owner_id', `User '${owner}' in 'owner_id' does not exist`);
  return id;
}

export function renderUser(u: UserRow): Record<string, unknown> {
  return {
    id: idStr(u.id),
    global_user_id: `sbx-user-${u.id}`,
    keap_id: u.email,
    given_name: u.given_name,
    family_name: u.family_name,
    title: u.title,
    admin: u.admin,
    partner: u.partner,
    status: u.status,
    company_name: 'Sandbox Demo Co.',
    website: 'https://sandbox.example',
    email_addresses: [{ email: u.email, field: 'EMAIL1' }],
    phone_numbers: [{ number: u.phone, field: 'PHONE1', type: 'Work' }],
    fax_numbers: [],
    social_accounts: [],
    address: {
      line1: '100 Sandbox Way',
      locality: 'Chandler',
      region: 'Arizona',
      region_code: 'US-AZ',
      country_code: 'USA',
      postal_code: '85224',
      field: 'BILLING',
    },
    created_by: 1,
    create_time: u.create_time,
    updated_by: 1,
    update_time: u.update_time,
  };
}

export const usersModule: SbModule = {
  name: 'users',
  seed(sb) {
    const t = sb.table<UserRow>(USERS_TABLE);
    const base = Date.UTC(2023, 0, 5, 15, 0, 0);
    SEED_USERS.forEach((u, i) => {
      const at = iso(new Date(base + i * 86_400_000 * 17));
      t.insert({ ...u, id: t.nextId(), create_time: at, update_time: at });
    });
  },
  routes: [
    {
      method: 'GET',
      path: '/v2/users',
      handler(req, sb) {
        const rows = sb.table<UserRow>(USERS_TABLE).all();
        const f = req.query.get('filter') ?? '';
        const includeInactive = /(^|;)\s*include_inactive==true/.test(f);
        const includePartners = /(^|;)\s*include_partners==true/.test(f);
        const visible = rows.filter(
          (u) =>
            (includeInactive || u.status === 'ACTIVE' || u.status === 'INVITED') &&
            (includePartners || !u.partner),
        );
        return listV2(req, visible, {
          key: 'users',
          render: renderUser,
          maxPageSize: 100,
          minPageSize: 1,
          defaultPageSize: 100,
          defaultOrder: 'id asc',
          filter: {
            email: { get: (u) => u.email, type: 'string' },
            given_name: { get: (u) => u.given_name, type: 'string' },
            include_inactive: { get: () => true, type: 'boolean', match: () => true },
            include_partners: { get: () => true, type: 'boolean', match: () => true },
            user_ids: { get: (u) => String(u.id), type: 'string', list: true },
          },
          orderBy: {
            id: (u) => u.id,
            create_time: (u) => u.create_time,
            email: (u) => u.email.toLowerCase(),
            name: (u) => u.family_name.toLowerCase(),
          },
        });
      },
    },
    {
      method: 'GET',
      path: '/v2/users/{user_id}',
      handler(req, sb) {
        const id = pathId(req, 'user_id');
        const u = sb.table<UserRow>(USERS_TABLE).get(id);
        if (!u) throw notFound('User', id);
        return { status: 200, body: renderUser(u) };
      },
    },
    {
      method: 'GET',
      path: '/v2/oauth/connect/userinfo',
      handler(req, sb) {
        const u = sb.table<UserRow>(USERS_TABLE).get(req.auth.userId);
        if (!u) throw notFound('User', req.auth.userId);
        return {
          status: 200,
          body: {
            sub: idStr(u.id),
            id: `sbx-user-${u.id}`,
            keap_id: u.email,
            email: u.email,
            given_name: u.given_name,
            family_name: u.family_name,
            preferred_name: u.given_name,
            is_admin: u.admin,
            tenant_id: 'sandbox',
          },
        };
      },
    },
  ],
};
