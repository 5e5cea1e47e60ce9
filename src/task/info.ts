// `-info`: what containerd 2.x asks of a runtime before using it (docs/protocol.md §6.2):
// our name and version, the options we were given, and the runc binary's `features` JSON.
import {
  JsonTypeUrl, RuncOptionsType, RuntimeInfoType, encodeNamed, isAnyOf, unpackAny, type AnyMessage,
} from '../api/index.js';
import { invalidArgument } from '../shim/errdefs.js';
import { decodeAny } from './options.js';
import { run } from '../sys/spawn.js';

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
  let features: AnyMessage | undefined;
  // A runtime without `features` (youki, old runc) still gets an answer, as from the Go shim.
  const result = await run(binary, ['features']).catch(() => undefined);
  if (result?.code === 0) {
    JSON.parse(result.stdout.toString('utf8'));
    features = { type_url: JsonTypeUrl.OciFeatures, value: result.stdout };
  }
  return encodeNamed(RuntimeInfoType, {
    name: self.name,
    version: { version: self.version, revision: self.revision },
    ...(options ? { options } : {}),
    ...(features ? { features } : {}),
  });
}
