module github.com/dorritgo/dorrit/integration

go 1.26.0

replace github.com/dorritgo/dorrit v0.0.0 => ../

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/coder/websocket v1.8.15
	github.com/dorritgo/dorrit v0.0.0
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
