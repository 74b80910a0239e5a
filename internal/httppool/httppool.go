// Package httppool builds the HTTP transport of clients that make many
// concurrent calls to one host — the ML client and the worker's callback
// client — and says how many idle connections the SQS clients, built on the
// AWS SDK's own transport, keep. Go's default transport keeps 2 idle connections per
// host (the AWS SDK's, 10), so a burst of more concurrent calls than that
// dials a new connection for each call beyond them and leaves TIME_WAIT
// sockets behind; a queue-job worker spent 7 % of its CPU dialling so.
package httppool

import (
	"net"
	"net/http"
	"time"
)

// MaxIdle and MaxIdlePerHost are the idle connections Transport keeps in
// all and per host; the SQS client, built on the AWS SDK's own transport,
// sets the same.
const (
	MaxIdle        = 1024
	MaxIdlePerHost = 512
)

// Transport returns a transport that keeps up to MaxIdlePerHost idle
// connections to each host.
func Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdle,
		MaxIdleConnsPerHost:   MaxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
