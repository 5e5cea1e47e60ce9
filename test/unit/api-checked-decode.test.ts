// The generated decoders refuse a field whose wire type or length does not fit, naming the field
// (protobufjs alone clips an over-long string to what is left: an id of length 0xFFFFFFFF became "").
import { describe, expect, it } from 'vitest';
import { containerd, decodeMessage, DecodeError, encodeMessage } from '../../src/api/index.js';

const task = containerd.task.v2;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('checked field reads in the generated decoders', () => {
  it('a string whose length runs past the payload is an error naming the field', () => {
    // field 1 (id), wire type 2, length 0xFFFFFFFF as a varint, then 2 bytes.
    const bytes = hex('0a ffffffff0f 6869');
    expect(() => task.StateRequest.decode(bytes)).toThrow(
      /containerd\.task\.v2\.StateRequest\.id: length 4294967295 runs past the end of the message \(2 bytes left\)/,
    );
    // The same from a plain Uint8Array (protobufjs' other reader).
    expect(() => task.StateRequest.decode(new Uint8Array(bytes))).toThrow(/StateRequest\.id: length 4294967295/);
  });

  it('a length one past the end is refused, an exact one decodes', () => {
    expect(() => task.StateRequest.decode(hex('0a 03 6869'))).toThrow(/StateRequest\.id: length 3 runs past/);
    expect(task.StateRequest.decode(hex('0a 02 6869')).id).toBe('hi');
  });

  it('the second field is named too', () => {
    expect(() => task.StateRequest.decode(hex('0a 01 61 12 05 62'))).toThrow(/StateRequest\.execId: length 5/);
  });

  it('a known field with another wire type is skipped as unknown, as Go does, not misread', () => {
    // id as a varint 5: protobufjs alone read the 5 as a string length.
    expect(task.StateRequest.decode(hex('08 05 12 01 61'))).toMatchObject({ id: '', execId: 'a' });
    // signal as a 1-byte string, then all=true.
    expect(task.KillRequest.decode(hex('1a 01 00 20 01'))).toMatchObject({ signal: 0, all: true });
    // rootfs (repeated Mount) as a varint.
    expect(task.CreateTaskRequest.decode(hex('18 01 0a 01 63')).rootfs).toEqual([]);
  });

  it('an embedded message and a repeated message field are checked', () => {
    // CreateTaskRequest.options (10, Any) with a length past the end.
    expect(() => task.CreateTaskRequest.decode(hex('52 7f 00'))).toThrow(/CreateTaskRequest\.options: length 127/);
    // CreateTaskRequest.rootfs (3, repeated Mount) and a string inside the Mount.
    expect(() => task.CreateTaskRequest.decode(hex('1a 03 0a 09 61'))).toThrow(/containerd\.types\.Mount\.type: length 9/);
    // A map entry's key (UpdateTaskRequest.annotations, field 3).
    expect(() => task.UpdateTaskRequest.decode(hex('1a 03 0a 08 6b'))).toThrow(/UpdateTaskRequest\.annotations\[key\]: length 8/);
  });

  it('decodeMessage wraps the error as a DecodeError', () => {
    expect(() => decodeMessage(task.StateRequest, hex('0a ffffffff0f'), 'containerd.task.v2.StateRequest')).toThrow(DecodeError);
  });

  it('well-formed messages still round-trip, unknown fields are skipped', () => {
    const bytes = encodeMessage(task.CreateTaskRequest, {
      id: 'c1',
      bundle: '/b',
      rootfs: [{ type: 'overlay', source: 'o', options: ['ro'] }],
      terminal: true,
      stdout: '/f',
      options: { type_url: 'x', value: new Uint8Array([1, 2]) },
    });
    const unknown = Buffer.concat([bytes, hex('f801 07')]); // field 31, varint
    const decoded = task.CreateTaskRequest.decode(unknown);
    expect(decoded.id).toBe('c1');
    expect(decoded.rootfs[0]?.options).toEqual(['ro']);
    expect(decoded.terminal).toBe(true);
    expect(Array.from(decoded.options?.value ?? [])).toEqual([1, 2]);
  });
});
