// Small helpers the e2e tests share: `ctr task ls` rows, clean removal.
import type { Containerd } from './containerd.js';
import { eventually } from './wait.js';

export interface TaskRow {
  id: string;
  pid: number;
  status: string;
}

/** `ctr task ls` output as rows. */
export function parseTaskList(out: string): TaskRow[] {
  return out
    .trim()
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const [id, pid, status] = line.trim().split(/\s+/);
      return { id: id!, pid: Number(pid), status: status! };
    });
}

/** The `ctr task ls` row of one task, or undefined (also when ctr fails). */
export async function taskRow(containerd: Containerd, id: string): Promise<TaskRow | undefined> {
  const r = await containerd.ctr(['task', 'ls'], { timeoutMs: 10_000 });
  return r.code === 0 ? parseTaskList(r.stdout).find((t) => t.id === id) : undefined;
}

/** SIGKILLs the task if it runs, deletes it once it has stopped, then deletes the container. */
export async function removeContainer(containerd: Containerd, id: string): Promise<void> {
  await containerd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
  await eventually(async () => (await containerd.ctr(['task', 'delete', id])).code === 0, 10_000);
  await containerd.ctrOk(['containers', 'delete', id]);
}
