package paginate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/stout-go/stout/paginate"
)

type user struct {
	ID        int64
	CreatedAt time.Time
}

func userKey(u user) paginate.Key { return paginate.Key{u.CreatedAt, u.ID} }

// A key from a secret store in real code; never a constant.
var key32 = bytes.Repeat([]byte{42}, 32)

func newUsers() *paginate.Paginator {
	codec, err := paginate.NewCodec(paginate.Secret{ID: "2026-11", Key: key32})
	if err != nil {
		panic(err)
	}
	p, err := paginate.New(paginate.Options{
		Sort:         paginate.MustSort(paginate.Desc("created_at").Time(), paginate.Desc("id")),
		Codec:        codec,
		DefaultLimit: 2,
		MaxLimit:     100,
	})
	if err != nil {
		panic(err)
	}
	return p
}

func Example() {
	users := newUsers()
	r := httptest.NewRequest("GET", "/users?limit=2", nil)
	req, err := users.Parse(r, paginate.Binding{Tenant: "acme"})
	if err != nil {
		panic(err)
	}
	fmt.Println("first page:", req.First())
	where, args := req.Where(paginate.Postgres, 1)
	fmt.Printf("SELECT id, created_at FROM users WHERE %s ORDER BY %s LIMIT %d %v\n",
		where, req.OrderBy(paginate.Postgres), req.Limit(), args)

	// Rows as the query returned them: Limit() = 3, so a next page exists.
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	rows := []user{{3, t0.Add(3 * time.Second)}, {2, t0.Add(2 * time.Second)}, {1, t0.Add(time.Second)}}
	page, err := paginate.NewPage(rows, req, userKey)
	if err != nil {
		panic(err)
	}
	fmt.Println("items:", len(page.Items), "has_more:", page.HasMore)

	// The client follows next_cursor.
	r = httptest.NewRequest("GET", "/users?limit=2&cursor="+page.NextCursor, nil)
	req, err = users.Parse(r, paginate.Binding{Tenant: "acme"})
	if err != nil {
		panic(err)
	}
	where, args = req.Where(paginate.Postgres, 1)
	fmt.Println("WHERE", where, len(args), "args")
	// Output:
	// first page: true
	// SELECT id, created_at FROM users WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 3 []
	// items: 2 has_more: true
	// WHERE (created_at, id) < ($1, $2) 2 args
}

func ExampleWriteError() {
	users := newUsers()
	r := httptest.NewRequest("GET", "/users?cursor=forged", nil)
	_, err := users.Parse(r, paginate.Binding{})
	fmt.Println(errors.Is(err, paginate.ErrInvalidCursor))

	w := httptest.NewRecorder()
	if paginate.WriteError(w, err) {
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// true
	// 400 {"error":{"code":"invalid_cursor","message":"paginate: malformed cursor: not URL-safe base64","param":"cursor"}}
}

func ExampleNewSort() {
	_, err := paginate.NewSort(paginate.Desc("score"))
	fmt.Println(err == nil, "(the caller must make sure score is unique)")

	_, err = paginate.NewSort(paginate.Asc("due_at").Time().Nullable(paginate.NullsLast))
	fmt.Println(err)

	s := paginate.MustSort(paginate.Asc("due_at").Time().Nullable(paginate.NullsLast), paginate.Asc("id"))
	fmt.Println("CREATE INDEX ON tasks (" + s.OrderBy(paginate.Postgres) + ")")
	fmt.Println("MySQL: ORDER BY " + s.OrderBy(paginate.MySQL))
	// Output:
	// true (the caller must make sure score is unique)
	// paginate: invalid sort: last column "due_at" is nullable; the sort must end in a unique NOT NULL key such as the primary key
	// CREATE INDEX ON tasks (due_at ASC NULLS LAST, id ASC)
	// MySQL: ORDER BY due_at IS NULL ASC, due_at ASC, id ASC
}

func ExampleRequest_Where() {
	sort := paginate.MustSort(paginate.Desc("score"), paginate.Asc("name").Text().Nullable(paginate.NullsLast), paginate.Asc("id"))
	codec, _ := paginate.NewCodec(paginate.Secret{ID: "k", Key: key32})
	p, _ := paginate.New(paginate.Options{Sort: sort, Codec: codec})
	first, _ := p.Request(10, "", nil, paginate.Binding{})
	cursor, _ := first.Cursor(paginate.Key{90, nil, 7}, paginate.Forward)
	req, _ := p.Request(10, cursor, nil, paginate.Binding{})

	where, args := req.Where(paginate.Postgres, 1)
	fmt.Println(where, args)
	where, args = req.Where(paginate.SQLite, 1)
	fmt.Println(where, args)
	// Output:
	// score <= $1 AND ((score < $1) OR (score = $1 AND name IS NULL AND id > $2)) [90 7]
	// score <= ? AND ((score < ?) OR (score = ? AND name IS NULL AND id > ?)) [90 90 90 7]
}

func ExampleSlice() {
	users := newUsers()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var all []user // sorted by created_at DESC, id DESC, at microsecond precision
	for id := int64(5); id >= 1; id-- {
		all = append(all, user{id, t0.Add(time.Duration(id) * time.Microsecond)})
	}

	cursor := ""
	for {
		req, err := users.Request(2, cursor, nil, paginate.Binding{})
		if err != nil {
			panic(err)
		}
		page, err := paginate.Slice(all, req, userKey)
		if err != nil {
			panic(err)
		}
		for _, u := range page.Items {
			fmt.Print(u.ID, " ")
		}
		fmt.Println("| has_more:", page.HasMore)
		if !page.HasMore {
			break
		}
		cursor = page.NextCursor
	}
	// Output:
	// 5 4 | has_more: true
	// 3 2 | has_more: true
	// 1 | has_more: false
}

func ExampleAll() {
	users := newUsers()
	var all []user
	for id := int64(7); id >= 1; id-- {
		all = append(all, user{id, time.Date(2026, 11, 27, 9, 0, int(id), 0, time.UTC)})
	}
	// fetch stands for an HTTP client call to a paginated endpoint.
	fetch := func(ctx context.Context, cursor string) (paginate.Page[user], error) {
		req, err := users.Request(3, cursor, nil, paginate.Binding{})
		if err != nil {
			return paginate.Page[user]{}, err
		}
		return paginate.Slice(all, req, userKey)
	}
	for u, err := range paginate.All(context.Background(), fetch) {
		if err != nil {
			panic(err)
		}
		fmt.Print(u.ID, " ")
	}
	fmt.Println()
	// Output:
	// 7 6 5 4 3 2 1
}

func ExampleCodec_rotation() {
	oldKey := paginate.Secret{ID: "2026-10", Key: bytes.Repeat([]byte{1}, 32)}
	newKey := paginate.Secret{ID: "2026-11", Key: bytes.Repeat([]byte{2}, 32)}

	sort := paginate.MustSort(paginate.Asc("id"))
	paginator := func(keys ...paginate.Secret) *paginate.Paginator {
		codec, err := paginate.NewCodec(keys...)
		if err != nil {
			panic(err)
		}
		p, err := paginate.New(paginate.Options{Sort: sort, Codec: codec})
		if err != nil {
			panic(err)
		}
		return p
	}
	first, _ := paginator(oldKey).Request(10, "", nil, paginate.Binding{})
	cursor, _ := first.Cursor(paginate.Key{42}, paginate.Forward)

	// Step 1 on every server: list the new key second; it opens, the old key seals.
	// Step 2: list it first; it seals, and the old key still opens until its cursors expire.
	for _, p := range []*paginate.Paginator{paginator(oldKey, newKey), paginator(newKey, oldKey)} {
		req, err := p.Request(10, cursor, nil, paginate.Binding{})
		where, args := req.Where(paginate.Postgres, 1)
		fmt.Println(where, args, err)
	}

	// Step 3, after the TTL: drop the old key.
	_, err := paginator(newKey).Request(10, cursor, nil, paginate.Binding{})
	fmt.Println(err)
	// Output:
	// id > $1 [42] <nil>
	// id > $1 [42] <nil>
	// paginate: cursor failed authentication: unknown key ID
}

func ExampleRequest_Segments() {
	// due_at is nullable, NULLs last: after a non-NULL boundary come the
	// later dates and then every NULL row. One predicate cannot be one index
	// range, so the page is two ranges joined by UNION ALL.
	sort := paginate.MustSort(paginate.Asc("due_at").Time().Nullable(paginate.NullsLast), paginate.Asc("id"))
	codec, _ := paginate.NewCodec(paginate.Secret{ID: "k", Key: key32})
	p, _ := paginate.New(paginate.Options{Sort: sort, Codec: codec})
	first, _ := p.Request(20, "", nil, paginate.Binding{})
	cursor, _ := first.Cursor(paginate.Key{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 7}, paginate.Forward)
	req, _ := p.Request(20, cursor, nil, paginate.Binding{})

	order := " ORDER BY " + req.OrderBy(paginate.Postgres) + " LIMIT " + fmt.Sprint(req.Limit())
	var parts []string
	var args []any
	for _, seg := range req.Segments(paginate.Postgres, 2) { // $1 is the tenant filter
		parts = append(parts, "(SELECT id, due_at FROM tasks WHERE org = $1 AND "+seg.Where+order+")")
		args = append(args, seg.Args...)
	}
	fmt.Println(strings.Join(parts, "\nUNION ALL\n") + "\n" + order[1:])
	fmt.Println(len(args), "args")
	// Output:
	// (SELECT id, due_at FROM tasks WHERE org = $1 AND due_at >= $2 AND ((due_at > $2) OR (due_at = $2 AND id > $3)) ORDER BY due_at ASC NULLS LAST, id ASC LIMIT 21)
	// UNION ALL
	// (SELECT id, due_at FROM tasks WHERE org = $1 AND due_at IS NULL ORDER BY due_at ASC NULLS LAST, id ASC LIMIT 21)
	// ORDER BY due_at ASC NULLS LAST, id ASC LIMIT 21
	// 2 args
}
