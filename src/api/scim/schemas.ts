/**
 * The SCIM schemas Tenet serves — RFC 7643 §4.1 User, §4.2 Group and the §4.3 enterprise user
 * extension — limited to the attributes Tenet's directory stores. One set of definitions drives
 * discovery (`/Schemas`), filter validation (filter.ts), PATCH (patch.ts) and the reading of
 * request bodies (mapping.ts). Attribute names are case-insensitive (RFC 7643 §2.1), so every
 * name is looked up here and the canonical spelling is used from then on.
 */

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
export const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
export const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/** RFC 7643 §7 attribute characteristics. */
export interface AttributeDef {
  name: string;
  type: "string" | "boolean" | "complex" | "reference" | "dateTime";
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned: "always" | "never" | "default" | "request";
  uniqueness: "none" | "server" | "global";
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

type Opts = Partial<Omit<AttributeDef, "name" | "type" | "description">>;

function attr(name: string, type: AttributeDef["type"], description: string, o: Opts = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...o,
  };
}

// ---- common attributes (RFC 7643 §3.1): in every resource, not in the schema documents ----

const ID = attr("id", "string", "Tenet's identifier of the resource; immutable.", { caseExact: true, mutability: "readOnly", returned: "always", uniqueness: "server" });
const EXTERNAL_ID = attr("externalId", "string", "The provisioning client's identifier of the resource.", { caseExact: true });
const META = attr("meta", "complex", "Resource metadata.", {
  mutability: "readOnly",
  subAttributes: [
    attr("resourceType", "string", "User or Group.", { caseExact: true, mutability: "readOnly" }),
    attr("created", "dateTime", "When the resource was created.", { mutability: "readOnly" }),
    attr("lastModified", "dateTime", "When the resource was last changed.", { mutability: "readOnly" }),
    attr("location", "reference", "The resource's URI.", { caseExact: true, mutability: "readOnly", referenceTypes: ["uri"] }),
    attr("version", "string", "The resource's version (its ETag).", { caseExact: true, mutability: "readOnly" }),
  ],
});
const COMMON = [ID, EXTERNAL_ID, META];

// ---- User (RFC 7643 §4.1) ----

const USER_ATTRIBUTES: AttributeDef[] = [
  attr("userName", "string", "Unique identifier for the User, used to sign in; unique regardless of case.", { required: true, uniqueness: "server" }),
  attr("name", "complex", "The components of the user's name.", {
    subAttributes: [
      attr("formatted", "string", "The full name (Tenet derives it from givenName and familyName; a value sent is not stored)."),
      attr("familyName", "string", "The family name (last name)."),
      attr("givenName", "string", "The given name (first name)."),
    ],
  }),
  attr("displayName", "string", "The name of the User, suitable for display."),
  attr("active", "boolean", "Whether the User may sign in. false suspends the account (ending its sessions); true reactivates it."),
  attr("emails", "complex", "E-mail addresses. Tenet keeps one: the primary one (else the work one, else the first).", {
    multiValued: true,
    subAttributes: [
      attr("value", "string", "The e-mail address."),
      attr("display", "string", "A display name (not stored)."),
      attr("type", "string", "The address's kind.", { canonicalValues: ["work", "home", "other"] }),
      attr("primary", "boolean", "Whether this is the primary address."),
    ],
  }),
  attr("groups", "complex", "The groups the User is a member of (change them through /Groups).", {
    multiValued: true,
    mutability: "readOnly",
    subAttributes: [
      attr("value", "string", "The group's id.", { caseExact: true, mutability: "readOnly" }),
      attr("$ref", "reference", "The group's URI.", { caseExact: true, mutability: "readOnly", referenceTypes: ["Group"] }),
      attr("display", "string", "The group's displayName.", { mutability: "readOnly" }),
      attr("type", "string", "Membership kind: Tenet has only direct memberships.", { mutability: "readOnly", canonicalValues: ["direct"] }),
    ],
  }),
];

// ---- Enterprise User extension (RFC 7643 §4.3): the manager only ----

const ENTERPRISE_ATTRIBUTES: AttributeDef[] = [
  attr("manager", "complex", "The User's manager (a relationship tuple user:<id>#manager@user:<manager>, usable by access policies).", {
    subAttributes: [
      attr("value", "string", "The manager's id (a User of this service provider).", { caseExact: true }),
      attr("$ref", "reference", "The manager's URI.", { caseExact: true, mutability: "readOnly", referenceTypes: ["User"] }),
      attr("displayName", "string", "The manager's displayName.", { mutability: "readOnly" }),
    ],
  }),
];

// ---- Group (RFC 7643 §4.2) ----

const GROUP_ATTRIBUTES: AttributeDef[] = [
  attr("displayName", "string", "The group's name; unique regardless of case.", { required: true, uniqueness: "server" }),
  attr("members", "complex", "The members: Users only (Tenet has no nested groups).", {
    multiValued: true,
    subAttributes: [
      attr("value", "string", "The member's id.", { caseExact: true, mutability: "immutable" }),
      attr("$ref", "reference", "The member's URI.", { caseExact: true, mutability: "immutable", referenceTypes: ["User"] }),
      attr("display", "string", "The member's displayName (else userName).", { mutability: "readOnly" }),
      attr("type", "string", "The member's resource type.", { mutability: "immutable", canonicalValues: ["User"] }),
    ],
  }),
];

/** A resource type with its core schema, extensions and every attribute (common ones included). */
export interface ResourceSchema {
  name: "User" | "Group";
  endpoint: "/Users" | "/Groups";
  core: string;
  attributes: AttributeDef[];
  extensions: Array<{ schema: string; attributes: AttributeDef[] }>;
}

export const USER: ResourceSchema = {
  name: "User",
  endpoint: "/Users",
  core: USER_SCHEMA,
  attributes: [...COMMON, ...USER_ATTRIBUTES],
  extensions: [{ schema: ENTERPRISE_USER_SCHEMA, attributes: ENTERPRISE_ATTRIBUTES }],
};

export const GROUP: ResourceSchema = {
  name: "Group",
  endpoint: "/Groups",
  core: GROUP_SCHEMA,
  attributes: [...COMMON, ...GROUP_ATTRIBUTES],
  extensions: [],
};

/** Where an attribute lives: top level (`extension` undefined) or in an extension's object. */
export interface ResolvedAttribute {
  def: AttributeDef;
  extension?: string | undefined;
}

export function findIn(defs: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  const n = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === n);
}

/** The extension whose URN is `urn` (any case), if the resource type has it. */
export function findExtension(rs: ResourceSchema, urn: string): string | undefined {
  const u = urn.toLowerCase();
  return rs.extensions.find((e) => e.schema.toLowerCase() === u)?.schema;
}

/** A top-level attribute, of the core schema (`schema` undefined or the core URN) or an extension. */
export function resolveAttribute(rs: ResourceSchema, schema: string | undefined, name: string): ResolvedAttribute | undefined {
  if (schema === undefined || schema.toLowerCase() === rs.core.toLowerCase()) {
    const def = findIn(rs.attributes, name);
    return def ? { def } : undefined;
  }
  const ext = rs.extensions.find((e) => e.schema.toLowerCase() === schema.toLowerCase());
  const def = ext ? findIn(ext.attributes, name) : undefined;
  return def && ext ? { def, extension: ext.schema } : undefined;
}

/**
 * Splits `urn:...:User:name.givenName` (RFC 7644 §3.10: a fully qualified attribute name) into
 * the schema URN and the dotted path. The URN is the longest known one the text starts with;
 * an unknown URN is everything before the last colon.
 */
export function splitUrn(rs: ResourceSchema, text: string): { schema: string | undefined; rest: string } {
  if (!/^urn:/i.test(text)) return { schema: undefined, rest: text };
  const lower = text.toLowerCase();
  for (const urn of [rs.core, ...rs.extensions.map((e) => e.schema)]) {
    const u = urn.toLowerCase();
    if (lower === u) return { schema: urn, rest: "" };
    if (lower.startsWith(u + ":")) return { schema: urn, rest: text.slice(u.length + 1) };
  }
  const i = text.lastIndexOf(":");
  return { schema: text.slice(0, i), rest: text.slice(i + 1) };
}

// ---- discovery (RFC 7644 §4, RFC 7643 §5–7) ----

function schemaDocument(id: string, name: string, description: string, attributes: AttributeDef[], base: string) {
  return { schemas: [SCHEMA_SCHEMA], id, name, description, attributes, meta: { resourceType: "Schema", location: `${base}/Schemas/${id}` } };
}

export function schemaDocuments(base: string) {
  return [
    schemaDocument(USER_SCHEMA, "User", "User Account", USER_ATTRIBUTES, base),
    schemaDocument(GROUP_SCHEMA, "Group", "Group", GROUP_ATTRIBUTES, base),
    schemaDocument(ENTERPRISE_USER_SCHEMA, "EnterpriseUser", "Enterprise User (the manager only)", ENTERPRISE_ATTRIBUTES, base),
  ];
}

export function resourceTypes(base: string) {
  return [USER, GROUP].map((rs) => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: rs.name,
    name: rs.name,
    endpoint: rs.endpoint,
    description: rs.name === "User" ? "User Account" : "Group",
    schema: rs.core,
    schemaExtensions: rs.extensions.map((e) => ({ schema: e.schema, required: false })),
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/${rs.name}` },
  }));
}

/** What this service provider supports (RFC 7643 §5). */
export function serviceProviderConfig(base: string, maxResults: number) {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer token",
        description: "A Tenet API key with the admin scope, sent as Authorization: Bearer <key>.",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}
