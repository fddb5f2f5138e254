/**
 * Interns entity strings (`type:id`, `type:*`) and usersets (`type:id#relation`) as small
 * integers so the indexes hold numbers, not strings. A child table (for a request's contextual
 * tuples) resolves through its parent first and numbers its own entries far above the parent's,
 * so requests never grow the shared table.
 */
export const CHILD_ID_BASE = 2 ** 40;

export class NameTable {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
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

export class EntityTable {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  /** Type id of each entity; for usersets, the type of the userset's object. */
  private readonly typeIds: number[] = [];
  /** For usersets: the entity id of the object and the relation id; -1 otherwise. */
  private readonly usersetObject: number[] = [];
  private readonly usersetRelation: number[] = [];
  /** 1 for `type:*`. */
  private readonly wildcard: number[] = [];
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

  /** Interns `type:id` or `type:*` (the caller has validated the syntax). */
  entity(value: string): number {
    const existing = this.lookup(value);
    if (existing >= 0) return existing;
    const colon = value.indexOf(":");
    const type = this.types.id(value.slice(0, colon));
    return this.add(value, type, -1, -1, value.charCodeAt(colon + 1) === 42 /* '*' */ && value.length === colon + 2 ? 1 : 0);
  }

  /** Interns `type:id#relation`. */
  userset(value: string): number {
    const existing = this.lookup(value);
    if (existing >= 0) return existing;
    const hash = value.lastIndexOf("#");
    const object = this.entity(value.slice(0, hash));
    const relation = this.relations.id(value.slice(hash + 1));
    return this.add(value, this.typeOf(object), object, relation, 0);
  }

  /** Interns any valid user string. */
  user(value: string): number {
    return value.includes("#") ? this.userset(value) : this.entity(value);
  }

  private add(value: string, type: number, usObject: number, usRelation: number, wildcard: number): number {
    const local = this.strings.length;
    const id = this.base + local;
    this.ids.set(value, id);
    this.strings.push(value);
    this.typeIds.push(type);
    this.usersetObject.push(usObject);
    this.usersetRelation.push(usRelation);
    this.wildcard.push(wildcard);
    return id;
  }

  private local(id: number): number {
    return id - this.base;
  }

  string(id: number): string {
    if (id < this.base) return this.parent!.string(id);
    return this.strings[this.local(id)]!;
  }

  typeOf(id: number): number {
    if (id < this.base) return this.parent!.typeOf(id);
    return this.typeIds[this.local(id)]!;
  }

  isWildcard(id: number): boolean {
    if (id < this.base) return this.parent!.isWildcard(id);
    return this.wildcard[this.local(id)] === 1;
  }

  /** Entity id of a userset's object, or -1 when `id` is not a userset. */
  usersetObjectOf(id: number): number {
    if (id < this.base) return this.parent!.usersetObjectOf(id);
    return this.usersetObject[this.local(id)]!;
  }

  usersetRelationOf(id: number): number {
    if (id < this.base) return this.parent!.usersetRelationOf(id);
    return this.usersetRelation[this.local(id)]!;
  }

  get size(): number {
    return this.strings.length;
  }
}
