package paginate

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Options configure a [Paginator]. Sort and Codec are required; every other
// field has a default that its comment states.
type Options struct {
	// Sort is the one order this list is paginated by. Required.
	Sort *Sort
	// Codec seals and opens cursors. Required.
	Codec *Codec

	// DefaultLimit is the page size when the client sends none (or 0).
	// Default 20.
	DefaultLimit int
	// MaxLimit is the largest page size served. Default 100.
	MaxLimit int
	// RejectOverMax makes a limit above MaxLimit an [ErrInvalidLimit] error.
	// By default such a limit is lowered to MaxLimit (the AIP-158 rule).
	RejectOverMax bool

	// LimitParam is the query parameter holding the page size. Default "limit".
	LimitParam string
	// CursorParam is the query parameter holding the cursor. Default "cursor".
	CursorParam string
	// AfterParam and BeforeParam, when set, name two more parameters that
	// hold cursors, for APIs shaped like Stripe's starting_after and
	// ending_before or JSON:API's page[after] and page[before]. A cursor
	// under AfterParam must read forward and one under BeforeParam backward,
	// and a request may carry only one cursor parameter. Page links then use
	// AfterParam for rel="next" and BeforeParam for rel="prev". Default unset.
	AfterParam, BeforeParam string

	// FilterParams names the query parameters that select which rows are in
	// the list (for example "status", "q"). Their values are fingerprinted
	// into every cursor, and a cursor presented with other values is
	// rejected with [ErrCursorMismatch]. Filters that do not come from the
	// query string go in [Binding.Filter].
	//
	// Cursors are bound to the sort and the filters, not to the endpoint:
	// two Paginators with the same Sort, filters and keys accept each
	// other's cursors. Put the list's name in [Binding.Filter] (or use
	// another key) to keep them apart.
	FilterParams []string

	// TTL is how long a cursor stays valid after it is issued, rounded up to
	// a whole second. Default 72h; -1 means cursors never expire. Cursors
	// issued while TTL was -1 are rejected as expired once it is not.
	TTL time.Duration
	// Now returns the current time, for expiry. Default time.Now.
	Now func() time.Time
}

// Binding ties cursors to the caller's context beyond the query string.
type Binding struct {
	// Tenant binds cursors to a tenant, user or other principal: a cursor
	// issued for one tenant is rejected for every other. Empty means
	// unbound.
	Tenant string
	// Filter holds filter values that are not query parameters, such as path
	// parameters ("/orgs/{org}/users"). Order matters.
	Filter []string
}

// Paginator parses page requests for one list endpoint and issues its
// cursors. Create one per endpoint at start-up with [New]; it is safe for
// concurrent use by multiple goroutines.
type Paginator struct {
	o Options
}

// New validates o and returns a Paginator.
func New(o Options) (*Paginator, error) {
	if o.Sort == nil {
		return nil, errors.New("paginate: Options.Sort is required")
	}
	if o.Codec == nil || len(o.Codec.aeads) == 0 {
		return nil, errors.New("paginate: Options.Codec is required (build it with NewCodec)")
	}
	if o.DefaultLimit == 0 {
		o.DefaultLimit = 20
	}
	if o.MaxLimit == 0 {
		o.MaxLimit = 100
	}
	if o.DefaultLimit < 1 || o.MaxLimit < 1 || o.DefaultLimit > o.MaxLimit {
		return nil, fmt.Errorf("paginate: need 1 <= DefaultLimit (%d) <= MaxLimit (%d)", o.DefaultLimit, o.MaxLimit)
	}
	if o.MaxLimit >= 1<<30 {
		return nil, fmt.Errorf("paginate: MaxLimit %d is too large", o.MaxLimit)
	}
	if o.LimitParam == "" {
		o.LimitParam = "limit"
	}
	if o.CursorParam == "" {
		o.CursorParam = "cursor"
	}
	paging := []string{o.LimitParam, o.CursorParam}
	for _, extra := range []string{o.AfterParam, o.BeforeParam} {
		if extra != "" {
			paging = append(paging, extra)
		}
	}
	for i, a := range paging {
		if slices.Contains(paging[i+1:], a) {
			return nil, fmt.Errorf("paginate: two paging parameters are both named %q", a)
		}
	}
	o.FilterParams = slices.Clone(o.FilterParams)
	for _, f := range o.FilterParams {
		if slices.Contains(paging, f) {
			return nil, fmt.Errorf("paginate: FilterParams contains the paging parameter %q", f)
		}
	}
	switch {
	case o.TTL == 0:
		o.TTL = 72 * time.Hour
	case o.TTL < -1:
		return nil, fmt.Errorf("paginate: TTL %v is negative (use -1 for no expiry)", o.TTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Paginator{o: o}, nil
}

// Sort returns the paginator's sort.
func (p *Paginator) Sort() *Sort { return p.o.Sort }

// Direction is the direction a page is read in, relative to the sort.
type Direction uint8

const (
	// Forward reads the rows after the cursor, in sort order.
	Forward Direction = iota
	// Backward reads the rows before the cursor; SQL reads them in reverse
	// sort order and [NewPage] restores the sort order.
	Backward
)

// Request is one parsed page request: the page size and, unless it is the
// first page, the boundary row the page starts after (or ends before). Get
// one from [Paginator.Parse], [Paginator.ParseValues] or
// [Paginator.Request]; the zero Request is not usable. Build
// the query with [Request.Where], [Request.OrderBy] and [Request.Limit], then
// turn the rows into a page with [NewPage].
type Request struct {
	// Size is the page size after the default and maximum are applied.
	Size int

	dir       Direction
	inclusive bool    // the boundary row itself belongs to the page
	bound     []value // nil: start of the list (Forward) or end of it (Backward)

	p         *Paginator
	filter    [16]byte
	tenant    [16]byte
	hasTenant bool
}

// Direction returns the direction the page is read in.
func (r *Request) Direction() Direction { return r.dir }

// First reports whether the request has no boundary: the first page, or with
// a cursor from [Request.LastPageCursor], the last.
func (r *Request) First() bool { return r.bound == nil }

// Limit returns the number of rows to fetch: Size+1, so that [NewPage] knows
// whether another page follows without counting.
func (r *Request) Limit() int { return r.Size + 1 }

// Parse reads the page size and cursor from r's query string. See
// [Paginator.ParseValues].
func (p *Paginator) Parse(r *http.Request, b Binding) (*Request, error) {
	return p.ParseValues(r.URL.Query(), b)
}

// ParseValues reads the page size and cursor from q. A missing or zero limit
// means [Options.DefaultLimit]; a limit above [Options.MaxLimit] is lowered
// or rejected; anything else that is not a decimal number ≥ 0 is rejected. A
// cursor is opened and checked against the sort, q's filter parameters, b and
// the clock. Every error it returns is a [*RequestError] (the client's
// fault), so [WriteError] handles all of them.
func (p *Paginator) ParseValues(q url.Values, b Binding) (*Request, error) {
	size, err := p.parseLimit(q[p.o.LimitParam])
	if err != nil {
		return nil, err
	}
	req := p.newRequest(q, b)
	req.Size = size
	param, token, err := p.cursorParam(q)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return req, nil
	}
	if err := req.open(token); err != nil {
		return nil, p.paramErr(err, param)
	}
	if param == p.o.AfterParam && req.dir != Forward || param == p.o.BeforeParam && req.dir != Backward {
		return nil, p.paramErr(cursorErr(ErrCursorMismatch, "this cursor reads the other way; send it as %s", p.otherParam(param)), param)
	}
	return req, nil
}

// cursorParam finds the one cursor parameter in q.
func (p *Paginator) cursorParam(q url.Values) (name, token string, err error) {
	for _, n := range []string{p.o.CursorParam, p.o.AfterParam, p.o.BeforeParam} {
		vals := q[n]
		if n == "" || len(vals) == 0 || len(vals) == 1 && vals[0] == "" {
			continue
		}
		if len(vals) > 1 {
			return "", "", p.paramErr(cursorErr(ErrCursorMalformed, "given %d times", len(vals)), n)
		}
		if name != "" {
			return "", "", p.paramErr(cursorErr(ErrCursorMalformed, "both %s and %s given; send one", name, n), n)
		}
		name, token = n, vals[0]
	}
	return name, token, nil
}

// otherParam names the parameter that takes the cursors name refuses.
func (p *Paginator) otherParam(name string) string {
	other := p.o.AfterParam
	if name == p.o.AfterParam {
		other = p.o.BeforeParam
	}
	if other == "" {
		return p.o.CursorParam
	}
	return other
}

// Request returns a request for a page of the given size (the default when
// 0, subject to the maximum policy) starting at cursor ("" for the first
// page), for callers that do not read an HTTP query string, such as gRPC
// page_token APIs. The values of [Options.FilterParams] are read from filter
// (nil when there are none). Every error it returns is a [*RequestError].
func (p *Paginator) Request(size int, cursor string, filter url.Values, b Binding) (*Request, error) {
	size, err := p.applyLimit(size)
	if err != nil {
		return nil, err
	}
	req := p.newRequest(filter, b)
	req.Size = size
	if cursor != "" {
		if err := req.open(cursor); err != nil {
			return nil, p.paramErr(err, p.o.CursorParam)
		}
	}
	return req, nil
}

func (p *Paginator) paramErr(err error, param string) error {
	var re *RequestError
	if errors.As(err, &re) {
		re.Param = param
	}
	return err
}

func (p *Paginator) parseLimit(vals []string) (int, error) {
	name := p.o.LimitParam
	if len(vals) > 1 {
		return 0, limitErr(name, "%s given %d times", name, len(vals))
	}
	if len(vals) == 0 || vals[0] == "" {
		return p.o.DefaultLimit, nil
	}
	s := vals[0]
	short := s
	if len(short) > 24 {
		short = short[:24] + "…"
	}
	// int64, not int: the package also builds where int has 32 bits.
	var n int64
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < '0' || ch > '9' {
			return 0, limitErr(name, "%s %q is not a whole number >= 0", name, short)
		}
		if n < 1<<40 { // saturate: any larger value is above every MaxLimit
			n = n*10 + int64(ch-'0')
		}
	}
	if n > int64(p.o.MaxLimit) {
		if p.o.RejectOverMax {
			return 0, limitErr(name, "%s %s is above the maximum of %d", name, short, p.o.MaxLimit)
		}
		return p.o.MaxLimit, nil
	}
	return p.applyLimit(int(n))
}

func (p *Paginator) applyLimit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, limitErr(p.o.LimitParam, "%s %d is negative", p.o.LimitParam, n)
	case n == 0:
		return p.o.DefaultLimit, nil
	case n > p.o.MaxLimit:
		if p.o.RejectOverMax {
			return 0, limitErr(p.o.LimitParam, "%s %d is above the maximum of %d", p.o.LimitParam, n, p.o.MaxLimit)
		}
		return p.o.MaxLimit, nil
	}
	return n, nil
}

func (p *Paginator) newRequest(q url.Values, b Binding) *Request {
	r := &Request{p: p}
	var stack [512]byte
	buf := append(stack[:0], "stout/paginate/filter/v1\x00"...)
	put := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	for _, name := range p.o.FilterParams {
		vals := q[name]
		if len(vals) > 1 && !slices.IsSorted(vals) {
			vals = slices.Sorted(slices.Values(vals))
		}
		put(name)
		buf = binary.AppendUvarint(buf, uint64(len(vals)))
		for _, v := range vals {
			put(v)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Filter)))
	for _, f := range b.Filter {
		put(f)
	}
	sum := sha256.Sum256(buf)
	copy(r.filter[:], sum[:])
	if b.Tenant != "" {
		buf = append(buf[:0], "stout/paginate/tenant/v1\x00"...)
		buf = append(buf, b.Tenant...)
		sum := sha256.Sum256(buf)
		copy(r.tenant[:], sum[:])
		r.hasTenant = true
	}
	return r
}

// Cursor payload (sealed by the Codec).
const (
	payloadV1 = 1

	flagBackward  = 1 << 0
	flagInclusive = 1 << 1
	flagOpen      = 1 << 2 // no boundary values: the end of the list
	flagExpiry    = 1 << 3
	flagTenant    = 1 << 4
	flagsKnown    = 1<<5 - 1
)

// seal returns the cursor for reading dir from boundary vs (nil: from the
// end of the list in that direction).
func (r *Request) seal(vs []value, dir Direction, inclusive bool) (string, error) {
	o := &r.p.o
	var flags byte
	if dir == Backward {
		flags |= flagBackward
	}
	if inclusive {
		flags |= flagInclusive
	}
	if vs == nil {
		flags |= flagOpen
	}
	if o.TTL > 0 {
		flags |= flagExpiry
	}
	if r.hasTenant {
		flags |= flagTenant
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, payloadV1, flags)
	buf = append(buf, o.Sort.fp[:]...)
	buf = append(buf, r.filter[:]...)
	if r.hasTenant {
		buf = append(buf, r.tenant[:]...)
	}
	if o.TTL > 0 {
		// Whole seconds, rounded up: a cursor never lives shorter than TTL.
		exp := o.Now().Add(o.TTL)
		sec := exp.Unix()
		if exp.Nanosecond() != 0 {
			sec++
		}
		buf = binary.AppendVarint(buf, sec)
	}
	if vs != nil {
		buf = o.Sort.appendValues(buf, vs)
	}
	tok := o.Codec.seal(buf)
	if len(tok) > maxCursorLen {
		return "", fmt.Errorf("paginate: cursor of %d characters exceeds the %d accepted; sort values (long text?) are too large for a cursor", len(tok), maxCursorLen)
	}
	return tok, nil
}

// open fills r from a sealed cursor.
func (r *Request) open(token string) error {
	o := &r.p.o
	pt, err := o.Codec.open(token)
	if err != nil {
		return err
	}
	if len(pt) < 2+8+16 || pt[0] != payloadV1 || pt[1]&^flagsKnown != 0 {
		return cursorErr(ErrCursorMalformed, "unknown payload layout")
	}
	flags := pt[1]
	pt = pt[2:]
	if [8]byte(pt[:8]) != o.Sort.fp {
		return cursorErr(ErrCursorMismatch, "issued for another sort order")
	}
	pt = pt[8:]
	if [16]byte(pt[:16]) != r.filter {
		return cursorErr(ErrCursorMismatch, "issued for other filter parameters; start again without a cursor")
	}
	pt = pt[16:]
	if flags&flagTenant != 0 {
		if len(pt) < 16 {
			return cursorErr(ErrCursorMalformed, "truncated")
		}
		if !r.hasTenant || [16]byte(pt[:16]) != r.tenant {
			return cursorErr(ErrCursorMismatch, "issued to another principal")
		}
		pt = pt[16:]
	} else if r.hasTenant {
		return cursorErr(ErrCursorMismatch, "issued to another principal")
	}
	if flags&flagExpiry == 0 && o.TTL > 0 {
		// Sealed while cursors did not expire: turning TTL on must not
		// leave such cursors valid forever.
		return cursorErr(ErrCursorExpired, "issued without an expiry; start again without a cursor")
	}
	if flags&flagExpiry != 0 {
		exp, n := binary.Varint(pt)
		if n <= 0 {
			return cursorErr(ErrCursorMalformed, "truncated")
		}
		pt = pt[n:]
		if !o.Now().Before(time.Unix(exp, 0)) {
			return cursorErr(ErrCursorExpired, "start again without a cursor")
		}
	}
	if flags&flagBackward != 0 {
		r.dir = Backward
	}
	r.inclusive = flags&flagInclusive != 0
	if flags&flagOpen != 0 {
		if r.inclusive || r.dir != Backward {
			return cursorErr(ErrCursorMalformed, "unknown payload layout")
		}
	} else {
		vs, rest, err := o.Sort.readValues(pt)
		if err != nil {
			return cursorErr(ErrCursorMalformed, "%v", err)
		}
		r.bound, pt = vs, rest
	}
	if len(pt) != 0 {
		return cursorErr(ErrCursorMalformed, "trailing bytes")
	}
	return nil
}

// Cursor returns a cursor that reads in direction dir from the row with key
// k, excluding that row: a per-row cursor, as Relay edges carry. The cursor
// is bound like the request's own.
func (r *Request) Cursor(k Key, dir Direction) (string, error) {
	var stack [4]value
	var dst []value
	if n := len(r.p.o.Sort.cols); n <= len(stack) {
		dst = stack[:n]
	} else {
		dst = make([]value, n)
	}
	vs, err := r.p.o.Sort.normalizeInto(dst, k)
	if err != nil {
		return "", err
	}
	return r.seal(vs, dir, false)
}

// LastPageCursor returns a cursor for the last page of the list under the
// request's filter and binding: it reads backward from the end.
func (r *Request) LastPageCursor() string {
	tok, _ := r.seal(nil, Backward, false) // no values: always short
	return tok
}
