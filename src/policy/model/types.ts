/**
 * The JSON form of an OpenFGA authorization model (schema 1.1), as produced by
 * `@openfga/syntax-transformer` and accepted by OpenFGA's `WriteAuthorizationModel` API.
 */
import type { ConditionDefinitionJson } from "../conditions/condition.js";

export interface ObjectRelation {
  object?: string;
  relation?: string;
}

export interface TupleToUserset {
  tupleset: ObjectRelation;
  computedUserset: ObjectRelation;
}

export interface Usersets {
  child: Userset[];
}

export interface Difference {
  base: Userset;
  subtract: Userset;
}

/** A rewrite rule: exactly one of its keys is set. */
export interface Userset {
  this?: Record<string, never>;
  computedUserset?: ObjectRelation;
  tupleToUserset?: TupleToUserset;
  union?: Usersets;
  intersection?: Usersets;
  difference?: Difference;
}

export interface RelationReference {
  type: string;
  relation?: string;
  wildcard?: Record<string, never>;
  condition?: string;
}

export interface RelationMetadata {
  directly_related_user_types?: RelationReference[];
}

export interface TypeDefinition {
  type: string;
  relations?: Record<string, Userset>;
  metadata?: { relations?: Record<string, RelationMetadata> } | null;
}

export interface AuthorizationModel {
  id?: string;
  schema_version: string;
  type_definitions: TypeDefinition[];
  conditions?: Record<string, ConditionDefinitionJson>;
}
