//go:build cgo && (linux || freebsd) && race

package main

// raceEnabled: the test binary runs under -race, so the archive is built
// with -race too and the C servers link its race runtime.
const raceEnabled = true
