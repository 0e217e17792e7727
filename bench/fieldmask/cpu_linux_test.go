//go:build linux

package fieldmaskbench

import (
	"syscall"
	"unsafe"
)

// processCPU returns the CPU time used by the process so far, in nanoseconds
// (CLOCK_PROCESS_CPUTIME_ID), or -1 when it cannot be read.
func processCPU() int64 {
	const clockProcessCPUTimeID = 2
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return -1
	}
	return ts.Nano()
}
