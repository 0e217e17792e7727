//go:build !race

package fieldmask

const raceEnabled = false
