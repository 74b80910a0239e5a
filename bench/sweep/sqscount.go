package sweep

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// billChunk is the payload SQS bills as one request: each started 64 KiB
// of a request's payload counts as one (docs/methodology.md, "Cost").
const billChunk = 64 << 10

// sqsCounter counts a step's SQS requests as they cross the wire: a
// reverse proxy on loopback between the path's SQS clients (gateway,
// worker) and the SQS endpoint, installed through stack.Config.Via on the
// sqs hop. It counts what SQS bills — every request, empty long-poll
// returns included, by action and queue kind, with the 64 KiB chunks of
// its payload — and what an idle consumer costs (the receives waiting at
// once, the long-poll wait they ask for). Counting on the wire rather than
// in the gateway and the worker sees every client the same way and needs
// no change to them; the price is one loopback hop per call, a fraction of
// a millisecond beside the region latency profile, and the proxy's CPU,
// which is charged to the driver process.
//
// Start it with newSQSCounter, route the sqs hop through via, read it with
// counts after the stack stopped, and close it. Safe for concurrent use.
type sqsCounter struct {
	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup

	mu       sync.Mutex
	upstream *url.URL
	counts   map[countKey]*results.SQSCount
	waiting  map[string]int // receives in flight, by queue kind
	// firstPoll is when each kind's first recurring request came
	// (results.SQSCount.Polls).
	firstPoll map[countKey]time.Time
}

type countKey struct{ action, queue string }

// newSQSCounter listens on a free loopback port; the upstream is set when
// the stack routes its sqs hop through via.
func newSQSCounter() (*sqsCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &sqsCounter{ln: ln, counts: map[countKey]*results.SQSCount{}, waiting: map[string]int{}, firstPoll: map[countKey]time.Time{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			c.mu.Lock()
			up := c.upstream
			c.mu.Unlock()
			if up != nil {
				r.SetURL(up)
			}
			r.Out.Host = r.In.Host // the endpoint builds queue URLs from the host the client used
		},
		Transport: &http.Transport{
			// Long polls hold a connection each, and a busy worker has
			// hundreds of calls in flight: keep them all alive.
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
		ModifyResponse: c.observe,
		// A long poll its client gave up on (a worker stopping) is no
		// news: count the failure, log nothing.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, _ error) {
			info, _ := r.Context().Value(callInfoKey{}).(callInfo)
			c.mu.Lock()
			c.count(info.key).Errors++
			c.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	c.srv = &http.Server{Handler: c.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	c.wg.Go(func() { _ = c.srv.Serve(ln) })
	return c, nil
}

// addr is the proxy's address, for the sqs hop's clients.
func (c *sqsCounter) addr() string { return c.ln.Addr().String() }

// via is a stack.Config.Via that routes the sqs hop (the first instance's)
// through the counter and leaves every other hop alone.
func (c *sqsCounter) via(hop, upstream string) (string, error) {
	if hop != "sqs" {
		return upstream, nil
	}
	u, err := url.Parse("http://" + upstream)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.upstream = u
	c.mu.Unlock()
	return c.addr(), nil
}

// callInfo is what the counter reads of a request before it is forwarded.
type callInfo struct {
	key     countKey
	reqLen  int
	waitUS  int64
	receive bool
}

type callInfoKey struct{}

// handler counts each request as it arrives (SQS bills requests made,
// answered or not) and forwards it.
func (c *sqsCounter) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		info := callInfo{reqLen: len(body)}
		info.key.action = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
		var req struct {
			QueueURL        string `json:"QueueUrl"`
			QueueName       string `json:"QueueName"`
			WaitTimeSeconds *int64 `json:"WaitTimeSeconds"`
			Entries         []json.RawMessage
			AttributeNames  []string
		}
		_ = json.Unmarshal(body, &req) // an unreadable body is still a request
		info.key.queue = "standard"
		if strings.HasSuffix(cmp.Or(req.QueueURL, req.QueueName), ".fifo") {
			info.key.queue = "fifo"
		}
		info.receive = info.key.action == "ReceiveMessage"
		if req.WaitTimeSeconds != nil {
			info.waitUS = *req.WaitTimeSeconds * int64(time.Second/time.Microsecond)
		}
		c.mu.Lock()
		n := c.count(info.key)
		n.Calls++
		if isPoll(info.key.action, req.QueueURL, req.AttributeNames) {
			now := time.Now()
			if n.Polls == 0 {
				c.firstPoll[info.key] = now
			}
			n.Polls++
			n.PollSeconds = now.Sub(c.firstPoll[info.key]).Seconds()
		}
		if !info.receive {
			n.Billed += chunks(info.reqLen) // a receive is billed by what it returns
			if strings.Contains(info.key.action, "Message") {
				n.Entries += int64(max(len(req.Entries), 1))
			}
		} else {
			n.WaitUS = max(n.WaitUS, info.waitUS)
			c.waiting[info.key.queue]++
			n.Pollers = max(n.Pollers, c.waiting[info.key.queue])
		}
		c.mu.Unlock()
		if info.receive {
			defer func() {
				c.mu.Lock()
				c.waiting[info.key.queue]--
				c.mu.Unlock()
			}()
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callInfoKey{}, info)))
	})
}

// isPoll reports whether a request is one that recurs with time: the
// worker's reading of the dead-letter queue's depth (queuemode's
// watchDLQ), told from the start-up reads of the same action (its ARN,
// the message size limit) by the one attribute it asks for.
func isPoll(action, queueURL string, attrs []string) bool {
	return action == "GetQueueAttributes" && strings.Contains(queueURL, "-dlq") &&
		len(attrs) == 1 && attrs[0] == "ApproximateNumberOfMessages"
}

// observe counts errors, and for a receive the messages and the billed
// chunks of what it returned (none: an empty receive, still billed once).
func (c *sqsCounter) observe(resp *http.Response) error {
	info, _ := resp.Request.Context().Value(callInfoKey{}).(callInfo)
	if resp.StatusCode >= 300 {
		c.mu.Lock()
		c.count(info.key).Errors++
		if info.receive {
			c.count(info.key).Billed++
		}
		c.mu.Unlock()
		return nil
	}
	if !info.receive {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	if err != nil {
		return err
	}
	msgs := int64(bytes.Count(body, []byte(`"MessageId"`)))
	c.mu.Lock()
	n := c.count(info.key)
	n.Entries += msgs
	n.Billed += chunks(len(body))
	if msgs == 0 {
		n.Empty++
	}
	c.mu.Unlock()
	return nil
}

// count returns the counts of key, creating them. Call with c.mu held.
func (c *sqsCounter) count(key countKey) *results.SQSCount {
	n := c.counts[key]
	if n == nil {
		n = &results.SQSCount{Action: key.action, Queue: key.queue}
		c.counts[key] = n
	}
	return n
}

// chunks is the requests SQS bills for a payload of n bytes.
func chunks(n int) int64 { return int64(max(1, (n+billChunk-1)/billChunk)) }

// snapshot returns the counts so far, by queue kind then action.
func (c *sqsCounter) snapshot() []results.SQSCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]results.SQSCount, 0, len(c.counts))
	for _, n := range c.counts {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b results.SQSCount) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Action, b.Action))
	})
	return out
}

// close stops the proxy and waits for its server.
func (c *sqsCounter) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = c.srv.Close()
	}
	c.wg.Wait()
	return err
}
