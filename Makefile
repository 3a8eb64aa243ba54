# The one entry point: `make test` is what CI runs (.ci/run).
.PHONY: test fuzz bench idlemem soak echo pubsub dev peers libdorrit install install-check

# Pinned; go run fetches and builds it on first use, so nothing to install.
STATICCHECK = go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags libdorrit ./dorrit   # libdorrit's Go files: left out of ./... (a C archive, not a program)
	GOOS=freebsd go vet ./...   # the manual's servers run under FreeBSD rc.d too
	go vet ./bench/...
	go vet ./examples/pubsub/...
	GOOS=freebsd go vet ./examples/pubsub/...
	go vet ./integration/...
	$(STATICCHECK) ./... ./bench/... ./examples/pubsub/... ./integration/...
	$(STATICCHECK) -tags libdorrit ./dorrit
	go mod tidy -diff
	go -C bench mod tidy -diff
	go -C examples/pubsub mod tidy -diff
	go -C integration mod tidy -diff
	# -count=1: many tests build the servers they run (go build in a child
	# process), which Go's test cache does not see; a cached pass could be
	# a pass of code that has changed since.
	go test -count=1 ./bench/...
	go test -count=1 -race ./examples/pubsub/...
	# -v: the log names each real component and its version (nginx, HAProxy, Caddy, Apache, Chromium, Redis).
	go test -count=1 -race -v ./integration/...
	go test -count=1 -race ./...
	# libdorrit's one test inside the package (the others build the archive).
	go test -race -tags libdorrit -run TestHandOverAllocatesNothing ./dorrit
	# Stack depth as users build it: the race detector makes every frame larger.
	go test -run TestConnectionsThatTalkedKeepTheSmallestStack .
	$(MAKE) install-check

# Each fuzz target for FUZZTIME (CI: 20 s each); the seeds alone run in make test.
# A target is package:name.
FUZZTIME = 20s
FUZZ_TARGETS = ./internal/protocol:FuzzParseHeader ./internal/protocol:FuzzUTF8Split ./internal/protocol:FuzzConn ./internal/protocol:FuzzReceiveSplit .:FuzzHandshake .:FuzzClientBytes
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		p=$${t%%:*}; f=$${t##*:}; \
		echo "go test -run '^$$' -fuzz '^$$f$$' -fuzztime $(FUZZTIME) $$p"; \
		go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	done

bench:
	go test -run '^$$' -bench . -benchmem -count 5 .

idlemem:
	go run ./internal/cmd/idlemem -n 10000

# 10,000 connections talking for 10 minutes; exits 1 on anything lost (RELIABILITY.md).
soak:
	go run ./internal/cmd/soak

echo:
	go run ./examples/echo -x -l /tmp/echo.socket

# The echo server behind dorritctl's development front: open http://127.0.0.1:8080/.
dev:
	go run ./cmd/dorritctl dev

pubsub:
	go run ./examples/pubsub -x -l /tmp/pubsub.socket

peers:
	go run ./bench

# libdorrit, the manual's C API (dorrit/): build/libdorrit.a, then
# make install PREFIX=/usr/local puts dorrit.h, libdorrit.a and dorrit.pc
# under PREFIX (DESTDIR for packaging), so that both of
#   cc echo.c -ldorrit -lpthread
#   cc echo.c $(pkg-config --cflags --libs dorrit)
# build a server written to the manual.
PREFIX = /usr/local
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

libdorrit:
	go build -tags libdorrit -buildmode=c-archive -o build/libdorrit.a ./dorrit
	sed 's|@PREFIX@|$(PREFIX)|' dorrit/dorrit.pc.in >build/dorrit.pc

install: libdorrit
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 dorrit/dorrit.h $(DESTDIR)$(INCLUDEDIR)/dorrit.h
	install -m 644 build/libdorrit.a $(DESTDIR)$(LIBDIR)/libdorrit.a
	install -m 644 build/dorrit.pc $(DESTDIR)$(PKGCONFIGDIR)/dorrit.pc

# The README's build lines, against a fresh install in a temporary prefix
# (the servers' behaviour is go test ./dorrit's).
install-check:
	@set -e; p=$$(mktemp -d); trap 'rm -rf "$$p"' EXIT; \
	$(MAKE) -s install PREFIX=$$p; \
	echo "cc dorrit/examples/echo.c -I$$p/include -L$$p/lib -ldorrit -lpthread"; \
	cc -o $$p/echo1 dorrit/examples/echo.c -I$$p/include -L$$p/lib -ldorrit -lpthread; \
	echo "cc dorrit/examples/echo.c \$$(pkg-config --cflags --libs dorrit)"; \
	PKG_CONFIG_PATH=$$p/lib/pkgconfig cc -o $$p/echo2 dorrit/examples/echo.c $$(PKG_CONFIG_PATH=$$p/lib/pkgconfig pkg-config --cflags --libs dorrit); \
	$$p/echo2 -help 2>&1 | grep -q 'usage: echo' || { echo "install-check: the installed echo does not run"; exit 1; }; \
	echo "install-check: ok ($$(du -k $$p/lib/libdorrit.a | cut -f1) KiB libdorrit.a)"
