// metav1.Condition bookkeeping: lastTransitionTime moves only when the status flips.
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export function setConditions(
  existing: Condition[] | undefined,
  next: Condition[],
  now = new Date(),
): Condition[] {
  const byType = new Map((existing ?? []).map((c) => [c.type, c]));
  for (const condition of next) {
    const previous = byType.get(condition.type);
    const changed = !previous || previous.status !== condition.status;
    byType.set(condition.type, {
      ...condition,
      message: condition.message.slice(0, 32_000),
      lastTransitionTime: changed ? now.toISOString().replace(/\.\d+Z$/, 'Z') : previous.lastTransitionTime,
    });
  }
  return [...byType.values()];
}

export function condition(
  type: string,
  status: boolean | 'Unknown',
  reason: string,
  message: string,
  observedGeneration?: number,
): Condition {
  return {
    type,
    status: status === 'Unknown' ? 'Unknown' : status ? 'True' : 'False',
    reason,
    message,
    observedGeneration,
  };
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
