// The hand-written DeleteResponse encoder of `delete` against the generated codec.
import { describe, expect, it } from 'vitest';
import { containerd } from '../../src/api/gen/proto.js';
import { encodeDeleteResponse } from '../../src/shim/delete-response.js';

const decode = (bytes: Uint8Array) => containerd.task.v2.DeleteResponse.decode(bytes);

describe('encodeDeleteResponse', () => {
  it('encodes what the generated codec encodes, byte for byte', () => {
    const exitedAt = new Date(1_795_449_862_459);
    const mine = encodeDeleteResponse({ pid: 12345, exitStatus: 137, exitedAt });
    const generated = containerd.task.v2.DeleteResponse.encode({
      pid: 12345,
      exitStatus: 137,
      exitedAt: { seconds: 1_795_449_862, nanos: 459_000_000 },
    }).finish();
    expect(Buffer.from(mine).toString('hex')).toBe(Buffer.from(generated).toString('hex'));
  });

  it('round-trips zero fields, the largest uint32 and a negative int64 (Go zero time)', () => {
    const decoded = decode(encodeDeleteResponse({ pid: 0xffff_ffff, exitStatus: 0, exitedAt: new Date(-62_135_596_800_000) }));
    expect(decoded.pid).toBe(0xffff_ffff);
    expect(decoded.exitStatus).toBe(0);
    expect(Number(decoded.exitedAt?.seconds)).toBe(-62_135_596_800);
    expect(decoded.exitedAt?.nanos).toBe(0);
  });

  it('always carries exited_at and omits zero scalars', () => {
    const bytes = encodeDeleteResponse({ pid: 0, exitStatus: 0, exitedAt: new Date(0) });
    expect(Buffer.from(bytes).toString('hex')).toBe('1a00');
  });

  it('refuses values that are not uint32', () => {
    expect(() => encodeDeleteResponse({ pid: -1, exitStatus: 0, exitedAt: new Date() })).toThrow(RangeError);
    expect(() => encodeDeleteResponse({ pid: 1, exitStatus: 2 ** 32, exitedAt: new Date() })).toThrow(RangeError);
  });
});
