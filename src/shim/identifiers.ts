// containerd's rule for identifiers (container ids, exec ids): what its pkg/identifiers accepts.
// Such a name is safe as one path component; anything else is refused before it reaches a path.

const MAX_LENGTH = 76;
/** Runs of letters and digits, joined by single '.', '_' or '-'. */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** Why `value` is not a valid identifier, or undefined when it is one. */
export function identifierProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_LENGTH) return `is longer than ${MAX_LENGTH} characters`;
  if (!IDENTIFIER.test(value)) return `must match ${IDENTIFIER.source}`;
  return undefined;
}
