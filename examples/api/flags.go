package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/stout-go/stout/flags"
	"github.com/stout-go/stout/slowlog"
)

// defaultFlags is the flag document served when no -flags file is given and
// published to Redis when its key is empty. It is flags.json beside this
// file.
//
//go:embed flags.json
var defaultFlags []byte

// flagActivityFeed gates the new recent-activity path, per user.
const flagActivityFeed = "activity-feed"

// flagsKey is where the flag document lives with -redis.
func (s *server) flagsKey() string { return s.cfg.RedisPrefix + "flags" }

// newFlags starts the flag client: on Redis when the server has a client,
// else on the -flags file, else on the embedded default document.
func (s *server) newFlags(ctx context.Context) error {
	var src flags.Source
	switch {
	case s.rdb != nil:
		// Publish the default document once, if the key is empty: version 0
		// means "only if there is none", so instances starting together
		// publish it once between them.
		_, err := flags.PublishRedis(ctx, s.rdb, s.flagsKey(), defaultFlags, 0)
		if err != nil && !errors.Is(err, flags.ErrVersionConflict) {
			return fmt.Errorf("publish the default flag document: %w", err)
		}
		src = flags.RedisSource(s.rdb, s.flagsKey(), nil)
	case s.cfg.FlagsFile != "":
		if _, err := os.Stat(s.cfg.FlagsFile); err != nil {
			return fmt.Errorf("-flags: %w", err)
		}
		src = flags.FileSource(s.cfg.FlagsFile, &flags.FileOptions{Interval: s.cfg.FlagsPoll})
	default:
		doc, err := flags.Parse(defaultFlags)
		if err != nil {
			return err
		}
		src = flags.Static(doc)
	}
	c, err := flags.New(ctx, src, &flags.Options{Logger: s.cfg.Logger, Now: s.cfg.Now})
	if err != nil {
		return err
	}
	s.flags = c
	s.closers = append(s.closers, c.Close)
	c.OnChange(func(ev flags.ChangeEvent) {
		s.cfg.Logger.Info("flags changed", "version", ev.Version, "changes", len(ev.Changes))
	})
	return nil
}

// useFeed decides, per user, whether recent activity takes the new path.
func (s *server) useFeed(ctx context.Context, id int64) bool {
	return s.flags.Bool(ctx, flagActivityFeed, flags.Subject{Key: itoa(id)}, false)
}

// flagsReport is the body of GET /debug/flags.
type flagsReport struct {
	Status   flags.Status    `json:"status"`
	Counts   flags.Counts    `json:"counts"`
	Document *flags.Document `json:"document"`
	Source   string          `json:"source"`
}

func (s *server) debugFlags(w http.ResponseWriter, _ *http.Request) {
	src := "embedded default (static)"
	switch {
	case s.rdb != nil:
		src = "redis key " + s.flagsKey()
	case s.cfg.FlagsFile != "":
		src = "file " + s.cfg.FlagsFile
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, flagsReport{Status: s.flags.Status(), Counts: s.flags.Counts(), Document: s.flags.Document(), Source: src})
}

// publishFlags is -publish-flags: it stores the document in the file at path
// as the next version in Redis, where every instance's flag client picks it
// up. An invalid document is rejected before Redis is touched.
func publishFlags(cfg config, path string) error {
	cfg.defaults()
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := &server{cfg: cfg}
	s.slow, err = slowlog.New(nil)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.slow.Close)
	defer s.Close()
	if s.newRedis(); s.rdb == nil {
		return errors.New("-publish-flags needs -redis or -redis-cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	v, err := flags.PublishRedis(ctx, s.rdb, s.flagsKey(), doc, -1)
	if err != nil {
		return err
	}
	cfg.Logger.Info("published flag document", "key", s.flagsKey(), "redis_version", v)
	return nil
}
