// `-info`: what containerd 2.x asks of a runtime before using it (docs/protocol.md §6.2):
// our name and version, the options we were given, and the runc binary's `features` JSON.
import { JsonTypeUrl, RuncOptionsType, RuntimeInfoType, encodeNamed, isAnyOf, unpackAny, type AnyMessage } from '../api/index.js';
import { invalidArgument } from '../shim/errdefs.js';
import { Runc } from '../runc/index.js';
import { decodeAny } from './options.js';

export async function runtimeInfo(stdin: Uint8Array, self: { name: string; version: string; revision: string }): Promise<Uint8Array> {
  let options: AnyMessage | undefined;
  let binary = 'runc';
  if (stdin.length > 0) {
    options = decodeAny(stdin);
    if (!isAnyOf(options, RuncOptionsType)) {
      throw invalidArgument(`-info: unsupported options type ${JSON.stringify(options.type_url)}`);
    }
    binary = unpackAny(RuncOptionsType, options).binaryName || binary;
  }
  // No root and no log, as the Go shim asks. A runtime without `features` (youki, old runc) or
  // whose answer is no JSON object still gets an answer, without features, as from the Go shim.
  const features: AnyMessage | undefined = await new Runc({ binary }).features().then(
    ({ raw }) => ({ type_url: JsonTypeUrl.OciFeatures, value: Buffer.from(raw) }),
    () => undefined,
  );
  return encodeNamed(RuntimeInfoType, {
    name: self.name,
    version: { version: self.version, revision: self.revision },
    ...(options ? { options } : {}),
    ...(features ? { features } : {}),
  });
}
