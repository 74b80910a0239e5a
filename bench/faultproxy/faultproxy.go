// Package faultproxy puts fault-injecting TCP proxies on loopback between
// chatbench's components: a proxy can be taken down and brought back up
// (on the same port), given added latency with jitter, or made to reset a
// fraction of its connections.
//
// It embeds github.com/Shopify/toxiproxy/v2 as a library (no toxiproxy
// server, no HTTP API). Toxiproxy keeps some process-global state, fenced
// here: every proxy is created with a zerolog.Nop logger (nothing is set
// on zerolog's global logger, and chatbench's logs are untouched), its
// metrics container gets a private Prometheus registry with no collectors
// (nothing is registered on the default registry), and its toxics draw
// from math/rand's global source (toxicity, jitter), so their draws are not
// reproducible. Only this package imports toxiproxy.
package faultproxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Set is a group of named proxies. Its methods are safe for concurrent
// use. Close stops them all.
type Set struct {
	mu      sync.Mutex
	srv     *toxiproxy.ApiServer
	proxies map[string]*toxiproxy.Proxy
	seq     int
}

// New returns an empty Set.
func New() *Set {
	return &Set{
		srv:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()),
		proxies: map[string]*toxiproxy.Proxy{},
	}
}

// Add starts a proxy named name on a free loopback port forwarding to
// upstream (host:port, which must be on loopback) and returns its
// address.
func (s *Set) Add(name, upstream string) (string, error) {
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		return "", fmt.Errorf("faultproxy: upstream %q: %w", upstream, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("faultproxy: upstream %q is not on loopback", upstream)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.proxies[name]; ok {
		return "", fmt.Errorf("faultproxy: proxy %q exists", name)
	}
	p := toxiproxy.NewProxy(s.srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("faultproxy: start %s: %w", name, err)
	}
	s.proxies[name] = p
	return p.Listen, nil
}

func (s *Set) get(name string) (*toxiproxy.Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.proxies[name]
	if !ok {
		return nil, fmt.Errorf("faultproxy: no proxy %q", name)
	}
	return p, nil
}

// Down makes name unreachable: it stops listening (new connections are
// refused) and closes every open connection.
func (s *Set) Down(name string) error {
	p, err := s.get(name)
	if err != nil {
		return err
	}
	p.Stop()
	return nil
}

// Up makes name reachable again on the same address.
func (s *Set) Up(name string) error {
	p, err := s.get(name)
	if err != nil {
		return err
	}
	// The port was just released; retry briefly should it be in use.
	for i := 0; ; i++ {
		err = p.Start()
		if err == nil || err == toxiproxy.ErrProxyAlreadyStarted {
			return nil
		}
		if i == 50 {
			return fmt.Errorf("faultproxy: restart %s: %w", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addToxic adds a toxic of typ with attributes attrs (JSON object body) to
// name's stream ("upstream": client to server; "downstream": back) and
// returns the toxic's name.
func (s *Set) addToxic(name, typ, stream string, toxicity float64, attrs string) (string, error) {
	p, err := s.get(name)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.seq++
	tn := fmt.Sprintf("%s-%s-%d", typ, stream, s.seq)
	s.mu.Unlock()
	js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":%g,"attributes":%s}`, tn, typ, stream, toxicity, attrs)
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		return "", fmt.Errorf("faultproxy: %s on %s: %w", typ, name, err)
	}
	return tn, nil
}

// Latency delays every chunk of data name sends back to its clients by
// latency ± jitter (uniform), so every request/response on the hop takes
// about that much longer. It returns the toxic's name for Remove.
func (s *Set) Latency(name string, latency, jitter time.Duration) (string, error) {
	return s.addToxic(name, "latency", "downstream", 1,
		fmt.Sprintf(`{"latency":%d,"jitter":%d}`, latency.Milliseconds(), jitter.Milliseconds()))
}

// ResetPeers resets (TCP RST) each connection of name with probability
// fraction as soon as its client next sends data, until removed. New
// connections draw too. It returns the toxic's name for Remove.
func (s *Set) ResetPeers(name string, fraction float64) (string, error) {
	return s.addToxic(name, "reset_peer", "upstream", fraction, `{"timeout":0}`)
}

// Remove removes toxic tn (from Latency or ResetPeers) from name.
func (s *Set) Remove(name, tn string) error {
	p, err := s.get(name)
	if err != nil {
		return err
	}
	return p.Toxics.RemoveToxic(context.Background(), tn)
}

// Close stops every proxy and closes its connections.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, p := range s.proxies {
		p.Stop()
		delete(s.proxies, name)
	}
}
