module github.com/dorritgo/dorrit/bench

go 1.26.0

replace github.com/dorritgo/dorrit v0.0.0 => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/dorritgo/dorrit v0.0.0
	github.com/gobwas/ws v1.5.0
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
