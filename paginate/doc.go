// Package paginate provides keyset (cursor) pagination that is safe to hand
// to clients: every page costs about the same however deep it is, no row is
// skipped or repeated when rows tie, hold NULLs or change between requests,
// and a cursor is an opaque, sealed token that never reaches SQL as text.
//
// OFFSET pagination reads and discards every row before the page, so page
// 10,000 costs 10,000 pages of work and rows shift under clients as others
// insert and delete. Keyset pagination instead remembers the sort values of
// the boundary row and asks the index for the rows after it.
//
// # Use
//
// Declare the order once, at start-up. It must end in a unique NOT NULL key
// (usually the primary key) so that no two rows tie:
//
//	sort := paginate.MustSort(paginate.Desc("created_at").Time(), paginate.Desc("id"))
//	codec, err := paginate.NewCodec(paginate.Secret{ID: "2026-11", Key: key32})
//	users, err := paginate.New(paginate.Options{Sort: sort, Codec: codec, MaxLimit: 100})
//
// Then, per request:
//
//	req, err := users.Parse(r, paginate.Binding{Tenant: orgID})
//	if paginate.WriteError(w, err) { return }         // 400 for a bad limit or cursor
//	where, args := req.Where(paginate.Postgres, 1)     // "(created_at, id) < ($1, $2)"
//	rows := query("SELECT … WHERE "+where+" ORDER BY "+req.OrderBy(paginate.Postgres)+" LIMIT "+strconv.Itoa(req.Limit()), args...)
//	page, err := paginate.NewPage(rows, req, func(u User) paginate.Key { return paginate.Key{u.CreatedAt, u.ID} })
//	page.WriteLinkHeader(w, r)                         // RFC 8288 rel="next"/"prev"
//	json.NewEncoder(w).Encode(page)                    // {"items":[…],"next_cursor":"…",…}
//
// The index the query needs is the ORDER BY list: CREATE INDEX ON users
// ([Sort.OrderBy]).
//
// # Sort specs
//
// A [Sort] is a list of allow-listed [Column]s, each with a [Type], a
// direction, and for nullable columns a NULL placement ([NullsFirst] or
// [NullsLast]). Column names are written into SQL and must come from the
// server. Time columns carry the database's precision (microseconds by
// default): cursor values are truncated to it and stored in UTC, so a cursor
// never holds a value finer than the stored one, which would repeat or skip
// the boundary row. [NewSort] rejects specs that cannot paginate correctly.
//
// # SQL
//
// [Request.Where] writes a predicate with placeholders only, per [Dialect]:
// a row-value comparison for PostgreSQL when every column has the same
// direction and none is nullable (an index range condition), otherwise the
// expanded OR form with a redundant bound on the first column so the planner
// can still seek. NULLs are handled by explicit IS NULL branches chosen from
// the boundary value and the NULL placement (never COALESCE, which defeats
// indexes). With a nullable first column, the rows after a boundary can span
// both its non-NULL and its NULL rows, which no single predicate covers as one
// index range; [Request.Segments] splits the page into two ranges to combine
// with UNION ALL. [Request.OrderBy] writes the matching ORDER BY, reversed for a
// [Backward] page; fetch [Request.Limit] rows (one more than the page size)
// and [NewPage] knows whether another page follows without counting. The
// cursor pointing back the way the client came is given whenever the request
// came from a cursor; [Request.WhereBehind] and [Page.SetBehind] make it
// exact with one EXISTS probe.
//
// # Cursors
//
// A cursor carries only the boundary row's sort values, the direction, an
// expiry, and fingerprints of the sort, of the filter parameters
// ([Options.FilterParams], [Binding.Filter]) and of the tenant
// ([Binding.Tenant]). It is sealed with AES-256-GCM under caller-supplied
// keys ([Codec]); there is no default key, and keys rotate by listing the
// old key after the new one. A cursor that is malformed, modified, sealed by
// another key, expired, or presented with another sort, filter or tenant is
// rejected with an error matching [ErrInvalidCursor]; [WriteError] turns it
// (and [ErrInvalidLimit]) into a 400 with a stable code.
//
// # Guarantees
//
// Walking forward, walking backward, and one ORDER BY … OFFSET query return
// the same rows in the same order, with NULLs in sort columns, ties, and
// microsecond timestamps. Rows deleted between requests (even the boundary
// row) and rows inserted concurrently never cause a row that was present
// throughout to be skipped or repeated. Rows whose sort values change during
// a walk can be seen twice or not at all: sort by immutable columns. The
// bench module checks these against a real PostgreSQL.
//
// # Pages
//
// [Page] is the JSON shape (items, next_cursor, prev_cursor, has_more, and
// an opt-in total). [Slice] paginates a sorted in-memory slice with the same
// cursors, and [All] walks every page of any paginated API as an iter.Seq2.
// Totals are never computed implicitly: counting is O(rows) in PostgreSQL.
package paginate
