// Package testvectors is the conformance kit for the vendors of case
// systems (Fachverfahren) that read what the gateway sends and answer it:
// XAusländer messages and OSCI-Transport 1.2 envelopes with known keys and
// expected outcomes, described by a machine-readable manifest
// (manifest.json, see [Manifest]) that records the SHA-256 of every file.
//
// The kit lives in this directory: pki/ (the committed test PKI, made by
// `xagw keys testpki`), xauslaender/ and osci/ (the vectors, made by
// [Generate]) and manifest.json. Both steps are deterministic, so
// `go generate ./testvectors` rebuilds the kit bit for bit and a test
// fails when anything drifts.
//
// [Verify] checks the project itself against every vector
// (`xagw conformance verify`); package runner delivers the vectors to a
// vendor's mailbox and judges the replies (`xagw conformance run`); package
// report writes the results as text, JSON and JUnit XML.
//
// README.md in this directory is written for a vendor's engineer.
package testvectors

//go:generate go run ../cmd/xagw keys testpki --out pki --deterministic-seed xagw-conformance-kit-v1 --pin-file pki/PIN.txt
//go:generate go run ../cmd/xagw conformance generate --out .
