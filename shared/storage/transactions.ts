import type { TransactionAction } from "@azure/data-tables";

/** Azure Table storage: at most 100 operations per entity-group transaction, and a 4 MiB request. */
export const MAX_TRANSACTION_OPERATIONS = 100;
/** Our budget per transaction, in estimated stored bytes (UTF-16 strings), safely under the 4 MiB request limit. */
export const MAX_TRANSACTION_BYTES = 2.5 * 1024 * 1024;
/** Azure Table storage: at most 1 MiB per entity. */
export const MAX_ENTITY_BYTES = 1024 * 1024;

/**
 * An entity's size as Table storage counts it (strings are UTF-16: two bytes a code unit; property names
 * count too), rounded up. Used to plan transactions that never hit a storage limit.
 */
export function entityBytes(entity: Record<string, unknown>): number {
  let bytes = 4;
  for (const [name, value] of Object.entries(entity)) {
    bytes += 8 + 2 * name.length;
    if (typeof value === "string") bytes += 4 + 2 * value.length;
    else if (typeof value === "boolean") bytes += 1;
    else bytes += 8;
  }
  return bytes;
}

/**
 * Splits actions into entity-group transactions: one partition each (actions are grouped by partition,
 * keeping their order within it) and within both limits (operation count and bytes).
 */
export function planTransactions(actions: TransactionAction[], maxOperations = MAX_TRANSACTION_OPERATIONS): TransactionAction[][] {
  const byPartition = new Map<string, TransactionAction[]>();
  for (const action of actions) {
    const partition = String((action[1] as { partitionKey?: unknown }).partitionKey);
    let group = byPartition.get(partition);
    if (!group) byPartition.set(partition, (group = []));
    group.push(action);
  }
  return [...byPartition.values()].flatMap((group) => planWithinPartition(group, maxOperations));
}

function planWithinPartition(actions: TransactionAction[], maxOperations: number): TransactionAction[][] {
  const transactions: TransactionAction[][] = [];
  let current: TransactionAction[] = [];
  let bytes = 0;
  for (const action of actions) {
    const size = entityBytes(action[1]);
    if (current.length > 0 && (current.length >= maxOperations || bytes + size > MAX_TRANSACTION_BYTES)) {
      transactions.push(current);
      current = [];
      bytes = 0;
    }
    current.push(action);
    bytes += size;
  }
  if (current.length) transactions.push(current);
  return transactions;
}

/** Whether the actions fit one transaction. */
export function fitsOneTransaction(actions: TransactionAction[]): boolean {
  return planTransactions(actions).length <= 1;
}
