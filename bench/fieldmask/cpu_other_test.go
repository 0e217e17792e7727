//go:build !linux

package fieldmaskbench

func processCPU() int64 { return -1 }
