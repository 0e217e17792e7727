package fieldmask_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"time"

	"github.com/stout-go/stout/fieldmask"
)

type Profile struct {
	Avatar string `json:"avatar"`
	Bio    string `json:"bio"`
	Phone  string `json:"phone" fieldmask:"optin=pii"`
}

type Post struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

type User struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Email        string    `json:"email,omitempty"`
	Admin        bool      `json:"admin"`
	Created      time.Time `json:"created"`
	Profile      *Profile  `json:"profile,omitempty"`
	Posts        []Post    `json:"posts" fieldmask:"optin"`
	PasswordHash string    `json:"password_hash" fieldmask:"hidden"`
}

func user() *User {
	return &User{
		ID: 7, Name: "Ada", Created: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Profile:      &Profile{Avatar: "ada.png", Bio: "math", Phone: "555"},
		Posts:        []Post{{Title: "Notes", Body: "..."}},
		PasswordHash: "$2a$...",
	}
}

func ExampleParse() {
	m, err := fieldmask.Parse("name, id, profile{bio,avatar}, posts.title")
	if err != nil {
		panic(err)
	}
	fmt.Println(m)
	fmt.Println(m.Paths())
	fmt.Println(m.Has("profile.avatar"), m.Has("profile.phone"))
	fmt.Println(m.Sub("profile"))

	_, err = fieldmask.Parse("id,profile{avatar")
	fmt.Println(err)
	// Output:
	// id,name,posts.title,profile{avatar,bio}
	// [id name posts.title profile.avatar profile.bio]
	// true false
	// avatar,bio
	// fieldmask: syntax error at byte 17: expected "," or "}", found end of input
}

func ExampleCodec_Marshal() {
	codec := fieldmask.MustNew(nil)
	b, err := codec.Marshal(user(), fieldmask.MustParse("id,admin,profile.avatar"))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// "*" is every field but hidden and opt-in ones.
	b, _ = codec.Marshal(user(), fieldmask.All())
	fmt.Println(string(b))
	// Output:
	// {"id":7,"admin":false,"profile":{"avatar":"ada.png"}}
	// {"id":7,"name":"Ada","admin":false,"created":"2025-03-01T12:00:00Z","profile":{"avatar":"ada.png","bio":"math"}}
}

func ExampleCodec_AppendMarshal() {
	codec := fieldmask.MustNew(nil)
	m := fieldmask.MustParse("id,name")
	var buf []byte
	for _, u := range []*User{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}} {
		buf, _ = codec.AppendMarshal(buf[:0], u, m) // no allocation once buf is large enough
		fmt.Println(string(buf))
	}
	// Output:
	// {"id":1,"name":"a"}
	// {"id":2,"name":"b"}
}

func ExampleCodec_Validate() {
	codec := fieldmask.MustNew(nil)
	_, err := codec.Validate(reflect.TypeFor[User](), fieldmask.MustParse("id,nmae,profile{avatr},password_hash"), nil)
	var ve *fieldmask.ValidationError
	if errors.As(err, &ve) {
		for _, pe := range ve.Errors {
			fmt.Printf("%s at %d: %s, suggestion %q\n", pe.Path, pe.Offset, pe.Reason, pe.Suggestion)
		}
	}
	// Opt-in fields with a permission are there only for callers who hold it.
	pii := &fieldmask.ValidateOptions{Allow: func(p string) bool { return p == "pii" }}
	m, err := codec.Validate(reflect.TypeFor[User](), fieldmask.MustParse("profile.phone"), pii)
	fmt.Println(m, err)
	b, _ := codec.Marshal(user(), m)
	fmt.Println(string(b))
	// Output:
	// nmae at 3: unknown field, suggestion "name"
	// profile.avatr at 16: unknown field, suggestion "avatar"
	// password_hash at 23: unknown field, suggestion ""
	// profile.phone <nil>
	// {"profile":{"phone":"555"}}
}

func ExampleFromRequest() {
	codec := fieldmask.MustNew(nil)
	handler := func(w http.ResponseWriter, r *http.Request) {
		m, err := fieldmask.FromRequest(r, &fieldmask.RequestOptions{Codec: codec, Type: reflect.TypeFor[User]()})
		if fieldmask.WriteError(w, err) {
			return
		}
		u := user()
		if !m.Has("posts") {
			u.Posts = nil // the mask drives loading: posts are fetched only when asked
		}
		b, err := codec.Marshal(u, m)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
	for _, q := range []string{"fields=id,name&include=posts.title", "fields=id,nmae"} {
		w := httptest.NewRecorder()
		handler(w, httptest.NewRequest(http.MethodGet, "/users/7?"+q, nil))
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 {"id":7,"name":"Ada","posts":[{"title":"Notes"}]}
	// 400 {"type":"about:blank","title":"Invalid field mask","status":400,"detail":"fieldmask: parameter fields: unknown field \"nmae\" at byte 3 (did you mean \"name\"?); allowed: admin, created, email, id, name, posts, profile","errors":[{"param":"fields","path":"nmae","offset":3,"reason":"unknown field","allowed":["admin","created","email","id","name","posts","profile"],"suggestion":"name"}]}
}

func ExampleMask_Intersect() {
	// What a role may read, whatever the client asks for.
	allowed := fieldmask.MustParse("id,name,profile{avatar}")
	asked := fieldmask.MustParse("name,email,profile")
	fmt.Println(asked.Intersect(allowed))
	fmt.Println(asked.Union(allowed))
	// Output:
	// name,profile.avatar
	// email,id,name,profile{*,avatar}
}
