package slowlog

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
)

// Do times fn as one call of op and returns its results. It fits
// database/sql-style calls (and any other call returning a value and an
// error):
//
//	row, err := slowlog.Do(ctx, getUser, func(ctx context.Context) (User, error) {
//		var u User
//		err := db.QueryRowContext(ctx, q, id).Scan(&u.ID, &u.Name)
//		return u, err
//	}, slog.String("query", "getUser"))
//
// [sql.ErrNoRows] is not counted as an error; any other non-nil error is. A
// panic in fn is counted as an error and re-raised. attrs are logged only
// if the call is slow.
func Do[T any](ctx context.Context, op *Op, fn func(context.Context) (T, error), attrs ...slog.Attr) (v T, err error) {
	t := op.Start(ctx)
	panicked := true
	defer func() {
		e := err
		switch {
		case panicked:
			e = ErrPanicked
		case errors.Is(e, sql.ErrNoRows):
			e = nil
		}
		t.End(e, attrs...)
	}()
	v, err = fn(ctx)
	panicked = false
	return v, err
}

// Exec is [Do] for calls that return only an error.
func Exec(ctx context.Context, op *Op, fn func(context.Context) error, attrs ...slog.Attr) error {
	_, err := Do(ctx, op, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, attrs...)
	return err
}

// ErrPanicked is the error recorded for a call that panicked inside [Do],
// [Exec] or [Middleware]; the panic itself is re-raised.
var ErrPanicked = errors.New("slowlog: call panicked")
