package paginate

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAll(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("id")), nil)
	items := make([]int64, 23)
	for i := range items {
		items[i] = int64(i + 1)
	}
	key := func(i int64) Key { return Key{i} }
	fetches := 0
	fetch := func(ctx context.Context, cursor string) (Page[int64], error) {
		fetches++
		req, err := p.Request(5, cursor, nil, Binding{})
		if err != nil {
			return Page[int64]{}, err
		}
		return Slice(items, req, key)
	}

	var got []int64
	for it, err := range All(context.Background(), fetch) {
		require.NoError(t, err)
		got = append(got, it)
	}
	assert.Equal(t, items, got)
	assert.Equal(t, 5, fetches)

	t.Run("break stops fetching", func(t *testing.T) {
		fetches = 0
		for it, err := range All(context.Background(), fetch) {
			require.NoError(t, err)
			if it == 7 {
				break
			}
		}
		assert.Equal(t, 2, fetches)
	})

	t.Run("fetch error", func(t *testing.T) {
		boom := errors.New("boom")
		n := 0
		var errs []error
		for _, err := range All(context.Background(), func(ctx context.Context, c string) (Page[int64], error) {
			if c != "" {
				return Page[int64]{}, boom
			}
			return fetch(ctx, c)
		}) {
			n++
			if err != nil {
				errs = append(errs, err)
			}
		}
		assert.Equal(t, 6, n)
		assert.Equal(t, []error{boom}, errs)
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var last error
		for it, err := range All(ctx, fetch) {
			if it == 5 {
				cancel()
			}
			last = err
		}
		assert.ErrorIs(t, last, context.Canceled)
	})

	t.Run("server repeats a cursor", func(t *testing.T) {
		var last error
		count := 0
		for _, err := range All(context.Background(), func(ctx context.Context, c string) (Page[int64], error) {
			return Page[int64]{Items: []int64{1}, NextCursor: "same", HasMore: true}, nil
		}) {
			count++
			last = err
		}
		assert.ErrorIs(t, last, ErrCursorLoop)
		assert.Equal(t, 3, count, "two pages of one item, then the error")
	})
}
