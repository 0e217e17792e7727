package paginate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrInvalidCursor matches every error caused by a cursor a client sent:
	// malformed, forged, expired, or issued for another sort, filter or
	// tenant. Such a cursor never reaches SQL. It is the client's fault: answer
	// 400 (see [WriteError]).
	ErrInvalidCursor = errors.New("paginate: invalid cursor")
	// ErrInvalidLimit matches every error caused by a page size a client sent:
	// not a number, negative, given twice, or above the maximum when
	// [Options.RejectOverMax] is set. Answer 400 (see [WriteError]).
	ErrInvalidLimit = errors.New("paginate: invalid limit")
)

// RequestError is the type of every error caused by bad client input. It
// matches [ErrInvalidCursor] or [ErrInvalidLimit] with errors.Is and, for
// cursors, also the specific reason ([ErrCursorMalformed], [ErrCursorForged],
// [ErrCursorMismatch], [ErrCursorExpired]). Its message is safe to show to
// the client.
type RequestError struct {
	// Param is the query parameter at fault, for example "cursor".
	Param string
	// Message says what is wrong, for a person.
	Message string

	kind   error // ErrInvalidCursor or ErrInvalidLimit
	reason error // optional finer sentinel
}

func cursorErr(reason error, format string, args ...any) *RequestError {
	return &RequestError{
		Param:   "cursor",
		Message: fmt.Sprintf(format, args...),
		kind:    ErrInvalidCursor,
		reason:  reason,
	}
}

func limitErr(param, format string, args ...any) *RequestError {
	return &RequestError{Param: param, Message: fmt.Sprintf(format, args...), kind: ErrInvalidLimit}
}

// Error returns "paginate: invalid cursor: <message>" or the like.
func (e *RequestError) Error() string {
	if e.reason != nil {
		return e.reason.Error() + ": " + e.Message
	}
	return e.kind.Error() + ": " + e.Message
}

// Unwrap returns the sentinels the error matches.
func (e *RequestError) Unwrap() []error {
	if e.reason != nil {
		return []error{e.kind, e.reason}
	}
	return []error{e.kind}
}

// Code returns a stable, machine-readable code: "invalid_limit",
// "invalid_cursor", "expired_cursor" or "cursor_mismatch".
func (e *RequestError) Code() string {
	switch {
	case errors.Is(e.kind, ErrInvalidLimit):
		return "invalid_limit"
	case errors.Is(e.reason, ErrCursorExpired):
		return "expired_cursor"
	case errors.Is(e.reason, ErrCursorMismatch):
		return "cursor_mismatch"
	}
	return "invalid_cursor"
}

// WriteError writes err as a 400 Bad Request with a JSON body
//
//	{"error": {"code": "expired_cursor", "param": "cursor", "message": "…"}}
//
// and returns true when err is (or wraps) a [*RequestError]. For any other
// error it writes nothing and returns false, so the caller can answer 500.
func WriteError(w http.ResponseWriter, err error) bool {
	var re *RequestError
	if !errors.As(err, &re) {
		return false
	}
	body, _ := json.Marshal(map[string]map[string]string{"error": {
		"code":    re.Code(),
		"param":   re.Param,
		"message": re.Error(),
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(append(body, '\n'))
	return true
}
