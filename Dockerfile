# syntax=docker/dockerfile:1
# citysandbox: a static binary on a distroless base, running as a non-root user, state in /data.
# The builder's Go release must be at least go.mod's go line.
FROM docker.io/library/golang:1.25-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and COMMIT are what "citysandbox version" and /_sandbox/health report:
#   docker build --build-arg VERSION=1.2.0 --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/citysandbox ./cmd/citysandbox \
 && mkdir -p /out/data

# distroless/static: CA certificates, tzdata and a nonroot user (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="citysandbox" \
      org.opencontainers.image.description="A sandbox of WeChat's city-service platforms and the Jincheng (晋来办) open platform, for integrators' tests" \
      org.opencontainers.image.source="https://github.com/citysandbox/citysandbox" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/citysandbox /citysandbox
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
# 8844: the platforms' paths, the control plane and the forward proxy (HTTPS_PROXY);
# 8443: HTTPS for the platforms' own host names, by SNI (--tls-addr), for extra_hosts setups.
EXPOSE 8844 8443
# The CA that signs the platform hosts' certificates is kept in /data beside the state, so a
# client trusts it once: GET /_sandbox/ca.pem, or /citysandbox ca.
ENV CITYSANDBOX_ADDR=0.0.0.0:8844 \
    CITYSANDBOX_TLS_ADDR=0.0.0.0:8443 \
    CITYSANDBOX_DATA=/data/citysandbox.db \
    CITYSANDBOX_CA_DIR=/data
# healthcheck asks the address serve listens on: CITYSANDBOX_ADDR, as set here or by docker run -e.
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 \
  CMD ["/citysandbox", "healthcheck"]
ENTRYPOINT ["/citysandbox"]
CMD ["serve"]
