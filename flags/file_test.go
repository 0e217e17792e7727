package flags

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitEvent waits for the next change event or fails after timeout.
func waitEvent(t *testing.T, ch <-chan ChangeEvent, timeout time.Duration) ChangeEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(timeout):
		t.Fatalf("no change within %v", timeout)
		return ChangeEvent{}
	}
}

func events(c *Client) <-chan ChangeEvent {
	ch := make(chan ChangeEvent, 16)
	c.OnChange(func(ev ChangeEvent) { ch <- ev })
	return ch
}

func TestFileSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flags.json")
	require.NoError(t, os.WriteFile(path, []byte(docV1), 0o644))
	const interval = 200 * time.Millisecond
	c, err := New(ctx, FileSource(path, &FileOptions{Interval: interval}), nil)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, StateOK, c.Status().State, "New waits for the first read")
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	ch := events(c)

	t.Run("a change is applied", func(t *testing.T) {
		// (Within the interval, exactly: TestFileSourceAppliesWithinInterval.)
		require.NoError(t, os.WriteFile(path, []byte(docV2), 0o644))
		ev := waitEvent(t, ch, 10*interval)
		assert.Equal(t, int64(2), ev.Version)
		assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
	})

	t.Run("a partially written file is never applied", func(t *testing.T) {
		half := docV1[:len(docV1)/2]
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		require.NoError(t, err)
		_, err = f.WriteString(half)
		require.NoError(t, err)
		// (A poll between the truncation and the write sees an empty file,
		// reported as unavailable; wait for the half document itself.)
		require.Eventually(t, func() bool {
			st := c.Status()
			return st.State == StateStale && errors.Is(st.Err, ErrInvalidDocument)
		}, 5*time.Second, interval/5)
		assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""), "the last good document stays")
		_, err = f.WriteString(docV1[len(half):])
		require.NoError(t, err)
		require.NoError(t, f.Close())
		ev := waitEvent(t, ch, 5*time.Second)
		assert.Equal(t, int64(1), ev.Version)
		assert.Equal(t, StateOK, c.Status().State)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	})

	t.Run("a deleted file leaves the document, status stale", func(t *testing.T) {
		require.NoError(t, os.Remove(path))
		require.Eventually(t, func() bool { return c.Status().State == StateStale }, 5*time.Second, interval/5)
		assert.ErrorIs(t, c.Status().Err, os.ErrNotExist)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
		require.NoError(t, writeFileAtomic(path, []byte(docV1)))
		require.Eventually(t, func() bool { return c.Status().State == StateOK }, 5*time.Second, interval/5)
	})
}

func TestFileSourceMissingAtStartUsesLastGood(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg := filepath.Join(dir, "lastgood.json")
	require.NoError(t, os.WriteFile(lg, []byte(docV2), 0o644))
	path := filepath.Join(dir, "flags.json")
	c, err := New(ctx, FileSource(path, &FileOptions{Interval: 20 * time.Millisecond}), &Options{LastGoodPath: lg})
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, StateStale, c.Status().State)
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
	ch := events(c)
	require.NoError(t, writeFileAtomic(path, []byte(docV1)))
	ev := waitEvent(t, ch, 5*time.Second)
	assert.Equal(t, "source", ev.Origin)
	assert.Equal(t, StateOK, c.Status().State)
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
}

// os.WriteFile truncates, then writes: a poll between the two sees an empty
// file. When the same document is written back, the source must report it
// again, or the status stays stale for good.
func TestFileSourceRecoversAfterEmptyFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "flags.json")
		require.NoError(t, os.WriteFile(path, []byte(docV1), 0o644))
		const interval = time.Second
		c, err := New(ctx, FileSource(path, &FileOptions{Interval: interval}), nil)
		require.NoError(t, err)
		defer c.Close()
		require.Equal(t, StateOK, c.Status().State)

		require.NoError(t, os.WriteFile(path, nil, 0o644))
		time.Sleep(interval)
		synctest.Wait()
		st := c.Status()
		require.Equal(t, StateStale, st.State)
		require.ErrorIs(t, st.Err, ErrNoDocument)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""), "the last good document stays")

		require.NoError(t, os.WriteFile(path, []byte(docV1), 0o644))
		time.Sleep(interval)
		synctest.Wait()
		st = c.Status()
		assert.Equal(t, StateOK, st.State, "the same document back ends the stale period")
		assert.NoError(t, st.Err)
	})
}

// TestFileSourceAppliesWithinInterval checks, on a fake clock, that a change
// is applied at the first poll after it, so within one interval, and not
// before.
func TestFileSourceAppliesWithinInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "flags.json")
		require.NoError(t, os.WriteFile(path, []byte(docV1), 0o644))
		const interval = 10 * time.Second
		c, err := New(ctx, FileSource(path, &FileOptions{Interval: interval}), nil)
		require.NoError(t, err)
		defer c.Close()
		ch := events(c)
		start := time.Now()

		time.Sleep(interval / 4)
		require.NoError(t, os.WriteFile(path, []byte(docV2), 0o644))
		time.Sleep(interval*3/4 - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""), "no poll yet")
		assert.Empty(t, ch)

		time.Sleep(time.Nanosecond)
		synctest.Wait()
		ev := <-ch
		assert.Equal(t, int64(2), ev.Version)
		assert.Equal(t, start.Add(interval), ev.Time, "applied at the first poll after the change")
		assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
		assert.Equal(t, StateOK, c.Status().State)
	})
}
