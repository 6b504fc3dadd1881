/**
 * The shape of the generated operation facts (src/facts/operations.json, written by src/facts/generate.ts from
 * Keap's v2 document and the v1 operations v2 lacks). Facts only: names, types, formats, enums, bounds,
 * required-ness, documented filter/order_by keys, list keys and paging style — never Keap's prose.
 */

export type FactMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export type FactType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'any';

/** A JSON value's schema, reduced to what validation needs. Objects reference named schemas via `ref`. */
export interface FieldFact {
  /** Name of a shared schema in `OperationFacts.schemas` (Keap's component name). Other keys absent then. */
  readonly ref?: string;
  readonly type?: FactType;
  /** e.g. 'date', 'date-time', 'int32', 'int64', 'double', 'byte', 'binary'. */
  readonly format?: string;
  readonly enum?: readonly (string | number | boolean)[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly nullable?: boolean;
  /** Documented as read-only: returned by Keap, not accepted as input. */
  readonly readOnly?: boolean;
  /** Documented as deprecated. */
  readonly deprecated?: boolean;
  /** For arrays. */
  readonly items?: FieldFact;
  /** For objects: documented properties. */
  readonly properties?: Readonly<Record<string, FieldFact>>;
  /** For objects: required property names. */
  readonly required?: readonly string[];
  /** For map-like objects: the value schema, or true for any value. Absent/false: no other keys. */
  readonly additionalProperties?: FieldFact | true;
  /** Alternatives (oneOf/anyOf), each a full FieldFact. */
  readonly oneOf?: readonly FieldFact[];
}

export interface ParamFact {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required: boolean;
  /** Array query parameters: false means comma-joined (Keap's usual `explode: false`). */
  readonly explode?: boolean;
  readonly schema: FieldFact;
}

export interface OperationFact {
  /** Keap's operationId, unique across both documents (v1 ids that clash get a `V1` suffix). */
  readonly operationId: string;
  readonly version: 'v1' | 'v2';
  readonly method: FactMethod;
  /** As the catalog writes paths: '/v2/contacts/{contact_id}', '/v1/hooks/{key}'. */
  readonly path: string;
  /** Keap's first tag for the operation (a name, e.g. 'Contact'). */
  readonly tag?: string;
  readonly deprecated?: boolean;
  /** Path, query and header parameters (document order). */
  readonly params: readonly ParamFact[];
  /** Request body, when the operation takes one. */
  readonly body?: {
    readonly contentType: 'application/json' | 'multipart/form-data' | string;
    readonly required: boolean;
    readonly schema: FieldFact;
  };
  /** Keys the `filter` parameter documents (parsed from the parameter's text), when it has one. */
  readonly filterKeys?: readonly string[];
  /** Fields the `order_by` parameter documents, when it has one. */
  readonly orderByFields?: readonly string[];
  /** Values the `fields` parameter documents, when it has one. */
  readonly fieldsValues?: readonly string[];
  /** The array property of the success response holding the items ('' when the body is an array). */
  readonly listKey?: string;
  /** How a list pages: v2 `page_token`/`next_page_token`, v1 `limit`/`offset`, or not at all. */
  readonly paging: 'token' | 'offset' | 'none';
}

export interface OperationFacts {
  /** Identifies the source documents (their info.version values and SHA-256 of the files). */
  readonly source: Readonly<Record<string, string>>;
  readonly operations: readonly OperationFact[];
  /** Named shared schemas referenced by `FieldFact.ref`. */
  readonly schemas: Readonly<Record<string, FieldFact>>;
}
