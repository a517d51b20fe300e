/**
 * Patch formats for `patchState`: RFC 7396 JSON Merge Patch and RFC 6902 JSON Patch, plus the
 * RFC 6902 diff shown in history.
 */
import fastJsonPatch, { type Operation } from "fast-json-patch";
import { badUserInput } from "../../../core/errors.js";
import type { JsonValue } from "./json.js";

const { applyPatch, compare, validate, JsonPatchError } = fastJsonPatch;

export type PatchFormat = "MERGE_PATCH" | "JSON_PATCH";

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * RFC 7396, section 2, written out here because the algorithm is a few lines and the npm
 * packages for it assign `__proto__` keys straight onto objects (prototype pollution).
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch;
  const result: Record<string, JsonValue> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      const merged = applyMergePatch(Object.hasOwn(result, key) ? result[key]! : null, value);
      Object.defineProperty(result, key, {
        value: merged,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return result;
}

export function applyJsonPatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!Array.isArray(patch)) {
    throw badUserInput(
      'A JSON_PATCH patch must be an array of RFC 6902 operations, e.g. [{"op":"add","path":"/a","value":1}]',
    );
  }
  const operations = patch as unknown as Operation[];
  try {
    // validate() checks every operation's shape against the document before anything changes.
    const problem = validate(operations, structuredClone(target));
    if (problem) throw problem;
    return applyPatch(structuredClone(target), operations, true, false, true).newDocument as JsonValue;
  } catch (error) {
    if (error instanceof JsonPatchError) {
      const index = typeof error.index === "number" ? ` (operation ${error.index})` : "";
      throw badUserInput(`Invalid JSON Patch${index}: ${describePatchError(error)}`, {
        patchError: error.name,
      });
    }
    // fast-json-patch refuses paths through __proto__ with a plain TypeError.
    if (error instanceof TypeError && /__proto__|prototype/.test(error.message)) {
      throw badUserInput("Invalid JSON Patch: paths may not go through __proto__ or constructor.prototype");
    }
    throw error;
  }
}

function describePatchError(error: InstanceType<typeof JsonPatchError>): string {
  const messages: Record<string, string> = {
    SEQUENCE_NOT_AN_ARRAY: "the patch must be an array",
    OPERATION_NOT_AN_OBJECT: "each operation must be an object",
    OPERATION_OP_INVALID: 'each operation needs "op": add, remove, replace, move, copy or test',
    OPERATION_PATH_INVALID: 'each operation needs a "path" string (a JSON Pointer like "/a/0")',
    OPERATION_FROM_REQUIRED: 'move and copy need a "from" path',
    OPERATION_VALUE_REQUIRED: 'add, replace and test need a "value"',
    OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: "values must be JSON",
    OPERATION_PATH_CANNOT_ADD: "the path's parent does not exist",
    OPERATION_PATH_UNRESOLVABLE: "the path does not exist in the current state",
    OPERATION_FROM_UNRESOLVABLE: 'the "from" path does not exist in the current state',
    OPERATION_PATH_ILLEGAL_ARRAY_INDEX: "an array index in the path is not a number",
    OPERATION_VALUE_OUT_OF_BOUNDS: "an array index in the path is out of bounds",
    TEST_OPERATION_FAILED: "a test operation did not match the current state",
  };
  return messages[error.name] ?? error.message.split("\n")[0] ?? error.name;
}

export function applyStatePatch(format: PatchFormat, target: JsonValue, patch: JsonValue): JsonValue {
  return format === "JSON_PATCH" ? applyJsonPatch(target, patch) : applyMergePatch(target, patch);
}

/** The RFC 6902 operations that turn `before` into `after` (the whole document for a first version). */
export function diffStates(before: JsonValue | undefined, after: JsonValue): Operation[] {
  if (before === undefined) return [{ op: "add", path: "", value: after }];
  const comparable = (isObject(before) && isObject(after)) || (Array.isArray(before) && Array.isArray(after));
  if (!comparable) return before === after ? [] : [{ op: "replace", path: "", value: after }];
  return compare(before as object, after as object);
}
