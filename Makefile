# Switchyard — see README.md. Every target works on a fresh machine with Go;
# test-deps installs what the tests need (redis-server, python3-websockets).

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 60s
BIN       ?= bin

.PHONY: run test test-go test-deps build proto proto-check chart-check fuzz fuzz-smoke race vet lint bench clean

## run: the whole hub in one process (embedded NATS JetStream + Redis-protocol server)
run:
	$(GO) run ./services/devstack

## test: every test (unit, integration with real nats-server and redis-server, end to end, chart checks)
test: test-deps vet lint test-go proto-check chart-check

test-go:
	$(GO) test -count=1 -timeout 20m $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## lint: staticcheck (pinned) over every package
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) run $(STATICCHECK) ./pkg/... ./services/... ./tests/...

## test-deps: install the servers and clients the tests use (Debian packages)
test-deps:
	@bash scripts/test-deps.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./services/gateway ./services/session ./services/relay ./services/upload ./services/devstack

## proto: regenerate Go code from proto/ with the pinned buf and protoc-gen-go (tools/go.mod)
proto:
	cd proto && $(GO) tool -modfile=../tools/go.mod buf generate

## proto-check: generated code is committed and reproducible
proto-check: proto
	@git diff --exit-code -- proto/ || (echo "generated code differs from proto/: run make proto and commit"; exit 1)

chart-check:
	bash scripts/chart-check.sh

race:
	$(GO) test -race -count=1 ./pkg/... ./services/...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)

include tilt/images.mk

## bench: build, start hubs on 127.0.0.1 (dev stack, then 3 gateways), run a fixed set of bounded
## sy-loadgen scenarios (< 10 min) and print the results table (BENCHMARKS.md explains them)
bench:
	bash scripts/bench.sh

## bench-upload: device upload MiB/s and RSS through the dev stack (BENCH_UPLOAD_SIZE, default 1GiB)
.PHONY: bench-upload
bench-upload:
	bash scripts/bench-upload.sh

## bench-go: Go micro-benchmarks (Benchmark* functions) of pkg/ and services/
.PHONY: bench-go
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/... ./services/...
