/**
 * CPU time used by other processes (the servers under test, with their child processes), read
 * from /proc (utime + stime, in clock ticks of 10 ms). On a machine shared with other work, CPU
 * time per request is a steadier measure of a server's cost than its throughput.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10;

/** Milliseconds of CPU one process has used so far (0 when it is gone or /proc is absent). */
function ownCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** CPU milliseconds used so far by these processes and all their descendants. */
export function treeCpuMs(pids: readonly number[]): number {
  let total = 0;
  const pending = [...pids];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    total += ownCpuMs(pid);
    pending.push(...children(pid));
  }
  return total;
}
