# syntax=docker/dockerfile:1
# seedream-mcp over streamable HTTP in a small image: a static (musl) binary on distroless/static,
# run as a non-root user. Built from source, cross-compiled on the build machine's own platform
# (no emulation) for the platform asked for:
#   docker build -t seedream-mcp .
#   docker buildx build --platform linux/amd64,linux/arm64 -t seedream-mcp .
# Run (the server refuses to listen beyond loopback without a token):
#   docker run -p 8787:8787 -e SEEDREAM_API_KEY=… -e SEEDREAM_HTTP_TOKEN=… seedream-mcp

FROM --platform=$BUILDPLATFORM rust:1.95-slim-bookworm AS build
ARG TARGETARCH
# nasm: libjpeg-turbo's SIMD code. zig (as the C compiler and linker, through cargo-zigbuild)
# cross-compiles the C in mozjpeg and aws-lc for musl on either CPU. The Debian packages follow the
# pinned base image (their versions are not pinned: Debian drops superseded ones); the Python tools
# are pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nasm python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-cache-dir --break-system-packages ziglang==0.17.0 cargo-zigbuild==0.24.0
WORKDIR /src
COPY . .
RUN case "$TARGETARCH" in \
        amd64) target=x86_64-unknown-linux-musl ;; \
        arm64) target=aarch64-unknown-linux-musl ;; \
        *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac \
    && rustup target add "$target" \
    && cargo zigbuild --locked --profile dist --bin seedream-mcp --target "$target" \
    && cp "target/$target/dist/seedream-mcp" /seedream-mcp

# A static wget (busybox) for the health check: distroless has no shell and no HTTP client.
FROM busybox:1.37-musl AS wget

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="seedream-mcp" \
      org.opencontainers.image.description="MCP server for ByteDance Seedream image generation" \
      org.opencontainers.image.source="https://github.com/seedream-mcp/seedream-mcp" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      io.modelcontextprotocol.server.name="io.github.seedream-mcp/seedream-mcp"
COPY --from=build /seedream-mcp /usr/local/bin/seedream-mcp
COPY --from=wget /bin/busybox /usr/local/bin/wget
# Listen on every interface inside the container; the binary still refuses to start without
# SEEDREAM_HTTP_TOKEN, as it does whenever it is bound beyond loopback.
ENV SEEDREAM_HTTP_LISTEN=0.0.0.0:8787
# distroless's "nonroot" user, by number so that the host can resolve it.
USER 65532:65532
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8787/healthz"]
ENTRYPOINT ["/usr/local/bin/seedream-mcp"]
CMD ["http"]
