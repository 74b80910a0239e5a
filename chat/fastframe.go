package chat

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeServerFrameFast parses the common shape of a server frame (what
// EncodeAck, EncodeEvent and EncodeError write) without reflection. It
// reports false for anything it is not sure to decode exactly as
// encoding/json would — escapes or non-ASCII bytes in strings (data, kept
// raw, may hold any JSON object or array), null, floats, unknown or
// differently cased keys, malformed input — and the caller then decodes
// with encoding/json. FuzzDecodeServerFrame checks that whatever it accepts
// equals encoding/json's result.
//
// It exists because the benchmark driver decodes two or three frames per
// message it sends; at 20,000 messages/s encoding/json was the driver's
// largest cost after system calls (docs/performance.md).
func decodeServerFrameFast(data []byte) (*ServerFrame, bool) {
	p := fastParser{b: data}
	f := &ServerFrame{}
	if !p.eat('{') {
		return nil, false
	}
	for more := !p.eat('}'); more; {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		if f.Event == nil && eventKey(key) {
			f.Event = &Event{}
		}
		switch string(key) {
		case "v":
			ok = p.int(&f.V)
		case "op":
			ok = p.str(&f.Op)
		case "reply_to":
			ok = p.str(&f.ReplyTo)
		case "user":
			ok = p.str(&f.User)
		case "members":
			ok = p.strs(&f.Members)
		case "code":
			ok = p.str(&f.Code)
		case "message":
			ok = p.str(&f.Message)
		case "retryable":
			ok = p.boolean(&f.Retryable)
		case "last_seq":
			ok = p.unsigned(&f.LastSeq)
		case "replayed":
			ok = p.int(&f.Replayed)
		case "gap":
			ok = p.boolean(&f.Gap)
		case "seq":
			ok = p.unsigned(&f.Event.Seq)
		case "event":
			ok = p.str(&f.Event.Name)
		case "job":
			ok = p.str(&f.Event.Job)
		case "conv":
			ok = p.str(&f.Event.Conv)
		case "from":
			ok = p.str(&f.Event.From)
		case "type":
			ok = p.str(&f.Event.Type)
		case "status":
			ok = p.str(&f.Event.Status)
		case "error_code":
			ok = p.str(&f.Event.ErrCode)
		case "hops":
			ok = p.hops(&f.Event.Hops)
		case "data":
			ok = p.rawValue(&f.Event.Data)
		default:
			ok = false
		}
		if more, ok = p.next(ok); !ok {
			return nil, false
		}
	}
	if !p.end() {
		return nil, false
	}
	if f.Event != nil {
		f.Event.ReplyTo = f.ReplyTo
	}
	return f, true
}

// eventKey reports whether key names a field of the embedded Event.
func eventKey(key []byte) bool {
	switch string(key) {
	case "event", "job", "conv", "seq", "from", "type", "status", "error_code", "hops", "data":
		return true
	}
	return false
}

// fastParser reads a byte slice left to right; every method reports false
// on anything outside the subset it handles.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat skips white space and consumes c.
func (p *fastParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *fastParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// key parses an object key and its colon.
func (p *fastParser) key() ([]byte, bool) {
	k, ok := p.raw()
	return k, ok && p.eat(':')
}

// next follows a member's value (read if ok): it reports whether another
// member follows, and false for ok when neither a comma nor the closing
// brace does.
func (p *fastParser) next(ok bool) (more, _ bool) {
	switch {
	case !ok:
		return false, false
	case p.eat(','):
		return true, true
	case p.eat('}'):
		return false, true
	}
	return false, false
}

// str parses a string of ASCII without escapes.
func (p *fastParser) str(dst *string) bool {
	b, ok := p.raw()
	if ok {
		*dst = string(b)
	}
	return ok
}

// raw parses a string of ASCII without escapes and returns its bytes.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// strs parses an array of strings (an empty array gives an empty, non-nil
// slice, as encoding/json does).
func (p *fastParser) strs(dst *[]string) bool {
	if !p.eat('[') {
		return false
	}
	out := []string{}
	if !p.eat(']') {
		for {
			var s string
			if !p.str(&s) {
				return false
			}
			out = append(out, s)
			if p.eat(']') {
				break
			}
			if !p.eat(',') {
				return false
			}
		}
	}
	*dst = out
	return true
}

func (p *fastParser) boolean(dst *bool) bool {
	p.ws()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		*dst = true
		p.i += 4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		*dst = false
		p.i += 5
	default:
		return false
	}
	return p.delimited()
}

// delimited reports whether the token just read is not run together with
// the next one (as in "truex" or "12a").
func (p *fastParser) delimited() bool {
	if p.i == len(p.b) {
		return true
	}
	switch p.b[p.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// integer parses a JSON integer (no fraction or exponent) of at most 18 digits.
func (p *fastParser) integer() (int64, bool) {
	p.ws()
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	start := p.i
	var n int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	switch {
	case digits == 0 || digits > 18:
		return 0, false
	case digits > 1 && p.b[start] == '0':
		return 0, false // leading zero: not JSON
	case !p.delimited():
		return 0, false // fraction, exponent or junk
	}
	if neg {
		n = -n // 18 digits cannot overflow
	}
	return n, true
}

// int parses an integer that fits an int into dst.
func (p *fastParser) int(dst *int) bool {
	n, ok := p.integer()
	*dst = int(n)
	return ok && n == int64(int(n))
}

// unsigned parses a non-negative integer into dst (encoding/json refuses a
// minus sign, even on 0, for an unsigned field).
func (p *fastParser) unsigned(dst *uint64) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '-' {
		return false
	}
	n, ok := p.integer()
	*dst = uint64(n)
	return ok
}

// hops parses the hop stamps; an object replaces only the keys it names,
// as encoding/json does.
func (p *fastParser) hops(h *Hops) bool {
	if !p.eat('{') {
		return false
	}
	for more := !p.eat('}'); more; {
		key, ok := p.key()
		if !ok {
			return false
		}
		var dst *int64
		switch string(key) {
		case "client_sent":
			dst = &h.ClientSent
		case "gateway_in":
			dst = &h.GatewayIn
		case "enqueued":
			dst = &h.Enqueued
		case "dequeued":
			dst = &h.Dequeued
		case "job_start":
			dst = &h.JobStart
		case "ml_start":
			dst = &h.MLStart
		case "ml_end":
			dst = &h.MLEnd
		case "job_end":
			dst = &h.JobEnd
		case "callback_in":
			dst = &h.CallbackIn
		case "emitted":
			dst = &h.Emitted
		default:
			return false
		}
		n, ok := p.integer()
		*dst = n
		if more, ok = p.next(ok); !ok {
			return false
		}
	}
	return true
}

// rawValue copies one JSON object or array, as json.RawMessage does. It
// finds the value's end by brackets and quotes, then has json.Valid check
// it exactly (a small cost next to decoding it).
func (p *fastParser) rawValue(dst *json.RawMessage) bool {
	p.ws()
	if p.i == len(p.b) || (p.b[p.i] != '{' && p.b[p.i] != '[') {
		return false // strings, numbers, literals and null: not in server frames
	}
	start, depth, inStr := p.i, 0, false
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		switch {
		case inStr && c == '\\':
			p.i++ // the escaped byte cannot end the string
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				p.i++
				v := p.b[start:p.i]
				if !json.Valid(v) {
					return false
				}
				*dst = append(json.RawMessage(nil), v...)
				return true
			}
		}
	}
	return false
}

// AppendClientFrame appends f encoded as JSON to dst: the bytes
// json.Encoder with SetEscapeHTML(false) writes, without its newline
// (FuzzAppendClientFrame checks this), at a fraction of the cost — the
// benchmark driver encodes one frame per message at its scheduled instant.
func AppendClientFrame(dst []byte, f *ClientFrame) []byte {
	dst = append(dst, '{')
	if f.V != 0 {
		dst = append(dst, `"v":`...)
		dst = strconv.AppendInt(dst, int64(f.V), 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"op":`...)
	dst = appendJSONString(dst, f.Op)
	for _, kv := range [...]struct{ key, val string }{{`,"id":`, f.ID}, {`,"token":`, f.Token}, {`,"conv":`, f.Conv}, {`,"type":`, f.Type}} {
		if kv.val != "" {
			dst = append(dst, kv.key...)
			dst = appendJSONString(dst, kv.val)
		}
	}
	if f.SentAt != 0 {
		dst = append(dst, `,"sent_at":`...)
		dst = strconv.AppendInt(dst, f.SentAt, 10)
	}
	if f.Body != "" {
		dst = append(dst, `,"body":`...)
		dst = appendJSONString(dst, f.Body)
	}
	if f.Since != 0 {
		dst = append(dst, `,"since":`...)
		dst = strconv.AppendUint(dst, f.Since, 10)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
