package flags

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cflag is a compiled flag. It is immutable once parsed.
type cflag struct {
	key         string
	typ         Type
	on          bool
	variants    []cvariant
	defVar      int
	offVar      int
	targets     map[string]int32
	rules       []crule
	rollout     *cserve
	prereqs     []cprereq
	salt        string
	group       string
	bucketBy    string
	rolloutSeed string // bucketGroup, else salt, else key
	variantSeed string // salt, else key
	rolloutPfx  string // seedPrefix(rolloutSeed)
	variantPfx  string // seedPrefix(variantSeed)
	static      bool
	json        []byte // canonical JSON of the definition, for diffs
}

func (f *cflag) variantIndex(name string) int {
	for i := range f.variants {
		if f.variants[i].name == name {
			return i
		}
	}
	return -1
}

func (f *cflag) variantNames() []string {
	names := make([]string, len(f.variants))
	for i := range f.variants {
		names[i] = f.variants[i].name
	}
	return names
}

type cvariant struct {
	name     string
	b        bool
	s        string
	i        int64
	f        float64
	raw      json.RawMessage
	boxed    any       // bool, string, int64, float64 or json.RawMessage
	boxedInt any       // int, for int flags
	decoded  *sync.Map // reflect.Type → decoded value or marker, for Value
}

type crule struct {
	id    string
	when  []ccond
	serve cserve
}

type cweight struct {
	cum     uint64
	variant int
}

type cserve struct {
	variant int // -1 when split
	split   []cweight
	total   uint64
	bp      uint32 // gate in basis points; Buckets = everyone
	prog    *cprog
}

type cprog struct {
	start, end int64 // unix nanoseconds
	from, to   uint32
}

type cprereq struct {
	key      string
	names    []string
	idx      int
	variants []int
}

type ccond struct {
	attr  string
	now   bool // attr is NowAttr
	op    op
	strs  []string
	set   map[string]struct{}
	nums  []float64
	bools []bool
	num   float64
	sv    semver
	t     time.Time
}

// sflag is a flag of a snapshot: the compiled flag plus the client's
// counters for it.
type sflag struct {
	*cflag
	hits []*counter // per variant
}

// snapshot is what evaluation reads: immutable, swapped atomically.
type snapshot struct {
	doc     *Document
	list    []sflag
	index   map[string]*sflag
	version int64
}

// evaluator carries what one evaluation needs besides the snapshot.
type evaluator struct {
	s   *snapshot
	now func() time.Time
}

// eval returns the index of the variant to serve, the reason and the rule ID.
func (e *evaluator) eval(f *cflag, subj *Subject) (int, Reason, string) {
	if !f.on {
		return f.offVar, ReasonDisabled, ""
	}
	for i := range f.prereqs {
		if !e.prereqHolds(&f.prereqs[i], subj) {
			return f.offVar, ReasonPrerequisiteFailed, ""
		}
	}
	if f.static {
		return f.defVar, ReasonStatic, ""
	}
	if f.targets != nil && subj.Key != "" {
		if vi, ok := f.targets[subj.Key]; ok {
			return int(vi), ReasonTarget, ""
		}
	}
	for i := range f.rules {
		r := &f.rules[i]
		if e.matchAll(r.when, subj) {
			if vi, ok := e.serve(f, &r.serve, subj); ok {
				return vi, ReasonRule, r.id
			}
		}
	}
	if f.rollout != nil {
		if vi, ok := e.serve(f, f.rollout, subj); ok {
			return vi, ReasonRollout, ""
		}
	}
	return f.defVar, ReasonDefault, ""
}

func (e *evaluator) prereqHolds(pr *cprereq, subj *Subject) bool {
	pf := e.s.list[pr.idx].cflag
	vi, reason, _ := e.eval(pf, subj)
	if pr.variants != nil {
		for _, want := range pr.variants {
			if want == vi {
				return true
			}
		}
		return false
	}
	if reason == ReasonDisabled || reason == ReasonPrerequisiteFailed {
		return false
	}
	return pf.typ != TypeBool || pf.variants[vi].b
}

// bucketValue returns the value a flag buckets a subject by, or "" if the
// subject has none.
func bucketValue(f *cflag, subj *Subject) string {
	if f.bucketBy == "" {
		return subj.Key
	}
	s, _ := subj.Attrs[f.bucketBy].(string)
	return s
}

// serve applies a serve clause: ok is false when the subject is outside its
// percentage or has no value to bucket by.
func (e *evaluator) serve(f *cflag, sv *cserve, subj *Subject) (int, bool) {
	bp := sv.bp
	if sv.prog != nil {
		bp = sv.prog.at(e.now().UnixNano())
	}
	if bp >= Buckets && sv.variant >= 0 {
		return sv.variant, true
	}
	if bp == 0 {
		return 0, false
	}
	v := bucketValue(f, subj)
	if v == "" {
		return 0, false
	}
	if bp < Buckets && scale(prefixedHash(rolloutSeed, f.rolloutPfx, v), Buckets) >= uint64(bp) {
		return 0, false
	}
	if sv.variant >= 0 {
		return sv.variant, true
	}
	return pickVariant(sv, prefixedHash(variantSeed, f.variantPfx, v)), true
}

func pickVariant(sv *cserve, h uint64) int {
	x := scale(h, sv.total)
	for _, w := range sv.split {
		if x < w.cum {
			return w.variant
		}
	}
	return sv.split[len(sv.split)-1].variant
}

// at returns the rollout percentage, in basis points, at time now: from
// before start, to after end, linear (rounded down) in between.
func (p *cprog) at(now int64) uint32 {
	switch {
	case now <= p.start:
		return p.from
	case now >= p.end:
		return p.to
	}
	frac := float64(now-p.start) / float64(p.end-p.start)
	return uint32(int64(p.from) + int64(math.Floor(frac*(float64(p.to)-float64(p.from)))))
}

func (e *evaluator) matchAll(conds []ccond, subj *Subject) bool {
	for i := range conds {
		c := &conds[i]
		var v any
		if c.now {
			v = e.now()
		} else {
			var ok bool
			if v, ok = subj.Attrs[c.attr]; !ok {
				return false
			}
		}
		if !c.match(v) {
			return false
		}
	}
	return true
}

// match reports whether the condition holds for the attribute value v. A
// value of a type the operator does not understand never matches, whatever
// the operator (ne and notIn included).
func (c *ccond) match(v any) bool {
	switch c.op {
	case opEq, opIn:
		found, known := c.member(v)
		return known && found
	case opNe, opNotIn:
		found, known := c.member(v)
		return known && !found
	case opPrefix, opSuffix, opContains:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, x := range c.strs {
			switch {
			case c.op == opPrefix && strings.HasPrefix(s, x),
				c.op == opSuffix && strings.HasSuffix(s, x),
				c.op == opContains && strings.Contains(s, x):
				return true
			}
		}
		return false
	case opLt, opLe, opGt, opGe:
		f, ok := toNumber(v)
		if !ok {
			return false
		}
		switch c.op {
		case opLt:
			return f < c.num
		case opLe:
			return f <= c.num
		case opGt:
			return f > c.num
		default:
			return f >= c.num
		}
	case opSemverEq, opSemverLt, opSemverLe, opSemverGt, opSemverGe:
		s, ok := v.(string)
		if !ok {
			return false
		}
		sv, ok := parseSemver(s)
		if !ok {
			return false
		}
		cmp := sv.compare(c.sv)
		switch c.op {
		case opSemverEq:
			return cmp == 0
		case opSemverLt:
			return cmp < 0
		case opSemverLe:
			return cmp <= 0
		case opSemverGt:
			return cmp > 0
		default:
			return cmp >= 0
		}
	case opBefore, opAfter:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			var err error
			if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
				return false
			}
		default:
			return false
		}
		if c.op == opBefore {
			return t.Before(c.t)
		}
		return t.After(c.t)
	}
	return false
}

// member reports whether v equals one of the condition's values (for a
// []string, whether any element does); known is false when the condition
// has no value of v's kind.
func (c *ccond) member(v any) (found, known bool) {
	switch x := v.(type) {
	case string:
		return c.hasString(x), len(c.strs) > 0
	case []string:
		for _, e := range x {
			if c.hasString(e) {
				return true, true
			}
		}
		return false, len(c.strs) > 0
	case bool:
		for _, b := range c.bools {
			if b == x {
				return true, true
			}
		}
		return false, len(c.bools) > 0
	}
	f, ok := toNumber(v)
	if !ok || len(c.nums) == 0 {
		return false, false
	}
	for _, n := range c.nums {
		if n == f {
			return true, true
		}
	}
	return false, true
}

// toNumber converts Go numbers and json.Number to float64. Strings are not
// numbers: a string attribute never matches a numeric operator. NaN is not
// a number either, so that it is neither equal to nor different from
// anything.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	case float64:
		return x, !math.IsNaN(x)
	case json.Number:
		if !looksNumeric(string(x)) {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	return 0, false
}

func (c *ccond) hasString(x string) bool {
	if c.set != nil {
		_, ok := c.set[x]
		return ok
	}
	for _, s := range c.strs {
		if s == x {
			return true
		}
	}
	return false
}

func looksNumeric(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// semver is a parsed semantic version; build metadata is dropped.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver parses MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] with an
// optional leading "v"; missing parts are 0. It does not allocate.
func parseSemver(s string) (semver, bool) {
	var v semver
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	// Numeric core: up to three dot-separated numbers, scanned once.
	var nums [3]uint64
	part, digits, i := 0, 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if digits > 0 && nums[part] == 0 || digits >= 18 {
				return v, false // leading zero or too long
			}
			nums[part] = nums[part]*10 + uint64(c-'0')
			digits++
			continue
		}
		if digits == 0 {
			return v, false
		}
		if c != '.' {
			break
		}
		if part == 2 {
			return v, false
		}
		part++
		digits = 0
	}
	if digits == 0 {
		return v, false
	}
	v.major, v.minor, v.patch = nums[0], nums[1], nums[2]
	s = s[i:]
	if s == "" {
		return v, true
	}
	build := ""
	if j := strings.IndexByte(s, '+'); j >= 0 {
		s, build = s[:j], s[j+1:]
		if !validIdents(build, false) {
			return v, false
		}
	}
	if s == "" {
		return v, true
	}
	if s[0] != '-' || !validIdents(s[1:], true) {
		return v, false
	}
	v.pre = s[1:]
	return v, true
}

// validIdents checks dot-separated [0-9A-Za-z-] identifiers; numeric
// prerelease identifiers must not have leading zeros.
func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for {
		end := strings.IndexByte(s, '.')
		if end < 0 {
			end = len(s)
		}
		id := s[:end]
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && len(id) > 1 && id[0] == '0' {
			return false
		}
		if end == len(s) {
			return true
		}
		s = s[end+1:]
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare orders versions by semver 2.0 precedence.
func (a semver) compare(b semver) int {
	if c := cmpUint(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpUint(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpUint(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for {
		if x == "" || y == "" {
			return cmpUint(uint64(len(x)), uint64(len(y)))
		}
		var ix, iy string
		ix, x = cutDot(x)
		iy, y = cutDot(y)
		if c := compareIdent(ix, iy); c != 0 {
			return c
		}
	}
}

func cutDot(s string) (head, rest string) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func compareIdent(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		if len(a) != len(b) {
			return cmpUint(uint64(len(a)), uint64(len(b)))
		}
		return strings.Compare(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
