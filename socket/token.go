package socket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatbench/chatbench/chat"
)

// Claims is what a bearer token says about its holder.
type Claims struct {
	User  string    `json:"sub"`
	Role  chat.Role `json:"role"`
	Convs []string  `json:"convs"` // conversations the holder may join; "*" = any
	Exp   int64     `json:"exp"`   // expiry, Unix seconds
}

// MayJoin reports whether the claims allow joining conv.
func (c *Claims) MayJoin(conv string) bool {
	return slices.Contains(c.Convs, "*") || slices.Contains(c.Convs, conv)
}

// MinSecretLen is the shortest HMAC secret accepted.
const MinSecretLen = 16

// Token errors.
var (
	ErrTokenMalformed = errors.New("token is not <payload>.<signature> in base64url")
	ErrTokenSignature = errors.New("token signature does not match the server's secret")
	ErrTokenExpired   = errors.New("token has expired")
	ErrTokenClaims    = errors.New("token claims are incomplete")
)

// MintToken signs claims with secret. The token is
// base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
func MintToken(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("secret is %d bytes; use at least %d", len(secret), MinSecretLen)
	}
	if err := c.check(); err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(sign(secret, p)), nil
}

func (c *Claims) check() error {
	if c.User == "" || !chat.ValidRole(c.Role) || len(c.Convs) == 0 || c.Exp == 0 {
		return fmt.Errorf("%w: need sub, role (patient or provider), convs and exp", ErrTokenClaims)
	}
	return nil
}

func sign(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// VerifyToken checks token's signature and expiry at now and returns its
// claims.
func VerifyToken(secret []byte, token string, now time.Time) (*Claims, error) {
	p, s, ok := strings.Cut(token, ".")
	if !ok || p == "" || s == "" {
		return nil, ErrTokenMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	if !hmac.Equal(sig, sign(secret, p)) {
		return nil, ErrTokenSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrTokenMalformed
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if now.Unix() >= c.Exp {
		return nil, ErrTokenExpired
	}
	return &c, nil
}
