# The one entry point: `make test` is what CI runs (.ci/run).
.PHONY: test bench idlemem echo peers

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet ./bench/...
	go test ./bench/...
	go test -race ./...

bench:
	go test -run '^$$' -bench . -benchmem -count 5 .

idlemem:
	go run ./internal/cmd/idlemem -n 10000

echo:
	go run ./examples/echo -x -l /tmp/echo.socket

peers:
	go run ./bench
