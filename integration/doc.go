// Package integration holds dorrit's end-to-end tests: the example servers
// built as real binaries, behind a real nginx whose configuration
// `dorritctl config nginx` prints, with real clients (headless Chromium
// driven through chromedp, coder/websocket) and a real redis-server.
//
// The tests need nginx, chromium and redis-server (Debian: nginx-light,
// chromium, redis-server; .ci/run installs them). A missing one skips its
// test, except under CI=true, where it fails it.
//
// Set DORRIT_ARTIFACTS=1 to keep the browser's screenshots in
// integration/testdata/out instead of a temporary directory.
package integration
