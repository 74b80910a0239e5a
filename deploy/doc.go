// Package deploy holds what a deployment of chatbench needs besides the
// binary: the Prometheus configuration (prometheus.yml), the Grafana
// provisioning and dashboard (grafana/), the LocalStack init script that
// creates the SQS FIFO queue and its dead-letter queue (localstack/), the
// Kubernetes manifests (k8s/: the servers, Redis, and the driver as an
// Indexed Job with the Job that merges its shards), and the documentation
// of both and of docker-compose.yml at the repository root (README.md).
//
// It has no Go code to import. Its tests check, without a Docker engine or
// a cluster, what CI can: that docker-compose.yml parses and every file it
// mounts exists, that images are pinned, that Prometheus scrapes the
// compose services on the ports they listen on, that every metric the
// Grafana dashboard queries is one the chatbench code really exports
// (names are gathered by constructing the real components on a fresh
// registry), that every Kubernetes manifest decodes strictly into its API
// type (k8s.io/api, a test-only dependency) and the manifests fit
// together, and that every chatbench command line of either deployment is
// one the real CLI accepts. check.sh adds `promtool check config` and,
// where the plugin exists, `docker compose config`.
package deploy
