package fieldmask

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	timeType          = reflect.TypeFor[time.Time]()
	numberType        = reflect.TypeFor[json.Number]()
)

// structInfo is what the package knows about one struct type: its JSON fields in
// encoding/json order, with the policy applied. Built once per type by a Codec.
type structInfo struct {
	t      reflect.Type
	fields []*fieldInfo
	byName map[string]*fieldInfo
	dflt   Mask // Policy.Default, validated; empty when none
}

// fieldInfo is one JSON field of a struct, resolved by the encoding/json rules
// (embedded structs, dominant names, tags).
type fieldInfo struct {
	name      string
	index     []int
	typ       reflect.Type // the Go type of the field
	omitEmpty bool
	omitZero  bool
	quoted    bool
	hidden    bool
	optIn     bool
	perm      string      // permission an opt-in field needs; "" = any caller who asks
	elem      *structInfo // the struct below (through pointers, slices, arrays, maps); nil for leaves
	order     int         // position in fields
}

// boundInfo records the type a mask was validated against.
type boundInfo struct {
	s *structInfo
}

// isLeafType reports whether t is encoded as one value that masks cannot look into:
// time.Time and types with MarshalJSON or MarshalText (on the value or pointer).
func isLeafType(t reflect.Type) bool {
	if t == timeType || t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return true
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		p := reflect.PointerTo(t)
		return p.Implements(marshalerType) || p.Implements(textMarshalerType)
	}
	return false
}

// elemStruct returns the struct type a mask below a value of type t applies to,
// following pointers, slices, arrays and maps; nil when there is none.
func elemStruct(t reflect.Type) reflect.Type {
	for i := 0; i < 64; i++ {
		if isLeafType(t) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			t = t.Elem()
		case reflect.Map:
			if !mapKeyOK(t.Key()) {
				return nil
			}
			t = t.Elem()
		case reflect.Struct:
			return t
		default:
			return nil
		}
	}
	return nil
}

// mapKeyOK reports whether encoding/json can encode maps with keys of type k.
func mapKeyOK(k reflect.Type) bool {
	switch k.Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return k.Implements(textMarshalerType)
}

type tagOpts string

func (o tagOpts) has(opt string) bool {
	for o != "" {
		name, rest, _ := strings.Cut(string(o), ",")
		if name == opt {
			return true
		}
		o = tagOpts(rest)
	}
	return false
}

// validTagName is encoding/json's rule for a usable name in a json tag.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

type rawField struct {
	fieldInfo
	tagged bool
	policy string // the fieldmask tag
}

// jsonFields lists the JSON fields of struct type t exactly as encoding/json
// resolves them: breadth-first through embedded structs, Go's hiding rules for
// embedded fields, with tagged names promoted, conflicting names dropped.
func jsonFields(t reflect.Type) []rawField {
	type queued struct {
		typ   reflect.Type
		index []int
	}
	var current []queued
	next := []queued{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []rawField
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := make([]int, len(f.index)+1)
				copy(index, f.index)
				index[len(f.index)] = i
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if tagOpts(opts).has("string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					rf := rawField{
						fieldInfo: fieldInfo{
							name:      name,
							index:     index,
							typ:       sf.Type,
							omitEmpty: tagOpts(opts).has("omitempty"),
							omitZero:  tagOpts(opts).has("omitzero"),
							quoted:    quoted,
						},
						tagged: tagged,
						policy: sf.Tag.Get("fieldmask"),
					}
					fields = append(fields, rf)
					if count[f.typ] > 1 {
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, queued{typ: ft, index: index})
				}
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b rawField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		// The first is dominant unless the next one is as shallow and as tagged.
		dom := fields[i : i+advance]
		if len(dom[0].index) == len(dom[1].index) && dom[0].tagged == dom[1].tagged {
			continue
		}
		out = append(out, dom[0])
	}
	fields = out
	slices.SortFunc(fields, func(a, b rawField) int { return slices.Compare(a.index, b.index) })
	return fields
}
