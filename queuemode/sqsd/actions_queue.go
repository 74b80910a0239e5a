package sqsd

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strings"
)

// Queue management actions. Each runs under s.mu.

// queueByURL resolves a QueueUrl by its last path element. s.mu must be held.
func (s *Server) queueByURL(c *call, u string) (*queue, *apiError) {
	if u == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	trimmed := strings.TrimRight(u, "/")
	name := trimmed[strings.LastIndex(trimmed, "/")+1:]
	c.queue = name
	if name == "" {
		return nil, errInvalidAddress(u)
	}
	q := s.queues[name]
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

// onQueue runs an action on the one queue its request names: it decodes
// body into in, takes the server's lock, resolves in's QueueUrl and calls
// f with the queue, the lock still held.
func (s *Server) onQueue(c *call, body []byte, in interface{ queueURL() string }, f func(q *queue) (any, *apiError)) (any, *apiError) {
	if err := decode(body, in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueByURL(c, in.queueURL())
	if err != nil {
		return nil, err
	}
	return f(q)
}

// queueByARN resolves a queue ARN of this server's region and account, or
// returns nil. s.mu must be held.
func (s *Server) queueByARN(arn string) *queue {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3] != s.region || parts[4] != s.account {
		return nil
	}
	return s.queues[parts[5]]
}

func (s *Server) arn(name string) string {
	return "arn:aws:sqs:" + s.region + ":" + s.account + ":" + name
}

func (s *Server) createQueue(c *call, body []byte) (any, *apiError) {
	var in createQueueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.queue = in.QueueName
	if err := validateQueueName(in.QueueName); err != nil {
		return nil, err
	}
	fifo := strings.HasSuffix(in.QueueName, ".fifo")
	if fifo && !strings.EqualFold(in.Attributes["FifoQueue"], "true") {
		return nil, errInvalidParameterValue("The queue name %q ends in .fifo but the FifoQueue attribute is not true; pass FifoQueue=true to create a FIFO queue, or drop the .fifo suffix.", in.QueueName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := parseAttrs(in.Attributes, fifo, true, s.queueByARN)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if q := s.queues[in.QueueName]; q != nil {
		// Idempotent only when every attribute given matches the queue's.
		current := q.attributes(now)
		for _, ch := range changes {
			if current[ch.name] != ch.canon {
				return nil, errQueueNameExists(in.QueueName, ch.name)
			}
		}
		return queueURLOutput{QueueUrl: queueURL(c.base, s.account, q.name)}, nil
	}
	// A random incarnation id keeps receipt handles from being honoured by
	// a namesake queue, in this server or another.
	q := newQueue(rand.Uint64(), in.QueueName, s.arn(in.QueueName), fifo, now)
	for _, ch := range changes {
		ch.apply(&q.attrs)
	}
	for k, v := range in.Tags {
		q.tags[k] = v
	}
	s.queues[q.name] = q
	return queueURLOutput{QueueUrl: queueURL(c.base, s.account, q.name)}, nil
}

func (s *Server) getQueueURL(c *call, body []byte) (any, *apiError) {
	var in getQueueURLInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.queue = in.QueueName
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.account {
		return nil, errQueueDoesNotExist()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[in.QueueName] == nil {
		return nil, errQueueDoesNotExist()
	}
	return queueURLOutput{QueueUrl: queueURL(c.base, s.account, in.QueueName)}, nil
}

// page cuts a sorted list of names after the NextToken and to maxResults.
func page(names []string, token string, maxResults *int) ([]string, string, *apiError) {
	if maxResults != nil && (*maxResults < 1 || *maxResults > 1000) {
		return nil, "", errInvalidParameterValue("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *maxResults)
	}
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", errInvalidParameterValue("Invalid NextToken value %q.", token)
		}
		i, _ := slices.BinarySearch(names, string(after)+"\x00")
		names = names[i:]
	}
	limit := 1000
	if maxResults != nil {
		limit = *maxResults
	}
	var next string
	if len(names) > limit {
		names = names[:limit]
		if maxResults != nil {
			next = base64.RawURLEncoding.EncodeToString([]byte(names[limit-1]))
		}
	}
	return names, next, nil
}

func (s *Server) listQueues(c *call, body []byte) (any, *apiError) {
	var in listQueuesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var names []string
	for name := range s.queues {
		if strings.HasPrefix(name, in.QueueNamePrefix) {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	names, next, err := page(names, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := listQueuesOutput{NextToken: next}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, queueURL(c.base, s.account, n))
	}
	return out, nil
}

func (s *Server) deleteQueue(c *call, body []byte) (any, *apiError) {
	var in queueURLInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		q.deleted = true
		delete(s.queues, q.name)
		q.purge()
		q.wakeAll()
		return emptyOutput{}, nil
	})
}

var queueAttributeNames = map[string]bool{
	"All": true, "Policy": true, "VisibilityTimeout": true, "MaximumMessageSize": true,
	"MessageRetentionPeriod": true, "ApproximateNumberOfMessages": true,
	"ApproximateNumberOfMessagesNotVisible": true, "CreatedTimestamp": true,
	"LastModifiedTimestamp": true, "QueueArn": true, "ApproximateNumberOfMessagesDelayed": true,
	"DelaySeconds": true, "ReceiveMessageWaitTimeSeconds": true, "RedrivePolicy": true,
	"FifoQueue": true, "ContentBasedDeduplication": true, "KmsMasterKeyId": true,
	"KmsDataKeyReusePeriodSeconds": true, "DeduplicationScope": true, "FifoThroughputLimit": true,
	"RedriveAllowPolicy": true, "SqsManagedSseEnabled": true,
}

func (s *Server) getQueueAttributes(c *call, body []byte) (any, *apiError) {
	var in getQueueAttributesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	for _, n := range in.AttributeNames {
		if !queueAttributeNames[n] {
			return nil, errInvalidAttributeName("Unknown Attribute %s.", n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueByURL(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if len(in.AttributeNames) == 0 {
		return attributesOutput{}, nil
	}
	all := q.attributes(s.now())
	if slices.Contains(in.AttributeNames, "All") {
		return attributesOutput{Attributes: all}, nil
	}
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return attributesOutput{Attributes: out}, nil
}

func (s *Server) setQueueAttributes(c *call, body []byte) (any, *apiError) {
	var in setQueueAttributesInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		changes, err := parseAttrs(in.Attributes, q.fifo, false, s.queueByARN)
		if err != nil {
			return nil, err
		}
		for _, ch := range changes {
			ch.apply(&q.attrs)
		}
		q.modified = s.now()
		// A new redrive policy may make messages at the head movable, and
		// waiters re-evaluate cheaply.
		q.wakeAll()
		return emptyOutput{}, nil
	})
}

func (s *Server) purgeQueue(c *call, body []byte) (any, *apiError) {
	var in queueURLInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		c.messages = len(q.msgs)
		q.purge()
		return emptyOutput{}, nil
	})
}

func (s *Server) listDeadLetterSourceQueues(c *call, body []byte) (any, *apiError) {
	var in listDLQSourcesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	q, err := s.queueByURL(c, in.QueueUrl)
	var names []string
	if err == nil {
		for _, src := range s.queues {
			if src.attrs.redrive != nil && src.attrs.redrive.DeadLetterTargetArn == q.arn {
				names = append(names, src.name)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	names, next, err := page(names, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := listDLQSourcesOutput{QueueUrls: []string{}, NextToken: next}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, queueURL(c.base, s.account, n))
	}
	return out, nil
}

func (s *Server) tagQueue(c *call, body []byte) (any, *apiError) {
	var in tagQueueInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		for k, v := range in.Tags {
			q.tags[k] = v
		}
		return emptyOutput{}, nil
	})
}

func (s *Server) untagQueue(c *call, body []byte) (any, *apiError) {
	var in untagQueueInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		for _, k := range in.TagKeys {
			delete(q.tags, k)
		}
		return emptyOutput{}, nil
	})
}

func (s *Server) listQueueTags(c *call, body []byte) (any, *apiError) {
	var in queueURLInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		out := tagsOutput{Tags: map[string]string{}}
		for k, v := range q.tags {
			out.Tags[k] = v
		}
		return out, nil
	})
}
