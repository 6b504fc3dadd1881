import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { companyId, customFields, fields, filter, orderBy, page } from './shared/params.js';

const COMPANY_FIELDS = 'address, email_address, phone_number, website, notes, custom_fields';

/** The company properties most often written (Keap's other documented ones are accepted by name). */
const companyBody = {
  custom_fields: customFields(),
};

export const companyTools = [
  defineTool({
    name: 'list_companies',
    title: 'List companies',
    description: 'Search companies; email, phone and address only if named in fields.',
    resource: 'companies',
    access: 'read',
    method: 'GET',
    path: '/v2/companies',
    input: {
      filter: filter('name==Acme*', 'company_name, name (* suffix ok), email, city, state, company_id'),
      order_by: orderBy('id, create_time, name'),
      fields: fields(COMPANY_FIELDS),
      ...page,
    },
    listKey: 'companies',
  }),
  defineTool({
    name: 'get_company',
    title: 'Get a company',
    description: 'Get one company.',
    resource: 'companies',
    access: 'read',
    method: 'GET',
    path: '/v2/companies/{company_id}',
    input: { company_id: companyId(), fields: fields(COMPANY_FIELDS) },
    findWith: 'list_companies',
  }),
  defineTool({
    name: 'create_company',
    title: 'Create a company',
    description: 'Create a company (check list_companies first).',
    resource: 'companies',
    access: 'write',
    method: 'POST',
    path: '/v2/companies',
    input: {
      company_name: z.string().describe('Name'),
      email_address: z
        .object({ email: z.string().describe('Address') })
        .optional()
        .describe('Email'),
      phone_number: z
        .object({ number: z.string().describe('Number') })
        .optional()
        .describe('Phone'),
      ...companyBody,
    },
    event: 'company.add',
    checkWith: 'get_company',
  }),
  defineTool({
    name: 'update_company',
    title: 'Update a company',
    description: "Change a company; only properties sent change. Takes create_company's fields.",
    resource: 'companies',
    access: 'write',
    method: 'PATCH',
    path: '/v2/companies/{company_id}',
    input: {
      company_id: companyId(),
      company_name: z.string().optional().describe('Name'),
      ...companyBody,
    },
    event: 'company.edit',
    findWith: 'list_companies',
    checkWith: 'get_company',
  }),
];
