package fieldmask

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Types whose policy comes from Options.Policies (no tags).
type pAccount struct {
	ID       string    `json:"id"`
	Email    string    `json:"email"`
	Hash     string    `json:"password_hash"`
	APIKey   string    `json:"api_key"`
	Plan     string    `json:"plan"`
	Owner    *pAccount `json:"owner"`
	Members  []pMember `json:"members"`
	Settings pSettings `json:"settings"`
}

type pMember struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	Phone string `json:"phone"`
}

type pSettings struct {
	Theme string `json:"theme"`
	TOTP  string `json:"totp_secret"`
}

type pEnvelope struct {
	Data    pAccount            `json:"data"`
	Related map[string]pAccount `json:"related"`
	Any     any                 `json:"any"`
}

func policyCodec(t *testing.T) *Codec {
	t.Helper()
	c, err := New(&Options{Policies: map[reflect.Type]Policy{
		reflect.TypeFor[pAccount]():  {Hidden: []string{"password_hash"}, OptIn: map[string]string{"api_key": "admin", "members": ""}, Default: "id,plan,settings"},
		reflect.TypeFor[pMember]():   {Hidden: []string{"token"}, OptIn: map[string]string{"phone": "pii"}},
		reflect.TypeFor[pSettings](): {Hidden: []string{"totp_secret"}},
	}})
	require.NoError(t, err)
	return c
}

func sampleAccount() *pAccount {
	return &pAccount{
		ID: "a1", Email: "e@x", Hash: "HASH", APIKey: "KEY", Plan: "pro",
		Owner:    &pAccount{ID: "o1", Hash: "OWNERHASH", APIKey: "OWNERKEY", Settings: pSettings{TOTP: "OWNERTOTP"}},
		Members:  []pMember{{Name: "m", Token: "TOKEN", Phone: "PHONE"}},
		Settings: pSettings{Theme: "dark", TOTP: "TOTP"},
	}
}

var secrets = []string{"HASH", "TOKEN", "TOTP", "OWNERHASH", "OWNERTOTP"}

// A hidden field cannot be reached by any path, "*", a whole parent or an
// include, at any depth, in slices, maps and interfaces, with any permission.
func TestHiddenUnreachable(t *testing.T) {
	t.Parallel()
	c := policyCodec(t)
	acc := sampleAccount()
	env := &pEnvelope{Data: *acc, Related: map[string]pAccount{"x": *acc}, Any: acc}
	everything := &ValidateOptions{Allow: func(string) bool { return true }}
	masks := []string{
		"*", "password_hash", "owner.password_hash", "members.token", "settings.totp_secret", "settings",
		"owner", "owner{*}", "members{*}", "*,password_hash,members{*,token},settings{*,totp_secret}",
		"`password_hash`", "owner.owner.password_hash", "data,related,any", "data.password_hash",
		"related.password_hash", "data{*,password_hash,members.token}",
	}
	for _, in := range masks {
		for _, v := range []any{acc, env, []*pAccount{acc}, map[string]*pAccount{"k": acc}} {
			// Unvalidated masks.
			b, err := c.Marshal(v, MustParse(in))
			require.NoError(t, err)
			for _, s := range secrets {
				assert.NotContains(t, string(b), s, "mask %q on %T", in, v)
			}
			// Validated masks: lenient drops the hidden paths; strict rejects them.
			m, err := c.Validate(reflect.TypeOf(v), MustParse(in), &ValidateOptions{Lenient: true, Allow: everything.Allow})
			require.NoError(t, err)
			assert.False(t, m.Has("password_hash"))
			assert.False(t, m.Has("members.token"))
			b, err = c.Marshal(v, m)
			require.NoError(t, err)
			for _, s := range secrets {
				assert.NotContains(t, string(b), s, "validated mask %q on %T", in, v)
			}
		}
	}
	// Includes: FromRequest with include=password_hash is a 400, never the field.
	_, err := Validate[pAccount](c, MustParse("password_hash"), everything)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "password_hash; allowed")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.NotContains(t, ve.Errors[0].Allowed, "password_hash")
	assert.Empty(t, ve.Errors[0].Suggestion)
}

func TestOptIn(t *testing.T) {
	t.Parallel()
	c := policyCodec(t)
	acc := sampleAccount()
	admin := &ValidateOptions{Allow: func(p string) bool { return p == "admin" }}
	tests := []struct {
		mask string
		opts *ValidateOptions
		want string
		err  bool
	}{
		{"id", nil, `{"id":"a1"}`, false},
		{"*", admin, `{"id":"a1","email":"e@x","plan":"pro","owner":{"id":"o1","email":"","plan":"","owner":null,"settings":{"theme":""}},"settings":{"theme":"dark"}}`, false},
		{"id,api_key", admin, `{"id":"a1","api_key":"KEY"}`, false},
		{"id,api_key", nil, ``, true}, // no permission: unknown
		{"members", nil, `{"members":[{"name":"m"}]}`, false},
		{"members.phone", nil, ``, true},
		{"members{*,phone}", &ValidateOptions{Allow: func(p string) bool { return p == "pii" }}, `{"members":[{"name":"m","phone":"PHONE"}]}`, false},
		{"owner.api_key", admin, `{"owner":{"api_key":"OWNERKEY"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.mask, func(t *testing.T) {
			m, err := Validate[pAccount](c, MustParse(tt.mask), tt.opts)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			b, err := c.Marshal(acc, m)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
		})
	}
}

func TestDefaultMask(t *testing.T) {
	t.Parallel()
	c := policyCodec(t)
	d, err := c.Default(reflect.TypeFor[[]pAccount]())
	require.NoError(t, err)
	assert.Equal(t, "id,plan,settings", d.String())
	b, err := c.Marshal(sampleAccount(), d)
	require.NoError(t, err)
	assert.Equal(t, `{"id":"a1","plan":"pro","settings":{"theme":"dark"}}`, string(b))
	d, err = c.Default(reflect.TypeFor[pMember]())
	require.NoError(t, err)
	assert.Equal(t, "*", d.String())
	assert.False(t, d.Has("token"))
	assert.False(t, d.Has("phone"))
	assert.True(t, d.Has("name"))

	// A default is the server's mask: an opt-in field it names is written for
	// every caller; a client mask naming the same field is not enough.
	c, err = New(&Options{Policies: map[reflect.Type]Policy{
		reflect.TypeFor[pAccount](): {OptIn: map[string]string{"api_key": "admin"}, Default: "id,api_key"},
	}})
	require.NoError(t, err)
	d, err = c.Default(reflect.TypeFor[pAccount]())
	require.NoError(t, err)
	b, err = c.Marshal(&pAccount{ID: "a", APIKey: "KEY"}, d)
	require.NoError(t, err)
	assert.Equal(t, `{"id":"a","api_key":"KEY"}`, string(b))
	b, err = c.Marshal(&pAccount{ID: "a", APIKey: "KEY"}, MustParse("id,api_key"))
	require.NoError(t, err)
	assert.Equal(t, `{"id":"a"}`, string(b))
}

func TestPolicyErrors(t *testing.T) {
	t.Parallel()
	for name, pol := range map[string]Policy{
		"hidden":  {Hidden: []string{"nope"}},
		"optin":   {OptIn: map[string]string{"nope": ""}},
		"default": {Default: "id,nope"},
		"syntax":  {Default: "id,"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(&Options{Policies: map[reflect.Type]Policy{reflect.TypeFor[pAccount](): pol}})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "fieldmask: "), err.Error())
		})
	}
	_, err := New(&Options{Policies: map[reflect.Type]Policy{reflect.TypeFor[int](): {}}})
	require.Error(t, err)
	type badTag struct {
		A int `fieldmask:"secret"`
	}
	c := MustNew(nil)
	_, err = Validate[badTag](c, All(), nil)
	require.Error(t, err)
	_, err = c.Marshal(badTag{}, All())
	require.Error(t, err)
	assert.Panics(t, func() { MustNew(&Options{Policies: map[reflect.Type]Policy{reflect.TypeFor[int](): {}}}) })
}

// A policy on a type applies where the type is embedded: promoted fields keep it.
func TestPolicyEmbedded(t *testing.T) {
	t.Parallel()
	type secretive struct {
		Public string `json:"public"`
		Secret string `json:"secret" fieldmask:"hidden"`
	}
	type outer struct {
		secretive
		Extra string `json:"extra"`
	}
	c := MustNew(nil)
	b, err := c.Marshal(&outer{secretive{"p", "SECRET"}, "e"}, All())
	require.NoError(t, err)
	assert.Equal(t, `{"public":"p","extra":"e"}`, string(b))
	_, err = Validate[outer](c, MustParse("secret"), nil)
	require.Error(t, err)
}

// Types for TestPolicyEmbeddedOptions: policies from Options.Policies on
// embedded types, and fieldmask tags on embedded fields.
type peCreds struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	Phone    string `json:"phone"`
}

type peInner struct {
	peCreds
	Note string `json:"note"`
}

type peValue struct {
	peCreds
	Name string `json:"name"`
}

type pePointer struct {
	*peCreds
	Name string `json:"name"`
}

type peTwoLevels struct {
	peInner
	Name string `json:"name"`
}

type peTagged struct {
	peCreds `fieldmask:"hidden"`
	Name    string `json:"name"`
}

type peOptInTag struct {
	*peCreds `fieldmask:"optin=staff"`
	Name     string `json:"name"`
}

// A policy from Options.Policies, or a fieldmask tag on an embedded field,
// follows the fields the embedding promotes: by value, by pointer, through two
// levels, in slices, for every mask and with every permission.
func TestPolicyEmbeddedOptions(t *testing.T) {
	t.Parallel()
	c, err := New(&Options{Policies: map[reflect.Type]Policy{
		reflect.TypeFor[peCreds](): {Hidden: []string{"password"}, OptIn: map[string]string{"phone": "pii"}},
	}})
	require.NoError(t, err)
	creds := peCreds{Login: "LOGIN", Password: "PASSWORD", Phone: "PHONE"}
	everything := &ValidateOptions{Allow: func(string) bool { return true }}
	values := []any{
		&peValue{creds, "n"}, &pePointer{&creds, "n"}, &peTwoLevels{peInner{creds, "x"}, "n"},
		[]peValue{{creds, "n"}}, map[string]pePointer{"k": {&creds, "n"}},
	}
	for _, v := range values {
		for _, in := range []string{"*", "password", "login,password", "*,password,phone", "phone"} {
			b, err := c.Marshal(v, MustParse(in))
			require.NoError(t, err)
			assert.NotContains(t, string(b), "PASSWORD", "mask %q on %T", in, v)
			assert.NotContains(t, string(b), "PHONE", "unvalidated mask %q on %T", in, v)
		}
		b, err := c.Marshal(v, All())
		require.NoError(t, err)
		assert.Contains(t, string(b), "LOGIN", "%T", v)

		_, err = c.Validate(reflect.TypeOf(v), MustParse("password"), everything)
		require.Error(t, err, "%T", v)
		_, err = c.Validate(reflect.TypeOf(v), MustParse("phone"), nil)
		require.Error(t, err, "%T: phone needs pii", v)
		m, err := c.Validate(reflect.TypeOf(v), MustParse("login,phone"), everything)
		require.NoError(t, err, "%T", v)
		b, err = c.Marshal(v, m)
		require.NoError(t, err)
		assert.Contains(t, string(b), "PHONE", "%T: pii granted", v)
		assert.NotContains(t, string(b), "PASSWORD", "%T", v)
	}

	// A tag on the embedded field applies to every field it promotes.
	hidden := &peTagged{creds, "n"}
	for _, in := range []string{"*", "login", "login,password,phone"} {
		b, err := c.Marshal(hidden, MustParse(in))
		require.NoError(t, err)
		assert.NotContains(t, string(b), "LOGIN", in)
	}
	b, err := c.Marshal(hidden, All())
	require.NoError(t, err)
	assert.Equal(t, `{"name":"n"}`, string(b))
	_, err = Validate[peTagged](c, MustParse("login"), everything)
	require.Error(t, err)

	staff := &peOptInTag{&creds, "n"}
	b, err = c.Marshal(staff, All())
	require.NoError(t, err)
	assert.Equal(t, `{"name":"n"}`, string(b))
	_, err = Validate[peOptInTag](c, MustParse("login"), nil)
	require.Error(t, err)
	m, err := Validate[peOptInTag](c, MustParse("login,password"), &ValidateOptions{Lenient: true, Allow: func(p string) bool { return p == "staff" }})
	require.NoError(t, err)
	b, err = c.Marshal(staff, m)
	require.NoError(t, err)
	assert.Equal(t, `{"login":"LOGIN"}`, string(b))

	type badEmbedded struct {
		peCreds `fieldmask:"secret"`
	}
	_, err = Validate[badEmbedded](c, All(), nil)
	require.Error(t, err)
}

// Many goroutines share one Codec with tiny caches: parse, validate with and
// without permissions, encode. Run under -race.
func TestCodecConcurrent(t *testing.T) {
	t.Parallel()
	c, err := New(&Options{CacheSize: 4, Policies: map[reflect.Type]Policy{
		reflect.TypeFor[pAccount](): {Hidden: []string{"password_hash"}, OptIn: map[string]string{"api_key": "admin"}},
	}})
	require.NoError(t, err)
	acc := sampleAccount()
	admin := &ValidateOptions{Allow: func(p string) bool { return p == "admin" }}
	masks := []string{"id", "id,api_key", "owner.id", "members.name", "*", "settings", "id,plan", "owner{id,api_key}"}
	done := make(chan struct{})
	for g := range 12 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				in := masks[(g+i)%len(masks)]
				m, err := c.Parse(in)
				if err != nil {
					t.Error(err)
					return
				}
				isAdmin := (g+i)%3 == 0
				opts := &ValidateOptions{}
				if isAdmin {
					opts = admin
				}
				v, err := Validate[pAccount](c, m, opts)
				if strings.Contains(in, "api_key") && !isAdmin {
					if err == nil {
						t.Errorf("%q validated without the permission", in)
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				b, err := c.Marshal(acc, v)
				if err != nil {
					t.Error(err)
					return
				}
				if bytes.Contains(b, []byte("HASH")) || !isAdmin && bytes.Contains(b, []byte("KEY")) {
					t.Errorf("leak in %s", b)
					return
				}
			}
		}()
	}
	for range 12 {
		<-done
	}
}
