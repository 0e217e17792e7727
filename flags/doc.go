// Package flags provides feature flags: typed evaluation of on/off
// switches, sticky percentage rollouts, weighted variants and attribute
// rules, from a JSON document that a [Source] keeps up to date (a static
// document, a watched file, or one versioned key in Redis).
//
// Big changes ship behind a flag, roll out 1% → 10% → 100%, and are turned
// off in seconds when the p95 moves. The recommended use:
//
//	f, err := flags.New(ctx, flags.RedisSource(rdb, "flags", nil), &flags.Options{LastGoodPath: "/var/lib/app/flags.json"})
//	...
//	defer f.Close()
//	if f.Bool(ctx, "new-checkout", flags.Subject{Key: userID, Attrs: attrs}, false) { ... }
//	text, d := f.StringDetail(ctx, "checkout-copy", subj, "Buy now") // d.Variant, d.Reason, d.RuleID, d.Err
//
// # Guarantees
//
//   - Evaluation reads an immutable compiled snapshot behind an atomic
//     pointer: no locks, no I/O, no allocation (tens of nanoseconds, plus
//     roughly 25 ns per rule condition tested; [Value] of a type with
//     references decodes per call), and one evaluation always sees one
//     whole document, prerequisites included.
//   - A new document is parsed, validated and compiled before it is swapped
//     in. A document with any problem is rejected whole, every problem is
//     reported with its JSON path ([ValidationError]), and the last good
//     document stays in force; [Client.Status] turns stale.
//   - When the source is down the client keeps serving the last good
//     document (status stale, with the time since when). With
//     [Options.LastGoodPath] it also survives a restart while the source is
//     down. An outage makes callers' defaults be served only when no
//     document was ever loaded, and then with the distinct reason
//     [ReasonUnavailable].
//   - Bucketing is a written contract pinned by golden vectors (below):
//     raising a percentage only ever adds subjects, different flags are
//     independent unless they share a bucket group, and variant choice is
//     independent of rollout membership.
//   - Counters of served variants ([Client.Counts]) never block evaluation;
//     [Client.OnChange] reports per-flag differences for audit logs; the
//     source's goroutines stop in [Client.Close].
//
// # The flag document
//
// A document is a JSON object with an optional integer "version" and the
// "flags" object, from flag key to definition. Validation is strict:
// unknown fields, duplicate keys, references to missing variants or flags,
// prerequisite cycles or chains too long to evaluate quickly, percentages
// with more than two decimals, nesting
// deeper than 64 levels and documents over [MaxDocumentSize] are all
// problems. A complete example:
//
//	{
//	  "version": 3,
//	  "flags": {
//	    "new-checkout": {
//	      "type": "bool",
//	      "description": "The new checkout flow",
//	      "targets": {"true": ["qa-1", "qa-2"]},
//	      "rules": [
//	        {"id": "staff", "when": [{"attr": "email", "op": "suffix", "value": "@example.com"}], "variant": "true"},
//	        {"id": "eu-beta",
//	         "when": [{"attr": "country", "op": "in", "values": ["DE", "FR"]},
//	                  {"attr": "appVersion", "op": "semverGe", "value": "2.4.0"}],
//	         "variant": "true", "percent": 50}
//	      ],
//	      "rollout": {"variant": "true", "percent": 12.5},
//	      "prerequisites": [{"flag": "payments-v2"}]
//	    },
//	    "payments-v2": {"type": "bool", "default": "true"},
//	    "checkout-copy": {
//	      "type": "string",
//	      "variants": {"control": "Buy now", "urgent": "Only 3 left!", "friendly": "Treat yourself"},
//	      "default": "control",
//	      "rollout": {"split": {"control": 50, "urgent": 25, "friendly": 25}, "percent": 20},
//	      "salt": "copy-test-2"
//	    },
//	    "search-page-size": {
//	      "type": "int",
//	      "variants": {"small": 10, "large": 50},
//	      "default": "small",
//	      "bucketBy": "accountId",
//	      "rollout": {"variant": "large",
//	                  "progressive": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-15T00:00:00Z", "from": 1, "to": 100}}
//	    },
//	    "price-multiplier": {
//	      "type": "float",
//	      "variants": {"base": 1.0, "promo": 0.9},
//	      "default": "base",
//	      "bucketGroup": "promo-2026",
//	      "rollout": {"variant": "promo", "percent": 0.01}
//	    },
//	    "promo-banner": {"type": "bool", "bucketGroup": "promo-2026", "rollout": {"variant": "true", "percent": 10}},
//	    "ui-config": {
//	      "type": "json",
//	      "on": false,
//	      "variants": {"v1": {"columns": 2}, "v2": {"columns": 3, "dense": true}},
//	      "default": "v1",
//	      "rules": [{"id": "launch", "when": [{"attr": "$now", "op": "after", "value": "2026-06-01T00:00:00Z"}], "variant": "v2"}]
//	    }
//	  }
//	}
//
// The fields of a flag:
//
//   - "type" (required): "bool", "string", "int" (64-bit integer), "float"
//     or "json" (any JSON value).
//   - "on": false turns the flag off (a kill switch): it then serves its
//     off variant to everyone. Default true.
//   - "variants": variant name → value of the flag's type. Required except
//     for bool flags, which have the implicit variants "true" and "false".
//   - "default": the variant served when the flag is on and no target, rule
//     or rollout applies. Required, except for bool flags (default "false").
//   - "offVariant": the variant served when the flag is off or a
//     prerequisite fails. Default: for bool flags the first variant whose
//     value is false, otherwise the default variant.
//   - "targets": variant name → list of subject keys that get it.
//   - "rules": evaluated in order, the first matching rule wins. A rule has
//     an optional "id" (default: its index), "when": a list of conditions
//     that must all hold (an empty list always holds), and what it serves.
//   - "rollout": what the flag serves to subjects no target or rule caught.
//   - "prerequisites": a list of {"flag": key} or {"flag": key, "variants":
//     [names]}: each named flag, evaluated for the same subject, must serve
//     one of the variants, or — without "variants" — be on and, for a bool
//     flag, true. Cycles are rejected, and so is a flag whose evaluation
//     would evaluate more than 64 flags (itself and its prerequisites,
//     recursively, each counted as often as it is reached), so that no
//     document can make evaluation slow.
//   - "salt", "bucketBy", "bucketGroup": see Bucketing.
//   - "description": free text.
//
// What a rule or the rollout serves: "variant": name, or "split": variant
// name → integer weight (weights are relative, 0 to 1000000), optionally
// gated by "percent" (0 to 100, at most two decimals: 0.01% granularity) or
// "progressive": {"start": time, "end": time, "from": percent, "to":
// percent}, a percentage that moves linearly from "from" at start to "to"
// at end (times in RFC 3339). A subject outside the gate — or without a
// value to bucket by — is not served by it: a rule then does not match and
// evaluation continues with the next rule; the rollout falls through to the
// default. A single variant behind a gate of 100% (or no gate) is served to
// everyone, even subjects without a bucketing value; a split always needs
// one.
//
// A condition is {"attr": name, "op": operator, "value": v} or with
// "values": [v, ...]. Operators:
//
//   - eq, ne, in, notIn: equality with any of the values (strings, numbers
//     or booleans); ne and notIn are the negations. A []string attribute
//     (groups, roles) is in the values when any of its elements is.
//   - prefix, suffix, contains: string tests against any of the values.
//   - lt, le, gt, ge: numeric comparison with one number. Attributes may be
//     any Go integer or float type or a [encoding/json.Number]; they are
//     compared as float64.
//   - semverEq, semverLt, semverLe, semverGt, semverGe: semantic version
//     precedence (semver 2.0: prereleases sort before the release, build
//     metadata is ignored; a leading "v" and missing minor or patch parts
//     are accepted in attributes).
//   - before, after: the attribute (a [time.Time] or an RFC 3339 string) is
//     before or after the value's time. The pseudo-attribute "$now" ([NowAttr])
//     is the client's clock, for switches scheduled in advance.
//
// A condition whose attribute is missing, or of a type its operator does
// not understand (a number for prefix, a string for gt, an unparsable
// version), is false — for every operator, ne and notIn included — and
// never panics: "ne" means "present, comparable and different".
//
// # Evaluation order
//
// Flag missing → caller's default ([ReasonFlagMissing]); requested type
// differs → caller's default ([ReasonWrongType]); flag off → off variant
// ([ReasonDisabled]); a prerequisite fails → off variant
// ([ReasonPrerequisiteFailed]); a flag with no targets, rules, rollout or
// prerequisites → default variant ([ReasonStatic]); subject key in targets
// → that variant ([ReasonTarget]); first matching rule ([ReasonRule], with
// [Detail.RuleID]); rollout ([ReasonRollout]); otherwise the default variant
// ([ReasonDefault]).
//
// # Bucketing
//
// The contract, fixed forever for a given document (golden vectors in
// testdata/buckets.golden.json):
//
//   - The bucketing value is the subject key, or the string attribute named
//     by "bucketBy" (e.g. an account ID, so that a whole account gets the
//     same answer). An empty or missing value is in no partial rollout.
//   - The seed is the flag's "bucketGroup" if set, else its "salt" if set,
//     else the flag key. Input = uint64 little-endian len(seed) ‖ seed ‖
//     zero bytes up to a multiple of 8 ‖ uint64 little-endian len(value) ‖
//     value. The length prefixes keep ("ab", "c") and ("a", "bc") apart; the
//     padding lets the hash read every 8-byte word from one part, in place.
//   - Rollout hash = XXH64(input, seed 0); bucket = ⌊hash × 10000 / 2⁶⁴⌋
//     (the high word of a 64×64-bit product: integer arithmetic, no modulo
//     bias); the subject is inside a percentage p iff bucket < p×100. So
//     raising p only adds subjects, and 0.01% is one bucket.
//   - Variant hash = XXH64(input', seed 1), where input' uses the salt (or
//     key) as seed but never the bucket group; with weights w₁…wₙ (in the
//     order of the variant names, sorted) and W = Σw, x = ⌊hash × W / 2⁶⁴⌋
//     picks the first variant whose cumulative weight exceeds x. The two
//     hashes are independent: a 50/50 split inside a 10% rollout is still
//     50/50.
//   - Flags with different seeds are independent. Flags that share a
//     "bucketGroup" share rollout buckets on purpose: at 10% and 20% the
//     first flag's subjects are all inside the second's.
//
// Changing a flag's salt (or bucket group, or key) reshuffles its
// subjects; changing weights moves subjects between variants.
//
// # Sources and status
//
// [Static] serves a fixed document. [FileSource] polls a file for content
// changes. [RedisSource] reads one versioned document (a hash at one key)
// that [PublishRedis] replaces atomically, and learns of changes by pub/sub
// within milliseconds, with jittered polling as the fallback. [Client.Status]
// says whether the document in force is the source's latest
// ([StateOK]), there is none yet ([StateInitializing]), or the source is
// unavailable or its latest document was rejected ([StateStale]), and since
// when. [Client.Handler] serves the status and document read-only over
// HTTP.
package flags
