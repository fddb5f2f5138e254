/**
 * Interns entity strings (`type:id`, `type:*`) and usersets (`type:id#relation`) as small
 * integers so the indexes hold numbers, not strings. Per-entity facts live in typed arrays
 * (17 bytes an entity instead of 40 in plain arrays). A child table (for a request's contextual
 * tuples and unknown entities) resolves through its parent first and numbers its own entries far
 * above the parent's, so requests never grow the shared table.
 */
import { TenetError } from "../../errors.js";

export const CHILD_ID_BASE = 2 ** 40;
/** Relation ids index per-type slots; a store may use this many distinct relation names. */
export const MAX_RELATIONS = 1024;

export class NameTable {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  constructor(private readonly limit = Number.MAX_SAFE_INTEGER) {}

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      if (this.names.length >= this.limit) throw new TenetError("invalid_model", `more than ${this.limit} distinct names in one store`);
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  lookup(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  name(id: number): string {
    const n = this.names[id];
    if (n === undefined) throw new RangeError(`unknown name id ${id}`);
    return n;
  }

  get size(): number {
    return this.names.length;
  }
}

/**
 * Per entity, one 32-bit word packs the type id and flags so that the facts a check needs
 * about an entity cost a single memory access: bits 0-23 type id, bit 24 wildcard, bit 25 userset.
 */
const TYPE_MASK = 0xffffff;
const FLAG_WILDCARD = 1 << 24;
const FLAG_USERSET = 1 << 25;

export class EntityTable {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  private capacity = 0;
  /** Type id and flags of each entity (see TYPE_MASK); for usersets, the type of its object. */
  private info = new Int32Array(0);
  /** For usersets: the entity id of the object (-1 otherwise). Float64: child ids exceed 2^31. */
  private usersetObject = new Float64Array(0);
  private usersetRelation = new Int32Array(0);
  /** relation id → object id → id of the userset `object#relation`. */
  private readonly usersetIds: Array<Map<number, number> | undefined> = [];
  /** typeId → id of `type:*`, once interned. */
  private readonly wildcardByType: number[] = [];
  private readonly base: number;

  constructor(
    readonly types: NameTable,
    readonly relations: NameTable,
    private readonly parent: EntityTable | null = null,
  ) {
    this.base = parent ? CHILD_ID_BASE : 0;
  }

  lookup(value: string): number {
    const id = this.ids.get(value);
    if (id !== undefined) return id;
    return this.parent ? this.parent.lookup(value) : -1;
  }

  /** The id of `type:*` for a type id, or -1 when no tuple ever named it. */
  wildcardOf(typeId: number): number {
    const w = this.wildcardByType[typeId];
    if (w !== undefined) return w;
    return this.parent ? this.parent.wildcardOf(typeId) : -1;
  }

  /** Interns `type:id` or `type:*` (the caller has validated the syntax). */
  entity(value: string): number {
    const existing = this.lookup(value);
    if (existing >= 0) return existing;
    const colon = value.indexOf(":");
    const type = this.types.id(value.slice(0, colon));
    const wildcard = value.length === colon + 2 && value.charCodeAt(colon + 1) === 42; /* '*' */
    if (type > TYPE_MASK) throw new TenetError("invalid_model", "too many types");
    const id = this.add(value, type, -1, -1, wildcard ? FLAG_WILDCARD : 0);
    if (wildcard) this.wildcardByType[type] = id;
    return id;
  }

  /** Interns `type:id#relation`. */
  userset(value: string): number {
    const existing = this.lookup(value);
    if (existing >= 0) return existing;
    const hash = value.lastIndexOf("#");
    const object = this.entity(value.slice(0, hash));
    const relation = this.relations.id(value.slice(hash + 1));
    const id = this.add(value, this.typeOf(object), object, relation, FLAG_USERSET);
    let byObj = this.usersetIds[relation];
    if (!byObj) byObj = this.usersetIds[relation] = new Map();
    byObj.set(object, id);
    return id;
  }

  /** The id of the userset `object#relation` by ids, or -1 when never interned. */
  usersetIdOf(object: number, relation: number): number {
    const id = this.usersetIds[relation]?.get(object);
    if (id !== undefined) return id;
    return this.parent ? this.parent.usersetIdOf(object, relation) : -1;
  }

  /** Interns any valid user string. */
  user(value: string): number {
    return value.includes("#") ? this.userset(value) : this.entity(value);
  }

  private add(value: string, type: number, usObject: number, usRelation: number, flags: number): number {
    const local = this.strings.length;
    if (local === this.capacity) this.grow();
    const id = this.base + local;
    this.ids.set(value, id);
    this.strings.push(value);
    this.info[local] = type | flags;
    this.usersetObject[local] = usObject;
    this.usersetRelation[local] = usRelation;
    return id;
  }

  private grow(): void {
    const cap = Math.max(16, Math.ceil(this.capacity * 1.5));
    const t = new Int32Array(cap);
    t.set(this.info);
    this.info = t;
    const o = new Float64Array(cap);
    o.set(this.usersetObject);
    this.usersetObject = o;
    const r = new Int32Array(cap);
    r.set(this.usersetRelation);
    this.usersetRelation = r;
    this.capacity = cap;
  }

  string(id: number): string {
    if (id < this.base) return this.parent!.string(id);
    return this.strings[id - this.base]!;
  }

  typeOf(id: number): number {
    if (id < this.base) return this.parent!.typeOf(id);
    return this.info[id - this.base]! & TYPE_MASK;
  }

  isWildcard(id: number): boolean {
    if (id < this.base) return this.parent!.isWildcard(id);
    return (this.info[id - this.base]! & FLAG_WILDCARD) !== 0;
  }

  /** Entity id of a userset's object, or -1 when `id` is not a userset. */
  usersetObjectOf(id: number): number {
    if (id < this.base) return this.parent!.usersetObjectOf(id);
    const local = id - this.base;
    // Only usersets read the second array: plain entities cost one access.
    return (this.info[local]! & FLAG_USERSET) === 0 ? -1 : this.usersetObject[local]!;
  }

  /** The packed type id and flags (see `kindOf`/`typeOfInfo`), in one access. */
  infoOf(id: number): number {
    if (id < this.base) return this.parent!.infoOf(id);
    return this.info[id - this.base]!;
  }

  usersetRelationOf(id: number): number {
    if (id < this.base) return this.parent!.usersetRelationOf(id);
    return this.usersetRelation[id - this.base]!;
  }

  get size(): number {
    return this.strings.length;
  }
}

export const typeOfInfo = (info: number): number => info & TYPE_MASK;
export const isWildcardInfo = (info: number): boolean => (info & FLAG_WILDCARD) !== 0;
export const isUsersetInfo = (info: number): boolean => (info & FLAG_USERSET) !== 0;
