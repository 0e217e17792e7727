package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxDocumentSize is the largest flag document [Parse] accepts.
const MaxDocumentSize = 16 << 20

// A Document is a parsed, validated and compiled flag document. It is
// immutable and safe for concurrent use.
type Document struct {
	version int64
	raw     []byte
	list    []*cflag // sorted by key
	index   map[string]int
}

// Version returns the document's "version" field (0 when absent).
func (d *Document) Version() int64 { return d.version }

// Keys returns the flag keys in sorted order.
func (d *Document) Keys() []string {
	keys := make([]string, len(d.list))
	for i, f := range d.list {
		keys[i] = f.key
	}
	return keys
}

// MarshalJSON returns the document as it was parsed.
func (d *Document) MarshalJSON() ([]byte, error) { return d.raw, nil }

// Parse parses and validates a flag document (see the package documentation
// for the format). Every problem found is reported in a [*ValidationError],
// with its JSON path; a document with any problem is rejected whole.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxDocumentSize {
		return nil, &ValidationError{Problems: []Problem{{"$", fmt.Sprintf("document is %d bytes, more than the %d allowed", len(data), MaxDocumentSize)}}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &parser{}
	root, err := p.value(dec, "$", 0)
	if errors.Is(err, errTooDeep) {
		return nil, &ValidationError{Problems: p.problems}
	}
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{"$", "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ValidationError{Problems: []Problem{{"$", "unexpected data after the document"}}}
	}
	if len(p.problems) > 0 { // duplicate keys or too deep
		return nil, &ValidationError{Problems: p.problems}
	}
	d := p.document(root)
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	d.raw = bytes.Clone(data)
	return d, nil
}

type parser struct {
	problems []Problem
}

// maxDepth bounds the nesting of a document.
const maxDepth = 64

// value decodes one JSON value token by token, into map[string]any, []any,
// json.Number, string, bool or nil, reporting duplicate object keys (which
// encoding/json would silently resolve to the last one).
func (p *parser) value(dec *json.Decoder, path string, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		p.add(path, "nested more than %d levels deep", maxDepth)
		return nil, errTooDeep
	}
	switch d {
	case '{':
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := p.value(dec, member(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				p.add(member(path, k), "duplicate key")
			}
			m[k] = v
		}
		_, err := dec.Token() // '}'
		return m, err
	case '[':
		l := []any{}
		for dec.More() {
			v, err := p.value(dec, index(path, len(l)), depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token() // ']'
		return l, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

var errTooDeep = errors.New("too deep")

func (p *parser) add(path, format string, args ...any) {
	p.problems = append(p.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// member returns the JSON path of key in the object at path: path.key for
// identifiers, path["key"] otherwise.
func member(path, key string) string {
	ident := key != ""
	for i, c := range key {
		letter := c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			ident = false
			break
		}
	}
	if ident {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func field(path, name string) string { return member(path, name) }

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "unknown"
}

// object checks that v is an object with only the allowed fields.
func (p *parser) object(path string, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(path, "must be an object, not %s", jsonKind(v))
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			p.add(member(path, k), "unknown field (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return m, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (p *parser) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		p.add(path, "must be a string, not %s", jsonKind(v))
	}
	return s, ok
}

func (p *parser) nonEmpty(path string, v any) (string, bool) {
	s, ok := p.str(path, v)
	if ok && s == "" {
		p.add(path, "must not be empty")
		return "", false
	}
	return s, ok
}

// percent parses a percentage with at most two decimals into basis points.
func (p *parser) percent(path string, v any) (uint32, bool) {
	n, ok := v.(json.Number)
	if !ok {
		p.add(path, "must be a number from 0 to 100, not %s", jsonKind(v))
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		p.add(path, "must be a number from 0 to 100, not %s", n)
		return 0, false
	}
	bp := math.Round(f * 100)
	if math.Abs(f*100-bp) > 1e-6 {
		p.add(path, "%s has more than two decimals (the granularity is 0.01%%)", n)
		return 0, false
	}
	return uint32(bp), true
}

func (p *parser) timestamp(path string, v any) (time.Time, bool) {
	s, ok := p.str(path, v)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.add(path, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", s)
		return time.Time{}, false
	}
	return t, true
}

func (p *parser) document(root any) *Document {
	d := &Document{index: map[string]int{}}
	m, ok := p.object("$", root, "version", "flags")
	if !ok {
		return d
	}
	if v, ok := m["version"]; ok {
		n, isNum := v.(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil || i < 0 {
			p.add("$.version", "must be a non-negative integer")
		}
		d.version = i
	}
	fv, ok := m["flags"]
	if !ok {
		p.add("$.flags", "is required")
		return d
	}
	fm, ok := fv.(map[string]any)
	if !ok {
		p.add("$.flags", "must be an object, not %s", jsonKind(fv))
		return d
	}
	keys := sortedKeys(fm)
	for _, k := range keys {
		path := member("$.flags", k)
		if k == "" {
			p.add(path, "flag key must not be empty")
		} else if len(k) > 256 {
			p.add(path, "flag key is longer than 256 bytes")
		}
		f := p.flag(path, k, fm[k])
		d.index[k] = len(d.list)
		d.list = append(d.list, f)
	}
	// Prerequisites refer to other flags: resolve them, then reject cycles.
	for i, f := range d.list {
		for j := range f.prereqs {
			pr := &f.prereqs[j]
			path := index(field(member("$.flags", f.key), "prerequisites"), j)
			idx, ok := d.index[pr.key]
			if !ok {
				p.add(field(path, "flag"), "no flag %q in the document", pr.key)
				continue
			}
			if idx == i {
				p.add(field(path, "flag"), "a flag cannot be its own prerequisite")
				continue
			}
			pr.idx = idx
			target := d.list[idx]
			for k, name := range pr.names {
				vi := target.variantIndex(name)
				if target.variants != nil && vi < 0 {
					p.add(index(field(path, "variants"), k), "flag %q has no variant %q", pr.key, name)
				}
				pr.variants = append(pr.variants, vi)
			}
		}
	}
	p.prereqGraph(d)
	return d
}

// maxPrereqEvals bounds the flag evaluations one evaluation can need: the
// flag itself plus its prerequisites, recursively, each counted as often as
// it is reached. Evaluation does not memoize, so without the bound a chain
// or a lattice of shared prerequisites ("diamonds") could make it take
// exponential time; such documents are rejected instead.
const maxPrereqEvals = 64

// prereqGraph rejects flags whose prerequisites form or reach a cycle, and
// flags whose evaluation would need more than maxPrereqEvals evaluations.
// It visits each flag once.
func (p *parser) prereqGraph(d *Document) {
	const (
		unvisited = iota
		visiting
		done
	)
	n := len(d.list)
	state := make([]uint8, n)
	cyclic := make([]bool, n) // reaches a cycle
	cost := make([]int, n)    // evaluations needed, saturated at maxPrereqEvals+1
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case visiting:
			return true
		case done:
			return cyclic[i]
		}
		state[i] = visiting
		c := 1
		for _, pr := range d.list[i].prereqs {
			if pr.idx < 0 {
				continue
			}
			if visit(pr.idx) {
				cyclic[i] = true
			}
			c = min(c+cost[pr.idx], maxPrereqEvals+1)
		}
		cost[i] = c
		state[i] = done
		return cyclic[i]
	}
	for i, f := range d.list {
		visit(i)
		path := field(member("$.flags", f.key), "prerequisites")
		switch {
		case cyclic[i]:
			p.add(path, "prerequisites form a cycle")
		case cost[i] > maxPrereqEvals:
			p.add(path, "evaluating the flag would evaluate more than %d flags (prerequisites count each time they are reached)", maxPrereqEvals)
		}
	}
}

var flagFields = []string{"type", "description", "on", "variants", "default", "offVariant", "targets", "rules",
	"rollout", "salt", "bucketBy", "bucketGroup", "prerequisites"}

func (p *parser) flag(path, key string, v any) *cflag {
	f := &cflag{key: key, on: true, defVar: -1, offVar: -1}
	m, ok := p.object(path, v, flagFields...)
	if !ok {
		return f
	}
	f.json, _ = json.Marshal(m)
	tv, ok := m["type"]
	if !ok {
		p.add(field(path, "type"), "is required (bool, string, int, float or json)")
		return f
	}
	ts, _ := tv.(string)
	for t := TypeBool; t <= TypeJSON; t++ {
		if typeNames[t] == ts {
			f.typ = t
		}
	}
	if f.typ == 0 {
		p.add(field(path, "type"), "must be one of bool, string, int, float, json")
		return f
	}
	if v, ok := m["description"]; ok {
		p.str(field(path, "description"), v)
	}
	if v, ok := m["on"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			p.add(field(path, "on"), "must be true or false, not %s", jsonKind(v))
		}
		f.on = b
	}
	// Variants.
	if v, ok := m["variants"]; ok {
		p.variants(field(path, "variants"), f, v)
	} else if f.typ == TypeBool {
		f.variants = []cvariant{newVariant("false", false), newVariant("true", true)}
		f.variants[0].raw, f.variants[1].raw = []byte("false"), []byte("true")
	} else {
		p.add(field(path, "variants"), "is required for flags of type %s", f.typ)
	}
	// Default and off variants.
	f.defVar = p.variantRef(field(path, "default"), f, m["default"], "false")
	if v, ok := m["offVariant"]; ok {
		f.offVar = p.variantRef(field(path, "offVariant"), f, v, "")
	} else {
		f.offVar = f.defVar
		if f.typ == TypeBool {
			// A bool flag that is off serves false unless told otherwise.
			for i := range f.variants {
				if !f.variants[i].b {
					f.offVar = i
					break
				}
			}
		}
	}
	// Bucketing.
	for _, name := range []string{"salt", "bucketBy", "bucketGroup"} {
		if v, ok := m[name]; ok {
			s, _ := p.nonEmpty(field(path, name), v)
			switch name {
			case "salt":
				f.salt = s
			case "bucketBy":
				f.bucketBy = s
			case "bucketGroup":
				f.group = s
			}
		}
	}
	f.variantSeed = key
	if f.salt != "" {
		f.variantSeed = f.salt
	}
	f.rolloutSeed = f.variantSeed
	if f.group != "" {
		f.rolloutSeed = f.group
	}
	f.rolloutPfx, f.variantPfx = seedPrefix(f.rolloutSeed), seedPrefix(f.variantSeed)
	if v, ok := m["targets"]; ok {
		p.targets(field(path, "targets"), f, v)
	}
	if v, ok := m["rules"]; ok {
		p.rules(field(path, "rules"), f, v)
	}
	if v, ok := m["rollout"]; ok {
		sv := &cserve{}
		if p.serve(field(path, "rollout"), f, v, sv, false) {
			f.rollout = sv
		}
	}
	if v, ok := m["prerequisites"]; ok {
		p.prereqs(field(path, "prerequisites"), f, v)
	}
	f.static = f.targets == nil && len(f.rules) == 0 && f.rollout == nil && len(f.prereqs) == 0
	return f
}

func newVariant(name string, v any) cvariant {
	cv := cvariant{name: name, boxed: v, decoded: new(sync.Map)}
	switch x := v.(type) {
	case bool:
		cv.b = x
	case string:
		cv.s = x
	case int64:
		cv.i = x
		cv.boxedInt = int(x)
	case float64:
		cv.f = x
	}
	return cv
}

func (p *parser) variants(path string, f *cflag, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(path, "must be an object of variant name to value, not %s", jsonKind(v))
		return
	}
	if len(m) == 0 {
		p.add(path, "must name at least one variant")
		return
	}
	f.variants = []cvariant{}
	for _, name := range sortedKeys(m) {
		vp := member(path, name)
		if name == "" {
			p.add(vp, "variant name must not be empty")
		}
		raw, _ := json.Marshal(m[name])
		var cv cvariant
		switch val := m[name]; f.typ {
		case TypeBool:
			b, ok := val.(bool)
			if !ok {
				p.add(vp, "must be a boolean (the flag's type is bool), not %s", jsonKind(val))
			}
			cv = newVariant(name, b)
		case TypeString:
			s, ok := val.(string)
			if !ok {
				p.add(vp, "must be a string (the flag's type is string), not %s", jsonKind(val))
			}
			cv = newVariant(name, s)
		case TypeInt:
			n, ok := val.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil {
				p.add(vp, "must be an integer that fits in 64 bits (the flag's type is int)")
			}
			cv = newVariant(name, i)
		case TypeFloat:
			n, ok := val.(json.Number)
			x, err := n.Float64()
			if !ok || err != nil {
				p.add(vp, "must be a finite number (the flag's type is float)")
			}
			cv = newVariant(name, x)
		case TypeJSON:
			cv = newVariant(name, json.RawMessage(raw))
		}
		cv.raw = raw
		f.variants = append(f.variants, cv)
	}
}

// variantRef resolves a variant name; def is used when v is absent ("" means required).
func (p *parser) variantRef(path string, f *cflag, v any, def string) int {
	if v == nil {
		if def == "" || f.typ != TypeBool || f.variantIndex(def) < 0 {
			if f.variants != nil {
				p.add(path, "is required: name the variant to serve")
			}
			return -1
		}
		return f.variantIndex(def)
	}
	name, ok := p.str(path, v)
	if !ok {
		return -1
	}
	i := f.variantIndex(name)
	if i < 0 && f.variants != nil {
		p.add(path, "no variant %q (variants: %s)", name, strings.Join(f.variantNames(), ", "))
	}
	return i
}

func (p *parser) targets(path string, f *cflag, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(path, "must be an object of variant name to a list of subject keys, not %s", jsonKind(v))
		return
	}
	f.targets = map[string]int32{}
	seen := map[string]string{}
	for _, name := range sortedKeys(m) {
		vp := member(path, name)
		vi := f.variantIndex(name)
		if vi < 0 && f.variants != nil {
			p.add(vp, "no variant %q", name)
		}
		list, ok := m[name].([]any)
		if !ok {
			p.add(vp, "must be a list of subject keys, not %s", jsonKind(m[name]))
			continue
		}
		for i, kv := range list {
			k, ok := p.nonEmpty(index(vp, i), kv)
			if !ok {
				continue
			}
			if prev, dup := seen[k]; dup && prev != name {
				p.add(index(vp, i), "subject %q is also a target of variant %q", k, prev)
				continue
			}
			seen[k] = name
			f.targets[k] = int32(vi)
		}
	}
}

func (p *parser) rules(path string, f *cflag, v any) {
	list, ok := v.([]any)
	if !ok {
		p.add(path, "must be a list of rules, not %s", jsonKind(v))
		return
	}
	ids := map[string]bool{}
	for i, rv := range list {
		rp := index(path, i)
		m, ok := p.object(rp, rv, "id", "when", "variant", "split", "percent", "progressive")
		if !ok {
			continue
		}
		r := crule{id: strconv.Itoa(i)}
		if v, ok := m["id"]; ok {
			r.id, _ = p.nonEmpty(field(rp, "id"), v)
		}
		if ids[r.id] {
			p.add(field(rp, "id"), "duplicate rule id %q", r.id)
		}
		ids[r.id] = true
		wv, ok := m["when"]
		if !ok {
			p.add(field(rp, "when"), "is required: a list of conditions, all of which must hold")
		} else if wl, ok := wv.([]any); !ok {
			p.add(field(rp, "when"), "must be a list of conditions, not %s", jsonKind(wv))
		} else {
			for j, cv := range wl {
				if c, ok := p.condition(index(field(rp, "when"), j), cv); ok {
					r.when = append(r.when, c)
				}
			}
		}
		p.serve(rp, f, m, &r.serve, true)
		f.rules = append(f.rules, r)
	}
}

// serve parses what a rule or the flag's rollout serves: a variant or a
// weighted split, gated by an optional percentage or progressive rollout.
func (p *parser) serve(path string, f *cflag, v any, sv *cserve, inRule bool) bool {
	var m map[string]any
	if inRule {
		m = v.(map[string]any)
	} else {
		var ok bool
		if m, ok = p.object(path, v, "variant", "split", "percent", "progressive"); !ok {
			return false
		}
	}
	before := len(p.problems)
	sv.variant = -1
	sv.bp = Buckets
	vv, hasVariant := m["variant"]
	split, hasSplit := m["split"]
	switch {
	case hasVariant && hasSplit:
		p.add(path, "has both variant and split: give one")
	case hasVariant:
		sv.variant = p.variantRef(field(path, "variant"), f, vv, "")
	case hasSplit:
		p.split(field(path, "split"), f, split, sv)
	default:
		p.add(path, "must give a variant or a split")
	}
	pv, hasPercent := m["percent"]
	prog, hasProg := m["progressive"]
	switch {
	case hasPercent && hasProg:
		p.add(path, "has both percent and progressive: give one")
	case hasPercent:
		sv.bp, _ = p.percent(field(path, "percent"), pv)
	case hasProg:
		sv.prog = p.progressive(field(path, "progressive"), prog)
	}
	return len(p.problems) == before
}

func (p *parser) split(path string, f *cflag, v any, sv *cserve) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		p.add(path, "must be an object of variant name to integer weight")
		return
	}
	for _, name := range sortedKeys(m) {
		wp := member(path, name)
		vi := f.variantIndex(name)
		if vi < 0 && f.variants != nil {
			p.add(wp, "no variant %q", name)
		}
		n, ok := m[name].(json.Number)
		w, err := strconv.ParseUint(string(n), 10, 32)
		if !ok || err != nil || w > 1_000_000 {
			p.add(wp, "weight must be an integer from 0 to 1000000")
			continue
		}
		if w == 0 {
			continue
		}
		sv.total += w
		sv.split = append(sv.split, cweight{cum: sv.total, variant: vi})
	}
	if sv.total == 0 && len(m) > 0 {
		p.add(path, "weights must not all be zero")
	}
}

func (p *parser) progressive(path string, v any) *cprog {
	m, ok := p.object(path, v, "start", "end", "from", "to")
	if !ok {
		return nil
	}
	pr := &cprog{}
	for _, name := range []string{"start", "end", "from", "to"} {
		if _, ok := m[name]; !ok {
			p.add(field(path, name), "is required")
		}
	}
	var start, end time.Time
	if v, ok := m["start"]; ok {
		start, _ = p.timestamp(field(path, "start"), v)
	}
	if v, ok := m["end"]; ok {
		end, _ = p.timestamp(field(path, "end"), v)
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		p.add(field(path, "end"), "must be after start")
	}
	pr.start, pr.end = start.UnixNano(), end.UnixNano()
	if v, ok := m["from"]; ok {
		pr.from, _ = p.percent(field(path, "from"), v)
	}
	if v, ok := m["to"]; ok {
		pr.to, _ = p.percent(field(path, "to"), v)
	}
	return pr
}

func (p *parser) prereqs(path string, f *cflag, v any) {
	list, ok := v.([]any)
	if !ok {
		p.add(path, "must be a list, not %s", jsonKind(v))
		return
	}
	for i, pv := range list {
		pp := index(path, i)
		m, ok := p.object(pp, pv, "flag", "variants")
		if !ok {
			continue
		}
		pr := cprereq{idx: -1}
		fv, ok := m["flag"]
		if !ok {
			p.add(field(pp, "flag"), "is required")
			continue
		}
		if pr.key, ok = p.nonEmpty(field(pp, "flag"), fv); !ok {
			continue
		}
		if vv, ok := m["variants"]; ok {
			names, isList := vv.([]any)
			if !isList || len(names) == 0 {
				p.add(field(pp, "variants"), "must be a non-empty list of variant names")
				continue
			}
			for k, nv := range names {
				if s, ok := p.nonEmpty(index(field(pp, "variants"), k), nv); ok {
					pr.names = append(pr.names, s)
				}
			}
		}
		f.prereqs = append(f.prereqs, pr)
	}
}

// Operators, spelled in documents as the names in opNames.
type op uint8

const (
	opEq op = iota + 1
	opNe
	opIn
	opNotIn
	opPrefix
	opSuffix
	opContains
	opLt
	opLe
	opGt
	opGe
	opSemverEq
	opSemverLt
	opSemverLe
	opSemverGt
	opSemverGe
	opBefore
	opAfter
)

var opNames = map[string]op{
	"eq": opEq, "ne": opNe, "in": opIn, "notIn": opNotIn,
	"prefix": opPrefix, "suffix": opSuffix, "contains": opContains,
	"lt": opLt, "le": opLe, "gt": opGt, "ge": opGe,
	"semverEq": opSemverEq, "semverLt": opSemverLt, "semverLe": opSemverLe, "semverGt": opSemverGt, "semverGe": opSemverGe,
	"before": opBefore, "after": opAfter,
}

// NowAttr is the pseudo-attribute that the before and after operators read
// as the current time of the client's clock, for scheduled switches.
const NowAttr = "$now"

func (p *parser) condition(path string, v any) (ccond, bool) {
	var c ccond
	m, ok := p.object(path, v, "attr", "op", "value", "values")
	if !ok {
		return c, false
	}
	before := len(p.problems)
	if av, ok := m["attr"]; !ok {
		p.add(field(path, "attr"), "is required")
	} else {
		c.attr, _ = p.nonEmpty(field(path, "attr"), av)
	}
	if ov, ok := m["op"]; !ok {
		p.add(field(path, "op"), "is required")
	} else if s, ok := p.str(field(path, "op"), ov); ok {
		if c.op = opNames[s]; c.op == 0 {
			p.add(field(path, "op"), "unknown operator %q (known: %s)", s, strings.Join(sortedKeys(opNames), ", "))
		}
	}
	one, hasOne := m["value"]
	many, hasMany := m["values"]
	var vals []any
	var vpath string
	switch {
	case hasOne && hasMany:
		p.add(path, "has both value and values: give one")
	case hasOne:
		vals, vpath = []any{one}, field(path, "value")
	case hasMany:
		list, ok := many.([]any)
		if !ok || len(list) == 0 {
			p.add(field(path, "values"), "must be a non-empty list")
		}
		vals, vpath = list, field(path, "values")
	default:
		p.add(path, "needs a value or values")
	}
	c.now = c.attr == NowAttr
	if c.now && c.op != opBefore && c.op != opAfter && c.op != 0 {
		p.add(field(path, "attr"), "%s can only be used with before and after", NowAttr)
	}
	if len(p.problems) > before || c.op == 0 {
		return c, false
	}
	vp := func(i int) string {
		if hasMany {
			return index(vpath, i)
		}
		return vpath
	}
	switch c.op {
	case opEq, opNe, opIn, opNotIn:
		for i, x := range vals {
			switch x := x.(type) {
			case string:
				c.strs = append(c.strs, x)
			case bool:
				c.bools = append(c.bools, x)
			case json.Number:
				f, err := x.Float64()
				if err != nil {
					p.add(vp(i), "number out of range")
				}
				c.nums = append(c.nums, f)
			default:
				p.add(vp(i), "must be a string, number or boolean, not %s", jsonKind(x))
			}
		}
		if len(c.strs) > 8 {
			c.set = make(map[string]struct{}, len(c.strs))
			for _, s := range c.strs {
				c.set[s] = struct{}{}
			}
		}
	case opPrefix, opSuffix, opContains:
		for i, x := range vals {
			if s, ok := p.str(vp(i), x); ok {
				c.strs = append(c.strs, s)
			}
		}
	default:
		if len(vals) != 1 {
			p.add(vpath, "this operator takes exactly one value")
			break
		}
		switch c.op {
		case opLt, opLe, opGt, opGe:
			n, ok := vals[0].(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				p.add(vp(0), "must be a number")
			}
			c.num = f
		case opBefore, opAfter:
			c.t, _ = p.timestamp(vp(0), vals[0])
		default:
			s, ok := p.str(vp(0), vals[0])
			if ok {
				if c.sv, ok = parseSemver(s); !ok {
					p.add(vp(0), "%q is not a semantic version such as 1.4.0 or 2.0.0-rc.1", s)
				}
			}
		}
	}
	return c, len(p.problems) == before
}
