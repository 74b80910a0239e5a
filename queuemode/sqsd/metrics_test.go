package sqsd

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, Config{Registerer: reg})
	std := e.createQueue("m", nil)
	fifo := e.fifo("m.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	e.send(std, "a")
	e.send(std, "b")
	e.sendGroup(fifo, "g", "", "c")
	e.receive(std, 1, 0, nil)
	e.sqs.GetQueueUrl(e.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// samples maps "name{label=value,...}" (labels in registry order) to values.
	samples := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				samples[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				samples[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				samples[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for k, v := range map[string]float64{
		"chatbench_sqsd_messages{queue_kind=standard,state=visible}":                                        1,
		"chatbench_sqsd_messages{queue_kind=standard,state=inflight}":                                       1,
		"chatbench_sqsd_messages{queue_kind=standard,state=delayed}":                                        0,
		"chatbench_sqsd_messages{queue_kind=fifo,state=visible}":                                            1,
		"chatbench_sqsd_requests_total{action=CreateQueue,outcome=ok}":                                      2,
		"chatbench_sqsd_requests_total{action=SendMessage,outcome=ok}":                                      3,
		"chatbench_sqsd_requests_total{action=ReceiveMessage,outcome=ok}":                                   1,
		"chatbench_sqsd_requests_total{action=GetQueueUrl,outcome=AWS.SimpleQueueService.NonExistentQueue}": 1,
		"chatbench_sqsd_request_duration_seconds{action=SendMessage}":                                       3,
	} {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}

	// A second server on the same registry shares the counters and does not panic.
	e2 := newEnv(t, Config{Registerer: reg})
	e2.createQueue("other", nil)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gather after close: %v", err)
	}
}
