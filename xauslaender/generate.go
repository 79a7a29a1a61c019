package xauslaender

// The message types in v2611 (and any other version in the bundle) and
// versions_gen.go are generated from the schema bundle ($XAGW_SCHEMAS or
// ../shared/xrepository). `make generate` runs this.
//go:generate go run ../cmd/xsdgen -out .
