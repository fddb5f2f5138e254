/** `tenet model validate|transform FILE`: checks a model the way the server would accept it. */
import { readFile } from "node:fs/promises";
import st from "@openfga/syntax-transformer";
import { TypeSystem } from "../../policy/model/typesystem.js";
import type { Io } from "../main.js";

export async function modelCommand(args: string[], io: Io): Promise<number> {
  const [sub, file] = args;
  if ((sub !== "validate" && sub !== "transform") || !file) {
    io.err("usage: tenet model validate FILE | tenet model transform FILE\n");
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }
  const ts = TypeSystem.from(text);
  if (sub === "validate") {
    const relations = [...ts.types.values()].reduce((n, t) => n + t.relations.size, 0);
    io.out(`${file}: valid (${ts.types.size} types, ${relations} relations, ${ts.conditions.size} conditions)\n`);
    return 0;
  }
  io.out(text.trimStart().startsWith("{") ? st.transformer.transformJSONToDSL(ts.model as never) : `${JSON.stringify(ts.model, null, 2)}\n`);
  return 0;
}
