package mlservice_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/mlservice"
)

// Start the ML stand-in on loopback with the "zero" preset plus one
// override, and call it as a handler would (through chat.ML).
func Example() {
	profiles, err := mlservice.ParseProfiles("zero;safety=fail:1")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := mlservice.New(mlservice.Config{Profiles: profiles, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	client, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: "http://" + ln.Addr().String()})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	out, err := client.Predict(ctx, "triage", "headache and fever for three days")
	fmt.Println(string(out), err)
	_, err = client.Predict(ctx, "safety", "headache and fever for three days")
	fmt.Println(err)
	fmt.Println("unavailable:", errors.Is(err, chat.ErrMLUnavailable))

	client.Close()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("serve:", <-served)
	// Output:
	// {"urgency":"low","score":0.04} <nil>
	// ml predict safety: HTTP 503 injected_failure: model safety failed (injected, failure rate 1); retry or lower fail in its profile
	// unavailable: true
	// serve: <nil>
}
