/**
 * `/ready`: a service is ready when every dependency it needs answers. Each check gets a
 * deadline so a hung dependency makes the probe fail instead of hang.
 */
export type ReadinessChecks = Record<string, () => Promise<void>>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; ms: number; error?: string }>;
}

export const READINESS_TIMEOUT_MS = 2000;

export async function runReadinessChecks(checks: ReadinessChecks): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)),
              READINESS_TIMEOUT_MS,
            );
          }),
        ]);
        return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [name, { ok: false, ms: Math.round(performance.now() - started), error: message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report: ReadinessReport = { ready: true, checks: {} };
  for (const [name, result] of entries) {
    report.checks[name] = result;
    if (!result.ok) report.ready = false;
  }
  return report;
}
