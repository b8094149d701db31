# ldapsync — the two commands a newcomer needs are `make dev` and `make test`.
# Both install what is missing first (Debian: slapd, ldap-utils, and for the
# race detector gcc and libc6-dev).

GO       ?= go
# gcc and libc6-dev: go test -race needs cgo. systemd (systemd-analyze) and
# procps (/bin/kill, the unit's ExecReload): make test-systemd.
DEBS     := slapd ldap-utils gcc libc6-dev systemd procps chromium
BIN      := bin/ldapsync
# sudo when not root; CI and containers run as root.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build dev dev-slapd test test-dates test-systemd bench bench-go vet fmt clean

all: build

## deps: install the Debian packages the tests and `make dev` need, if missing.
deps:
	@missing=""; \
	for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## build: build bin/ldapsync.
build:
	$(GO) build -o $(BIN) ./cmd/ldapsync

## dev: start a throwaway slapd on loopback, load the example personnel, run the daemon in the foreground.
dev: deps build
	$(GO) build -o bin/ldapsync-dev ./cmd/ldapsync-dev
	bin/ldapsync-dev -ldapsync $(BIN)

## dev-slapd: the same throwaway slapd and config, without the daemon or the
## example personnel: prints the commands that rehearse a departure, a lock
## and a restore by hand (ldapsync apply, forecast, sweep --now, lock,
## restore) until Ctrl-C.
dev-slapd: deps build
	$(GO) build -o bin/ldapsync-dev ./cmd/ldapsync-dev
	bin/ldapsync-dev -ldapsync $(BIN) -no-daemon

## test: every test, the integration tests against a real slapd included,
## and every benchmark run once so that none of them rots.
test: deps vet test-systemd
	$(GO) test -race -count=1 ./...
	# The memory benchmarks' 100,000 rows are for make bench; once here, 2,000.
	LDAPSYNC_MEM_ROWS=2000 $(GO) test -run '^$$' -bench . -benchtime 1x ./...
	@$(MAKE) --no-print-directory test-dates

## test-systemd: check the systemd unit without a running systemd (a
## container will do). systemd-analyze verify reads a copy whose
## /usr/local/bin/ldapsync is a stand-in script, since verify wants every
## Exec binary to exist; any line it prints (an unknown key, a bad value:
## systemd only warns and goes on) fails. systemd-analyze security
## --offline=yes must rate the unit's exposure at most SYSTEMD_MAX_EXPOSURE
## (0.0 is locked down, 10.0 wide open).
SYSTEMD_UNIT         := deploy/systemd/ldapsync.service
SYSTEMD_MAX_EXPOSURE := 2.0
test-systemd: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	printf '#!/bin/sh\nexit 0\n' > "$$tmp/ldapsync" && chmod 0755 "$$tmp/ldapsync" && \
	sed "s|/usr/local/bin/ldapsync|$$tmp/ldapsync|g" $(SYSTEMD_UNIT) > "$$tmp/ldapsync.service" && \
	out=$$(systemd-analyze verify --man=no "$$tmp/ldapsync.service" 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "systemd-analyze verify $(SYSTEMD_UNIT): exit $$rc"; echo "$$out"; exit 1; fi; \
	out=$$(systemd-analyze security --offline=yes --no-pager $(SYSTEMD_UNIT) 2>&1) || { echo "$$out"; exit 1; }; \
	level=$$(echo "$$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'); \
	if [ -z "$$level" ]; then echo "systemd-analyze security: no overall exposure level in:"; echo "$$out"; exit 1; fi; \
	if awk -v l="$$level" -v max=$(SYSTEMD_MAX_EXPOSURE) 'BEGIN { exit !(l + 0 > max + 0) }'; then \
	  echo "$$out" | grep '✗'; echo "$(SYSTEMD_UNIT): exposure $$level, above $(SYSTEMD_MAX_EXPOSURE)"; exit 1; fi; \
	echo "$(SYSTEMD_UNIT): systemd-analyze verify OK, security exposure $$level (at most $(SYSTEMD_MAX_EXPOSURE))"

## test-dates: the date guard. Every test again with the tests' clock
## (internal/testclock) moved DATE_SHIFT days back, then forward; random
## each run and printed, so that a failure can be repeated with
## `make test-dates DATE_SHIFT=N`. A test that compares the injected clock
## with a time the OS or slapd stamps fails one way or the other.
ifeq ($(origin DATE_SHIFT),undefined)
DATE_SHIFT := $(shell shuf -i 30-3000 -n 1)
endif
test-dates:
	@for s in -$(DATE_SHIFT) $(DATE_SHIFT); do \
	  echo "date guard: tests' clock moved $$s days (LDAPSYNC_TEST_SHIFT_DAYS=$$s; repeat with make test-dates DATE_SHIFT=$(DATE_SHIFT))"; \
	  LDAPSYNC_TEST_SHIFT_DAYS=$$s $(GO) test -count=1 ./... || exit 1; \
	done

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## bench: the whole daemon against a production-like slapd, each workload
## beside its baseline in one table (cmd/ldapsync-bench; BENCH_N people,
## default 20000, over BENCH_CONNS connections, default 4). The Go
## benchmarks are bench-go. See BENCHMARKS.md.
BENCH_N     ?= 20000
BENCH_CONNS ?= 4
bench: deps build
	BENCH_N=$(BENCH_N) BENCH_CONNS=$(BENCH_CONNS) $(GO) run ./cmd/ldapsync-bench -ldapsync $(BIN)

## bench-go: the Go benchmarks, each once with its baseline (see BENCHMARKS.md).
bench-go: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
