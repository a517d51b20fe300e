/** The session-context mix of a memory's vector (domain/session-context.ts), on its own. */
import { describe, expect, it } from "vitest";
import { withSessionContext } from "../../subgraphs/memory/domain/session-context.js";

const unit = (...values: number[]) => {
  const norm = Math.hypot(...values);
  return Float32Array.from(values, (value) => value / norm);
};
const rounded = (vector: Float32Array) => Array.from(vector, (value) => Number(value.toFixed(6)));

describe("withSessionContext", () => {
  it("adds the previous memory's vector at the weight and returns unit length", () => {
    const mixed = withSessionContext(unit(1, 0, 0), unit(0, 1, 0), 0.5);
    expect(rounded(mixed)).toEqual(rounded(unit(1, 0.5, 0)));
    expect(Math.hypot(...mixed)).toBeCloseTo(1, 6);
  });

  it("keeps the memory's own vector at weight 0, and when the two would cancel out", () => {
    const own = unit(0, 0, 1);
    expect(withSessionContext(own, unit(1, 0, 0), 0)).toBe(own);
    expect(rounded(withSessionContext(own, unit(0, 0, -1), 1))).toEqual(rounded(own));
  });

  it("ignores a previous vector of another size (another model's)", () => {
    const own = unit(1, 1);
    expect(withSessionContext(own, unit(1, 0, 0), 0.5)).toBe(own);
  });
});
