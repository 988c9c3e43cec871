/** Strip compiler suffixes: "foo.isra.0" -> "foo". */
export function baseName(fn: string): string {
  return fn.replace(/\..*$/, '');
}
