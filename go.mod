module github.com/dorritgo/dorrit

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	github.com/oklog/run v1.2.0
	golang.org/x/sys v0.50.0
)
