/** Minimal flag parsing: `--name value` or `--name=value`. */
export function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) {
      // `--name --other` has no value: never take the next flag as this one's value.
      const v = args[i + 1];
      return v === undefined || v.startsWith("--") ? undefined : v;
    }
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

export function hasFlag(args: string[], name: string): boolean {
  return args.includes(name);
}
