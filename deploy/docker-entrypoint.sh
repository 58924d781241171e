#!/bin/sh
# The image's entrypoint. GpuLxc acts on the host through this container, so it first checks that the host's init is
# within reach (docker-compose.yml runs it privileged, with pid: host), links the host's commands for
# GpuLxc:Host:BinPath, and then starts the service in the host's UTS namespace, so that it reports the host's name.
set -eu
if [ "$(readlink /proc/1/ns/mnt 2>/dev/null)" = "$(readlink /proc/self/ns/mnt)" ]; then
  echo "gpulxc: PID 1 is this container's own: run it with pid: host (see docker-compose.yml)." >&2
  exit 1
fi
if ! nsenter --target 1 --mount -- true 2>/dev/null; then
  echo "gpulxc: cannot enter the host's namespaces: run the container privileged (see docker-compose.yml)." >&2
  exit 1
fi
/opt/gpulxc/nsenter-bin/link-host-tools
export GpuLxc__Host__BinPath="$GPULXC_HOST_BIN"
exec nsenter --target 1 --uts -- /opt/gpulxc/GpuLxc.Api "$@"
