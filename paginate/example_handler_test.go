package paginate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stout-go/stout/paginate"
)

// order is a row of the list. Orders are listed newest first; shipped_at
// may be NULL (unshipped orders last).
type order struct {
	ID        int64      `json:"id"`
	Status    string     `json:"status"`
	ShippedAt *time.Time `json:"shipped_at"`
}

// orderSort is declared once: an allow-list of columns, ending in the
// primary key.
var orderSort = paginate.MustSort(
	paginate.Desc("shipped_at").Time().Nullable(paginate.NullsLast),
	paginate.Desc("id"),
)

func orderKey(o order) paginate.Key { return paginate.Key{o.ShippedAt, o.ID} }

// listOrders serves GET /orders?status=…&limit=…&cursor=… for the tenant in
// the X-Tenant header. A real handler runs req.Where/OrderBy/Limit against
// its database; this one pages a sorted slice with the same cursors.
func listOrders(p *paginate.Paginator, all []order) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := p.Parse(r, paginate.Binding{Tenant: r.Header.Get("X-Tenant")})
		if paginate.WriteError(w, err) {
			return
		}
		status := r.URL.Query().Get("status")
		var rows []order
		for _, o := range all {
			if status == "" || o.Status == status {
				rows = append(rows, o)
			}
		}
		page, err := paginate.Slice(rows, req, orderKey)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		page.WriteLinkHeader(w, r)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}
}

// getPage is the client side: one GET per cursor.
func getPage(base string) paginate.Fetcher[order] {
	return func(ctx context.Context, cursor string) (paginate.Page[order], error) {
		u := base + "&cursor=" + url.QueryEscape(cursor)
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return paginate.Page[order]{}, err
		}
		req.Header.Set("X-Tenant", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return paginate.Page[order]{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return paginate.Page[order]{}, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		var page paginate.Page[order]
		return page, json.NewDecoder(resp.Body).Decode(&page)
	}
}

func Example_handler() {
	codec, err := paginate.NewCodec(paginate.Secret{ID: "2026-11", Key: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		panic(err)
	}
	orders, err := paginate.New(paginate.Options{
		Sort:         orderSort,
		Codec:        codec,
		DefaultLimit: 2,
		MaxLimit:     50,
		FilterParams: []string{"status"}, // a cursor only works with the filter it was issued for
	})
	if err != nil {
		panic(err)
	}

	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var all []order
	for id := int64(1); id <= 7; id++ {
		o := order{ID: id, Status: []string{"open", "shipped"}[id%2]}
		if id%3 != 0 {
			at := t0.Add(time.Duration(id%4) * time.Hour) // ties on shipped_at
			o.ShippedAt = &at
		}
		all = append(all, o)
	}
	slices.SortFunc(all, func(a, b order) int {
		c, _ := orderSort.Compare(orderKey(a), orderKey(b))
		return c
	})

	srv := httptest.NewServer(listOrders(orders, all))
	defer srv.Close()

	// Walk every page of shipped orders.
	var ids []string
	for o, err := range paginate.All(context.Background(), getPage(srv.URL+"/orders?status=shipped&limit=2")) {
		if err != nil {
			panic(err)
		}
		ids = append(ids, fmt.Sprint(o.ID))
	}
	fmt.Println("shipped:", strings.Join(ids, " "))

	// A cursor replayed with another filter is a 400, not a wrong page.
	first, err := getPage(srv.URL+"/orders?status=shipped&limit=2")(context.Background(), "")
	if err != nil {
		panic(err)
	}
	_, err = getPage(srv.URL+"/orders?status=open&limit=2")(context.Background(), first.NextCursor)
	fmt.Println(err != nil && strings.Contains(err.Error(), "400"))
	// Output:
	// shipped: 7 5 1 3
	// true
}
