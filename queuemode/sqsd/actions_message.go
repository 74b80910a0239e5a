package sqsd

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"regexp"
	"time"
)

// Message actions other than ReceiveMessage.

// sendParams is one message to send, from SendMessage or a batch entry.
type sendParams struct {
	body     *string
	delay    *int
	attrs    map[string]attributeValue
	sysAttrs map[string]attributeValue
	dedupID  *string
	groupID  *string
}

var (
	batchIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	// Group and deduplication ids: 1 to 128 alphanumeric or punctuation characters.
	fifoIDRE = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")
)

// validateSend checks one message against q and returns its size.
func validateSend(q *queue, p sendParams) (int, *apiError) {
	if p.body == nil || *p.body == "" {
		return 0, errMissingParameter("MessageBody")
	}
	if err := validateBody(*p.body); err != nil {
		return 0, err
	}
	attrSize, err := validateAttrs(p.attrs)
	if err != nil {
		return 0, err
	}
	for name, v := range p.sysAttrs {
		if name != "AWSTraceHeader" {
			return 0, errInvalidParameterValue("Message system attribute name '%s' is invalid; the only one a sender may set is AWSTraceHeader.", name)
		}
		if v.DataType == nil || *v.DataType != "String" || v.StringValue == nil || *v.StringValue == "" {
			return 0, errInvalidParameterValue("Message system attribute AWSTraceHeader must have DataType String and a non-empty StringValue.")
		}
	}
	size := len(*p.body) + attrSize
	if size > q.attrs.maxMessageSize {
		return 0, errInvalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.attrs.maxMessageSize)
	}
	if p.delay != nil {
		if *p.delay < 0 || *p.delay > maxDelaySeconds {
			return 0, errInvalidParameterValue("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *p.delay)
		}
		if q.fifo && *p.delay != 0 {
			return 0, errInvalidParameterValue("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", *p.delay)
		}
	}
	if q.fifo {
		if p.groupID == nil || *p.groupID == "" {
			return 0, errMissingParameter("MessageGroupId")
		}
		if !fifoIDRE.MatchString(*p.groupID) {
			return 0, errInvalidParameterValue("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", *p.groupID)
		}
		if p.dedupID != nil && !fifoIDRE.MatchString(*p.dedupID) {
			return 0, errInvalidParameterValue("Value %s for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.", *p.dedupID)
		}
		if p.dedupID == nil && !q.attrs.contentDedup {
			return 0, errInvalidParameterValue("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
	} else {
		if p.dedupID != nil {
			return 0, errInvalidParameterValue("Value %s for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter that is not valid for this queue type.", *p.dedupID)
		}
		// A MessageGroupId on a standard queue is accepted (SQS fair
		// queues); it is reported back but does not order anything.
		if p.groupID != nil && !fifoIDRE.MatchString(*p.groupID) {
			return 0, errInvalidParameterValue("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", *p.groupID)
		}
	}
	return size, nil
}

// send enqueues one validated message. s.mu must be held. It reports
// whether the message was enqueued (false for a FIFO duplicate).
func (s *Server) send(q *queue, p sendParams, senderID string, now time.Time) (sendMessageOutput, bool) {
	out := sendMessageOutput{
		MD5OfMessageBody:             md5Hex(*p.body),
		MD5OfMessageAttributes:       md5OfAttributes(p.attrs),
		MD5OfMessageSystemAttributes: md5OfAttributes(p.sysAttrs),
	}
	m := &message{
		body:     *p.body,
		md5Body:  out.MD5OfMessageBody,
		attrs:    maps.Clone(p.attrs),
		md5Attrs: out.MD5OfMessageAttributes,
		md5Sys:   out.MD5OfMessageSystemAttributes,
		senderID: senderID,
		sentAt:   now,
	}
	if t, ok := p.sysAttrs["AWSTraceHeader"]; ok {
		m.trace = t.StringValue
	}
	if p.groupID != nil {
		m.groupID = *p.groupID
	}
	delay := q.attrs.delay
	if p.delay != nil {
		delay = *p.delay
	}
	m.visibleAt = now.Add(time.Duration(delay) * time.Second)

	if q.fifo {
		if p.dedupID != nil {
			m.dedupID = *p.dedupID
		} else {
			sum := sha256.Sum256([]byte(*p.body))
			m.dedupID = hex.EncodeToString(sum[:])
		}
		key := m.dedupID
		if q.attrs.dedupScope == "messageGroup" {
			key = m.groupID + "\x00" + key
		}
		q.expireDedup(now)
		if e, ok := q.dedup[key]; ok {
			// A duplicate within the window succeeds with the original's
			// id and is not enqueued again.
			out.MessageId, out.SequenceNumber = e.messageID, e.seqNum
			return out, false
		}
		m.id = newMessageID()
		q.enqueue(m, now)
		m.seqNum = sequenceNumber(m.seq)
		q.dedup[key] = dedupEntry{messageID: m.id, seqNum: m.seqNum, at: now}
		q.dedupOrder = append(q.dedupOrder, dedupKey{key: key, at: now})
		out.MessageId, out.SequenceNumber = m.id, m.seqNum
		return out, true
	}
	m.id = newMessageID()
	q.enqueue(m, now)
	out.MessageId = m.id
	return out, true
}

// expireDedup forgets deduplication ids older than the 5-minute window.
func (q *queue) expireDedup(now time.Time) {
	i := 0
	for ; i < len(q.dedupOrder) && !q.dedupOrder[i].at.Add(dedupInterval).After(now); i++ {
		k := q.dedupOrder[i]
		if e, ok := q.dedup[k.key]; ok && e.at.Equal(k.at) {
			delete(q.dedup, k.key)
		}
	}
	if i > 0 {
		q.dedupOrder = append(q.dedupOrder[:0], q.dedupOrder[i:]...)
	}
}

func (s *Server) sendMessage(c *call, body []byte) (any, *apiError) {
	var in sendMessageInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		p := sendParams{body: in.MessageBody, delay: in.DelaySeconds, attrs: in.MessageAttributes,
			sysAttrs: in.MessageSystemAttributes, dedupID: in.MessageDeduplicationId, groupID: in.MessageGroupId}
		if _, err := validateSend(q, p); err != nil {
			return nil, err
		}
		out, added := s.send(q, p, c.senderID, s.now())
		if added {
			c.messages = 1
			q.wake(1)
		}
		return out, nil
	})
}

// checkBatchIDs applies the rules every batch action shares.
func checkBatchIDs(ids []string) *apiError {
	if len(ids) == 0 {
		return errEmptyBatch()
	}
	if len(ids) > maxBatchEntries {
		return errTooManyEntries(len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return errInvalidBatchEntryID(id)
		}
		if seen[id] {
			return errBatchIDsNotDistinct(id)
		}
		seen[id] = true
	}
	return nil
}

func failed(id string, err *apiError) batchResultErrorEntry {
	return batchResultErrorEntry{Id: id, SenderFault: err.sender, Code: err.code, Message: err.msg}
}

func (s *Server) sendMessageBatch(c *call, body []byte) (any, *apiError) {
	var in sendMessageBatchInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		return s.sendBatch(c, q, in.Entries)
	})
}

// sendBatch sends a SendMessageBatch's entries to q.
func (s *Server) sendBatch(c *call, q *queue, entries []sendMessageBatchEntry) (any, *apiError) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.Id
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	params := make([]sendParams, len(entries))
	errs := make([]*apiError, len(entries))
	total := 0
	for i, e := range entries {
		params[i] = sendParams{body: e.MessageBody, delay: e.DelaySeconds, attrs: e.MessageAttributes,
			sysAttrs: e.MessageSystemAttributes, dedupID: e.MessageDeduplicationId, groupID: e.MessageGroupId}
		var size int
		size, errs[i] = validateSend(q, params[i])
		if errs[i] == nil {
			total += size
		} else if e.MessageBody != nil {
			total += len(*e.MessageBody)
		}
	}
	if total > maxBatchPayload {
		return nil, errBatchTooLong(total, maxBatchPayload)
	}
	out := sendMessageBatchOutput{Successful: []sendMessageBatchResultEntry{}, Failed: []batchResultErrorEntry{}}
	now := s.now()
	for i, e := range entries {
		if errs[i] != nil {
			out.Failed = append(out.Failed, failed(e.Id, errs[i]))
			continue
		}
		res, added := s.send(q, params[i], c.senderID, now)
		if added {
			c.messages++
		}
		out.Successful = append(out.Successful, sendMessageBatchResultEntry{Id: e.Id, sendMessageOutput: res})
	}
	q.wake(c.messages)
	return out, nil
}

// lookupHandle resolves a receipt handle to its message, or nil if the
// message is gone (deleted, purged, redriven). s.mu must be held.
func lookupHandle(q *queue, handle string) (*message, *apiError) {
	if handle == "" {
		return nil, errMissingParameter("ReceiptHandle")
	}
	qid, seq, ok := parseReceipt(handle)
	if !ok {
		return nil, errReceiptHandleIsInvalid(handle)
	}
	if qid != q.id {
		e := errReceiptHandleIsInvalid(handle)
		e.msg = "The receipt handle \"" + handle + "\" is not valid for this queue."
		return nil, e
	}
	return q.msgs[seq], nil
}

// deleteByHandle implements DeleteMessage's rules:
//   - a handle sqsd did not issue, or issued for another queue (or a deleted
//     namesake), is ReceiptHandleIsInvalid;
//   - deleting a message that is already gone succeeds;
//   - the handle of the latest receive deletes the message, on standard
//     queues even after its visibility timeout has expired (as SQS does);
//   - an older handle (the message was received again since) succeeds on a
//     standard queue without deleting anything: AWS documents that "the
//     request succeeds, but the message might not be deleted", and sqsd
//     takes the strict reading so consumers that lose a visibility race
//     notice;
//   - on a FIFO queue, an older handle, or the latest one after its
//     visibility timeout expired, is InvalidParameterValue "The receipt
//     handle has expired", as AWS returns.
//
// s.mu must be held.
func (s *Server) deleteByHandle(q *queue, handle string, now time.Time) *apiError {
	m, err := lookupHandle(q, handle)
	if err != nil || m == nil {
		return err
	}
	current := m.receipt == handle
	if q.fifo && (!current || !m.visibleAt.After(now)) {
		return errInvalidParameterValue("Value %s for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", handle)
	}
	if !current {
		return nil
	}
	q.remove(m)
	if q.fifo {
		// The group may now be unblocked.
		q.wake(1)
	}
	return nil
}

// changeVisibility implements ChangeMessageVisibility's rules (malformed or
// foreign handle: ReceiptHandleIsInvalid; message gone or handle not the
// latest: InvalidParameterValue; visibility already expired:
// MessageNotInflight; a message's total visibility is capped at 12 hours
// from its receive). s.mu must be held.
func (s *Server) changeVisibility(q *queue, handle string, timeout *int, now time.Time) *apiError {
	if timeout == nil {
		return errMissingParameter("VisibilityTimeout")
	}
	if *timeout < 0 || *timeout > maxVisibilityTimeout {
		return errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", *timeout)
	}
	m, err := lookupHandle(q, handle)
	if err != nil {
		return err
	}
	if m == nil || m.receipt != handle {
		return errInvalidParameterValue("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", handle)
	}
	if !m.visibleAt.After(now) {
		return errMessageNotInflight()
	}
	until := now.Add(time.Duration(*timeout) * time.Second)
	if until.Sub(m.lastReceive) > maxVisibilityTimeout*time.Second {
		return errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]", *timeout)
	}
	q.setVisibleAt(m, until, now)
	if *timeout == 0 {
		q.wake(1)
	}
	return nil
}

func (s *Server) deleteMessage(c *call, body []byte) (any, *apiError) {
	var in deleteMessageInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		if err := s.deleteByHandle(q, in.ReceiptHandle, s.now()); err != nil {
			return nil, err
		}
		c.messages = 1
		return emptyOutput{}, nil
	})
}

func (s *Server) deleteMessageBatch(c *call, body []byte) (any, *apiError) {
	var in deleteMessageBatchInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		now := s.now()
		return idBatch(c, in.Entries, func(e deleteBatchEntry) *apiError {
			return s.deleteByHandle(q, e.ReceiptHandle, now)
		})
	})
}

func (s *Server) changeMessageVisibility(c *call, body []byte) (any, *apiError) {
	var in changeVisibilityInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		if err := s.changeVisibility(q, in.ReceiptHandle, in.VisibilityTimeout, s.now()); err != nil {
			return nil, err
		}
		c.messages = 1
		return emptyOutput{}, nil
	})
}

func (s *Server) changeMessageVisibilityBatch(c *call, body []byte) (any, *apiError) {
	var in changeVisibilityBatchInput
	return s.onQueue(c, body, &in, func(q *queue) (any, *apiError) {
		now := s.now()
		return idBatch(c, in.Entries, func(e changeVisibilityBatchEntry) *apiError {
			return s.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout, now)
		})
	})
}

// idBatch runs one batch call whose answer lists entry ids (delete and
// change visibility): it checks the ids, applies op to each entry in turn
// and reports each one as successful or failed, as SQS does.
func idBatch[E batchEntry](c *call, entries []E, op func(E) *apiError) (any, *apiError) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.entryID()
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	out := idBatchOutput{Successful: []batchIDEntry{}, Failed: []batchResultErrorEntry{}}
	for i, id := range ids {
		if err := op(entries[i]); err != nil {
			out.Failed = append(out.Failed, failed(id, err))
			continue
		}
		c.messages++
		out.Successful = append(out.Successful, batchIDEntry{Id: id})
	}
	return out, nil
}
