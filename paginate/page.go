package paginate

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Page is one page of a list. Its JSON form is
//
//	{
//	  "items":       [ … ],       // never null; may be shorter than the limit
//	  "next_cursor": "…",         // "" when there is nothing after this page
//	  "prev_cursor": "…",         // "" when there is nothing before this page
//	  "has_more":    true,        // next_cursor != ""
//	  "total":       1234         // only when the caller set Total
//	}
//
// Clients must treat the cursors as opaque and follow them until next_cursor
// is empty; a page may hold fewer items than asked for (even none) without
// being the last.
//
// Emptiness of a cursor is exact in the direction the page was read (a
// forward page fetched one extra row to know); in the other direction a
// cursor is given whenever the request itself came from one, and following
// it may yield an empty page if the rows there were deleted.
type Page[T any] struct {
	// Items are the page's rows in sort order, never nil.
	Items []T `json:"items"`
	// NextCursor reads the rows after the last item; "" at the end.
	NextCursor string `json:"next_cursor"`
	// PrevCursor reads the rows before the first item; "" at the start.
	PrevCursor string `json:"prev_cursor"`
	// HasMore reports whether NextCursor is set.
	HasMore bool `json:"has_more"`
	// Total is the number of rows in the whole list, when the caller chose to
	// compute it. Counting is O(rows) in PostgreSQL (MVCC visibility), so it is
	// opt-in: leave it nil unless a client asked, or use an estimate
	// (pg_class.reltuples) and document it as such.
	Total *int64 `json:"total,omitempty"`

	params *Options // paging parameter names; nil for a decoded page
}

// NewPage builds the page from the rows fetched with the request's Where,
// OrderBy and Limit (at most Size+1 rows, in the order the query returned
// them). It drops the extra row, restores sort order for a backward page
// (reordering rows in place), and seals the cursors from the keys of the
// first and last items. key returns a row's sort values, one per column of
// the Sort, exactly as stored (read back from the database, not computed in
// Go). The error is non-nil only when key returns values that do not fit
// the sort.
func NewPage[T any](rows []T, req *Request, key func(T) Key) (Page[T], error) {
	more := len(rows) > req.Size
	if more {
		rows = rows[:req.Size]
	}
	if req.dir == Backward {
		slices.Reverse(rows)
		return buildPage(rows, req, key, more, req.bound != nil)
	}
	return buildPage(rows, req, key, req.bound != nil, more)
}

// buildPage builds a page of items in sort order. before/after say whether
// a previous/next cursor is wanted.
func buildPage[T any](items []T, req *Request, key func(T) Key, before, after bool) (Page[T], error) {
	if items == nil {
		items = []T{}
	}
	p := Page[T]{Items: items, params: &req.p.o}
	s := req.p.o.Sort
	if len(items) == 0 {
		// Nothing to take a key from: continue from the request's boundary,
		// including the boundary row itself, which is on neither side.
		if req.bound == nil {
			return p, nil // an empty list
		}
		var err error
		if after {
			if p.NextCursor, err = req.seal(req.bound, Forward, req.dir == Backward && !req.inclusive); err != nil {
				return Page[T]{}, err
			}
		}
		if before {
			if p.PrevCursor, err = req.seal(req.bound, Backward, req.dir == Forward && !req.inclusive); err != nil {
				return Page[T]{}, err
			}
		}
		p.HasMore = p.NextCursor != ""
		return p, nil
	}
	if after {
		vs, err := s.normalize(key(items[len(items)-1]))
		if err == nil {
			p.NextCursor, err = req.seal(vs, Forward, false)
		}
		if err != nil {
			return Page[T]{}, fmt.Errorf("paginate: NewPage: %w", err)
		}
	}
	if before {
		vs, err := s.normalize(key(items[0]))
		if err == nil {
			p.PrevCursor, err = req.seal(vs, Backward, false)
		}
		if err != nil {
			return Page[T]{}, fmt.Errorf("paginate: NewPage: %w", err)
		}
	}
	p.HasMore = p.NextCursor != ""
	return p, nil
}

// Slice paginates items, which must already be in the order of the
// request's Sort (see [Sort.Compare]), with the same semantics as a SQL
// query built from the request, except that both cursors are exact. It finds
// the boundary by binary search and does not modify or copy items: the page's
// Items share items' backing array.
func Slice[T any](items []T, req *Request, key func(T) Key) (Page[T], error) {
	s := req.p.o.Sort
	var kerr error
	scratch := make([]value, len(s.cols))
	keyOf := func(i int) []value {
		vs, err := s.normalizeInto(scratch, key(items[i]))
		if err != nil && kerr == nil {
			kerr = err
		}
		return vs
	}
	// cut is the index of the first item on the "after" side of the boundary.
	cut := 0
	switch {
	case req.bound == nil && req.dir == Backward:
		cut = len(items)
	case req.bound != nil:
		// For Forward (exclusive) the page starts at the first item > bound;
		// for Backward (exclusive) it ends before the first item >= bound.
		strictlyAfter := req.dir == Forward && !req.inclusive || req.dir == Backward && req.inclusive
		cut = sort.Search(len(items), func(i int) bool {
			vs := keyOf(i)
			if vs == nil {
				return true
			}
			c := s.compare(vs, req.bound)
			if strictlyAfter {
				return c > 0
			}
			return c >= 0
		})
	}
	if kerr != nil {
		return Page[T]{}, fmt.Errorf("paginate: Slice: %w", kerr)
	}
	var lo, hi int
	if req.dir == Forward {
		lo, hi = cut, min(cut+req.Size, len(items))
	} else {
		lo, hi = max(cut-req.Size, 0), cut
	}
	return buildPage(items[lo:hi:hi], req, key, lo > 0, hi < len(items))
}

// NextURL returns u with the cursor parameter set to the next cursor and
// every other query parameter kept (re-encoded, in sorted order), or "" when
// there is no next page. User information and the fragment of u are dropped.
func (p Page[T]) NextURL(u *url.URL) string { return p.link(u, p.NextCursor, true) }

// PrevURL is like [Page.NextURL] for the previous page.
func (p Page[T]) PrevURL(u *url.URL) string { return p.link(u, p.PrevCursor, false) }

func (p Page[T]) link(u *url.URL, cursor string, next bool) string {
	if cursor == "" {
		return ""
	}
	q := u.Query()
	name := "cursor"
	if o := p.params; o != nil {
		name = o.CursorParam
		q.Del(o.AfterParam)
		q.Del(o.BeforeParam)
		switch {
		case next && o.AfterParam != "":
			q.Del(name)
			name = o.AfterParam
		case !next && o.BeforeParam != "":
			q.Del(name)
			name = o.BeforeParam
		}
	}
	q.Set(name, cursor)
	v := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: q.Encode()}
	if u.IsAbs() {
		// Never u.User: a link must not repeat credentials.
		v.Scheme, v.Host = u.Scheme, u.Host
	}
	return v.String()
}

// WriteLinkHeader adds an RFC 8288 Link header with rel="next" and
// rel="prev" targets to w, for whichever cursors the page has. The targets
// are r's path and query with the cursor parameter replaced; all other
// parameters (limit, filters) are kept. They are relative references
// (path and query) unless r.URL is absolute, so they resolve against the URL
// the client used, whatever proxies are in between.
func (p Page[T]) WriteLinkHeader(w http.ResponseWriter, r *http.Request) {
	var links []string
	if next := p.NextURL(r.URL); next != "" {
		links = append(links, "<"+next+`>; rel="next"`)
	}
	if prev := p.PrevURL(r.URL); prev != "" {
		links = append(links, "<"+prev+`>; rel="prev"`)
	}
	if len(links) > 0 {
		w.Header().Add("Link", strings.Join(links, ", "))
	}
}

// SetBehind records whether rows exist behind the request's boundary (see
// [Request.WhereBehind]): when exists is false it clears the cursor pointing
// back — PrevCursor for a [Forward] request, NextCursor and HasMore for a
// [Backward] one.
func (p *Page[T]) SetBehind(req *Request, exists bool) {
	if exists {
		return
	}
	if req.dir == Forward {
		p.PrevCursor = ""
		return
	}
	p.NextCursor = ""
	p.HasMore = false
}
