package fieldmask

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// ValidateOptions configure [Codec.Validate]. A nil *ValidateOptions is strict and
// grants no permissions.
type ValidateOptions struct {
	// Lenient drops paths that do not exist (or that the caller may not see)
	// instead of failing, as AIP-161 allows for read masks. Default: strict.
	Lenient bool
	// Allow reports whether the caller holds a permission named in a
	// [Policy.OptIn] or an `optin=PERMISSION` tag. Nil grants none; opt-in fields
	// without a permission need no grant, only an explicit ask.
	Allow func(permission string) bool
}

// PathError is one bad path of a mask.
type PathError struct {
	// Path is the dot path as far as it was valid plus the bad name, e.g.
	// "profile.avatr".
	Path string
	// Offset is the byte position of the bad name in the parsed input, -1 when
	// the mask was not parsed from text.
	Offset int
	// Reason is "unknown field" or "has no fields".
	Reason string
	// Allowed lists the names the caller may use at that level, sorted.
	Allowed []string
	// Suggestion is the allowed name closest to the bad one, if one is close.
	Suggestion string
}

// String describes the bad path, its offset, the suggestion and the allowed
// names.
func (e PathError) String() string {
	var b strings.Builder
	if e.Reason == reasonNoFields {
		fmt.Fprintf(&b, "%q has no fields to select", e.Path)
	} else {
		fmt.Fprintf(&b, "%s %q", e.Reason, e.Path)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at byte %d", e.Offset)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", e.Suggestion)
	}
	if e.Reason != reasonNoFields {
		const maxListed = 20
		b.WriteString("; allowed: ")
		if len(e.Allowed) == 0 {
			b.WriteString("none")
		}
		for i, a := range e.Allowed {
			if i == maxListed {
				fmt.Fprintf(&b, ", … (%d more)", len(e.Allowed)-maxListed)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a)
		}
	}
	return b.String()
}

const (
	reasonUnknown  = "unknown field"
	reasonNoFields = "has no fields"
)

// ValidationError lists every bad path of a mask at once, in input order.
type ValidationError struct {
	Type   string // the Go type the mask was checked against
	Errors []PathError
}

// Error lists every bad path.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("fieldmask: ")
	for i, pe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(pe.String())
	}
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate checks m against the JSON fields of values of type T; see
// [Codec.Validate].
func Validate[T any](c *Codec, m Mask, o *ValidateOptions) (Mask, error) {
	return c.Validate(reflect.TypeFor[T](), m, o)
}

// Validate checks m against the JSON fields of values of type t (a struct, or
// pointers, slices, arrays or maps of one: a mask applies to each element) and
// the policies of every type on the way. It reports every bad path at once in a
// [*ValidationError]: names that do not exist, that are hidden, or that are
// opt-in with a permission the caller lacks are all "unknown field" (the error
// never reveals a field the caller may not see, and suggestions come only from
// the names the caller may use), and names below a field that has no fields.
//
// The returned mask is m without what the caller may not see, bound to t: use it
// for [Mask.Has], [Mask.Sub] and encoding. In lenient mode the bad paths are
// dropped instead of reported.
func (c *Codec) Validate(t reflect.Type, m Mask, o *ValidateOptions) (Mask, error) {
	if o == nil {
		o = &ValidateOptions{}
	}
	s, err := c.rootInfo(t)
	if err != nil {
		return Mask{}, err
	}
	if s != nil && !m.IsEmpty() {
		// Results that did not depend on the caller's permissions are kept.
		k := validKey{t: s.t, mask: m.r.key, lenient: o.Lenient}
		if out, ok := c.validated.GetIfPresent(k); ok {
			return out, nil
		}
		out, usedAllow, err := validateMask(s, m, o)
		if err == nil && !usedAllow {
			c.validated.Set(k, out)
		}
		return out, err
	}
	if s == nil {
		if m.IsEmpty() || m.r.n.leaf() {
			return m.unbound(), nil
		}
		ve := &ValidationError{Type: t.String()}
		for _, k := range m.r.n.kids {
			ve.Errors = append(ve.Errors, PathError{Path: joinPath(nil, k.name), Offset: k.n.pos, Reason: reasonNoFields})
		}
		if o.Lenient {
			return All().unbound(), nil
		}
		return Mask{}, ve
	}
	return validate(s, m, o)
}

func validate(s *structInfo, m Mask, o *ValidateOptions) (Mask, error) {
	out, _, err := validateMask(s, m, o)
	return out, err
}

// validateMask also reports whether the result depended on o.Allow.
func validateMask(s *structInfo, m Mask, o *ValidateOptions) (Mask, bool, error) {
	if m.IsEmpty() {
		return Mask{}, false, nil
	}
	ck := &checker{o: o}
	n := ck.node(s, m.r.n, nil)
	if len(ck.errs) > 0 && !o.Lenient {
		slices.SortStableFunc(ck.errs, func(a, b PathError) int {
			if a.Offset != b.Offset {
				return a.Offset - b.Offset
			}
			return strings.Compare(a.Path, b.Path)
		})
		return Mask{}, ck.usedAllow, &ValidationError{Type: s.t.String(), Errors: ck.errs}
	}
	out := newMask(normalize(n))
	if out.r != nil {
		out.r.bound = &boundInfo{s: s}
	}
	return out, ck.usedAllow, nil
}

type checker struct {
	o         *ValidateOptions
	errs      []PathError
	usedAllow bool // whether o.Allow was consulted
}

func (ck *checker) visible(f *fieldInfo) bool {
	if f == nil || f.hidden {
		return false
	}
	if f.optIn && f.perm != "" {
		ck.usedAllow = true
		return ck.o.Allow != nil && ck.o.Allow(f.perm)
	}
	return true
}

func joinPath(stack []string, name string) string {
	var b strings.Builder
	for _, s := range stack {
		writeName(&b, s)
		b.WriteByte('.')
	}
	writeName(&b, name)
	return b.String()
}

func (ck *checker) node(s *structInfo, n *node, stack []string) *node {
	out := &node{star: n.star, pos: n.pos}
	for _, kd := range n.kids {
		name, k := kd.name, kd.n
		f := s.byName[name]
		if !ck.visible(f) {
			allowed := allowedNames(s, ck.o)
			ck.errs = append(ck.errs, PathError{
				Path: joinPath(stack, name), Offset: k.pos, Reason: reasonUnknown,
				Allowed: allowed, Suggestion: suggest(name, allowed),
			})
			continue
		}
		var sub *node
		switch {
		case k.leaf():
			sub = &node{star: true, pos: k.pos}
		case f.elem == nil:
			path := joinPath(stack, name)
			for _, kk := range k.kids {
				ck.errs = append(ck.errs, PathError{Path: path + "." + joinPath(nil, kk.name), Offset: kk.n.pos, Reason: reasonNoFields})
			}
			if !k.star {
				continue
			}
			sub = &node{star: true, pos: k.pos}
		default:
			sub = ck.node(f.elem, k, append(stack, name))
			if sub.empty() {
				continue
			}
		}
		if out.kids == nil {
			out.kids = make([]kid, 0, len(n.kids))
		}
		out.kids = append(out.kids, kid{name, sub})
	}
	return out
}

// suggest returns the allowed name closest to name, or "" when none is close: a
// case-insensitive match first, else the smallest edit distance within a third of
// the length (at least 1, at most 3).
func suggest(name string, allowed []string) string {
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return a
		}
	}
	limit := min(max(utf8.RuneCountInString(name)/3, 1), 3)
	best, bestD := "", limit+1
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(name), strings.ToLower(a), limit); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b (a
// transposition counts as one edit), or limit+1 when it exceeds limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func visible(f *fieldInfo, o *ValidateOptions) bool {
	if f == nil || f.hidden {
		return false
	}
	if f.optIn && f.perm != "" {
		return o.Allow != nil && o.Allow(f.perm)
	}
	return true
}

func allowedNames(s *structInfo, o *ValidateOptions) []string {
	var out []string
	for _, f := range s.fields {
		if visible(f, o) {
			out = append(out, f.name)
		}
	}
	slices.Sort(out)
	return out
}
