/**
 * One task at a time. The worker answers RPC calls as they come, and a call awaits SQLite many
 * times; without this, two calls would interleave inside one transaction. Each task starts
 * when the one before has settled (a failure does not stop the queue).
 */
export function serial(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
