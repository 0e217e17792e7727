package paginate

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
)

// Secret is one cursor-sealing key: a 32-byte AES-256 key and a short ID
// that is written, in clear but authenticated, into every cursor it seals,
// so that the Codec knows which key opens a cursor during a rotation.
type Secret struct {
	// ID names the key, 1 to 32 bytes; for example "2026-11". IDs must be
	// unique within a Codec.
	ID string
	// Key is the AES-256 key: exactly 32 bytes from a secret store or
	// crypto/rand. Never derive it from a password or hard-code it.
	Key []byte
}

// Codec seals and opens cursors with AES-256-GCM under caller-supplied keys.
// There is no default key: a cursor can only be minted by someone who holds
// one of the Codec's keys. The first key seals; every key opens, so keys
// rotate by putting a new key first and keeping the old one listed until the
// cursors it sealed have expired ([Options.TTL]). When several servers share
// the keys, rotate in two steps: first deploy the new key listed second (it
// opens but does not seal), and only when every server has it, move it
// first; otherwise a server that does not know the new key yet rejects the
// cursors another one already seals with it. A Codec is safe for concurrent
// use by multiple goroutines.
//
// Each sealed message uses a fresh random 96-bit nonce; rotate keys well
// before one key seals 2^32 cursors.
type Codec struct {
	ids   []string
	aeads []cipher.AEAD
}

// Cursor envelope: version byte, key-ID length, key ID (all authenticated as
// additional data), then nonce, ciphertext and tag from AES-GCM.
const (
	envelopeV1   = 1
	maxKeyID     = 32
	maxCursorLen = 4096 // base64 characters; longer input is rejected unread
)

// NewCodec returns a Codec that seals with keys[0] and opens with any of
// keys. It fails when no key is given, a key is not 32 bytes, or an ID is
// empty, longer than 32 bytes, or repeated.
func NewCodec(keys ...Secret) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("paginate: NewCodec needs at least one key; there is no default key")
	}
	c := &Codec{}
	for i, k := range keys {
		if k.ID == "" || len(k.ID) > maxKeyID {
			return nil, fmt.Errorf("paginate: key %d: ID must be 1 to %d bytes, got %d", i, maxKeyID, len(k.ID))
		}
		for _, id := range c.ids {
			if id == k.ID {
				return nil, fmt.Errorf("paginate: key ID %q appears twice", k.ID)
			}
		}
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("paginate: key %q: AES-256 needs a 32-byte key, got %d bytes", k.ID, len(k.Key))
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("paginate: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("paginate: key %q: %w", k.ID, err)
		}
		c.ids = append(c.ids, k.ID)
		c.aeads = append(c.aeads, aead)
	}
	return c, nil
}

// seal encrypts and authenticates plaintext under the first key and returns
// it as unpadded URL-safe base64. It is not exported: everything a Codec
// seals must be a cursor, or a token sealed for another purpose could be
// presented as one.
func (c *Codec) seal(plaintext []byte) string {
	id := c.ids[0]
	hdr := make([]byte, 0, 2+len(id)+len(plaintext)+c.aeads[0].Overhead())
	hdr = append(hdr, envelopeV1, byte(len(id)))
	hdr = append(hdr, id...)
	n := len(hdr)
	out := c.aeads[0].Seal(hdr, nil, plaintext, hdr[:n])
	return base64.RawURLEncoding.EncodeToString(out)
}

// Reasons a cursor is rejected. Every error that [Paginator.ParseValues] and
// [Paginator.Request] return for a bad cursor matches [ErrInvalidCursor] and
// exactly one of these with errors.Is.
var (
	// ErrCursorMalformed: not base64, too long, truncated, or an unknown
	// version or layout.
	ErrCursorMalformed = errors.New("paginate: malformed cursor")
	// ErrCursorForged: the key ID is not one of the Codec's keys, or
	// authentication failed (the bytes were modified or sealed elsewhere).
	ErrCursorForged = errors.New("paginate: cursor failed authentication")
	// ErrCursorMismatch: the cursor was issued for another sort, filter or
	// tenant.
	ErrCursorMismatch = errors.New("paginate: cursor does not match this request")
	// ErrCursorExpired: the cursor is past its expiry.
	ErrCursorExpired = errors.New("paginate: cursor expired")
)

// open reverses seal. Errors match [ErrInvalidCursor] and one of
// [ErrCursorMalformed] or [ErrCursorForged].
func (c *Codec) open(token string) ([]byte, error) {
	if len(token) > maxCursorLen {
		return nil, cursorErr(ErrCursorMalformed, "longer than %d characters", maxCursorLen)
	}
	for i := 0; i < len(token); i++ {
		// The decoder would skip \r and \n; accept nothing but the alphabet.
		if ch := token[i]; !urlSafe(ch) {
			return nil, cursorErr(ErrCursorMalformed, "not URL-safe base64")
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return nil, cursorErr(ErrCursorMalformed, "not URL-safe base64")
	}
	if len(raw) < 2 || raw[0] != envelopeV1 {
		return nil, cursorErr(ErrCursorMalformed, "unknown version")
	}
	idLen := int(raw[1])
	if idLen == 0 || idLen > maxKeyID || len(raw) < 2+idLen {
		return nil, cursorErr(ErrCursorMalformed, "truncated header")
	}
	hdr, body := raw[:2+idLen], raw[2+idLen:]
	for i, kid := range c.ids {
		if kid != string(hdr[2:]) {
			continue
		}
		if len(body) < c.aeads[i].Overhead() {
			return nil, cursorErr(ErrCursorMalformed, "truncated")
		}
		pt, err := c.aeads[i].Open(body[:0], nil, body, hdr)
		if err != nil {
			return nil, cursorErr(ErrCursorForged, "authentication failed")
		}
		return pt, nil
	}
	return nil, cursorErr(ErrCursorForged, "unknown key ID")
}

// urlSafe reports whether ch is in the URL-safe base64 alphabet.
func urlSafe(ch byte) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_'
}
