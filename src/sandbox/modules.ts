/** Every resource module of the sandbox, in seed order. */

import type { SbModule } from './core/types.js';
import { accountReadsModule } from './resources/account-reads.js';
import { appointmentsModule } from './resources/appointments.js';
import { campaignsModule } from './resources/campaigns.js';
import { companiesModule } from './resources/companies.js';
import { contactMergeModule } from './resources/contact-merge.js';
import { contactsModule } from './resources/contacts.js';
import { customFieldsModule } from './resources/custom-fields.js';
import { emailAddressesModule } from './resources/email-addresses.js';
import { emailTemplatesModule } from './resources/email-templates.js';
import { emailsModule } from './resources/emails.js';
import { filesModule } from './resources/files.js';
import { hooksModule } from './resources/hooks.js';
import { notesModule } from './resources/notes.js';
import { opportunitiesModule } from './resources/opportunities.js';
import { ordersModule } from './resources/orders.js';
import { paymentMethodsModule } from './resources/payments.js';
import { productsModule } from './resources/products.js';
import { stageMovesModule } from './resources/stage-moves.js';
import { subscriptionsModule } from './resources/subscriptions.js';
import { tagsModule } from './resources/tags.js';
import { tasksModule } from './resources/tasks.js';
import { usersModule } from './resources/users.js';

export const MODULES: SbModule[] = [
  usersModule,
  tagsModule,
  companiesModule,
  contactsModule,
  productsModule,
  paymentMethodsModule,
  ordersModule,
  subscriptionsModule,
  opportunitiesModule,
  campaignsModule,
  notesModule,
  tasksModule,
  emailsModule,
  hooksModule,
  customFieldsModule,
  // Modules below seed after every other one, so adding them never changes the seed above.
  emailAddressesModule,
  contactMergeModule,
  stageMovesModule,
  accountReadsModule,
  appointmentsModule,
  emailTemplatesModule,
  filesModule,
];
