# syntax=docker/dockerfile:1
# citysandbox: a static binary on an empty base, running as a non-root user, state in /data.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/citysandbox ./cmd/citysandbox \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
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
    CITYSANDBOX_CA_DIR=/data \
    GIN_MODE=release
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 \
  CMD ["/citysandbox", "healthcheck", "--url", "http://127.0.0.1:8844/_sandbox/health"]
ENTRYPOINT ["/citysandbox"]
CMD ["serve"]
