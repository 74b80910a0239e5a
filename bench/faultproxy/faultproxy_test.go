package faultproxy

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer echoes lines on a loopback port until the test ends.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// roundTrip sends one line through addr and returns how long the echo took.
func roundTrip(addr string) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	t0 := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return time.Since(t0), err
}

func TestDownUpLatency(t *testing.T) {
	s := New()
	defer s.Close()
	if _, err := s.Add("x", "10.0.0.1:80"); err == nil {
		t.Error("non-loopback upstream accepted")
	}
	addr, err := s.Add("echo", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if err := s.Down("echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr); err == nil {
		t.Error("proxy down, yet the round trip succeeded")
	}
	if err := s.Up("echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr); err != nil {
		t.Fatalf("after Up: %v", err)
	}
	tn, err := s.Latency("echo", 100*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := roundTrip(addr); err != nil || d < 90*time.Millisecond {
		t.Errorf("with +100ms latency: %s, %v", d, err)
	}
	if err := s.Remove("echo", tn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPeers("echo", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr); err == nil {
		t.Error("reset_peer at 100%, yet the round trip succeeded")
	}
}
