import { defineTool } from '../src/registry/define.js';
import { filter, orderBy, page, pageSize } from './shared/params.js';

export const userTools = [
  defineTool({
    name: 'list_users',
    title: 'List users',
    description: 'List users (staff); gives user ids.',
    resource: 'users',
    access: 'read',
    method: 'GET',
    path: '/v2/users',
    input: {
      filter: filter('given_name==Mary', 'email, given_name, user_ids'),
      order_by: orderBy('email, name'),
      page_size: pageSize(100),
      page_token: page.page_token,
    },
    listKey: 'users',
  }),
  defineTool({
    name: 'get_current_user',
    title: 'Get the connected user',
    description: 'Get the user this server acts as.',
    resource: 'users',
    access: 'read',
    method: 'GET',
    path: '/v2/oauth/connect/userinfo',
    input: {},
  }),
];
