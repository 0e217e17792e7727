package cache

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned by a loader to say that the key does not exist in the source of
// truth. The cache remembers it for [Options.NegativeTTL] (negative caching) and returns an
// error matching ErrNotFound to every caller that asks for the key meanwhile.
var ErrNotFound = errors.New("cache: not found")

// ErrInvalidOptions is wrapped by the error [New] returns for an invalid [Options].
var ErrInvalidOptions = errors.New("cache: invalid options")

// ErrClosed is returned by calls that need a load after [Cache.Close].
var ErrClosed = errors.New("cache: closed")

// ErrNilLoader is returned when a load is needed and the loader is nil.
var ErrNilLoader = errors.New("cache: nil loader")

// errGoexit is the error of a load whose loader called runtime.Goexit.
var errGoexit = errors.New("cache: loader called runtime.Goexit")

// PanicError is the error every caller waiting for a load receives when the loader
// panicked. The panic does not propagate: the process lives and the value is not cached.
type PanicError struct {
	// Value is the value the loader panicked with.
	Value any
	// Stack is the loader goroutine's stack at the panic.
	Stack []byte
}

// Error describes the panic, with the stack of the loader.
func (e *PanicError) Error() string {
	return fmt.Sprintf("cache: loader panicked: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so that errors.Is and errors.As see
// through a loader that panicked with an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
