#!/bin/sh
# Run one container through tsshim with ctr (containerd-shim-tsshim-v2 on containerd's PATH).
set -e
ctr image pull docker.io/library/busybox:latest
ctr run --rm --runtime io.containerd.tsshim.v2 docker.io/library/busybox:latest hello echo hello from tsshim
