// Package integration holds dorrit's end-to-end tests: the example servers
// built as real binaries, behind real front servers (nginx, HAProxy, Caddy
// and Apache 2.4) running with the configurations `dorritctl config`
// prints, with real clients (headless Chromium driven through chromedp,
// coder/websocket) and a real redis-server.
//
// The tests need nginx, haproxy, caddy, apache2, chromium and
// redis-server (Debian: nginx-light, haproxy, caddy, apache2, chromium,
// redis-server; .ci/run installs them). A missing one skips its test with
// the package to install, except under CI=true, where it fails it.
//
// The front servers' tests (fronts_*_test.go) hold 2,000 WebSockets
// through each: 2,000 client sockets in the test process, whose soft
// descriptor limit Go lifts to the hard one at start (here 20,000). The
// front servers start with a systemd service's soft limit, 1024, and must
// raise it as their configuration says.
//
// TestUpgradeUnderLoadThroughNginx starts the echo example as a daemon
// with dorritctl (root only: its pidfile is /var/run/echo.pid, so it
// fails rather than touch an echo daemon already running there).
//
// The TestNotify tests run examples/notify as root (they skip otherwise),
// as a daemon that keeps its own main would run: its pidfile and socket
// taken as root, privileges dropped in place, its JSON API on a port of
// its own, browsers through nginx, SIGTERM and SIGHUP upgrades under a
// stream of notifications.
//
// Set DORRIT_ARTIFACTS=1 to keep the browser's screenshots in
// integration/testdata/out instead of a temporary directory.
package integration
