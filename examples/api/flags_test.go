package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stout-go/stout/flags"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func flagDoc(version int, percent float64) []byte {
	return fmt.Appendf(nil, `{"version":%d,"flags":{"activity-feed":{"type":"bool","rollout":{"variant":"true","percent":%g}}}}`, version, percent)
}

func TestRollout(t *testing.T) {
	s, ts := newTestServer(t, config{})

	t.Run("the default document rolls the feed out to about a quarter of users", func(t *testing.T) {
		on := 0
		for id := int64(1); id <= testUsers; id++ {
			if s.useFeed(context.Background(), id) {
				on++
			}
		}
		assert.InDelta(t, 0.25, float64(on)/testUsers, 0.04)
	})

	t.Run("the header says which path served, and that path ran", func(t *testing.T) {
		seen := map[bool]bool{}
		for id := int64(100); id < 120; id++ {
			feed := s.useFeed(context.Background(), id)
			before, _ := s.repo.Calls()
			a := call(t, ts, "GET", fmt.Sprintf("/users/%d?include=recent-activity", id), "")
			require.Equal(t, http.StatusOK, a.status)
			after, _ := s.repo.Calls()
			want := map[bool]string{true: "activity-feed=on", false: "activity-feed=off"}[feed]
			assert.Equal(t, want, a.header.Get("X-Rollout"))
			if feed {
				assert.Equal(t, before["activity.feed"]+1, after["activity.feed"])
				assert.Equal(t, before["activity.ids"], after["activity.ids"])
			} else {
				assert.Equal(t, before["activity.feed"], after["activity.feed"])
				assert.Equal(t, before["activity.ids"]+1, after["activity.ids"])
			}
			var v userView
			a.json(t, &v)
			assert.Len(t, v.RecentActivity, activityLen, "both paths return the same data")
			seen[feed] = true
		}
		assert.Len(t, seen, 2, "both paths were exercised")
		assert.Empty(t, call(t, ts, "GET", "/users/100", "").header.Get("X-Rollout"), "no activity, no flag")
	})

	t.Run("/debug/flags", func(t *testing.T) {
		a := call(t, ts, "GET", "/debug/flags", "")
		require.Equal(t, http.StatusOK, a.status)
		var rep struct {
			Status struct {
				State   string `json:"state"`
				Version int64  `json:"version"`
			} `json:"status"`
			Counts struct {
				Variants []flags.Count `json:"variants"`
			} `json:"counts"`
			Document map[string]any `json:"document"`
			Source   string         `json:"source"`
		}
		a.json(t, &rep)
		assert.Equal(t, "ok", rep.Status.State)
		assert.Equal(t, int64(1), rep.Status.Version)
		assert.Contains(t, rep.Document, "flags")
		assert.Contains(t, rep.Source, "embedded")
		var n uint64
		for _, c := range rep.Counts.Variants {
			assert.Equal(t, flagActivityFeed, c.Flag)
			n += c.N
		}
		assert.Positive(t, n)
	})
}

func TestRolloutChangesAtRuntimeFromTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	require.NoError(t, os.WriteFile(path, flagDoc(1, 0), 0o600))
	s, ts := newTestServer(t, config{FlagsFile: path, FlagsPoll: 5 * time.Millisecond})
	changed := make(chan int64, 10)
	stop := s.flags.OnChange(func(ev flags.ChangeEvent) { changed <- ev.Version })
	defer stop()

	a := call(t, ts, "GET", "/users/7?include=recent-activity", "")
	assert.Equal(t, "activity-feed=off", a.header.Get("X-Rollout"))

	// Replace the file atomically, as an operator's tool should.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, flagDoc(2, 100), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	select {
	case v := <-changed:
		require.Equal(t, int64(2), v)
	case <-time.After(10 * time.Second):
		t.Fatal("the new document was not applied")
	}
	a = call(t, ts, "GET", "/users/7?include=recent-activity", "")
	assert.Equal(t, "activity-feed=on", a.header.Get("X-Rollout"))

	// A broken document is rejected whole; the last good one stays.
	require.NoError(t, os.WriteFile(tmp, []byte(`{"flags":{"activity-feed":{"type":"bool","rollout":{"percent":"lots"}}}}`), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	require.Eventually(t, func() bool { return s.flags.Status().State == flags.StateStale }, 10*time.Second, 5*time.Millisecond)
	a = call(t, ts, "GET", "/users/8?include=recent-activity", "")
	assert.Equal(t, "activity-feed=on", a.header.Get("X-Rollout"))
}

func TestFlagsFileMissing(t *testing.T) {
	_, err := newServer(config{Users: 10, FlagsFile: filepath.Join(t.TempDir(), "nope.json")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-flags")
}
