// Package stout is a library of scaling primitives for Go services that are
// outgrowing one box. This package holds no code; it is the map. Each problem
// below is answered by one package that stands alone and can be imported into an
// existing service by itself.
//
//   - Stampedes and stale caches: package cache.
//   - Abusive clients: package ratelimit.
//   - Deep pages: package paginate.
//   - Over-fetching: package fieldmask.
//   - Invisible slowness: package slowlog.
//   - Risky launches: package flags.
package stout
