/** The whole tool catalog, in the table order (then tools added since). Data only. */
import type { AnyToolSpec } from '../src/registry/define.js';
import { campaignTools } from './campaigns.js';
import { companyTools } from './companies.js';
import { contactTools } from './contacts.js';
import { customFieldTools } from './custom-fields.js';
import { emailTools } from './emails.js';
import { eventTools, hookTools } from './hooks.js';
import { longtailTools } from './longtail.js';
import { noteTools } from './notes.js';
import { opportunityTools } from './opportunities.js';
import { orderTools } from './orders.js';
import { productTools } from './products.js';
import { subscriptionTools } from './subscriptions.js';
import { tagTools } from './tags.js';
import { taskTools } from './tasks.js';
import { userTools } from './users.js';

export const ALL_TOOLS: readonly AnyToolSpec[] = Object.freeze([
  ...contactTools,
  ...tagTools,
  ...companyTools,
  ...opportunityTools,
  ...orderTools,
  ...productTools,
  ...subscriptionTools,
  ...campaignTools,
  ...emailTools,
  ...noteTools,
  ...taskTools,
  ...hookTools,
  ...userTools,
  ...customFieldTools,
]);

/** The four long-tail tools (find, describe, call read, call write): every other Keap operation, same gate. */
export const LONGTAIL_TOOLS: readonly AnyToolSpec[] = Object.freeze([...longtailTools]);

/** Events Keap pushes to this server (subscribe_events, unsubscribe_events, list_events): server tools. */
export const EVENT_TOOLS: readonly AnyToolSpec[] = Object.freeze([...eventTools]);

/** The tools the README's table lists: the catalog and the event tools. */
export const TABLE_TOOLS: readonly AnyToolSpec[] = Object.freeze([...ALL_TOOLS, ...EVENT_TOOLS]);

/** What the server registers: the catalog, the event tools, then the long tail. */
export const SERVER_TOOLS: readonly AnyToolSpec[] = Object.freeze([
  ...ALL_TOOLS,
  ...EVENT_TOOLS,
  ...LONGTAIL_TOOLS,
]);
