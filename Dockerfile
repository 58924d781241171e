# GpuLxc as a container on the host it manages. It is only useful as docker-compose.yml runs it (privileged, in the
# host's PID namespace, with the host's root mounted at /host): read README.md, "Run with docker-compose", first.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet publish src/Api -c Release -r linux-x64 --self-contained -o /out

# Self-contained: the runtime-deps image carries only what .NET itself needs.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0
# nsenter (util-linux) reaches the host's namespaces; curl is the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends util-linux curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /opt/gpulxc
# host-exec runs a host command (pct, lxc-*, apt-get, nvidia-smi, modprobe, …) in the host's namespaces;
# link-host-tools links the ones the host has into $GPULXC_HOST_BIN, which the entrypoint makes GpuLxc:Host:BinPath.
COPY deploy/nsenter-bin/ /opt/gpulxc/nsenter-bin/
COPY deploy/docker-entrypoint.sh /opt/gpulxc/docker-entrypoint.sh
ENV ASPNETCORE_ENVIRONMENT=Production \
    Urls=http://0.0.0.0:5080 \
    GpuLxc__DataDir=/var/lib/gpulxc \
    GPULXC_HOST_BIN=/run/gpulxc/bin
VOLUME /var/lib/gpulxc
EXPOSE 5080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS --max-time 4 -o /dev/null http://127.0.0.1:5080/healthz || exit 1
ENTRYPOINT ["/opt/gpulxc/docker-entrypoint.sh"]
