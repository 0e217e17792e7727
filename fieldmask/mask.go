package fieldmask

import (
	"slices"
	"strings"
	"sync/atomic"
)

// node is one level of a mask. A node is immutable once its Mask is built.
//
// star selects every field at this level wholly; kids are the fields named
// explicitly, each with its own node. A node with star and no kids is a leaf: the
// whole value. Explicit names matter even under star, because opt-in fields are
// selected only when named.
type node struct {
	star bool
	kids []kid // sorted by name, names unique
	pos  int   // byte offset of the name in the parsed input; -1 when built by algebra
}

type kid struct {
	name string
	n    *node
}

func cmpKid(k kid, name string) int { return strings.Compare(k.name, name) }

// get returns the node of the explicit field name, or nil.
func (n *node) get(name string) *node {
	if i, ok := slices.BinarySearchFunc(n.kids, name, cmpKid); ok {
		return n.kids[i].n
	}
	return nil
}

// put sets the node of the field name.
func (n *node) put(name string, k *node) {
	i, ok := slices.BinarySearchFunc(n.kids, name, cmpKid)
	if ok {
		n.kids[i].n = k
		return
	}
	if n.kids == nil {
		n.kids = make([]kid, 0, 4)
	}
	n.kids = slices.Insert(n.kids, i, kid{name, k})
}

func (n *node) leaf() bool  { return n.star && len(n.kids) == 0 }
func (n *node) empty() bool { return !n.star && len(n.kids) == 0 }

// normalize makes every explicit field under a star whole as well (a star selects
// each field wholly, so "*,a.b" selects all of a and names a.b explicitly), and drops
// empty nodes. It returns n.
func normalize(n *node) *node {
	out := n.kids[:0]
	for _, k := range n.kids {
		if n.star {
			k.n.star = true
		}
		normalize(k.n)
		if !k.n.empty() {
			out = append(out, k)
		}
	}
	clear(n.kids[len(out):])
	n.kids = out
	if len(n.kids) == 0 {
		n.kids = nil
	}
	return n
}

func (n *node) clone() *node {
	c := &node{star: n.star, pos: n.pos}
	if n.kids != nil {
		c.kids = make([]kid, len(n.kids))
		for i, k := range n.kids {
			c.kids[i] = kid{k.name, k.n.clone()}
		}
	}
	return c
}

// Mask is a parsed, normalized field mask: a tree of JSON field names. The zero
// Mask is empty and selects nothing. A Mask is immutable and safe for concurrent use
// by multiple goroutines.
//
// A Mask returned by [Codec.Validate] (or [FromRequest] with a type) is bound to
// that type: it contains only paths the caller may see, and [Mask.Has] answers
// exactly what the encoder writes.
type Mask struct {
	r *root
}

type root struct {
	n   *node
	key string // canonical form
	// bound is set by Validate: the type info the mask was checked against; nil
	// for masks that were only parsed.
	bound *boundInfo
	// memo is the plan used last with this mask (a per-mask fast path in front of
	// the codec's bounded cache).
	memo atomic.Pointer[memoPlan]
}

func newMask(n *node) Mask {
	if n == nil || n.empty() {
		return Mask{}
	}
	var b strings.Builder
	b.Grow(64)
	writeList(&b, n)
	return Mask{r: &root{n: n, key: b.String()}}
}

var leafNode = &node{star: true, pos: -1}

// All returns the mask "*": every field, wholly (opt-in fields excepted).
func All() Mask { return newMask(&node{star: true, pos: -1}) }

// IsEmpty reports whether m selects nothing.
func (m Mask) IsEmpty() bool { return m.r == nil }

// String returns the canonical form of m: "*" first, then names in byte order, dot
// paths where a field has one sub-item, braces where it has more, and backquotes
// around names that are not plain. Parse(m.String()) gives back an equal mask.
func (m Mask) String() string {
	if m.r == nil {
		return ""
	}
	return m.r.key
}

func writeName(b *strings.Builder, name string) {
	if plainName(name) {
		b.WriteString(name)
		return
	}
	b.WriteByte('`')
	b.WriteString(name)
	b.WriteByte('`')
}

func writeList(b *strings.Builder, n *node) {
	first := true
	if n.star {
		b.WriteByte('*')
		first = false
	}
	for _, k := range n.kids {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeItem(b, k.name, k.n)
	}
}

func writeItem(b *strings.Builder, name string, k *node) {
	writeName(b, name)
	switch {
	case k.leaf():
	case !k.star && len(k.kids) == 1:
		b.WriteByte('.')
		writeItem(b, k.kids[0].name, k.kids[0].n)
	default:
		b.WriteByte('{')
		writeList(b, k)
		b.WriteByte('}')
	}
}

// Equal reports whether m and o select the same paths (their canonical forms are
// equal).
func (m Mask) Equal(o Mask) bool { return m.String() == o.String() }

// splitPath splits a dot path, honouring backquoted names.
func splitPath(path string) []string {
	var out []string
	for path != "" {
		if path[0] == '`' {
			if j := strings.IndexByte(path[1:], '`'); j >= 0 {
				out = append(out, path[1:1+j])
				path = path[2+j:]
				path = strings.TrimPrefix(path, ".")
				continue
			}
		}
		i := strings.IndexByte(path, '.')
		if i < 0 {
			out = append(out, path)
			break
		}
		out = append(out, path[:i])
		path = path[i+1:]
	}
	return out
}

// Has reports whether m selects the dot path (JSON names, e.g. "profile.avatar"),
// wholly or in part. Use it to decide what to load: if !m.Has("posts") the posts need
// not be fetched. On a mask bound by [Codec.Validate], a path reached through "*"
// counts only if the encoder writes it (hidden and opt-in fields do not); on an
// unbound mask "*" counts for every name.
func (m Mask) Has(path string) bool {
	if m.r == nil {
		return false
	}
	n := m.r.n
	var s *structInfo
	if m.r.bound != nil {
		s = m.r.bound.s
	}
	for _, name := range splitPath(path) {
		var fi *fieldInfo
		if s != nil {
			fi = s.byName[name]
		}
		if k := n.get(name); k != nil {
			n = k
		} else if n.star {
			if s != nil && (fi == nil || fi.hidden || fi.optIn) {
				return false
			}
			n = leafNode
		} else {
			return false
		}
		if fi != nil {
			s = fi.elem
		} else {
			s = nil
		}
	}
	return true
}

// Sub returns the mask below the field name: what to pass to the loader of that
// field. It is empty when m does not select name, and [All] when m selects it
// wholly. A bound mask gives a bound sub-mask.
func (m Mask) Sub(name string) Mask {
	if m.r == nil {
		return Mask{}
	}
	n := m.r.n
	k := n.get(name)
	var b *boundInfo
	if m.r.bound != nil {
		fi := m.r.bound.s.byName[name]
		if fi == nil || fi.hidden || (k == nil && fi.optIn) {
			return Mask{}
		}
		if fi.elem != nil {
			b = &boundInfo{s: fi.elem}
		}
	}
	if k == nil {
		if !n.star {
			return Mask{}
		}
		k = leafNode
	}
	sub := newMask(k.clone())
	if sub.r != nil {
		sub.r.bound = b
	}
	return sub
}

// Paths returns the terminal paths of m in canonical order, as dot paths that
// [Parse] accepts: "*" for a star at the top, "a.*" for a star inside a with other
// names next to it, "a" for a whole field.
func (m Mask) Paths() []string {
	if m.r == nil {
		return nil
	}
	var out []string
	var walk func(prefix string, n *node)
	walk = func(prefix string, n *node) {
		if n.leaf() {
			if prefix == "" {
				out = append(out, "*")
			} else {
				out = append(out, prefix)
			}
			return
		}
		if n.star {
			out = append(out, prefix+"*")
		}
		for _, k := range n.kids {
			var b strings.Builder
			b.WriteString(prefix)
			writeName(&b, k.name)
			b.WriteByte('.')
			p := b.String()
			if k.n.leaf() {
				p = p[:len(p)-1]
				out = append(out, p)
				continue
			}
			walk(p, k.n)
		}
	}
	walk("", m.r.n)
	return out
}

// Union returns the mask selecting what m or o selects. Parse("a,b") equals
// Parse("a").Union(Parse("b")). The result is unbound.
func (m Mask) Union(o Mask) Mask {
	switch {
	case m.r == nil:
		return o.unbound()
	case o.r == nil:
		return m.unbound()
	}
	return newMask(normalize(union(m.r.n, o.r.n)))
}

func (m Mask) unbound() Mask {
	if m.r == nil || m.r.bound == nil {
		return m
	}
	return Mask{r: &root{n: m.r.n, key: m.r.key}}
}

func union(a, b *node) *node {
	out := &node{star: a.star || b.star, pos: a.pos}
	i, j := 0, 0
	for i < len(a.kids) || j < len(b.kids) {
		switch {
		case j == len(b.kids) || i < len(a.kids) && a.kids[i].name < b.kids[j].name:
			out.kids = append(out.kids, kid{a.kids[i].name, a.kids[i].n.clone()})
			i++
		case i == len(a.kids) || b.kids[j].name < a.kids[i].name:
			out.kids = append(out.kids, kid{b.kids[j].name, b.kids[j].n.clone()})
			j++
		default:
			out.kids = append(out.kids, kid{a.kids[i].name, union(a.kids[i].n, b.kids[j].n)})
			i++
			j++
		}
	}
	return out
}

// Intersect returns the mask selecting what both m and o select; a star on one
// side lets through whatever the other side names. Use it to narrow a client's mask
// to what a role may read: m.Intersect(allowed). The result is unbound.
func (m Mask) Intersect(o Mask) Mask {
	if m.r == nil || o.r == nil {
		return Mask{}
	}
	return newMask(normalize(intersect(m.r.n, o.r.n)))
}

func intersect(a, b *node) *node {
	out := &node{star: a.star && b.star, pos: a.pos}
	add := func(name string, k *node) {
		if !k.empty() {
			out.kids = append(out.kids, kid{name, k})
		}
	}
	i, j := 0, 0
	for i < len(a.kids) || j < len(b.kids) {
		switch {
		case j == len(b.kids) || i < len(a.kids) && a.kids[i].name < b.kids[j].name:
			if b.star {
				add(a.kids[i].name, intersect(a.kids[i].n, leafNode))
			}
			i++
		case i == len(a.kids) || b.kids[j].name < a.kids[i].name:
			if a.star {
				add(b.kids[j].name, intersect(leafNode, b.kids[j].n))
			}
			j++
		default:
			add(a.kids[i].name, intersect(a.kids[i].n, b.kids[j].n))
			i++
			j++
		}
	}
	return out
}

// withIncludes adds the paths of inc to m, except that where m already selects
// inside a field that inc selects wholly, m's narrower selection stands: fields
// narrow what includes bring in ("fields=profile{avatar}&include=profile" gives
// profile.avatar). The result is unbound.
func (m Mask) withIncludes(inc Mask) Mask {
	switch {
	case inc.r == nil:
		return m.unbound()
	case m.r == nil:
		return inc.unbound()
	}
	return newMask(normalize(include(m.r.n, inc.r.n)))
}

func include(base, inc *node) *node {
	out := base.clone()
	out.star = base.star || inc.star
	for _, ik := range inc.kids {
		bk := base.get(ik.name)
		switch {
		case bk == nil:
			out.put(ik.name, ik.n.clone())
		case ik.n.leaf():
			// base's selection inside the field stands.
		default:
			out.put(ik.name, include(bk, ik.n))
		}
	}
	return out
}
