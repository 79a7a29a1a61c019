// Package osci implements the protocol layer of OSCI-Transport 1.2.
package osci
