package paginate

import (
	"context"
	"errors"
	"iter"
)

// ErrCursorLoop is yielded by [All] when a server answers a cursor with that
// same cursor as the next one, which would otherwise loop forever.
var ErrCursorLoop = errors.New("paginate: server returned a cursor it was already given")

// Fetcher fetches the page at cursor ("" for the first page).
type Fetcher[T any] func(ctx context.Context, cursor string) (Page[T], error)

// All returns an iterator over every item of every page, following next
// cursors from the first page until one is empty. It stops early when the
// loop body breaks; a fetch error, a cancelled ctx or a repeated cursor is
// yielded once, with the zero T, and ends the iteration.
//
//	for user, err := range paginate.All(ctx, fetch) {
//		if err != nil {
//			return err
//		}
//		…
//	}
func All[T any](ctx context.Context, fetch Fetcher[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		cursor := ""
		for {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			page, err := fetch(ctx, cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			if page.NextCursor == cursor {
				yield(zero, ErrCursorLoop)
				return
			}
			cursor = page.NextCursor
		}
	}
}
