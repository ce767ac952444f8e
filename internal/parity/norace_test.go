//go:build !race

package parity

const raceBuild = false
