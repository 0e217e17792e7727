package fieldmask

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
)

// RequestOptions configure [FromRequest]. A nil *RequestOptions parses both
// parameters under the default limits without validating them.
type RequestOptions struct {
	// Codec validates the masks against Type and supplies the limits and default
	// mask. Nil: parse only, default limits.
	Codec *Codec
	// Type is the type of the response value (a struct, or a pointer, slice or
	// map of one). Nil: parse only.
	Type reflect.Type
	// Validate holds the strictness and the caller's permissions.
	Validate ValidateOptions
	// FieldsParam names the query parameter with the field mask. Default "fields".
	FieldsParam string
	// IncludeParam names the query parameter with the includes: paths in the same
	// grammar, added to the fields (or to the default mask). Its usual use is to
	// ask for opt-in fields that hold related data. Where the fields already
	// select inside an included field, that narrower selection stands:
	// fields=id,profile{avatar}&include=profile gives id,profile.avatar.
	// Default "include"; "-" disables it.
	IncludeParam string
}

// ParamError is the error of one query parameter.
type ParamError struct {
	Param string
	Err   error // *SyntaxError, *LimitError or *ValidationError
}

// RequestError is returned by [FromRequest] for bad parameters; it lists each
// bad parameter. It matches [ErrInvalid], and errors.As finds the
// [*SyntaxError], [*LimitError] or [*ValidationError] inside. [WriteError]
// writes it as a 400.
type RequestError struct {
	Params []ParamError
}

// Error lists the errors of each bad parameter.
func (e *RequestError) Error() string {
	var b strings.Builder
	for i, p := range e.Params {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.Replace(p.Err.Error(), "fieldmask: ", "fieldmask: parameter "+p.Param+": ", 1))
	}
	return b.String()
}

// Unwrap returns the errors of the parameters.
func (e *RequestError) Unwrap() []error {
	out := make([]error, len(e.Params))
	for i, p := range e.Params {
		out[i] = p.Err
	}
	return out
}

// FromRequest reads the mask of a request from its query: the `fields`
// parameter, or the type's default mask ([Policy.Default], else "*") when it is
// absent or blank, plus the paths of the `include` parameter. A parameter given
// several times is read as one comma-separated list of its non-blank values.
// With o.Codec and o.Type set, both are validated (every bad path reported,
// offsets relative to the parameter's value, or to that list) and the result is
// bound to the type.
func FromRequest(r *http.Request, o *RequestOptions) (Mask, error) {
	if o == nil {
		o = &RequestOptions{}
	}
	fieldsParam, includeParam := o.FieldsParam, o.IncludeParam
	if fieldsParam == "" {
		fieldsParam = "fields"
	}
	if includeParam == "" {
		includeParam = "include"
	}
	q := r.URL.Query()
	parse := func(s string) (Mask, error) {
		if o.Codec != nil {
			return o.Codec.Parse(s)
		}
		return Parse(s)
	}
	validated := o.Codec != nil && o.Type != nil
	var re RequestError
	read := func(param string) (Mask, bool) {
		s := joinValues(q[param])
		if s == "" {
			return Mask{}, false
		}
		m, err := parse(s)
		if err == nil && validated {
			m, err = o.Codec.Validate(o.Type, m, &o.Validate)
		}
		if err != nil {
			re.Params = append(re.Params, ParamError{Param: param, Err: err})
		}
		return m, true
	}
	fields, given := read(fieldsParam)
	if !given {
		if validated {
			d, err := o.Codec.Default(o.Type)
			if err != nil {
				return Mask{}, err
			}
			fields = d
		} else {
			fields = All()
		}
	}
	var include Mask
	if includeParam != "-" {
		include, _ = read(includeParam)
	}
	if len(re.Params) > 0 {
		return Mask{}, &re
	}
	if include.IsEmpty() {
		return fields, nil
	}
	m := fields.withIncludes(include)
	if validated {
		// Both halves passed; this binds the union to the type.
		return o.Codec.Validate(o.Type, m, &ValidateOptions{Lenient: true, Allow: o.Validate.Allow})
	}
	return m, nil
}

// joinValues joins the values of a repeated parameter with commas, leaving out
// blank ones (so fields=&fields=id is fields=id); "" when all are blank.
func joinValues(vs []string) string {
	if len(vs) == 1 {
		if strings.TrimSpace(vs[0]) == "" {
			return ""
		}
		return vs[0]
	}
	var b strings.Builder
	for _, v := range vs {
		if strings.TrimSpace(v) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

// problem is the RFC 9457 body written by WriteError.
type problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Errors []problemEntry `json:"errors"`
}

type problemEntry struct {
	Param      string   `json:"param,omitempty"`
	Path       string   `json:"path,omitempty"`
	Offset     int      `json:"offset"`
	Reason     string   `json:"reason"`
	Expected   string   `json:"expected,omitempty"`
	Allowed    []string `json:"allowed,omitempty"`
	Suggestion string   `json:"suggestion,omitempty"`
}

func entries(param string, err error) []problemEntry {
	var (
		se *SyntaxError
		le *LimitError
		ve *ValidationError
	)
	switch {
	case errors.As(err, &se):
		return []problemEntry{{Param: param, Offset: se.Offset, Reason: "syntax error", Expected: se.Expected}}
	case errors.As(err, &le):
		return []problemEntry{{Param: param, Offset: le.Offset, Reason: "too long: " + le.Limit + " limit"}}
	case errors.As(err, &ve):
		out := make([]problemEntry, 0, len(ve.Errors))
		for _, pe := range ve.Errors {
			out = append(out, problemEntry{
				Param: param, Path: pe.Path, Offset: pe.Offset, Reason: pe.Reason,
				Allowed: pe.Allowed, Suggestion: pe.Suggestion,
			})
		}
		return out
	}
	return nil
}

// WriteError writes err as a 400 Bad Request with an RFC 9457
// application/problem+json body listing every bad path (parameter, path, byte
// offset, reason, allowed names, suggestion) and reports true, when err matches
// [ErrInvalid]. For any other error it writes nothing and reports false, so the
// caller handles it.
func WriteError(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, ErrInvalid) {
		return false
	}
	p := problem{
		Type:   "about:blank",
		Title:  "Invalid field mask",
		Status: http.StatusBadRequest,
		Detail: err.Error(),
	}
	var re *RequestError
	if errors.As(err, &re) {
		for _, pe := range re.Params {
			p.Errors = append(p.Errors, entries(pe.Param, pe.Err)...)
		}
	} else {
		p.Errors = entries("", err)
	}
	body, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(append(body, '\n'))
	return true
}
