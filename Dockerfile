# syntax=docker/dockerfile:1
# One image for every chatbench process (ml, serve direct, serve queue,
# worker, sqs, bench); docker-compose.yml picks the subcommand.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# .dockerignore leaves .git out, so Go cannot stamp the VCS revision itself:
# the builder passes what the source is, and `chatbench version` (and every
# results.json) reports it. docker-compose.yml passes CHATBENCH_VERSION and
# CHATBENCH_REVISION from the environment:
#   CHATBENCH_REVISION=$(git rev-parse HEAD) docker compose build
#   docker build --build-arg REVISION=$(git rev-parse HEAD) --build-arg VERSION=v0.2.0 .
ARG VERSION=""
ARG REVISION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags="-s -w -X github.com/chatbench/chatbench/internal/buildinfo.stampedVersion=${VERSION} -X github.com/chatbench/chatbench/internal/buildinfo.stampedRevision=${REVISION}" \
      -o /out/chatbench ./cmd/chatbench

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="chatbench" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/chatbench /usr/local/bin/chatbench
USER nonroot:nonroot
# Services must listen on all interfaces inside a container; compose sets
# CHATBENCH_ADDR per service. 8080 WebSocket + /metrics, 8081 queue callback,
# 8090 ML service. There is no shell: healthchecks run `chatbench health`
# (docker-compose.yml sets one per service, on the port it serves).
EXPOSE 8080 8081 8090
ENTRYPOINT ["chatbench"]
CMD ["--help"]
