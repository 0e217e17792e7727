package fieldmask

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromRequest(t *testing.T) {
	t.Parallel()
	c := policyCodec(t)
	admin := ValidateOptions{Allow: func(p string) bool { return p == "admin" }}
	opts := &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount](), Validate: admin}
	tests := []struct {
		query string
		want  string
	}{
		{"", "id,plan,settings"},                // the type's default
		{"fields=", "id,plan,settings"},         // empty is absent
		{"fields=id,email", "email,id"},         // as asked
		{"fields=id&fields=email", "email,id"},  // repeated parameters join
		{"fields=&fields=id&fields=+", "id"},    // blank values are left out
		{"fields=&fields=", "id,plan,settings"}, // all blank is absent
		{"fields=id&include=&include=members", "id,members"},
		{"include=members", "id,members,plan,settings"}, // default plus include
		{"fields=id&include=api_key,members{name}", "api_key,id,members.name"},
		{"fields=*&include=owner.api_key", "*,owner{*,api_key}"},
		{"fields=id,members{name}&include=members", "id,members.name"},        // fields narrow includes
		{"fields=id,owner{id}&include=owner.api_key", "id,owner{api_key,id}"}, // and deeper
		{"fields=id&include=members,members", "id,members"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/a?"+tt.query, nil)
			m, err := FromRequest(r, opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, m.String())
		})
	}

	t.Run("configurable names", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/a?select=id&expand=members&fields=email", nil)
		m, err := FromRequest(r, &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount](), FieldsParam: "select", IncludeParam: "expand"})
		require.NoError(t, err)
		assert.Equal(t, "id,members", m.String())
		r = httptest.NewRequest(http.MethodGet, "/a?fields=id&include=members", nil)
		m, err = FromRequest(r, &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount](), IncludeParam: "-"})
		require.NoError(t, err)
		assert.Equal(t, "id", m.String())
	})

	t.Run("parse only", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/a?fields=x.y&include=z", nil)
		m, err := FromRequest(r, nil)
		require.NoError(t, err)
		assert.Equal(t, "x.y,z", m.String())
		r = httptest.NewRequest(http.MethodGet, "/a", nil)
		m, err = FromRequest(r, nil)
		require.NoError(t, err)
		assert.Equal(t, "*", m.String())
	})

	t.Run("the include cannot reach hidden or forbidden fields", func(t *testing.T) {
		for _, q := range []string{"include=password_hash", "include=api_key", "include=members.token", "include=settings.totp_secret"} {
			r := httptest.NewRequest(http.MethodGet, "/a?"+q, nil)
			_, err := FromRequest(r, &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount]()})
			require.Error(t, err, q)
			assert.ErrorIs(t, err, ErrInvalid)
		}
	})
}

func TestFromRequestErrors(t *testing.T) {
	t.Parallel()
	c := policyCodec(t)
	r := httptest.NewRequest(http.MethodGet, "/a?fields=id,emial,settings.them&include=membrs", nil)
	_, err := FromRequest(r, &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount]()})
	var re *RequestError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Params, 2)
	assert.Equal(t, "fields", re.Params[0].Param)
	assert.Equal(t, "include", re.Params[1].Param)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "fieldmask: parameter fields: unknown field \"emial\" at byte 3 (did you mean \"email\"?); allowed: email, id, members, owner, plan, settings; unknown field \"settings.them\" at byte 18 (did you mean \"theme\"?); allowed: theme; fieldmask: parameter include: unknown field \"membrs\" at byte 0 (did you mean \"members\"?); allowed: email, id, members, owner, plan, settings", err.Error())

	w := httptest.NewRecorder()
	require.True(t, WriteError(w, err))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var body struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Errors []struct {
			Param      string   `json:"param"`
			Path       string   `json:"path"`
			Offset     int      `json:"offset"`
			Reason     string   `json:"reason"`
			Allowed    []string `json:"allowed"`
			Suggestion string   `json:"suggestion"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, 400, body.Status)
	assert.Equal(t, "Invalid field mask", body.Title)
	require.Len(t, body.Errors, 3)
	assert.Equal(t, "fields", body.Errors[0].Param)
	assert.Equal(t, "emial", body.Errors[0].Path)
	assert.Equal(t, 3, body.Errors[0].Offset)
	assert.Equal(t, "email", body.Errors[0].Suggestion)
	assert.Equal(t, []string{"email", "id", "members", "owner", "plan", "settings"}, body.Errors[0].Allowed)
	assert.Equal(t, "settings.them", body.Errors[1].Path)
	assert.Equal(t, "include", body.Errors[2].Param)

	t.Run("syntax and limits", func(t *testing.T) {
		for q, reason := range map[string]string{
			"fields=id,{":              "syntax error",
			"fields=a.b.c.d.e.f.g.h.i": "too long: depth limit",
		} {
			r := httptest.NewRequest(http.MethodGet, "/a?"+q, nil)
			_, err := FromRequest(r, &RequestOptions{Codec: c, Type: reflect.TypeFor[pAccount]()})
			require.Error(t, err)
			w := httptest.NewRecorder()
			require.True(t, WriteError(w, err))
			assert.Equal(t, 400, w.Code)
			assert.Contains(t, w.Body.String(), `"reason":"`+reason)
		}
	})

	t.Run("other errors are left to the caller", func(t *testing.T) {
		w := httptest.NewRecorder()
		assert.False(t, WriteError(w, errors.New("db down")))
		assert.Equal(t, 200, w.Code)
		assert.Zero(t, w.Body.Len())
		// A bare parse error is written too.
		_, err := Parse("a{")
		require.True(t, WriteError(w, err))
		assert.Equal(t, 400, w.Code)
	})
}
