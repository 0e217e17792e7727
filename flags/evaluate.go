package flags

import (
	"context"
	"encoding/json"
)

// resolve evaluates key for subj. It returns the variant to serve, or nil
// with the reason the caller's default must be served.
func (c *Client) resolve(key string, subj *Subject, want Type) (*cvariant, Detail) {
	s := c.snap.Load()
	if s == nil {
		c.nUnavailable.Add(1)
		return nil, Detail{Reason: ReasonUnavailable, Err: ErrUnavailable}
	}
	f := s.index[key]
	if f == nil {
		c.nMissing.Add(1)
		return nil, Detail{Reason: ReasonFlagMissing, Err: ErrFlagNotFound}
	}
	if want != 0 && f.typ != want {
		c.nWrongType.Add(1)
		return nil, Detail{Reason: ReasonWrongType, Err: ErrWrongType}
	}
	e := evaluator{s: s, now: c.now}
	vi, reason, rule := e.eval(f.cflag, subj)
	f.hits[vi].add()
	v := &f.variants[vi]
	return v, Detail{Variant: v.name, Reason: reason, RuleID: rule}
}

// Bool returns the value of the bool flag key for subj, or def when the
// flag is missing, not a bool flag, or no document is loaded. ctx is
// accepted for symmetry with other stout APIs; evaluation never blocks.
func (c *Client) Bool(ctx context.Context, key string, subj Subject, def bool) bool {
	v, _ := c.BoolDetail(ctx, key, subj, def)
	return v
}

// BoolDetail is [Client.Bool] with the [Detail] of the evaluation.
func (c *Client) BoolDetail(_ context.Context, key string, subj Subject, def bool) (bool, Detail) {
	v, d := c.resolve(key, &subj, TypeBool)
	if v == nil {
		return def, d
	}
	return v.b, d
}

// String returns the value of the string flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) String(ctx context.Context, key string, subj Subject, def string) string {
	v, _ := c.StringDetail(ctx, key, subj, def)
	return v
}

// StringDetail is [Client.String] with the [Detail] of the evaluation.
func (c *Client) StringDetail(_ context.Context, key string, subj Subject, def string) (string, Detail) {
	v, d := c.resolve(key, &subj, TypeString)
	if v == nil {
		return def, d
	}
	return v.s, d
}

// Int returns the value of the int flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) Int(ctx context.Context, key string, subj Subject, def int64) int64 {
	v, _ := c.IntDetail(ctx, key, subj, def)
	return v
}

// IntDetail is [Client.Int] with the [Detail] of the evaluation.
func (c *Client) IntDetail(_ context.Context, key string, subj Subject, def int64) (int64, Detail) {
	v, d := c.resolve(key, &subj, TypeInt)
	if v == nil {
		return def, d
	}
	return v.i, d
}

// Float returns the value of the float flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) Float(ctx context.Context, key string, subj Subject, def float64) float64 {
	v, _ := c.FloatDetail(ctx, key, subj, def)
	return v
}

// FloatDetail is [Client.Float] with the [Detail] of the evaluation.
func (c *Client) FloatDetail(_ context.Context, key string, subj Subject, def float64) (float64, Detail) {
	v, d := c.resolve(key, &subj, TypeFloat)
	if v == nil {
		return def, d
	}
	return v.f, d
}

// JSON returns the JSON value of the json flag key for subj, or def (see
// [Client.Bool]). The returned bytes are shared: do not modify them.
func (c *Client) JSON(ctx context.Context, key string, subj Subject, def json.RawMessage) json.RawMessage {
	v, _ := c.JSONDetail(ctx, key, subj, def)
	return v
}

// JSONDetail is [Client.JSON] with the [Detail] of the evaluation.
func (c *Client) JSONDetail(_ context.Context, key string, subj Subject, def json.RawMessage) (json.RawMessage, Detail) {
	v, d := c.resolve(key, &subj, TypeJSON)
	if v == nil {
		return def, d
	}
	return v.raw, d
}

// Value returns the value of flag key for subj as a T, or def (see
// [Client.Bool]).
//
// T may be the flag's natural Go type — bool, string, int64 (or int),
// float64, or json.RawMessage for json flags — which costs no allocation;
// any other T is decoded from the variant's JSON value with
// [encoding/json], so Value[MyConfig] works on a json flag. When the value
// does not decode into T the reason is [ReasonWrongType].
func Value[T any](ctx context.Context, c *Client, key string, subj Subject, def T) T {
	v, _ := ValueDetail(ctx, c, key, subj, def)
	return v
}

// ValueDetail is [Value] with the [Detail] of the evaluation.
func ValueDetail[T any](_ context.Context, c *Client, key string, subj Subject, def T) (T, Detail) {
	v, d := c.resolve(key, &subj, 0)
	if v == nil {
		return def, d
	}
	if x, ok := v.boxed.(T); ok {
		return x, d
	}
	if x, ok := v.boxedInt.(T); ok {
		return x, d
	}
	var out T
	if err := json.Unmarshal(v.raw, &out); err != nil {
		c.nWrongType.Add(1)
		return def, Detail{Reason: ReasonWrongType, Err: ErrWrongType}
	}
	return out, d
}
