# The one entry point: `make test` is what CI runs (.ci/run).
.PHONY: test fuzz bench idlemem soak echo pubsub dev peers

# Pinned; go run fetches and builds it on first use, so nothing to install.
STATICCHECK = go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	GOOS=freebsd go vet ./...   # the manual's servers run under FreeBSD rc.d too
	go vet ./bench/...
	go vet ./examples/pubsub/...
	GOOS=freebsd go vet ./examples/pubsub/...
	go vet ./integration/...
	$(STATICCHECK) ./... ./bench/... ./examples/pubsub/... ./integration/...
	go mod tidy -diff
	go -C bench mod tidy -diff
	go -C examples/pubsub mod tidy -diff
	go -C integration mod tidy -diff
	go test ./bench/...
	go test -race ./examples/pubsub/...
	go test -race ./integration/...
	go test -race ./...

# Each fuzz target for FUZZTIME (CI: 20 s each); the seeds alone run in make test.
FUZZTIME = 20s
FUZZ_TARGETS = FuzzParseHeader FuzzUTF8Split FuzzHandshake FuzzClientBytes
fuzz:
	@for f in $(FUZZ_TARGETS); do \
		echo "go test -run '^$$' -fuzz '^$$f$$' -fuzztime $(FUZZTIME) ."; \
		go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) . || exit 1; \
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
