package socket_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/tlsconf"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// TestTLSSession serves the direct path over TLS with a self-signed
// certificate made here, and runs an authenticated session over wss://
// with a client that trusts it; a client that does not is refused.
func TestTLSSession(t *testing.T) {
	certPEM, keyPEM, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Registerer: reg},
		Gatherer:   reg, TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	if !strings.HasPrefix(srv.URL(), "wss://") {
		t.Fatalf("URL %s is not wss://", srv.URL())
	}

	// Untrusted: the handshake fails on the certificate.
	if c, _, err := wstest.TryDialWith(&websocket.Dialer{HandshakeTimeout: 5 * time.Second}, srv.URL(), ""); err == nil {
		c.Close()
		t.Fatal("a client without the CA connected")
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{RootCAs: pool}}
	p := wstest.DialWith(t, d, srv.URL(), "")
	p.Auth(token(t, "p1", chat.RolePatient, "c1"))
	dr := wstest.DialWith(t, d, srv.URL(), token(t, "d1", chat.RoleProvider, "c1"))
	dr.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj", Conv: "c1"})
	if r, _ := dr.AwaitReply("dj"); r.Op != chat.OpAck {
		t.Fatalf("join: %+v", r)
	}
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	if r, _ := p.AwaitReply("pj"); r.Op != chat.OpAck {
		t.Fatalf("join: %+v", r)
	}
	p.Send(chat.ClientFrame{Op: chat.OpSend, ID: "pt", Conv: "c1", Type: "text", Body: "hello over tls"})
	if r, _ := p.AwaitReply("pt"); r.Op != chat.OpAck {
		t.Fatalf("send: %+v", r)
	}
	for {
		f := dr.Next()
		if f.Op == chat.OpEvent && f.ReplyTo == "pt" && f.Event.Job == "relay" {
			break
		}
	}
}
