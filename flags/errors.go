package flags

import (
	"errors"
	"strings"
)

// Sentinel errors. A [Detail.Err] is one of these (never wrapped, so that
// evaluation allocates nothing); errors from sources and constructors wrap
// them and are matched with [errors.Is].
var (
	// ErrInvalidDocument is matched by every [*ValidationError].
	ErrInvalidDocument = errors.New("flags: invalid document")
	// ErrFlagNotFound: the document has no flag with the requested key.
	ErrFlagNotFound = errors.New("flags: flag not found")
	// ErrWrongType: the flag's type does not match the requested type.
	ErrWrongType = errors.New("flags: wrong type")
	// ErrUnavailable: no document has been loaded yet (the source is
	// unavailable and there is no last-good copy).
	ErrUnavailable = errors.New("flags: source unavailable")
	// ErrNoDocument: the source is reachable but holds no document.
	ErrNoDocument = errors.New("flags: no document at source")
)

// A Problem is one thing wrong with a flag document.
type Problem struct {
	// Path is the JSON path of the offending value, such as
	// $.flags.checkout.rules[1].when[0].op.
	Path string `json:"path"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError reports every problem found in a flag document. A document
// with any problem is rejected whole. It matches [ErrInvalidDocument].
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("flags: invalid document: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is [ErrInvalidDocument].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidDocument }
