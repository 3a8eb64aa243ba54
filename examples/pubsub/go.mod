module github.com/dorritgo/dorrit/examples/pubsub

go 1.26.0

replace github.com/dorritgo/dorrit v0.0.0 => ../..

require (
	github.com/coder/websocket v1.8.15
	github.com/dorritgo/dorrit v0.0.0
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/oklog/run v1.2.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
