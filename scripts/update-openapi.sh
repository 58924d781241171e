#!/usr/bin/env bash
# Regenerates openapi/gpulxc-v1.json from the running service. Review the diff, then build: the client in
# src/Client is regenerated from the new document.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${GPULXC_OPENAPI_PORT:-5089}"
data="$(mktemp -d)"
dotnet build src/Api -nologo -v quiet
GpuLxc__DataDir="$data" Urls="http://127.0.0.1:$port" dotnet run --project src/Api --no-build >"$data/service.log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; rm -rf "$data"' EXIT

for _ in $(seq 1 150); do
  if curl -sf "http://127.0.0.1:$port/openapi/v1.json" -o "$data/document.json"; then
    cp "$data/document.json" openapi/gpulxc-v1.json
    echo "openapi/gpulxc-v1.json updated"
    exit 0
  fi
  kill -0 "$service" 2>/dev/null || { cat "$data/service.log"; exit 1; }
  sleep 0.2
done
echo "the service did not serve /openapi/v1.json within 30 s" >&2
cat "$data/service.log" >&2
exit 1
