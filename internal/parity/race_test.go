//go:build race

package parity

// raceBuild: the race detector slows the proxy and the fuzzer several times over; TestParity
// then runs a tenth of its budget (see ciBudget).
const raceBuild = true
