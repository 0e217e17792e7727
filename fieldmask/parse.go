package fieldmask

import (
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is matched (with [errors.Is]) by every error that reports a bad mask
// from a client: [*SyntaxError], [*LimitError], [*ValidationError] and [*RequestError].
// An HTTP handler answers such an error with a 400 (see [WriteError]).
var ErrInvalid = errors.New("fieldmask: invalid field mask")

// Default limits of [Limits]; see there.
const (
	DefaultMaxLength = 2048
	DefaultMaxDepth  = 8
	DefaultMaxPaths  = 256
)

// Limits bound the size of a mask accepted by [ParseLimits]. Masks come from clients,
// so every dimension is capped; a zero field means its default, -1 means no limit.
type Limits struct {
	// MaxLength is the longest input in bytes. Default DefaultMaxLength (2048).
	MaxLength int
	// MaxDepth is the deepest path, counted in names: "a.b.c" has depth 3.
	// Default DefaultMaxDepth (8).
	MaxDepth int
	// MaxPaths is the number of terminal items ("a", "*", "b.c") in the input.
	// Default DefaultMaxPaths (256).
	MaxPaths int
}

func limitOr(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

func (l Limits) norm() Limits {
	return Limits{
		MaxLength: limitOr(l.MaxLength, DefaultMaxLength),
		MaxDepth:  limitOr(l.MaxDepth, DefaultMaxDepth),
		MaxPaths:  limitOr(l.MaxPaths, DefaultMaxPaths),
	}
}

// SyntaxError reports input that does not follow the grammar. Offset is the byte
// position in the input where the parser stopped, Expected says what it was looking
// for and Found what it saw instead.
type SyntaxError struct {
	Offset   int
	Expected string
	Found    string
}

// Error describes the syntax error with its byte offset.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fieldmask: syntax error at byte %d: expected %s, found %s", e.Offset, e.Expected, e.Found)
}

// Unwrap returns [ErrInvalid].
func (e *SyntaxError) Unwrap() error { return ErrInvalid }

// LimitError reports a mask that exceeds one of the [Limits]. Limit is "length",
// "depth" or "paths"; Max is the configured bound; Offset the byte where it was crossed.
type LimitError struct {
	Limit  string
	Max    int
	Offset int
}

// Error names the limit that was exceeded.
func (e *LimitError) Error() string {
	switch e.Limit {
	case "length":
		return fmt.Sprintf("fieldmask: mask longer than %d bytes", e.Max)
	case "depth":
		return fmt.Sprintf("fieldmask: path deeper than %d levels at byte %d", e.Max, e.Offset)
	}
	return fmt.Sprintf("fieldmask: more than %d paths at byte %d", e.Max, e.Offset)
}

// Unwrap returns [ErrInvalid].
func (e *LimitError) Unwrap() error { return ErrInvalid }

// Parse parses a mask in the grammar of the package documentation under the default
// [Limits]. The empty string (or only white space) is the empty mask.
func Parse(s string) (Mask, error) {
	return ParseLimits(s, Limits{})
}

// MustParse is like [Parse] but panics on error. Use it for masks written in code.
func MustParse(s string) Mask {
	m, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// ParseLimits is [Parse] with explicit limits.
func ParseLimits(s string, l Limits) (Mask, error) {
	l = l.norm()
	if len(s) > l.MaxLength {
		return Mask{}, &LimitError{Limit: "length", Max: l.MaxLength, Offset: l.MaxLength}
	}
	p := parser{s: s, lim: l}
	n := &node{}
	p.ws()
	if p.i == len(s) {
		return Mask{}, nil
	}
	if err := p.list(n, 1); err != nil {
		return Mask{}, err
	}
	p.ws()
	if p.i != len(s) {
		return Mask{}, p.errorf(`"," or end of input`)
	}
	return newMask(normalize(n)), nil
}

type parser struct {
	s     string
	i     int
	lim   Limits
	paths int
	arena []node // nodes are allocated in chunks
}

func (p *parser) newNode(pos int) *node {
	if len(p.arena) == cap(p.arena) {
		p.arena = make([]node, 0, 8)
	}
	p.arena = append(p.arena, node{pos: pos})
	return &p.arena[len(p.arena)-1]
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) found() string {
	if p.i >= len(p.s) {
		return "end of input"
	}
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("byte 0x%02x", p.s[p.i])
	}
	return strconv.QuoteRune(r)
}

func (p *parser) errorf(expected string) error {
	return &SyntaxError{Offset: p.i, Expected: expected, Found: p.found()}
}

// list parses item { "," item } into n. depth is the depth of the names it contains.
func (p *parser) list(n *node, depth int) error {
	for {
		p.ws()
		if err := p.item(n, depth); err != nil {
			return err
		}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *parser) terminal(pos int) error {
	p.paths++
	if p.paths > p.lim.MaxPaths {
		return &LimitError{Limit: "paths", Max: p.lim.MaxPaths, Offset: pos}
	}
	return nil
}

// item parses "*" or a path into n.
func (p *parser) item(n *node, depth int) error {
	if p.i < len(p.s) && p.s[p.i] == '*' {
		p.i++
		n.star = true
		return p.terminal(p.i - 1)
	}
	for {
		if depth > p.lim.MaxDepth {
			return &LimitError{Limit: "depth", Max: p.lim.MaxDepth, Offset: p.i}
		}
		pos := p.i
		name, err := p.name()
		if err != nil {
			return err
		}
		kid := n.get(name)
		if kid == nil {
			kid = p.newNode(pos)
			n.put(name, kid)
		}
		if p.i < len(p.s) && p.s[p.i] == '.' {
			p.i++
			if p.i < len(p.s) && p.s[p.i] == '*' {
				p.i++
				kid.star = true
				return p.terminal(p.i - 1)
			}
			n, depth = kid, depth+1
			continue
		}
		save := p.i
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '{' {
			p.i++
			if err := p.list(kid, depth+1); err != nil {
				return err
			}
			if p.i >= len(p.s) || p.s[p.i] != '}' {
				return p.errorf(`"," or "}"`)
			}
			p.i++
			return nil
		}
		p.i = save
		kid.star = true
		return p.terminal(pos)
	}
}

// isNameRune reports whether r may appear in an unquoted name.
func isNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiName[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

var asciiName = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c == '_' || c == '-' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

func (p *parser) name() (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '`' {
		start := p.i + 1
		for j := start; j < len(p.s); j++ {
			if p.s[j] == '`' {
				if j == start {
					p.i = j
					return "", p.errorf("a name between backquotes")
				}
				p.i = j + 1
				return p.s[start:j], nil
			}
		}
		p.i = len(p.s)
		return "", p.errorf("closing \"`\"")
	}
	start := p.i
	for p.i < len(p.s) {
		if c := p.s[p.i]; c < utf8.RuneSelf {
			if !asciiName[c] {
				break
			}
			p.i++
			continue
		}
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		if r == utf8.RuneError && size <= 1 || !isNameRune(r) {
			break
		}
		p.i += size
	}
	if p.i == start {
		return "", p.errorf(`field name or "*"`)
	}
	return p.s[start:p.i], nil
}

// plainName reports whether name can be written without backquotes.
func plainName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r == utf8.RuneError || !isNameRune(r) {
			return false
		}
	}
	return true
}
