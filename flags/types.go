package flags

import (
	"encoding/json"
	"time"
)

// Type is the type of a flag's values.
type Type uint8

// Flag types, spelled in documents as "bool", "string", "int", "float" and "json".
const (
	TypeBool Type = iota + 1
	TypeString
	TypeInt
	TypeFloat
	TypeJSON
)

var typeNames = [...]string{TypeBool: "bool", TypeString: "string", TypeInt: "int", TypeFloat: "float", TypeJSON: "json"}

// String returns the document spelling of t.
func (t Type) String() string {
	if t >= TypeBool && t <= TypeJSON {
		return typeNames[t]
	}
	return "unknown"
}

// Reason says why an evaluation returned its value.
type Reason uint8

// Reasons. The first group serves a variant of the flag; the second serves
// the caller's default.
const (
	// ReasonStatic: the flag has no targets, rules or rollout; its default
	// variant was served.
	ReasonStatic Reason = iota + 1
	// ReasonTarget: the subject key is listed in the flag's targets.
	ReasonTarget
	// ReasonRule: a rule matched; [Detail.RuleID] names it.
	ReasonRule
	// ReasonRollout: the subject is inside the flag's percentage rollout (or
	// its weighted split).
	ReasonRollout
	// ReasonDefault: nothing matched; the flag's default variant was served.
	ReasonDefault
	// ReasonDisabled: the flag is off ("on": false); its off variant was served.
	ReasonDisabled
	// ReasonPrerequisiteFailed: a prerequisite flag did not serve what this
	// flag requires; the off variant was served.
	ReasonPrerequisiteFailed

	// ReasonFlagMissing: the document has no such flag; the caller's default
	// was served ([ErrFlagNotFound]).
	ReasonFlagMissing
	// ReasonWrongType: the flag's type differs from the requested type; the
	// caller's default was served ([ErrWrongType]).
	ReasonWrongType
	// ReasonUnavailable: no document has ever been loaded (the source is
	// unavailable and there is no last-good copy); the caller's default was
	// served ([ErrUnavailable]).
	ReasonUnavailable
)

var reasonNames = [...]string{
	ReasonStatic: "static", ReasonTarget: "target", ReasonRule: "rule", ReasonRollout: "rollout",
	ReasonDefault: "default", ReasonDisabled: "disabled", ReasonPrerequisiteFailed: "prerequisite_failed",
	ReasonFlagMissing: "flag_missing", ReasonWrongType: "wrong_type", ReasonUnavailable: "source_unavailable",
}

// String returns the snake_case name of r, such as "rollout".
func (r Reason) String() string {
	if r >= ReasonStatic && r <= ReasonUnavailable {
		return reasonNames[r]
	}
	return "unknown"
}

// MarshalText implements [encoding.TextMarshaler].
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Detail explains one evaluation.
type Detail struct {
	// Variant is the name of the variant served, or "" when the caller's
	// default was served.
	Variant string
	// Reason says why.
	Reason Reason
	// RuleID is the ID of the matching rule when Reason is [ReasonRule].
	RuleID string
	// Err is nil, or one of [ErrFlagNotFound], [ErrWrongType] and
	// [ErrUnavailable] when the caller's default was served.
	Err error
}

// Subject is who or what a flag is evaluated for.
//
// Key identifies the subject (a user ID, an account ID, a device ID): targets
// match it and rollouts bucket by it unless the flag names a bucketBy
// attribute. Attrs holds the attributes that rules test; values may be
// strings, bools, any Go integer or float type, [json.Number] or
// [time.Time]. Evaluation only reads Attrs.
type Subject struct {
	Key   string
	Attrs map[string]any
}

// State is the state of a client's source.
type State uint8

// States.
const (
	// StateInitializing: no document has been loaded yet.
	StateInitializing State = iota
	// StateOK: the current document is the source's latest.
	StateOK
	// StateStale: the source is unavailable, or its latest document was
	// rejected; the last good document (possibly from the last-good file)
	// stays in force.
	StateStale
)

// String returns "initializing", "ok" or "stale".
func (s State) String() string {
	switch s {
	case StateInitializing:
		return "initializing"
	case StateOK:
		return "ok"
	case StateStale:
		return "stale"
	}
	return "unknown"
}

// MarshalText implements [encoding.TextMarshaler].
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status describes where a client's flags come from.
type Status struct {
	State State `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
	// Version is the version of the document in force (0 if none or
	// unversioned).
	Version int64 `json:"version"`
	// Origin says where the document in force came from: "source" or
	// "last-good file"; "" when there is none.
	Origin string `json:"origin,omitempty"`
	// Err is the latest error from the source (unavailable, or a rejected
	// document), nil when State is [StateOK].
	Err error `json:"-"`
	// Updated is when the document in force was applied.
	Updated time.Time `json:"updated,omitzero"`
}

// MarshalJSON renders the status with Err as a string.
func (s Status) MarshalJSON() ([]byte, error) {
	type plain Status
	var e string
	if s.Err != nil {
		e = s.Err.Error()
	}
	return json.Marshal(struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain(s), e})
}
