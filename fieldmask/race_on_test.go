//go:build race

package fieldmask

// raceEnabled shortens the heaviest randomized tests under the race detector,
// which slows them tenfold; the fuzz targets and plain runs cover more.
const raceEnabled = true
