# mysqlmux — see ../shared/CONTRACT.md for what these targets promise.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: run demo fleet-demo test test-load test-parity parity build bench fmt-check vet install-deps

# A throwaway MariaDB on 127.0.0.1:3306 and the proxy in front of it (examples/mysqlmux.toml).
run:
	bash scripts/run-local.sh

# 500 clients straight at a MariaDB with max_connections=20 (ERROR 1040), then through mysqlmux.
demo:
	bash scripts/demo.sh

# etcd, a MariaDB with max_connections=60, three proxies, 3000 clients spread over them: alone
# (ERROR 1040 comes back), in a fleet of 48 (none), then etcd stopped for 30 s.
fleet-demo:
	bash scripts/fleet-demo.sh

build:
	$(GO) build ./...

install-deps:
	bash scripts/install-mariadb.sh

fmt-check:
	@out="$$(gofmt -l .)"; \
	if [[ -n "$$out" ]]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Everything CI runs. MYSQLMUX_REQUIRE_MARIADB=1: integration tests fail, never skip, without MariaDB
# (or Chromium, for the dashboard test). Files tests leave for people (the dashboard's screenshot)
# go to $(ARTIFACTS).
ARTIFACTS ?= $(CURDIR)/artifacts
test: install-deps fmt-check vet
	CI=$${CI:-} MYSQLMUX_REQUIRE_MARIADB=1 MYSQLMUX_ARTIFACTS=$(ARTIFACTS) $(GO) test -race -count=1 -timeout 15m ./...
	@if [[ -f $(ARTIFACTS)/dashboard.png ]]; then echo "dashboard screenshot: $(ARTIFACTS)/dashboard.png"; fi
	$(MAKE) test-parity
	$(MAKE) test-load

# The parity fuzzer's CI budget whole (50,000 statements), outside the -race run, which runs a
# tenth of it: see internal/parity/parity_test.go.
test-parity: install-deps
	CI=$${CI:-} MYSQLMUX_REQUIRE_MARIADB=1 $(GO) test -count=1 -timeout 10m -run 'TestParity$$' -v ./internal/parity/

# Load tests (build tag "load"), outside the -race run: see DESIGN.md "Testing pitfalls".
test-load: install-deps
	@if [[ -d loadtest ]]; then \
		echo "MYSQLMUX_REQUIRE_MARIADB=1 $(GO) test -tags load -count=1 -timeout 10m ./loadtest/..."; \
		MYSQLMUX_REQUIRE_MARIADB=1 $(GO) test -tags load -count=1 -timeout 10m ./loadtest/...; \
	else \
		echo "test-load: no ./loadtest directory yet; nothing to run"; \
	fi

# The parity fuzzer's soak, 1,000,000 statements (internal/parity, build tag "parity", outside the -race run):
# clients through the proxy at caps 1 and 2 compared with direct twins, with drops, KILLs and
# leak checks. MYSQLMUX_PARITY_SEED, _DURATION, _STATEMENTS, _INCLUDE adjust it (README).
parity: install-deps
	MYSQLMUX_REQUIRE_MARIADB=1 $(GO) test -tags parity -count=1 -timeout 120m -run TestSoak -v ./internal/parity/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
