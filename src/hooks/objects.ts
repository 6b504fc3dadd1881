/**
 * How an event's object is read: Keap's `object_type` → the read spec whose policy resource the agent needs
 * (contact events need contacts read) and which list_events' `expand` runs through the chokepoint. Catalog
 * tools where one exists, else the long tail's per-call spec of Keap's read operation.
 */
import { infoById } from '../longtail/operations.js';
import type { AnyToolSpec } from '../registry/define.js';

export interface ObjectReader {
  readonly spec: AnyToolSpec;
  /** The spec's input that takes the object id. */
  readonly idArg: string;
}

const READERS: Readonly<Record<string, { tool?: string; operation?: string; idArg: string }>> = {
  contact: { tool: 'get_contact', idArg: 'contact_id' },
  company: { tool: 'get_company', idArg: 'company_id' },
  opportunity: { tool: 'get_opportunity', idArg: 'opportunity_id' },
  order: { tool: 'get_order', idArg: 'order_id' },
  invoice: { tool: 'get_order', idArg: 'order_id' },
  product: { tool: 'get_product', idArg: 'product_id' },
  subscription: { tool: 'get_subscription', idArg: 'subscription_id' },
  contactGroup: { operation: 'getTag', idArg: 'tag_id' },
  task: { operation: 'getTask', idArg: 'task_id' },
  note: { operation: 'getNoteUsingGET', idArg: 'noteId' },
  user: { operation: 'getUserById', idArg: 'user_id' },
  appointment: { operation: 'getAppointmentUsingGET', idArg: 'appointmentId' },
  leadsource: { operation: 'getLeadSource', idArg: 'lead_source_id' },
  'invoice.payment': { operation: 'getTransactionUsingGET', idArg: 'transactionId' },
};

/** A lookup of object types over `catalog` (computed once per catalog). */
export function objectReaders(
  catalog: readonly AnyToolSpec[],
): (objectType: string) => ObjectReader | undefined {
  const byName = new Map(catalog.map((t) => [t.name, t]));
  const cache = new Map<string, ObjectReader | undefined>();
  return (objectType) => {
    if (cache.has(objectType)) return cache.get(objectType);
    const r = Object.hasOwn(READERS, objectType) ? READERS[objectType] : undefined;
    let out: ObjectReader | undefined;
    if (r?.tool !== undefined) {
      const spec = byName.get(r.tool);
      if (spec) out = { spec, idArg: r.idArg };
    } else if (r?.operation !== undefined) {
      const info = infoById(r.operation);
      if (info) {
        // The per-call spec takes the path placeholder; Keap's documented name is an alias of it.
        const placeholder = /\{(\w+)\}[^{]*$/.exec(info.spec.path)?.[1] ?? r.idArg;
        out = { spec: info.spec, idArg: placeholder };
      }
    }
    cache.set(objectType, out);
    return out;
  };
}
