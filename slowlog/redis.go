package slowlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisHook is a go-redis [redis.Hook] that times every command under the
// op "<prefix><command>" (for example "redis.get"), every pipeline or
// transaction under "<prefix>pipeline", with the number of commands as an
// attribute, and every new connection under "<prefix>dial". A [redis.Nil]
// reply is not an error. Add it with client.AddHook; it works with
// *redis.Client, *redis.ClusterClient and *redis.Ring.
//
// Slow calls are logged with their arguments, capped as in Redis SLOWLOG
// (32 arguments, 128 bytes each); the arguments of commands that can carry
// credentials (AUTH, HELLO, MIGRATE, ACL, CONFIG) are never logged.
//
// go-redis sends its connection set-up commands through hooks too: on
// Redis before 7.2 the CLIENT SETINFO pipeline it sends on every new
// connection fails (go-redis ignores that) and counts as an error of
// "<prefix>pipeline"; set [redis.Options].DisableIdentity to avoid it.
type RedisHook struct {
	rec    *Recorder
	prefix string
	ops    sync.Map // command name → *Op
	pipe   *Op
	dial   *Op
}

// NewRedisHook returns a hook recording into rec with op names starting
// with prefix ("" means "redis.").
func NewRedisHook(rec *Recorder, prefix string) *RedisHook {
	if prefix == "" {
		prefix = "redis."
	}
	return &RedisHook{rec: rec, prefix: prefix, pipe: rec.Op(prefix + "pipeline"), dial: rec.Op(prefix + "dial")}
}

func (h *RedisHook) op(name string) *Op {
	if o, ok := h.ops.Load(name); ok {
		return o.(*Op)
	}
	full := h.prefix + strings.ToLower(name)
	o := h.rec.Op(full)
	if o.name == full { // not the overflow op: the cache stays as small as the Recorder's ops
		h.ops.Store(name, o)
	}
	return o
}

func redisErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// DialHook times new connections.
func (h *RedisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		t := h.dial.Start(ctx)
		conn, err := next(ctx, network, addr)
		t.End(err, slog.String("addr", addr))
		return conn, err
	}
}

// ProcessHook times one command.
func (h *RedisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t := h.op(cmd.Name()).Start(ctx)
		err := next(ctx, cmd)
		t.end(redisErr(err), nil, func() []slog.Attr {
			return []slog.Attr{slog.String("args", formatArgs(cmd.Args()))}
		})
		return err
	}
}

// ProcessPipelineHook times one pipeline or transaction; it counts as an
// error if any command failed.
func (h *RedisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t := h.pipe.Start(ctx)
		err := next(ctx, cmds)
		failed := redisErr(err)
		if failed == nil {
			for _, c := range cmds {
				if e := redisErr(c.Err()); e != nil {
					failed = e
					break
				}
			}
		}
		t.end(failed, nil, func() []slog.Attr {
			return []slog.Attr{slog.Int("commands", len(cmds)), slog.String("args", pipeArgs(cmds))}
		})
		return err
	}
}

// pipeArgs formats the first 8 commands of a pipeline.
func pipeArgs(p []redis.Cmder) string {
	var b strings.Builder
	for i, c := range p {
		if i == 8 {
			b.WriteString("; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(formatArgs(c.Args()))
	}
	return b.String()
}

// formatArgs joins at most 32 arguments, each cut at 128 bytes (the limits
// of Redis SLOWLOG), and leaves out the arguments of commands that can carry
// credentials.
func formatArgs(args []any) string {
	if len(args) > 1 {
		switch strings.ToLower(argString(args[0])) {
		case "auth", "hello", "migrate", "acl", "config":
			return argString(args[0]) + " ... (" + strconv.Itoa(len(args)-1) + " arguments not logged)"
		}
	}
	var b strings.Builder
	for i, a := range args {
		if i == 32 {
			b.WriteString(" ... (" + strconv.Itoa(len(args)-32) + " more arguments)")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(capString(argString(a), 128))
	}
	return b.String()
}

func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(a)
}
