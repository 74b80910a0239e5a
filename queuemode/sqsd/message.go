package sqsd

import (
	"bytes"
	"container/list"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// message is one message in a queue. Every field is guarded by Server.mu.
type message struct {
	seq     uint64 // internal, per queue, increasing
	id      string // MessageId
	body    string
	md5Body string

	attrs    map[string]attributeValue // message (user) attributes, validated
	md5Attrs string
	trace    *string // AWSTraceHeader system attribute
	md5Sys   string

	groupID  string
	dedupID  string
	seqNum   string // FIFO SequenceNumber
	senderID string
	sentAt   time.Time
	dlqFrom  string // DeadLetterQueueSourceArn, set when redriven

	receiveCount int
	firstReceive time.Time
	lastReceive  time.Time
	visibleAt    time.Time // end of the delay or of the visibility timeout
	receipt      string    // handle of the latest receive

	elem    *list.Element // standard: in queue.ready; FIFO: in group.msgs
	heapIdx int           // standard: index in queue.pending, or -1
	group   *group        // FIFO only
}

// --- validation --------------------------------------------------------

func validBodyRune(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

func validateBody(body string) *apiError {
	for _, r := range body {
		if !validBodyRune(r) {
			return errInvalidMessageContents("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", r)
		}
	}
	return nil
}

var (
	attrNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	numberRE   = regexp.MustCompile(`^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$`)
)

// attrKind returns the transport type of a data type: 1 for String and
// Number, 2 for Binary, 0 for anything else.
func attrKind(dataType string) byte {
	base, _, _ := strings.Cut(dataType, ".")
	switch base {
	case "String", "Number":
		return 1
	case "Binary":
		return 2
	}
	return 0
}

// validateAttrs checks message attributes as SQS does and returns their
// size contribution (names, types and values).
func validateAttrs(attrs map[string]attributeValue) (int, *apiError) {
	if len(attrs) > maxMessageAttributes {
		return 0, errInvalidParameterValue("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), maxMessageAttributes)
	}
	size := 0
	for name, v := range attrs {
		lower := strings.ToLower(name)
		if !attrNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return 0, errInvalidParameterValue("Message (user) attribute name %q is invalid. The attribute name can contain only A-Z, a-z, 0-9, underscore (_), hyphen (-) and period (.), may not start or end with a period or contain two in a row, may not start with AWS. or Amazon., and is at most 256 characters long.", name)
		}
		if v.DataType == nil || *v.DataType == "" {
			return 0, errInvalidParameterValue("The message attribute '%s' must contain a non-empty message attribute type.", name)
		}
		dt := *v.DataType
		if len(dt) > 256 {
			return 0, errInvalidParameterValue("Message (user) attribute '%s' type must be at most 256 characters long.", name)
		}
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return 0, errInvalidParameterValue("Message (user) attribute '%s': StringListValues and BinaryListValues are reserved for future use and not supported.", name)
		}
		switch attrKind(dt) {
		case 1:
			if v.StringValue == nil || *v.StringValue == "" {
				return 0, errInvalidParameterValue("The message attribute '%s' must contain a non-empty message attribute value for message attribute type '%s'.", name, dt)
			}
			if v.BinaryValue != nil {
				return 0, errInvalidParameterValue("The message attribute '%s' with type '%s' must use field 'String'.", name, dt)
			}
			if strings.HasPrefix(dt, "Number") && !numberRE.MatchString(*v.StringValue) {
				return 0, errInvalidParameterValue("Can't cast the value of message (user) attribute '%s' to a number.", name)
			}
			for _, r := range *v.StringValue {
				if !validBodyRune(r) {
					return 0, errInvalidParameterValue("Message (user) attribute '%s' value contains the invalid character '#x%X'.", name, r)
				}
			}
			size += len(*v.StringValue)
		case 2:
			if len(v.BinaryValue) == 0 {
				return 0, errInvalidParameterValue("The message attribute '%s' must contain a non-empty message attribute value for message attribute type '%s'.", name, dt)
			}
			if v.StringValue != nil {
				return 0, errInvalidParameterValue("The message attribute '%s' with type '%s' must use field 'Binary'.", name, dt)
			}
			size += len(v.BinaryValue)
		default:
			return 0, errInvalidParameterValue("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		size += len(name) + len(dt)
	}
	return size, nil
}

// --- checksums ---------------------------------------------------------

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is the digest SQS returns as MD5OfMessageAttributes (and
// MD5OfMessageSystemAttributes): over the attributes sorted by name, each
// encoded as length-prefixed (4-byte big-endian) name and data type, a
// transport byte (1 string, 2 binary) and the length-prefixed value.
// It returns "" for no attributes.
func md5OfAttributes(attrs map[string]attributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	writeLen := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		buf.Write(n[:])
		buf.Write(b)
	}
	for _, n := range names {
		v := attrs[n]
		dt := ""
		if v.DataType != nil {
			dt = *v.DataType
		}
		writeLen([]byte(n))
		writeLen([]byte(dt))
		switch attrKind(dt) {
		case 1:
			buf.WriteByte(1)
			sv := ""
			if v.StringValue != nil {
				sv = *v.StringValue
			}
			writeLen([]byte(sv))
		case 2:
			buf.WriteByte(2)
			writeLen(v.BinaryValue)
		}
	}
	sum := md5.Sum(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// --- identifiers ---------------------------------------------------------

// newMessageID returns a random UUID (version 4), the shape of SQS message ids.
func newMessageID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], rand.Uint64())
	binary.BigEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Receipt handles are opaque to clients: queue incarnation, message
// sequence, receive number and a random nonce, base64url-encoded.
const receiptLen = 8 + 8 + 4 + 8

func newReceipt(q *queue, m *message) string {
	var b [receiptLen]byte
	binary.BigEndian.PutUint64(b[0:], q.id)
	binary.BigEndian.PutUint64(b[8:], m.seq)
	binary.BigEndian.PutUint32(b[16:], uint32(m.receiveCount))
	binary.BigEndian.PutUint64(b[20:], rand.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseReceipt returns the queue incarnation and message sequence a handle
// names, or ok=false if it is not a handle sqsd issued.
func parseReceipt(h string) (queueID, seq uint64, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || len(b) != receiptLen {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[0:]), binary.BigEndian.Uint64(b[8:]), true
}

// sequenceNumber formats a FIFO sequence number: 20 decimal digits, like SQS's.
func sequenceNumber(seq uint64) string {
	return fmt.Sprintf("%020d", 10_000_000_000_000_000_000+seq)
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// --- rendering -----------------------------------------------------------

// receiveSelection is what a ReceiveMessage asked to see.
type receiveSelection struct {
	sysAll   bool
	sys      map[string]bool
	attrAll  bool
	attrs    map[string]bool
	prefixes []string
}

func newSelection(sysNames, attrNames []string) receiveSelection {
	sel := receiveSelection{sys: map[string]bool{}, attrs: map[string]bool{}}
	for _, n := range sysNames {
		if n == "All" {
			sel.sysAll = true
		}
		sel.sys[n] = true
	}
	for _, n := range attrNames {
		switch {
		case n == "All" || n == ".*":
			sel.attrAll = true
		case strings.HasSuffix(n, ".*"):
			sel.prefixes = append(sel.prefixes, strings.TrimSuffix(n, "*"))
		default:
			sel.attrs[n] = true
		}
	}
	return sel
}

func (sel receiveSelection) wantsAttr(name string) bool {
	if sel.attrAll || sel.attrs[name] {
		return true
	}
	for _, p := range sel.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// wire renders m as ReceiveMessage returns it.
func (m *message) wire(sel receiveSelection) wireMessage {
	w := wireMessage{MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5Body, Body: m.body}
	sys := func(name, v string) {
		if v != "" && (sel.sysAll || sel.sys[name]) {
			if w.Attributes == nil {
				w.Attributes = map[string]string{}
			}
			w.Attributes[name] = v
		}
	}
	sys("SenderId", m.senderID)
	sys("SentTimestamp", millis(m.sentAt))
	sys("ApproximateReceiveCount", strconv.Itoa(m.receiveCount))
	sys("ApproximateFirstReceiveTimestamp", millis(m.firstReceive))
	sys("MessageGroupId", m.groupID)
	sys("MessageDeduplicationId", m.dedupID)
	sys("SequenceNumber", m.seqNum)
	sys("DeadLetterQueueSourceArn", m.dlqFrom)
	if m.trace != nil {
		sys("AWSTraceHeader", *m.trace)
	}
	for name, v := range m.attrs {
		if sel.wantsAttr(name) {
			if w.MessageAttributes == nil {
				w.MessageAttributes = map[string]attributeValue{}
			}
			w.MessageAttributes[name] = v
		}
	}
	// SQS digests the attributes it returns, not all the message carries.
	if len(w.MessageAttributes) == len(m.attrs) {
		w.MD5OfMessageAttributes = m.md5Attrs
	} else {
		w.MD5OfMessageAttributes = md5OfAttributes(w.MessageAttributes)
	}
	return w
}
