package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/stout-go/stout/cache"
)

// Product is a row of the products table.
type Product struct {
	SKU   string
	Name  string
	Price int // cents
}

// errNoRows is what the database driver returns for a missing row.
var errNoRows = errors.New("no rows")

// store stands in for a database: a table and a query counter.
type store struct {
	mu      sync.Mutex
	rows    map[string]Product
	queries int
}

func (s *store) product(ctx context.Context, sku string) (Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	p, ok := s.rows[sku]
	if !ok {
		return Product{}, errNoRows
	}
	return p, nil
}

func (s *store) products(ctx context.Context, skus []string) (map[string]Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	out := make(map[string]Product, len(skus))
	for _, sku := range skus {
		if p, ok := s.rows[sku]; ok {
			out[sku] = p
		}
	}
	return out, nil
}

func (s *store) setPrice(ctx context.Context, sku string, price int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.rows[sku]
	p.Price = price
	s.rows[sku] = p
}

// Catalog is the read side of a service: cache-aside over the store, invalidated by every
// write. The loaders are built once, so calls allocate nothing for them.
type Catalog struct {
	db        *store
	cache     *cache.Cache[Product]
	loadOne   cache.Loader[Product]
	loadBatch cache.BatchLoader[Product]
}

func NewCatalog(db *store) (*Catalog, error) {
	c, err := cache.New[Product](cache.Options{
		Namespace:   "product",
		TTL:         5 * time.Minute,
		NegativeTTL: 30 * time.Second, // unknown SKUs do not reach the database every time
		Stale:       time.Minute,      // serve a slightly old price while one refresh runs
	})
	if err != nil {
		return nil, err
	}
	cat := &Catalog{db: db, cache: c}
	cat.loadOne = func(ctx context.Context, sku string) (Product, error) {
		p, err := db.product(ctx, sku)
		if errors.Is(err, errNoRows) {
			return Product{}, fmt.Errorf("product %s: %w", sku, cache.ErrNotFound)
		}
		return p, err
	}
	cat.loadBatch = db.products
	return cat, nil
}

func (cat *Catalog) Product(ctx context.Context, sku string) (Product, error) {
	return cat.cache.Get(ctx, sku, cat.loadOne)
}

func (cat *Catalog) Products(ctx context.Context, skus []string) (map[string]Product, error) {
	return cat.cache.GetMany(ctx, skus, cat.loadBatch)
}

// SetPrice writes the database first, then invalidates: a load that read the old row
// before the write can no longer put it back in the cache.
func (cat *Catalog) SetPrice(ctx context.Context, sku string, price int) error {
	cat.db.setPrice(ctx, sku, price)
	return cat.cache.Invalidate(ctx, sku)
}

func (cat *Catalog) Close() error { return cat.cache.Close() }

func Example_catalog() {
	db := &store{rows: map[string]Product{
		"tea":    {"tea", "Green tea", 450},
		"coffee": {"coffee", "Coffee beans", 1200},
		"mug":    {"mug", "Mug", 800},
	}}
	cat, err := NewCatalog(db)
	if err != nil {
		panic(err)
	}
	defer cat.Close()
	ctx := context.Background()

	// A page lists three products: one query for all of them.
	page, _ := cat.Products(ctx, []string{"tea", "coffee", "mug"})
	names := make([]string, 0, len(page))
	for _, p := range page {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	fmt.Println(names, "queries:", db.queries)

	// Product pages hit the cache, unknown SKUs are remembered.
	p, _ := cat.Product(ctx, "tea")
	fmt.Println(p.Name, p.Price, "queries:", db.queries)
	for range 3 {
		_, err = cat.Product(ctx, "teapot")
	}
	fmt.Println(errors.Is(err, cache.ErrNotFound), "queries:", db.queries)

	// A price change is visible at once.
	_ = cat.SetPrice(ctx, "tea", 500)
	p, _ = cat.Product(ctx, "tea")
	fmt.Println(p.Name, p.Price, "queries:", db.queries)
	// Output:
	// [Coffee beans Green tea Mug] queries: 1
	// Green tea 450 queries: 1
	// true queries: 2
	// Green tea 500 queries: 3
}
