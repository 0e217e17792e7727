package fieldmask

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type vAddress struct {
	Street string `json:"street"`
	City   string `json:"city"`
}

type vBase struct {
	ID      int64     `json:"id"`
	Created time.Time `json:"created"`
}

type vTagged struct {
	Note string `json:"note"`
}

type vOrder struct {
	vBase                     // fields promoted
	*vTagged                  // promoted through a pointer
	Named    vAddress         `json:"named"` // tagged embedded struct: one field
	Customer string           `json:"customer,omitempty"`
	Total    float64          `json:"total,string"`
	Ship     *vAddress        `json:"ship"`
	Lines    []vLine          `json:"lines"`
	Fixed    [2]vLine         `json:"fixed"`
	ByCode   map[string]vLine `json:"by_code"`
	ByNum    map[int]*vLine   `json:"by_num"`
	Raw      json.RawMessage  `json:"raw"`
	Skipped  string           `json:"-"`
	//lint:ignore SA5008 a field named "-" is part of what is tested
	Dash     string `json:"-,"` //nolint:staticcheck // SA5008: a field named "-" is part of what is tested
	Untagged string
	Bytes    []byte        `json:"bytes"`
	Ignored  func()        `json:"-"`
	Internal string        `json:"internal" fieldmask:"hidden"`
	Margin   float64       `json:"margin" fieldmask:"optin=finance"`
	Audit    []string      `json:"audit" fieldmask:"optin"`
	Anything any           `json:"anything"`
	When     *time.Time    `json:"when"`
	Text     valText       `json:"text"`
	Nested   [][]*vAddress `json:"nested"`
	//lint:ignore U1000 unexported fields must be skipped
	unexposed int
}

type vLine struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Price int64  `json:"price"`
	Cost  int64  `json:"cost" fieldmask:"hidden"`
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	for _, in := range []string{
		"", "*", "id", "created", "note", "named", "named.city", "customer,total",
		"ship{street,city}", "lines.sku", "lines{sku,qty}", "fixed.qty", "by_code.sku", "by_num.qty",
		"raw", "-", "Untagged", "bytes", "audit", "anything", "when", "text", "nested.city",
		"lines.*", "ship{*}", "*,audit", "created.*",
	} {
		t.Run(in, func(t *testing.T) {
			m, err := Validate[vOrder](c, MustParse(in), nil)
			require.NoError(t, err)
			assert.Equal(t, MustParse(in).String(), m.String())
			// Through pointers, slices and maps of the type too.
			_, err = c.Validate(reflect.TypeFor[[]*vOrder](), MustParse(in), nil)
			require.NoError(t, err)
			_, err = c.Validate(reflect.TypeFor[map[string]vOrder](), MustParse(in), nil)
			require.NoError(t, err)
		})
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	orderNames := "-, Untagged, anything, audit, by_code, by_num, bytes, created, customer, fixed, id, lines, named, nested, note, raw, ship, text, total, when"
	tests := []struct {
		in   string
		want string
		errs []PathError
	}{
		{
			in:   "custmer",
			want: `fieldmask: unknown field "custmer" at byte 0 (did you mean "customer"?); allowed: ` + orderNames,
		},
		{
			in:   "ID",
			want: `fieldmask: unknown field "ID" at byte 0 (did you mean "id"?); allowed: ` + orderNames,
		},
		{
			in:   "ship.stret",
			want: `fieldmask: unknown field "ship.stret" at byte 5 (did you mean "street"?); allowed: city, street`,
		},
		{
			in:   "lines{sku,qyt,cost}",
			want: `fieldmask: unknown field "lines.qyt" at byte 10 (did you mean "qty"?); allowed: price, qty, sku; unknown field "lines.cost" at byte 14; allowed: price, qty, sku`,
		},
		{
			in:   "internal",
			want: `fieldmask: unknown field "internal" at byte 0; allowed: ` + orderNames,
		},
		{
			in:   "margin",
			want: `fieldmask: unknown field "margin" at byte 0; allowed: ` + orderNames,
		},
		{
			in:   "Skipped,unexposed",
			want: `fieldmask: unknown field "Skipped" at byte 0; allowed: ` + orderNames + `; unknown field "unexposed" at byte 8; allowed: ` + orderNames,
		},
		{
			in:   "customer.x,created{year},raw.a,text.b,anything.c,bytes.d",
			want: `fieldmask: "customer.x" has no fields to select at byte 9; "created.year" has no fields to select at byte 19; "raw.a" has no fields to select at byte 29; "text.b" has no fields to select at byte 36; "anything.c" has no fields to select at byte 47; "bytes.d" has no fields to select at byte 55`,
		},
		{
			in:   "nested.cty,by_num.sku.x",
			want: `fieldmask: unknown field "nested.cty" at byte 7 (did you mean "city"?); allowed: city, street; "by_num.sku.x" has no fields to select at byte 22`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Validate[vOrder](c, MustParse(tt.in), nil)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, "fieldmask.vOrder", ve.Type)
		})
	}
}

func TestValidateErrorFields(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	_, err := Validate[vOrder](c, MustParse("id,ship.cty,lines.prce"), nil)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Errors, 2)
	assert.Equal(t, PathError{
		Path: "ship.cty", Offset: 8, Reason: "unknown field",
		Allowed: []string{"city", "street"}, Suggestion: "city",
	}, ve.Errors[0])
	assert.Equal(t, PathError{
		Path: "lines.prce", Offset: 18, Reason: "unknown field",
		Allowed: []string{"price", "qty", "sku"}, Suggestion: "price",
	}, ve.Errors[1])
}

func TestValidateLenient(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	m, err := Validate[vOrder](c, MustParse("id,nope,ship{city,zip},internal,customer.x,margin"), &ValidateOptions{Lenient: true})
	require.NoError(t, err)
	assert.Equal(t, "id,ship.city", m.String())
	m, err = Validate[vOrder](c, MustParse("nope"), &ValidateOptions{Lenient: true})
	require.NoError(t, err)
	assert.True(t, m.IsEmpty())
}

func TestValidatePermissions(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	finance := &ValidateOptions{Allow: func(p string) bool { return p == "finance" }}
	m, err := Validate[vOrder](c, MustParse("id,margin"), finance)
	require.NoError(t, err)
	assert.Equal(t, "id,margin", m.String())
	assert.True(t, m.Has("margin"))

	// Without the permission the field does not exist for this caller, and it
	// is not suggested.
	_, err = Validate[vOrder](c, MustParse("margn"), nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "margin")
	_, err = Validate[vOrder](c, MustParse("margn"), finance)
	assert.Contains(t, err.Error(), `did you mean "margin"?`)

	// Hidden fields are never suggested, whatever the permissions.
	_, err = Validate[vOrder](c, MustParse("lines.cst"), &ValidateOptions{Allow: func(string) bool { return true }})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "cost")
}

func TestValidateNonStruct(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	m, err := c.Validate(reflect.TypeFor[[]int](), All(), nil)
	require.NoError(t, err)
	assert.Equal(t, "*", m.String())
	_, err = c.Validate(reflect.TypeFor[map[string]string](), MustParse("a"), nil)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "has no fields", ve.Errors[0].Reason)
	_, err = c.Validate(nil, All(), nil)
	require.Error(t, err)
}

func TestValidateRecursive(t *testing.T) {
	t.Parallel()
	type tree struct {
		Name     string  `json:"name"`
		Children []*tree `json:"children"`
		Parent   *tree   `json:"parent" fieldmask:"hidden"`
	}
	c := MustNew(nil)
	deep := "children.children.children.children.name"
	m, err := Validate[tree](c, MustParse(deep), nil)
	require.NoError(t, err)
	assert.True(t, m.Has(deep))
	_, err = Validate[tree](c, MustParse("children.parent"), nil)
	require.Error(t, err)
	v := &tree{Name: "r", Children: []*tree{{Name: "c", Children: []*tree{}}}}
	v.Children[0].Parent = v // a cycle through a hidden field is never followed
	b, err := c.Marshal(v, All())
	require.NoError(t, err)
	assert.Equal(t, `{"name":"r","children":[{"name":"c","children":[]}]}`, string(b))
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 0, editDistance("abc", "abc", 3))
	assert.Equal(t, 1, editDistance("abc", "acb", 3))
	assert.Equal(t, 1, editDistance("abc", "abd", 3))
	assert.Equal(t, 1, editDistance("abc", "ab", 3))
	assert.Equal(t, 2, editDistance("kitten", "sitting", 1))
	assert.Equal(t, "", suggest("zzzzzz", []string{"id", "name"}))
	assert.Equal(t, "name", suggest("nmae", []string{"id", "name"}))
	assert.Equal(t, "", suggest(strings.Repeat("x", 40), []string{strings.Repeat("y", 40)}))
}

// Validation results are cached only when they do not depend on the caller's
// permissions: a cached result must never leak to a caller with fewer grants.
func TestValidateCacheRespectsPermissions(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	finance := &ValidateOptions{Allow: func(p string) bool { return p == "finance" }}
	for range 3 {
		m, err := Validate[vOrder](c, MustParse("id,margin"), finance)
		require.NoError(t, err)
		assert.Equal(t, "id,margin", m.String())
		_, err = Validate[vOrder](c, MustParse("id,margin"), nil)
		require.Error(t, err)
		m, err = Validate[vOrder](c, MustParse("id,margin"), &ValidateOptions{Lenient: true})
		require.NoError(t, err)
		assert.Equal(t, "id", m.String())
		m, err = Validate[vOrder](c, MustParse("*"), nil)
		require.NoError(t, err)
		assert.False(t, m.Has("margin"))
	}
	// The same mask from the parse cache is the same value.
	a, err := c.Parse("id,ship.city")
	require.NoError(t, err)
	b, err := c.Parse("id,ship.city")
	require.NoError(t, err)
	assert.Equal(t, a.r, b.r)
}
