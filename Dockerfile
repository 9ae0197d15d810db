# syntax=docker/dockerfile:1
# One image per service:
#   docker build --build-arg SERVICE=gateway -t switchyard/gateway:<tag> .
# SERVICE: gateway | session | relay (any directory under ./services with a main package).
# Tags: `make images TAG=<tag>` (tilt/images.mk) tags switchyard/<service>:<tag>;
# the chart pulls <image.registry>/switchyard/<service>:<image.tag>.

FROM golang:1.26-bookworm AS build
ARG SERVICE
WORKDIR /src
# Module downloads are cached in their own layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    test -n "${SERVICE}" || { echo "build arg SERVICE is required (gateway|session|relay)" >&2; exit 1; }; \
    test -d "./services/${SERVICE}" || { echo "no such service: ./services/${SERVICE}" >&2; exit 1; }; \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/sy-${SERVICE} ./services/${SERVICE} \
 && cp /out/sy-${SERVICE} /out/service

FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
LABEL org.opencontainers.image.title="sy-${SERVICE}" \
      org.opencontainers.image.source="https://github.com/switchyard-hub/switchyard"
# Fixed path so ENTRYPOINT does not depend on the build arg.
COPY --from=build /out/service /app/service
USER 65532:65532
ENTRYPOINT ["/app/service"]
