// Package fieldmask provides field selection for JSON APIs: a client names the
// fields it needs (GET /users/7?fields=id,name,profile{avatar}&include=posts), the
// server checks the mask against the Go type of the response, uses it to decide
// what to load, and encodes only the selected fields with a compiled encoder that
// is faster than encoding the whole value.
//
// The recommended way:
//
//	codec := fieldmask.MustNew(nil)                          // one per program
//	m, err := fieldmask.FromRequest(r, &fieldmask.RequestOptions{
//		Codec: codec, Type: reflect.TypeFor[User](),
//	})
//	if fieldmask.WriteError(w, err) { return }              // 400 listing every bad path
//	if m.Has("posts") { u.Posts = loadPosts(ctx, id, m.Sub("posts")) }
//	buf, err = codec.AppendMarshal(buf[:0], &u, m)
//
// # Grammar
//
// Names are the JSON names of the fields, as encoding/json derives them from the
// struct (tags, embedded structs); they are never case-converted.
//
//	mask  = [ list ] ;
//	list  = item { "," item } ;
//	item  = "*" | path ;
//	path  = name [ "." ( "*" | path ) | "{" list "}" ] ;
//	name  = plain | "`" quoted "`" ;
//	plain = ( letter | digit | "_" | "-" | "$" ) { letter | digit | "_" | "-" | "$" } ;
//	quoted = any characters but "`", at least one ;
//
// White space is allowed around commas and braces. "a.b" and "a{b}" are the same;
// "a" and "a{*}" and "a.*" select a wholly. A comma is a union: "*" next to a path
// does not narrow it, so "*,profile.avatar" still selects all of profile (the
// explicit path matters only to reach an opt-in field). Slices, arrays and maps are
// transparent: "posts.title" selects the title of every post and "labels.color" the
// color of every value of a map. The empty mask selects nothing.
//
// Input is bounded by [Limits] (length 2048 bytes, depth 8, 256 paths by default).
// A bad mask is a [*SyntaxError] (byte offset, what was expected, what was found)
// or a [*LimitError]; both match [ErrInvalid].
//
// # Masks
//
// A [Mask] is immutable and has a canonical form ([Mask.String]) that [Parse]
// reads back to an equal mask. [Mask.Has] and [Mask.Sub] let the mask drive
// loading; [Mask.Union] and [Mask.Intersect] combine masks, e.g. to narrow a
// client's mask to what a role may read.
//
// # Validation and policies
//
// [Codec.Validate] (or [Validate]) checks a mask against a Go type: structs,
// embedded structs, pointers, slices, arrays and maps with string, integer or text
// keys; time.Time and types with MarshalJSON or MarshalText are leaves. Every bad
// path is reported at once in a [*ValidationError] with its byte offset, the names
// allowed at that level and a "did you mean" suggestion. Strict by default;
// [ValidateOptions.Lenient] drops bad paths instead.
//
// A [Policy] per type (in [Options.Policies] or as `fieldmask:"..."` struct tags)
// makes fields hidden (never written, never reachable: not by name, "*", a whole
// parent or an include; reported as unknown and never suggested) or opt-in (written
// only when a mask names them explicitly, and, when the policy names a permission,
// only for callers whose [ValidateOptions.Allow] grants it), and gives the default
// mask for requests that name no fields. Policies apply wherever the type occurs,
// at every depth, and follow its fields where an embedding promotes them into
// another struct. The encoder enforces hidden fields whatever the mask, and an
// opt-in field that needs a permission is written only under a mask that
// [Codec.Validate] checked. A type with a MarshalJSON or MarshalText method is
// written by that method, as encoding/json writes it: policies of the fields
// inside it do not apply there.
//
// # Encoding
//
// [Codec.AppendMarshal], [Codec.Marshal] and [Encoder] write the selected fields
// in struct order. The plan of each (type, canonical mask) is compiled once with
// reflection and kept in a cache bounded by [Options.CacheSize]; running it walks
// the value through precomputed offsets and allocates nothing for structs, slices
// and scalars beyond the output buffer. The output follows encoding/json exactly:
// omitempty, omitzero, the string option, MarshalJSON (compacted), MarshalText,
// pointer-receiver methods only on addressable values, []byte as base64, sorted
// map keys, float formatting, and HTML-safe string escaping. With the mask [All]
// and no policies, the bytes equal those of [encoding/json.Marshal]; zero values
// of selected fields are written, not dropped.
//
// There is no package-level Marshal: plans are cached, and a package-level cache
// would be global mutable state shared by every user of the package. Encoding is
// a method of a [Codec], codec.Marshal(&u, m) with one Codec per program (or per
// set of policies), and the Codec also carries the policies and the cache bounds.
//
// # Memory
//
// Masks come from clients, so nothing a client sends grows memory without bound:
// compiled plans, and the masks kept by [Codec.Parse] and [Codec.Validate] so that a
// mask sent again costs a lookup, live in caches of [Options.CacheSize] entries each.
// What a Codec learns per Go type is bounded by the types of the program. A [Codec]
// is safe for concurrent use and starts no goroutines.
package fieldmask
