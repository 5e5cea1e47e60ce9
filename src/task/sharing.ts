// Shared mode (docs/architecture.md §13.4): ShimSharing = "namespace" in the runtime options, or
// TSSHIM_SHIM_SHARING=namespace in containerd's environment for containers without the option.

/**
 * The grouping key of every container of a namespace in shared mode: one daemon serves them all
 * (the socket address hashes containerd's address and the namespace with it, docs/protocol.md §3.3).
 */
export const sharedGroup = 'tsshim-shared-daemon';
/** ShimSharing for every container of a containerd whose options do not set it. */
export const shimSharingEnv = 'TSSHIM_SHIM_SHARING';
