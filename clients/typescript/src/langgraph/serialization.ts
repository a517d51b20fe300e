/**
 * LangGraph's serializer output as Mnemo stores it. A serializer turns a value into
 * `[type, bytes]`; Mnemo keeps `{type, value}` with the JSON document itself for type "json"
 * (readable in the API, and metadata filterable) and base64 text of the bytes for any other type.
 */
import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";

export interface SerializedValue {
  type: string;
  value: unknown;
}

export class Serialization {
  constructor(private readonly serde: SerializerProtocol) {}

  async serialize(value: unknown): Promise<SerializedValue> {
    const [type, data] = await this.serde.dumpsTyped(value);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (type === "json") return { type, value: JSON.parse(new TextDecoder().decode(bytes)) as unknown };
    return { type, value: Buffer.from(bytes).toString("base64") };
  }

  async deserialize(stored: SerializedValue): Promise<unknown> {
    if (stored.type === "json") return this.serde.loadsTyped("json", JSON.stringify(stored.value));
    if (typeof stored.value !== "string") {
      throw new TypeError(`A serialized value of type "${stored.type}" must hold base64 text`);
    }
    return this.serde.loadsTyped(stored.type, new Uint8Array(Buffer.from(stored.value, "base64")));
  }

  /** Checkpoint metadata as a JSON object (the API filters on its members). */
  async metadataToJson(metadata: object): Promise<Record<string, unknown>> {
    const { type, value } = await this.serialize(metadata);
    if (type !== "json" || typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(
        `Checkpoint metadata must serialize to a JSON object (the serializer gave type "${type}")`,
      );
    }
    return value as Record<string, unknown>;
  }

  async metadataFromJson(metadata: unknown): Promise<unknown> {
    return this.deserialize({ type: "json", value: metadata });
  }
}
