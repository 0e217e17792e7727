package fieldmask

import (
	"cmp"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// maxNesting bounds the pointers, slices and maps followed while encoding one
// value, so that a reference cycle fails with an error instead of exhausting the
// stack.
const maxNesting = 10000

// encFn appends the JSON of the value at p (of the type it was compiled for).
type encFn func(b []byte, p unsafe.Pointer, depth int) ([]byte, error)

// encoder is a compiled encoder. The indirection lets recursive types refer to an
// encoder before it is built; fn is set before the encoder is published.
type encoder struct {
	fn encFn
}

type wholeKey struct {
	t    reflect.Type
	addr bool
}

type planKey struct {
	t     reflect.Type
	mask  string
	addr  bool
	bound bool
}

// plan is a compiled (type, mask) encoder.
type plan struct {
	key      planKey
	enc      *encoder
	sizeHint atomic.Int64 // length of the last output of Marshal
}

type memoPlan struct {
	c *Codec
	p *plan
}

// Marshal returns the JSON encoding of v with only the fields m selects. With
// [All] and types without policies the bytes are those of [json.Marshal]. Pass a
// pointer: a non-pointer v is copied once to be addressable.
func (c *Codec) Marshal(v any, m Mask) ([]byte, error) {
	b, err := c.appendMarshal(nil, v, m, true)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendMarshal appends the JSON encoding of v under m to dst and returns the
// extended buffer; on error it returns dst's contents without partial output.
// Reusing dst across calls makes encoding allocation-free for values without
// maps, interfaces and MarshalJSON methods.
//
// The first use of a (type, mask) pair compiles a plan with reflection; later uses
// run the plan, which walks the value with precomputed offsets and writes only the
// selected fields. Plans live in a cache bounded by [Options.CacheSize].
func (c *Codec) AppendMarshal(dst []byte, v any, m Mask) ([]byte, error) {
	return c.appendMarshal(dst, v, m, false)
}

// appendMarshal is AppendMarshal; with alloc, dst is nil and is allocated once
// with the size of the plan's previous output.
func (c *Codec) appendMarshal(dst []byte, v any, m Mask, alloc bool) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	t := rv.Type()
	var p unsafe.Pointer
	addr := false
	if t.Kind() == reflect.Pointer {
		p = rv.UnsafePointer()
		if p == nil {
			return append(dst, "null"...), nil
		}
		t, addr = t.Elem(), true
	} else {
		cp := reflect.New(t)
		cp.Elem().Set(rv)
		p = cp.UnsafePointer()
	}
	pl, err := c.planFor(t, addr, m)
	if err != nil {
		return dst, err
	}
	if alloc {
		dst = make([]byte, 0, pl.sizeHint.Load()+16)
		b, err := pl.enc.fn(dst, p, 0)
		if err == nil {
			pl.sizeHint.Store(min(int64(len(b)), 1<<20))
		}
		return b, err
	}
	n0 := len(dst)
	b, err := pl.enc.fn(dst, p, 0)
	if err != nil {
		return b[:n0], err
	}
	return b, nil
}

func (c *Codec) planFor(t reflect.Type, addr bool, m Mask) (*plan, error) {
	if m.r != nil {
		if mp := m.r.memo.Load(); mp != nil && mp.c == c && mp.p.key.t == t && mp.p.key.addr == addr {
			return mp.p, nil
		}
	}
	key := planKey{t: t, addr: addr}
	n := &node{}
	var bound *structInfo
	if m.r != nil {
		key.mask, n = m.r.key, m.r.n
		if m.r.bound != nil && elemStruct(t) == m.r.bound.s.t {
			key.bound, bound = true, m.r.bound.s
		}
	}
	pl, ok := c.plans.GetIfPresent(key)
	if !ok {
		enc, err := c.compile(t, n, addr, bound != nil)
		if err != nil {
			return nil, err
		}
		pl = &plan{key: key, enc: enc}
		c.plans.Set(key, pl)
	}
	if m.r != nil {
		m.r.memo.Store(&memoPlan{c: c, p: pl})
	}
	return pl, nil
}

// Encoder writes masked JSON values to an io.Writer, reusing one buffer. An
// Encoder is not safe for concurrent use; make one per goroutine or request.
type Encoder struct {
	c   *Codec
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func (c *Codec) NewEncoder(w io.Writer) *Encoder {
	return &Encoder{c: c, w: w}
}

// Encode writes the JSON of v under m followed by a newline, as
// [json.Encoder.Encode] does. Nothing is written when encoding fails.
func (e *Encoder) Encode(v any, m Mask) error {
	b, err := e.c.AppendMarshal(e.buf[:0], v, m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	e.buf = b
	if cap(e.buf) > 1<<20 {
		e.buf = nil // do not pin one huge buffer
	}
	_, err = e.w.Write(b)
	return err
}

// compile builds the encoder of type t under mask node n. addr says whether
// values reached are addressable (which decides, as in encoding/json, whether
// methods with pointer receivers are used). bound says whether the mask was
// validated, which lets it reach opt-in fields that need a permission.
func (c *Codec) compile(t reflect.Type, n *node, addr, bound bool) (*encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := &compiler{c: c, bound: bound, memo: map[compileKey]*encoder{}}
	e, err := cp.compile(t, n, addr)
	if err != nil {
		cp.forget()
	}
	return e, err
}

type compileKey struct {
	t    reflect.Type
	n    *node
	addr bool
}

// compiler holds one compilation; it runs under c.mu.
type compiler struct {
	c     *Codec
	bound bool
	memo  map[compileKey]*encoder
	added []wholeKey // entries this compilation put in c.whole
}

// forget removes what a failed compilation put in c.whole: an entry built
// during it may refer to the encoder that failed, which has no function.
func (cp *compiler) forget() {
	for _, k := range cp.added {
		delete(cp.c.whole, k)
	}
}

func (cp *compiler) compile(t reflect.Type, n *node, addr bool) (*encoder, error) {
	if n.leaf() {
		return cp.whole(t, addr)
	}
	k := compileKey{t, n, addr}
	if e := cp.memo[k]; e != nil {
		return e, nil
	}
	e := &encoder{}
	cp.memo[k] = e
	fn, err := cp.build(t, n, addr)
	if err != nil {
		return nil, err
	}
	e.fn = fn
	return e, nil
}

// whole returns the encoder of whole values of t, shared by all plans.
func (cp *compiler) whole(t reflect.Type, addr bool) (*encoder, error) {
	k := wholeKey{t, addr}
	if e := cp.c.whole[k]; e != nil {
		return e, nil
	}
	e := &encoder{}
	cp.c.whole[k] = e
	cp.added = append(cp.added, k)
	fn, err := cp.build(t, leafNode, addr)
	if err != nil {
		return nil, err
	}
	e.fn = fn
	return e, nil
}

func (cp *compiler) build(t reflect.Type, n *node, addr bool) (encFn, error) {
	if t == timeType {
		return timeEnc, nil
	}
	if t.Kind() == reflect.Pointer && t.Elem() == timeType {
		// What encoding/json does through the method set of *time.Time, without
		// the allocation of MarshalJSON.
		return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(b, "null"...), nil
			}
			return timeEnc(b, q, depth)
		}, nil
	}
	if t.Kind() != reflect.Pointer && addr && reflect.PointerTo(t).Implements(marshalerType) {
		return marshalerEnc(reflect.PointerTo(t), true), nil
	}
	if t.Implements(marshalerType) {
		return marshalerEnc(t, false), nil
	}
	if t.Kind() != reflect.Pointer && addr && reflect.PointerTo(t).Implements(textMarshalerType) {
		return textMarshalerEnc(reflect.PointerTo(t), true), nil
	}
	if t.Implements(textMarshalerType) {
		return textMarshalerEnc(t, false), nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return scalarEnc(t, false), nil
	case reflect.Interface:
		return cp.c.interfaceEnc(t), nil
	case reflect.Pointer:
		elem, err := cp.compile(t.Elem(), n, true)
		if err != nil {
			return nil, err
		}
		return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(b, "null"...), nil
			}
			if depth++; depth > maxNesting {
				return b, cycleError(t)
			}
			return elem.fn(b, q, depth)
		}, nil
	case reflect.Slice:
		et := t.Elem()
		if et.Kind() == reflect.Uint8 {
			pt := reflect.PointerTo(et)
			if !pt.Implements(marshalerType) && !pt.Implements(textMarshalerType) {
				return bytesEnc, nil
			}
		}
		elem, err := cp.compile(et, n, true)
		if err != nil {
			return nil, err
		}
		size := et.Size()
		return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			s := (*sliceHeader)(p)
			if s.data == nil {
				return append(b, "null"...), nil
			}
			if depth++; depth > maxNesting {
				return b, cycleError(t)
			}
			return appendArray(b, s.data, s.len, size, elem, depth)
		}, nil
	case reflect.Array:
		elem, err := cp.compile(t.Elem(), n, addr)
		if err != nil {
			return nil, err
		}
		size, l := t.Elem().Size(), t.Len()
		return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			return appendArray(b, p, l, size, elem, depth)
		}, nil
	case reflect.Map:
		if !mapKeyOK(t.Key()) {
			return unsupportedEnc(t), nil
		}
		elem, err := cp.compile(t.Elem(), n, false)
		if err != nil {
			return nil, err
		}
		return mapEnc(t, elem), nil
	case reflect.Struct:
		return cp.structEnc(t, n, addr)
	}
	return unsupportedEnc(t), nil
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

func cycleError(t reflect.Type) error {
	return fmt.Errorf("%w: nesting deeper than %d via %v (a reference cycle?)", errUnsupportedValue, maxNesting, t)
}

func unsupportedEnc(t reflect.Type) encFn {
	return func(b []byte, _ unsafe.Pointer, _ int) ([]byte, error) {
		return b, fmt.Errorf("fieldmask: unsupported type %v", t)
	}
}

func appendArray(b []byte, p unsafe.Pointer, n int, size uintptr, elem *encoder, depth int) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = elem.fn(b, unsafe.Add(p, uintptr(i)*size), depth); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func bytesEnc(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	s := *(*[]byte)(p)
	if s == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, s)
	return append(b, '"'), nil
}

// scalarEnc encodes booleans, numbers and strings; quoted is the `string` option.
func scalarEnc(t reflect.Type, quoted bool) encFn {
	q := func(b []byte) []byte {
		if quoted {
			b = append(b, '"')
		}
		return b
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendBool(q(b), *(*bool)(p))), nil
		}
	case reflect.Int:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendInt(q(b), int64(*(*int)(p)), 10)), nil
		}
	case reflect.Int8:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendInt(q(b), int64(*(*int8)(p)), 10)), nil
		}
	case reflect.Int16:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendInt(q(b), int64(*(*int16)(p)), 10)), nil
		}
	case reflect.Int32:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendInt(q(b), int64(*(*int32)(p)), 10)), nil
		}
	case reflect.Int64:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendInt(q(b), *(*int64)(p), 10)), nil
		}
	case reflect.Uint, reflect.Uintptr:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendUint(q(b), uint64(*(*uint)(p)), 10)), nil
		}
	case reflect.Uint8:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendUint(q(b), uint64(*(*uint8)(p)), 10)), nil
		}
	case reflect.Uint16:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendUint(q(b), uint64(*(*uint16)(p)), 10)), nil
		}
	case reflect.Uint32:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendUint(q(b), uint64(*(*uint32)(p)), 10)), nil
		}
	case reflect.Uint64:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			return q(strconv.AppendUint(q(b), *(*uint64)(p), 10)), nil
		}
	case reflect.Float32:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			b, err := appendFloat(q(b), float64(*(*float32)(p)), 32)
			return q(b), err
		}
	case reflect.Float64:
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			b, err := appendFloat(q(b), *(*float64)(p), 64)
			return q(b), err
		}
	}
	// reflect.String
	if t == numberType {
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			s := *(*string)(p)
			if s == "" {
				s = "0"
			}
			if !validNumber(s) {
				return b, fmt.Errorf("%w: invalid number literal %q", errUnsupportedValue, s)
			}
			return q(append(q(b), s...)), nil
		}
	}
	if quoted {
		return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
			inner := appendString(nil, *(*string)(p))
			return appendQuotedJSON(b, inner), nil
		}
	}
	return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
		return appendString(b, *(*string)(p)), nil
	}
}

// appendQuotedJSON appends the already escaped JSON string s as a JSON string
// again (the `string` option on a string field), escaping only quotes and
// backslashes, as encoding/json does.
func appendQuotedJSON(b, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// timeEnc writes a time.Time as its MarshalJSON does, without allocating; the
// rare values MarshalJSON rejects go through MarshalJSON for its error.
func timeEnc(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	t := (*time.Time)(p)
	n0 := len(b)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	ok := b[n0+1+len("9999")] == '-'
	if ok && b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := 10*(b[len(b)-5]-'0') + (b[len(b)-4] - '0')
		ok = (c < '0' || c > '9') && h < 24
	}
	if ok {
		return append(b, '"'), nil
	}
	_, err := t.MarshalJSON()
	if err == nil {
		err = errors.New("invalid time")
	}
	return b[:n0], fmt.Errorf("fieldmask: time.Time.MarshalJSON: %w", err)
}

// methodValue returns the value whose method is called: the pointer p itself
// when the method has a pointer receiver (onPtr), else the value at p.
func methodValue(t reflect.Type, p unsafe.Pointer, onPtr bool) reflect.Value {
	if onPtr {
		return reflect.NewAt(t.Elem(), p)
	}
	return reflect.NewAt(t, p).Elem()
}

func marshalerEnc(t reflect.Type, onPtr bool) encFn {
	return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
		v := methodValue(t, p, onPtr)
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		m, ok := reflect.TypeAssert[json.Marshaler](v)
		if !ok {
			return append(b, "null"...), nil
		}
		out, err := m.MarshalJSON()
		if err != nil {
			return b, fmt.Errorf("fieldmask: %v.MarshalJSON: %w", t, err)
		}
		n0 := len(b)
		if b, err = appendCompact(b, out); err != nil {
			return b[:n0], fmt.Errorf("fieldmask: %v.MarshalJSON: %w", t, err)
		}
		return b, nil
	}
}

func textMarshalerEnc(t reflect.Type, onPtr bool) encFn {
	return func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
		v := methodValue(t, p, onPtr)
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		m, ok := reflect.TypeAssert[encoding.TextMarshaler](v)
		if !ok {
			return append(b, "null"...), nil
		}
		out, err := m.MarshalText()
		if err != nil {
			return b, fmt.Errorf("fieldmask: %v.MarshalText: %w", t, err)
		}
		return appendStringBytes(b, out), nil
	}
}

// interfaceEnc encodes the dynamic value of an interface wholly, with the
// policies of its dynamic type.
func (c *Codec) interfaceEnc(t reflect.Type) encFn {
	return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		v := reflect.NewAt(t, p).Elem()
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		ev := v.Elem()
		et := ev.Type()
		e, err := c.wholeEncoder(et)
		if err != nil {
			return b, err
		}
		cp := reflect.New(et)
		cp.Elem().Set(ev)
		if depth++; depth > maxNesting {
			return b, cycleError(t)
		}
		return e.fn(b, cp.UnsafePointer(), depth)
	}
}

// wholeEncoder returns the encoder of whole, non-addressable values of t.
func (c *Codec) wholeEncoder(t reflect.Type) (*encoder, error) {
	if e, ok := c.dynamic.Load(t); ok {
		return e.(*encoder), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := &compiler{c: c, memo: map[compileKey]*encoder{}}
	e, err := cp.whole(t, false)
	if err != nil {
		cp.forget()
		return nil, err
	}
	c.dynamic.Store(t, e)
	return e, nil
}

type mapEntry struct {
	key string
	k   reflect.Value
}

func mapKeyString(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if tm, ok := reflect.TypeAssert[encoding.TextMarshaler](k); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		b, err := tm.MarshalText()
		return string(b), err
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	}
	return strconv.FormatUint(k.Uint(), 10), nil
}

func mapEnc(t reflect.Type, elem *encoder) encFn {
	return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			return append(b, "null"...), nil
		}
		if depth++; depth > maxNesting {
			return b, cycleError(t)
		}
		entries := make([]mapEntry, 0, m.Len())
		it := m.MapRange()
		for it.Next() {
			ks, err := mapKeyString(it.Key())
			if err != nil {
				return b, fmt.Errorf("fieldmask: map key of %v: %w", t, err)
			}
			entries = append(entries, mapEntry{ks, it.Key()})
		}
		slices.SortFunc(entries, func(a, b mapEntry) int { return cmp.Compare(a.key, b.key) })
		tmp := reflect.New(t.Elem()).Elem()
		tp := tmp.Addr().UnsafePointer()
		b = append(b, '{')
		var err error
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.key)
			b = append(b, ':')
			tmp.Set(m.MapIndex(e.k))
			if b, err = elem.fn(b, tp, depth); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
}

// hasMethodPath reports whether build would encode t through a method
// (MarshalJSON, MarshalText or the time.Time fast path).
func hasMethodPath(t reflect.Type, addr bool) bool {
	if t == timeType || t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return true
	}
	if t.Kind() != reflect.Pointer && addr {
		p := reflect.PointerTo(t)
		return p.Implements(marshalerType) || p.Implements(textMarshalerType)
	}
	return false
}

// quotedEnc is the encoder of a field with the `string` option: a scalar, or a
// pointer to one, written inside a JSON string. ok is false when the option has
// no effect (the type has a marshal method).
func quotedEnc(t reflect.Type, addr bool) (encFn, bool) {
	if hasMethodPath(t, addr) {
		return nil, false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return scalarEnc(t, true), true
	case reflect.Pointer:
		elem, ok := quotedEnc(t.Elem(), true)
		if !ok {
			return nil, false
		}
		return func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(b, "null"...), nil
			}
			return elem(b, q, depth+1)
		}, true
	}
	return nil, false
}

// Fast paths for the most common field kinds, run without an indirect call.
const (
	opCall uint8 = iota
	opString
	opInt
	opInt64
	opBool
)

type fieldPlan struct {
	name  string    // `"name":`, escaped
	steps []uintptr // offsets of embedded pointers to follow, in order
	off   uintptr   // offset of the field after the steps
	op    uint8
	enc   *encoder
	omit  func(unsafe.Pointer) bool
}

type structPlan struct {
	fields []fieldPlan
}

func (cp *compiler) structEnc(t reflect.Type, n *node, addr bool) (encFn, error) {
	var pending []*structInfo
	s, err := cp.c.infoComplete(t, &pending)
	if err != nil {
		return nil, err
	}
	sp := &structPlan{}
	for _, f := range s.fields {
		if f.hidden {
			continue
		}
		sub := n.get(f.name)
		switch {
		case sub != nil:
			if f.optIn && f.perm != "" && !cp.bound {
				continue // an unvalidated mask cannot unlock a permission
			}
		case n.star && !f.optIn:
			sub = leafNode
		default:
			continue
		}
		fp, err := cp.fieldPlan(t, f, sub, addr)
		if err != nil {
			return nil, err
		}
		sp.fields = append(sp.fields, fp)
	}
	return sp.encode, nil
}

func (cp *compiler) fieldPlan(t reflect.Type, f *fieldInfo, sub *node, addr bool) (fieldPlan, error) {
	var fp fieldPlan
	cur := t
	var off uintptr
	for i, idx := range f.index {
		sf := cur.Field(idx)
		off += sf.Offset
		if i == len(f.index)-1 {
			break
		}
		cur = sf.Type
		if cur.Kind() == reflect.Pointer {
			fp.steps = append(fp.steps, off)
			off = 0
			cur = cur.Elem()
			addr = true
		}
	}
	fp.off = off
	fp.name = string(appendString(nil, f.name)) + ":"
	ft := f.typ
	var fn encFn
	if f.quoted {
		fn, _ = quotedEnc(ft, addr)
	}
	if fn == nil {
		e, err := cp.compile(ft, sub, addr)
		if err != nil {
			return fp, err
		}
		fp.enc = e
		if !hasMethodPath(ft, addr) && ft != numberType {
			switch ft.Kind() {
			case reflect.String:
				fp.op = opString
			case reflect.Int:
				fp.op = opInt
			case reflect.Int64:
				fp.op = opInt64
			case reflect.Bool:
				fp.op = opBool
			}
		}
	} else {
		fp.enc = &encoder{fn: fn}
	}
	fp.omit = omitFunc(f)
	return fp, nil
}

func (sp *structPlan) encode(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	b = append(b, '{')
	first := true
	var err error
fields:
	for i := range sp.fields {
		f := &sp.fields[i]
		q := p
		for _, s := range f.steps {
			q = *(*unsafe.Pointer)(unsafe.Add(q, s))
			if q == nil {
				continue fields
			}
		}
		fp := unsafe.Add(q, f.off)
		if f.omit != nil && f.omit(fp) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.name...)
		switch f.op {
		case opString:
			b = appendString(b, *(*string)(fp))
		case opInt:
			b = strconv.AppendInt(b, int64(*(*int)(fp)), 10)
		case opInt64:
			b = strconv.AppendInt(b, *(*int64)(fp), 10)
		case opBool:
			b = strconv.AppendBool(b, *(*bool)(fp))
		default:
			if b, err = f.enc.fn(b, fp, depth); err != nil {
				return b, err
			}
		}
	}
	return append(b, '}'), nil
}

type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

// omitFunc returns the omitempty/omitzero test of a field, as encoding/json
// applies them, or nil when the field is always written.
func omitFunc(f *fieldInfo) func(unsafe.Pointer) bool {
	var empty, zero func(unsafe.Pointer) bool
	t := f.typ
	if f.omitEmpty {
		empty = emptyFunc(t)
	}
	if f.omitZero {
		switch {
		case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
			zero = func(p unsafe.Pointer) bool {
				v := reflect.NewAt(t, p).Elem()
				if v.IsNil() || v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil() {
					return true
				}
				z, _ := reflect.TypeAssert[isZeroer](v)
				return z.IsZero()
			}
		case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
			zero = func(p unsafe.Pointer) bool {
				v := reflect.NewAt(t, p).Elem()
				if v.IsNil() {
					return true
				}
				z, _ := reflect.TypeAssert[isZeroer](v)
				return z.IsZero()
			}
		case t.Implements(isZeroerType):
			zero = func(p unsafe.Pointer) bool {
				z, _ := reflect.TypeAssert[isZeroer](reflect.NewAt(t, p).Elem())
				return z.IsZero()
			}
		case reflect.PointerTo(t).Implements(isZeroerType):
			zero = func(p unsafe.Pointer) bool {
				z, _ := reflect.TypeAssert[isZeroer](reflect.NewAt(t, p))
				return z.IsZero()
			}
		default:
			zero = func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().IsZero() }
		}
	}
	switch {
	case empty == nil:
		return zero
	case zero == nil:
		return empty
	}
	return func(p unsafe.Pointer) bool { return empty(p) || zero(p) }
}

// emptyFunc is encoding/json's isEmptyValue for type t.
func emptyFunc(t reflect.Type) func(unsafe.Pointer) bool {
	switch t.Kind() {
	case reflect.Array:
		l := t.Len()
		return func(unsafe.Pointer) bool { return l == 0 }
	case reflect.Map:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Len() == 0 }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	case reflect.String:
		return func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Pointer, reflect.Interface:
		return func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil }
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if t.Kind() == reflect.Float32 {
			return func(p unsafe.Pointer) bool { return *(*float32)(p) == 0 } // -0 too, as in encoding/json
		}
		if t.Kind() == reflect.Float64 {
			return func(p unsafe.Pointer) bool { return *(*float64)(p) == 0 }
		}
		size := t.Size()
		return func(p unsafe.Pointer) bool {
			switch size {
			case 1:
				return *(*uint8)(p) == 0
			case 2:
				return *(*uint16)(p) == 0
			case 4:
				return *(*uint32)(p) == 0
			}
			return *(*uint64)(p) == 0
		}
	}
	return nil
}
