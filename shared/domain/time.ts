/** The contract's timestamp: ISO 8601 UTC with microseconds, e.g. `2020-10-26T07:44:56.562150Z`. */
export function contractTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
