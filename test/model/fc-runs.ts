/** How many runs a property makes: `FC_RUNS` from the environment when set (a positive
 * integer; CI can raise it, a quick local loop can lower it), else the given default. */
export function fcRuns(defaultRuns = 200): number {
  const raw = process.env.FC_RUNS;
  if (raw === undefined || raw.trim() === '') return defaultRuns;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`FC_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  return runs;
}
