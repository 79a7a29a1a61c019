# xagw — see README.md. Every target installs or names its system packages itself.

GO ?= go

.PHONY: run test build generate bench vet

## run: start the gateway on its embedded defaults (SQLite, local test intermediary, file directory)
run:
	@scripts/deps.sh build
	$(GO) run ./cmd/xagw serve

## test: go vet, all tests with -race (real PostgreSQL), short fuzz smoke of every target
test:
	@scripts/test.sh

## build: the xagw binary in ./bin
build:
	@scripts/deps.sh build
	$(GO) build -o bin/xagw ./cmd/xagw

## generate: regenerate committed generated code (XAusländer types, …)
generate:
	@scripts/deps.sh build
	$(GO) generate ./...

## bench: all benchmarks (figures for the issue notes)
bench:
	@scripts/deps.sh build
	$(GO) test -run='^$$' -bench=. -benchmem ./...

vet:
	$(GO) vet ./...
