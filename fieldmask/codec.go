package fieldmask

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/maypok86/otter/v2"
)

// DefaultCacheSize is the default bound of each cache of a [Codec].
const DefaultCacheSize = 1024

// Policy says which fields of one struct type a client may see. It is applied
// wherever the type occurs: at the top, nested at any depth, in slices and maps, and
// under includes, and to its fields where an embedding promotes them into another
// struct. The same can be said with struct tags on the fields:
// `fieldmask:"hidden"`, `fieldmask:"optin"` and `fieldmask:"optin=PERMISSION"`;
// on an embedded struct field, such a tag applies to every field it promotes.
type Policy struct {
	// Hidden lists JSON names of fields that are never written and never
	// reachable: not by name, not by "*", not by an include. Validation reports
	// them as unknown, and "did you mean" never suggests them.
	Hidden []string
	// OptIn maps JSON names of fields that are written only when a mask names
	// them explicitly (never through "*" or a whole parent) to the permission a
	// caller needs to ask for them; "" means any caller may ask. A caller holds a
	// permission when [ValidateOptions.Allow] returns true for it.
	OptIn map[string]string
	// Default is the mask (in the package grammar) used for this type when a
	// request names no fields; empty means "*". It is the server's own mask:
	// an opt-in field it names is written for every caller, whatever their
	// permissions.
	Default string
}

// Options configure a [Codec]. The zero value is ready to use.
type Options struct {
	// Policies holds the policy of each struct type that has one, in addition to
	// its `fieldmask` struct tags: a policy can hide fields, make them opt-in or
	// set the permission of an opt-in field, never expose a field a tag hides.
	// Key: reflect.TypeFor[T]().
	Policies map[reflect.Type]Policy
	// CacheSize bounds each of the Codec's caches: compiled (type, mask) plans,
	// parsed masks and validated masks. Masks come from clients, so these caches
	// never grow past it. Default DefaultCacheSize.
	CacheSize int
	// Limits bound the masks parsed by [Codec.Parse] and [FromRequest].
	Limits Limits
}

// Codec validates masks against Go types and encodes values through masks. It keeps
// what it learns about each type, and a bounded cache of compiled plans keyed by
// type and canonical mask. A Codec is safe for concurrent use by multiple goroutines;
// create one per program (or per set of policies) and share it. It starts no
// goroutines and needs no Close.
type Codec struct {
	policies map[reflect.Type]Policy
	limits   Limits

	mu    sync.Mutex // guards infos and whole
	infos map[reflect.Type]*structInfo
	// whole holds compiled encoders of whole values, by type and addressability;
	// bounded by the number of types in the program, not by client input.
	whole map[wholeKey]*encoder
	// dynamic holds the complete entries of whole for non-addressable values,
	// read without the lock by encoders of interface values.
	dynamic sync.Map // reflect.Type → *encoder

	plans *otter.Cache[planKey, *plan]
	// parsed and validated keep recent masks from clients, so that a mask seen
	// before costs a lookup (and keeps its memoized plan).
	parsed    *otter.Cache[string, Mask]
	validated *otter.Cache[validKey, Mask]
}

type validKey struct {
	t       reflect.Type
	mask    string
	lenient bool
}

// New returns a Codec. It fails when a policy names a field its type does not
// have or has a Default that does not parse or validate.
func New(o *Options) (*Codec, error) {
	if o == nil {
		o = &Options{}
	}
	size := o.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	// Maintenance runs on the calling goroutine: the Codec owns no goroutines.
	inline := func(fn func()) { fn() }
	plans, err := otter.New(&otter.Options[planKey, *plan]{MaximumSize: size, Executor: inline})
	if err != nil {
		return nil, fmt.Errorf("fieldmask: %w", err)
	}
	parsed, err := otter.New(&otter.Options[string, Mask]{MaximumSize: size, Executor: inline})
	if err != nil {
		return nil, fmt.Errorf("fieldmask: %w", err)
	}
	validated, err := otter.New(&otter.Options[validKey, Mask]{MaximumSize: size, Executor: inline})
	if err != nil {
		return nil, fmt.Errorf("fieldmask: %w", err)
	}
	c := &Codec{
		policies:  o.Policies,
		limits:    o.Limits,
		infos:     make(map[reflect.Type]*structInfo),
		whole:     make(map[wholeKey]*encoder),
		plans:     plans,
		parsed:    parsed,
		validated: validated,
	}
	for t := range o.Policies {
		if t == nil || t.Kind() != reflect.Struct {
			return nil, fmt.Errorf("fieldmask: policy for %v: not a struct type", t)
		}
		if _, err := c.info(t); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// MustNew is like [New] but panics on error.
func MustNew(o *Options) *Codec {
	c, err := New(o)
	if err != nil {
		panic(err)
	}
	return c
}

// Parse parses s under the Codec's [Options.Limits]. Recently parsed masks are
// kept (up to [Options.CacheSize]), so a mask that clients send again costs a
// lookup.
func (c *Codec) Parse(s string) (Mask, error) {
	if m, ok := c.parsed.GetIfPresent(s); ok {
		return m, nil
	}
	m, err := ParseLimits(s, c.limits)
	if err == nil {
		c.parsed.Set(s, m)
	}
	return m, err
}

// info returns the structInfo of struct type t, building it (and the types it
// reaches) on first use.
func (c *Codec) info(t reflect.Type) (*structInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pending []*structInfo
	return c.infoComplete(t, &pending)
}

// infoComplete is info with c.mu held.
func (c *Codec) infoComplete(t reflect.Type, pending *[]*structInfo) (*structInfo, error) {
	s, err := c.infoLocked(t, pending)
	if err != nil {
		for _, p := range *pending {
			delete(c.infos, p.t)
		}
		return nil, err
	}
	// Defaults are validated once every reachable type is known.
	for _, p := range *pending {
		pol, ok := c.policies[p.t]
		if !ok || strings.TrimSpace(pol.Default) == "" {
			continue
		}
		m, err := ParseLimits(pol.Default, Limits{MaxLength: -1, MaxDepth: -1, MaxPaths: -1})
		if err == nil {
			m, err = validate(p, m, &ValidateOptions{Allow: func(string) bool { return true }})
		}
		if err != nil {
			for _, p := range *pending {
				delete(c.infos, p.t)
			}
			return nil, fmt.Errorf("fieldmask: default mask of %v: %w", p.t, err)
		}
		p.dflt = m
	}
	return s, nil
}

func (c *Codec) infoLocked(t reflect.Type, pending *[]*structInfo) (*structInfo, error) {
	if s := c.infos[t]; s != nil {
		return s, nil
	}
	s := &structInfo{t: t, byName: make(map[string]*fieldInfo)}
	c.infos[t] = s
	*pending = append(*pending, s)
	for i, rf := range jsonFields(t) {
		f := rf.fieldInfo
		f.order = i
		switch tag := rf.policy; {
		case tag == "":
		case tag == "hidden":
			f.hidden = true
		case tag == "optin":
			f.optIn = true
		case strings.HasPrefix(tag, "optin="):
			f.optIn, f.perm = true, strings.TrimPrefix(tag, "optin=")
		default:
			return nil, fmt.Errorf("fieldmask: %v field %q: unknown fieldmask tag %q", t, f.name, tag)
		}
		if err := c.inheritPolicy(t, &f); err != nil {
			return nil, err
		}
		fp := &f
		s.fields = append(s.fields, fp)
		s.byName[f.name] = fp
	}
	if pol, ok := c.policies[t]; ok {
		for _, name := range pol.Hidden {
			f := s.byName[name]
			if f == nil {
				return nil, fmt.Errorf("fieldmask: policy of %v hides %q: no such JSON field", t, name)
			}
			f.hidden = true
		}
		for name, perm := range pol.OptIn {
			f := s.byName[name]
			if f == nil {
				return nil, fmt.Errorf("fieldmask: policy of %v makes %q opt-in: no such JSON field", t, name)
			}
			f.optIn, f.perm = true, perm
		}
	}
	for _, f := range s.fields {
		if et := elemStruct(f.typ); et != nil {
			e, err := c.infoLocked(et, pending)
			if err != nil {
				return nil, err
			}
			f.elem = e
		}
	}
	return s, nil
}

// inheritPolicy applies to a field promoted from embedded structs what those
// structs say of it: the [Policy] of each embedded type on the way (innermost
// first, so that an outer one decides an opt-in permission), and a `fieldmask`
// tag on an embedded field, which applies to every field it promotes. A type's
// own policy, applied after this, decides last. Hidden is never undone.
func (c *Codec) inheritPolicy(t reflect.Type, f *fieldInfo) error {
	type step struct {
		t   reflect.Type
		tag string
	}
	var path []step
	cur := t
	for _, idx := range f.index[:len(f.index)-1] {
		sf := cur.Field(idx)
		cur = sf.Type
		if cur.Kind() == reflect.Pointer {
			cur = cur.Elem()
		}
		path = append(path, step{cur, sf.Tag.Get("fieldmask")})
	}
	hidden := f.hidden
	for _, st := range slices.Backward(path) {
		if pol, ok := c.policies[st.t]; ok {
			hidden = hidden || slices.Contains(pol.Hidden, f.name)
			if perm, ok := pol.OptIn[f.name]; ok {
				f.optIn, f.perm = true, perm
			}
		}
		switch tag := st.tag; {
		case tag == "":
		case tag == "hidden":
			hidden = true
		case tag == "optin":
			f.optIn, f.perm = true, ""
		case strings.HasPrefix(tag, "optin="):
			f.optIn, f.perm = true, strings.TrimPrefix(tag, "optin=")
		default:
			return fmt.Errorf("fieldmask: %v embedded %v: unknown fieldmask tag %q", t, st.t, tag)
		}
	}
	f.hidden = hidden
	return nil
}

// rootInfo returns the struct info a mask on values of type t applies to (through
// pointers, slices, arrays and maps), or nil when t has no fields.
func (c *Codec) rootInfo(t reflect.Type) (*structInfo, error) {
	if t == nil {
		return nil, errors.New("fieldmask: nil type")
	}
	st := elemStruct(t)
	if st == nil {
		return nil, nil
	}
	return c.info(st)
}

// Default returns the default mask of values of type t: its [Policy.Default],
// bound to t, or "*" when it has none.
func (c *Codec) Default(t reflect.Type) (Mask, error) {
	s, err := c.rootInfo(t)
	if err != nil {
		return Mask{}, err
	}
	if s == nil || s.dflt.IsEmpty() {
		m := All()
		if s != nil {
			m.r.bound = &boundInfo{s: s}
		}
		return m, nil
	}
	return s.dflt, nil
}
