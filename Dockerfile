# syntax=docker/dockerfile:1
# One image for every chatbench process (ml, serve direct, serve queue,
# worker, sqs, bench); docker-compose.yml picks the subcommand.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/chatbench ./cmd/chatbench

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatbench /usr/local/bin/chatbench
USER nonroot:nonroot
# Services must listen on all interfaces inside a container; compose sets
# CHATBENCH_ADDR per service. 8080 WebSocket + /metrics, 8081 queue callback,
# 8090 ML service.
EXPOSE 8080 8081 8090
ENTRYPOINT ["chatbench"]
CMD ["--help"]
