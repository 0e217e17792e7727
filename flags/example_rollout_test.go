package flags_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/stout-go/stout/flags"
)

// rolloutDoc returns the flag document at one step of the rollout.
func rolloutDoc(version int, on bool, percent string) []byte {
	return fmt.Appendf(nil, `{"version": %d, "flags": {"new-checkout": {
		"type": "bool", "on": %t,
		"rules": [{"id": "staff", "when": [{"attr": "email", "op": "suffix", "value": "@example.com"}], "variant": "true"}],
		"rollout": {"variant": "true", "percent": %s}}}}`, version, on, percent)
}

// checkout serves the new or the old checkout, as the flag says.
func checkout(f *flags.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subj := flags.Subject{Key: r.Header.Get("X-User"), Attrs: map[string]any{"email": r.Header.Get("X-Email")}}
		if f.Bool(r.Context(), "new-checkout", subj, false) {
			fmt.Fprint(w, "new")
			return
		}
		fmt.Fprint(w, "old")
	})
}

// Example_gradualRollout ramps a new checkout from 1% to 10% to 100% of
// 1000 users, checks that nobody who had it loses it on the way, then turns
// it off with the kill switch. The source here is driven by hand; in a
// service it would be RedisSource, with PublishRedis as the ramp.
func Example_gradualRollout() {
	ctx := context.Background()
	publish := make(chan flags.Updater, 1)
	src := flags.SourceFunc(func(ctx context.Context, u flags.Updater) {
		_ = u.Apply(rolloutDoc(1, true, "1"))
		publish <- u
		<-ctx.Done()
	})
	f, err := flags.New(ctx, src, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	u := <-publish
	f.OnChange(func(ev flags.ChangeEvent) {
		for _, c := range ev.Changes {
			fmt.Printf("audit: v%d → v%d: %s %s\n", ev.OldVersion, ev.Version, c.Key, c.Kind)
		}
	})

	h := checkout(f)
	had := map[string]bool{}
	share := func() (n, lost int) {
		for i := range 1000 {
			user := fmt.Sprintf("user-%d", i)
			req := httptest.NewRequest(http.MethodGet, "/checkout", nil)
			req.Header.Set("X-User", user)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			on := rec.Body.String() == "new"
			if on {
				n++
			} else if had[user] {
				lost++
			}
			had[user] = on
		}
		return n, lost
	}
	n, _ := share()
	fmt.Printf("1%%: %d of 1000 users\n", n)
	for v, p := range []string{"10", "100"} {
		if err := u.Apply(rolloutDoc(v+2, true, p)); err != nil {
			fmt.Println(err)
			return
		}
		n, lost := share()
		fmt.Printf("%s%%: %d of 1000 users, %d lost it\n", p, n, lost)
	}

	// The p95 moves: kill switch, for everyone, staff included.
	_ = u.Apply(rolloutDoc(4, false, "100"))
	n, _ = share()
	fmt.Printf("off: %d of 1000 users\n", n)
	// Output:
	// 1%: 10 of 1000 users
	// audit: v1 → v2: new-checkout updated
	// 10%: 112 of 1000 users, 0 lost it
	// audit: v2 → v3: new-checkout updated
	// 100%: 1000 of 1000 users, 0 lost it
	// audit: v3 → v4: new-checkout updated
	// off: 0 of 1000 users
}
