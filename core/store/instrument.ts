/**
 * Times every call to a store port (`mnemo_store_operation_duration_seconds{store,operation}`,
 * failures in `mnemo_store_operation_errors_total`), without touching the adapters: the port's
 * methods are wrapped on the way out. The label is the method name, a fixed set per port.
 */
import type { ServiceMetrics } from "../metrics.js";

/** Not store work: timing them would only add noise. */
const UNTIMED = new Set(["close", "constructor"]);

export function instrumentStore<T extends object>(
  store: T,
  kind: "sqlite" | "neo4j",
  metrics: ServiceMetrics,
): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      // Read on the target itself: getters of classes with #private fields reject the proxy.
      const value = Reflect.get(target, property);
      if (typeof value !== "function" || typeof property !== "string" || UNTIMED.has(property)) return value;
      return function timed(this: unknown, ...args: unknown[]) {
        const labels = { store: kind, operation: property };
        const stop = metrics.storeDuration.startTimer(labels);
        let result: unknown;
        try {
          result = value.apply(this === receiver ? target : this, args);
        } catch (error) {
          stop();
          metrics.storeErrors.inc(labels);
          throw error;
        }
        if (!(result instanceof Promise)) {
          stop();
          return result;
        }
        return result.finally(stop).catch((error: unknown) => {
          metrics.storeErrors.inc(labels);
          throw error;
        });
      };
    },
  });
}
