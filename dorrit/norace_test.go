//go:build cgo && (linux || freebsd) && !race

package main

const raceEnabled = false
