package fieldmask_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"

	"github.com/stout-go/stout/fieldmask"
)

// The composite endpoint GET /users/{id}?fields=...&include=...: one round trip
// instead of four, loading only what the client asked for, never leaking what
// the policy hides.

type Preferences struct {
	Theme    string `json:"theme"`
	Language string `json:"language"`
}

type Activity struct {
	Kind string `json:"kind"`
	At   string `json:"at"`
}

type Account struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"` // hidden by the policy below

	// Related data, loaded and written only when included.
	Profile        *Profile     `json:"profile,omitempty"`
	Preferences    *Preferences `json:"preferences,omitempty"`
	RecentActivity []Activity   `json:"recent-activity,omitempty"`
}

type loader struct{ calls []string }

func (l *loader) account(id int64) *Account {
	l.calls = append(l.calls, "account")
	return &Account{ID: id, Name: "Ada", Email: "ada@example.com", Password: "$2a$10$..."}
}

func (l *loader) profile(int64, fieldmask.Mask) *Profile {
	l.calls = append(l.calls, "profile")
	return &Profile{Avatar: "ada.png", Bio: "math", Phone: "555"}
}

func (l *loader) preferences(int64) *Preferences {
	l.calls = append(l.calls, "preferences")
	return &Preferences{Theme: "dark", Language: "en"}
}

func (l *loader) activity(int64) []Activity {
	l.calls = append(l.calls, "recent-activity")
	return []Activity{{Kind: "login", At: "2026-11-27T09:00:00Z"}}
}

func Example_compositeEndpoint() {
	codec := fieldmask.MustNew(&fieldmask.Options{
		Policies: map[reflect.Type]fieldmask.Policy{
			reflect.TypeFor[Account](): {
				Hidden:  []string{"password"},
				OptIn:   map[string]string{"profile": "", "preferences": "", "recent-activity": ""},
				Default: "id,name",
			},
		},
	})
	db := &loader{}
	handler := func(w http.ResponseWriter, r *http.Request) {
		m, err := fieldmask.FromRequest(r, &fieldmask.RequestOptions{Codec: codec, Type: reflect.TypeFor[Account]()})
		if fieldmask.WriteError(w, err) {
			return
		}
		a := db.account(7)
		if m.Has("profile") {
			a.Profile = db.profile(a.ID, m.Sub("profile")) // the sub-mask goes to the loader
		}
		if m.Has("preferences") {
			a.Preferences = db.preferences(a.ID)
		}
		if m.Has("recent-activity") {
			a.RecentActivity = db.activity(a.ID)
		}
		b, err := codec.Marshal(a, m)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}

	for _, q := range []string{
		"",
		"include=profile,preferences,recent-activity&fields=id,name,profile{avatar}",
		"fields=*",
		"fields=id,password",
	} {
		db.calls = nil
		w := httptest.NewRecorder()
		handler(w, httptest.NewRequest(http.MethodGet, "/users/7?"+q, nil))
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
		fmt.Println("  loaded:", db.calls)
	}
	// Output:
	// 200 {"id":7,"name":"Ada"}
	//   loaded: [account]
	// 200 {"id":7,"name":"Ada","profile":{"avatar":"ada.png"},"preferences":{"theme":"dark","language":"en"},"recent-activity":[{"kind":"login","at":"2026-11-27T09:00:00Z"}]}
	//   loaded: [account profile preferences recent-activity]
	// 200 {"id":7,"name":"Ada","email":"ada@example.com"}
	//   loaded: [account]
	// 400 {"type":"about:blank","title":"Invalid field mask","status":400,"detail":"fieldmask: parameter fields: unknown field \"password\" at byte 3; allowed: email, id, name, preferences, profile, recent-activity","errors":[{"param":"fields","path":"password","offset":3,"reason":"unknown field","allowed":["email","id","name","preferences","profile","recent-activity"]}]}
	//   loaded: []
}
