package flags

import (
	"context"
	"encoding/json"
	"reflect"
)

// lookup evaluates key for subj and returns the variant to serve and its
// counter, or nil when the caller's default must be served: the forms
// without Detail use it and skip building one. The caller counts the
// variant once it serves it.
func (c *Client) lookup(key string, subj *Subject, want Type) (*cvariant, *counter) {
	s := c.snap.Load()
	if s == nil {
		c.nUnavailable.Add(1)
		return nil, nil
	}
	f := s.index[key]
	if f == nil {
		c.nMissing.Add(1)
		return nil, nil
	}
	if want != 0 && f.typ != want {
		c.nWrongType.Add(1)
		return nil, nil
	}
	e := evaluator{s: s, now: c.now}
	vi, _, _ := e.eval(f.cflag, subj)
	return &f.variants[vi], f.hits[vi]
}

// resolve evaluates key for subj. It returns the variant to serve and its
// counter, or nil with the reason the caller's default must be served.
func (c *Client) resolve(key string, subj *Subject, want Type) (*cvariant, *counter, Detail) {
	s := c.snap.Load()
	if s == nil {
		c.nUnavailable.Add(1)
		return nil, nil, Detail{Reason: ReasonUnavailable, Err: ErrUnavailable}
	}
	f := s.index[key]
	if f == nil {
		c.nMissing.Add(1)
		return nil, nil, Detail{Reason: ReasonFlagMissing, Err: ErrFlagNotFound}
	}
	if want != 0 && f.typ != want {
		c.nWrongType.Add(1)
		return nil, nil, Detail{Reason: ReasonWrongType, Err: ErrWrongType}
	}
	e := evaluator{s: s, now: c.now}
	vi, reason, rule := e.eval(f.cflag, subj)
	v := &f.variants[vi]
	return v, f.hits[vi], Detail{Variant: v.name, Reason: reason, RuleID: rule}
}

// Bool returns the value of the bool flag key for subj, or def when the
// flag is missing, not a bool flag, or no document is loaded. ctx is
// accepted for symmetry with other stout APIs; evaluation never blocks.
func (c *Client) Bool(_ context.Context, key string, subj Subject, def bool) bool {
	if v, n := c.lookup(key, &subj, TypeBool); v != nil {
		n.add()
		return v.b
	}
	return def
}

// BoolDetail is [Client.Bool] with the [Detail] of the evaluation.
func (c *Client) BoolDetail(_ context.Context, key string, subj Subject, def bool) (bool, Detail) {
	v, n, d := c.resolve(key, &subj, TypeBool)
	if v == nil {
		return def, d
	}
	n.add()
	return v.b, d
}

// String returns the value of the string flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) String(_ context.Context, key string, subj Subject, def string) string {
	if v, n := c.lookup(key, &subj, TypeString); v != nil {
		n.add()
		return v.s
	}
	return def
}

// StringDetail is [Client.String] with the [Detail] of the evaluation.
func (c *Client) StringDetail(_ context.Context, key string, subj Subject, def string) (string, Detail) {
	v, n, d := c.resolve(key, &subj, TypeString)
	if v == nil {
		return def, d
	}
	n.add()
	return v.s, d
}

// Int returns the value of the int flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) Int(_ context.Context, key string, subj Subject, def int64) int64 {
	if v, n := c.lookup(key, &subj, TypeInt); v != nil {
		n.add()
		return v.i
	}
	return def
}

// IntDetail is [Client.Int] with the [Detail] of the evaluation.
func (c *Client) IntDetail(_ context.Context, key string, subj Subject, def int64) (int64, Detail) {
	v, n, d := c.resolve(key, &subj, TypeInt)
	if v == nil {
		return def, d
	}
	n.add()
	return v.i, d
}

// Float returns the value of the float flag key for subj, or def (see
// [Client.Bool]).
func (c *Client) Float(_ context.Context, key string, subj Subject, def float64) float64 {
	if v, n := c.lookup(key, &subj, TypeFloat); v != nil {
		n.add()
		return v.f
	}
	return def
}

// FloatDetail is [Client.Float] with the [Detail] of the evaluation.
func (c *Client) FloatDetail(_ context.Context, key string, subj Subject, def float64) (float64, Detail) {
	v, n, d := c.resolve(key, &subj, TypeFloat)
	if v == nil {
		return def, d
	}
	n.add()
	return v.f, d
}

// JSON returns the JSON value of the json flag key for subj, or def (see
// [Client.Bool]). The returned bytes are shared: do not modify them.
func (c *Client) JSON(_ context.Context, key string, subj Subject, def json.RawMessage) json.RawMessage {
	if v, n := c.lookup(key, &subj, TypeJSON); v != nil {
		n.add()
		return v.raw
	}
	return def
}

// JSONDetail is [Client.JSON] with the [Detail] of the evaluation.
func (c *Client) JSONDetail(_ context.Context, key string, subj Subject, def json.RawMessage) (json.RawMessage, Detail) {
	v, n, d := c.resolve(key, &subj, TypeJSON)
	if v == nil {
		return def, d
	}
	n.add()
	return v.raw, d
}

// Value returns the value of flag key for subj as a T, or def (see
// [Client.Bool]).
//
// T may be the flag's natural Go type — bool, string, int64 (or int),
// float64, or json.RawMessage for json flags — which costs no allocation;
// any other T is decoded from the variant's JSON value with
// [encoding/json], so Value[MyConfig] works on a json flag. The decoded
// value is cached per variant and type when T holds no references (no
// pointers, slices, maps or interfaces: nothing a caller could change under
// another), so such a T costs no allocation after the first call; other
// types are decoded on every call. When the value does not decode into T
// the reason is [ReasonWrongType].
func Value[T any](_ context.Context, c *Client, key string, subj Subject, def T) T {
	v, n := c.lookup(key, &subj, 0)
	if v == nil {
		return def
	}
	x, ok := convert(c, v, def)
	if ok {
		n.add()
	}
	return x
}

// ValueDetail is [Value] with the [Detail] of the evaluation.
func ValueDetail[T any](_ context.Context, c *Client, key string, subj Subject, def T) (T, Detail) {
	v, n, d := c.resolve(key, &subj, 0)
	if v == nil {
		return def, d
	}
	x, ok := convert(c, v, def)
	if !ok {
		return def, Detail{Reason: ReasonWrongType, Err: ErrWrongType}
	}
	n.add()
	return x, d
}

// convert returns the variant's value as a T, or def and false.
func convert[T any](c *Client, v *cvariant, def T) (T, bool) {
	if x, ok := v.boxed.(T); ok {
		return x, true
	}
	if x, ok := v.boxedInt.(T); ok {
		return x, true
	}
	rt := reflect.TypeFor[T]()
	if cached, ok := v.decoded.Load(rt); ok {
		if x, ok := cached.(T); ok {
			return x, true
		}
		if _, failed := cached.(decodeFailed); failed {
			c.nWrongType.Add(1)
			return def, false
		}
	}
	var out T
	if err := json.Unmarshal(v.raw, &out); err != nil {
		v.decoded.Store(rt, decodeFailed{})
		c.nWrongType.Add(1)
		return def, false
	}
	if shareable(rt, 0) {
		v.decoded.Store(rt, out)
	} else {
		v.decoded.Store(rt, decodeEachTime{})
	}
	return out, true
}

// Markers in a variant's decode cache.
type (
	decodeFailed   struct{} // the value does not decode into this type
	decodeEachTime struct{} // the type holds references: decode per call
)

// shareable reports whether values of t can be handed to every caller
// without copying: t holds no pointers, slices, maps or interfaces through
// which one caller could change what another sees.
func shareable(t reflect.Type, depth int) bool {
	if depth > 32 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return shareable(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !shareable(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
