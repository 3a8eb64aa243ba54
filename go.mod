module github.com/dorritgo/dorrit

go 1.26.0

require golang.org/x/sys v0.50.0

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/oklog/run v1.2.0 // indirect
)
