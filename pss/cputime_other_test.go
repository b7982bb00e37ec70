//go:build !unix

package pss

func cpuTime() int64 { return 0 }
