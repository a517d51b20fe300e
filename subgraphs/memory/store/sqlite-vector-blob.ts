/**
 * How the SQLite adapter stores a vector: its float32 bytes as a BLOB (the layout sqlite-vec
 * reads too). One place for both directions, used by the store, the vector index and
 * re-embedding.
 */

/** The vector's bytes, without copying. */
export const vectorBlob = (vector: Float32Array): Buffer =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/** A copy of the stored vector (a pooled Buffer's offset may not be 4-byte aligned for a view). */
export const blobVector = (blob: Buffer): Float32Array =>
  new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
