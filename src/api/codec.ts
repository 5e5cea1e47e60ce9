// Typed encode/decode on top of the generated protobufjs classes.
//
// The generated module (gen/proto.js, built from proto/ by scripts/build.mjs) is the single
// source of message classes; this file only gives them one calling convention and one error
// type for bytes that do not decode.
import type { Reader, Writer } from 'protobufjs/minimal.js';

/** The encode half of a generated class; I is the plain init shape (IFoo). */
export interface MessageEncoder<I> {
  encode(message: I, writer?: Writer): Writer;
}

/** The decode half of a generated class; M is the decoded message (Foo). */
export interface MessageDecoder<M> {
  decode(reader: Reader | Uint8Array, length?: number): M;
}

export type MessageCodec<I, M extends I = I> = MessageEncoder<I> & MessageDecoder<M>;

/** A message class with its full protobuf name (which is also its Any type URL). */
export interface NamedMessage<I, M extends I = I> {
  readonly typeName: string;
  readonly codec: MessageCodec<I, M>;
}

export function namedMessage<I, M extends I>(typeName: string, codec: MessageCodec<I, M>): NamedMessage<I, M> {
  return { typeName, codec };
}

/** Bytes that are not a valid encoding of the expected message (the server answers InvalidArgument). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly typeName: string,
    cause: unknown,
  ) {
    super(`invalid ${typeName}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export function encodeMessage<I>(codec: MessageEncoder<I>, message: I): Buffer {
  const bytes = codec.encode(message).finish();
  // Under Node protobufjs already returns a Buffer; keep the type honest either way.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes `bytes`; empty bytes are the all-default message, as in proto3. */
export function decodeMessage<M>(codec: MessageDecoder<M>, bytes: Uint8Array, typeName = 'message'): M {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new DecodeError(typeName, err);
  }
}

export function encodeNamed<I, M extends I>(type: NamedMessage<I, M>, message: I): Buffer {
  return encodeMessage(type.codec, message);
}

export function decodeNamed<I, M extends I>(type: NamedMessage<I, M>, bytes: Uint8Array): M {
  return decodeMessage(type.codec, bytes, type.typeName);
}
