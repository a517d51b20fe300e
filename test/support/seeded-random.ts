/**
 * A seeded pseudo-random generator (mulberry32), for tests and benchmarks that must draw the same
 * sequence on every run: a failing fuzz round replays from its seed, and each configuration of a
 * benchmark sees the same requests. Ten lines, so written here rather than added as a dependency.
 * Returns numbers in [0, 1), like Math.random.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
