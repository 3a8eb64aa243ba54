//go:build race

package dorrit_test

const raceEnabled = true
