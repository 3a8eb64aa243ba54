package lifecycle

import (
	"context"
	"testing"
	"time"
)

// The pause doubles from 100 ms per crash in a row up to 5 s; a server
// that ran for the crash window starts a new row; the brake counts running
// time only, so long pauses cannot hide a crash loop.
func TestCrashLoopPauses(t *testing.T) {
	var l crashLoop
	now := time.Now()
	step := func(ran time.Duration) (time.Duration, int, bool) {
		now = now.Add(ran)
		p, n, stop := l.crashed(now, ran)
		now = now.Add(p)
		l.paused += p // as pause would
		return p, n, stop
	}
	// Crashes after 3 s of running: the brake (5 within 10 s) never acts,
	// the pause grows to its cap.
	var got []time.Duration
	for range 9 {
		p, _, stop := step(3 * time.Second)
		if stop {
			t.Fatal("brake acted on crashes 3 s of running apart")
		}
		got = append(got, p)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("pauses %v, want %v ms", got, want)
		}
	}
	// Now it crashes at once, each pause 5 s: counted in wall time, five
	// crashes would never fit in 10 s; counted in running time they do.
	stopped := false
	for i := 0; i < crashLimit && !stopped; i++ {
		var p time.Duration
		p, _, stopped = step(10 * time.Millisecond)
		if !stopped && p != maxPause {
			t.Fatalf("pause %v, want %v", p, maxPause)
		}
	}
	if !stopped {
		t.Fatalf("brake did not act on %d crashes at once 5 s apart", crashLimit)
	}
	// A run as long as the window starts a new row.
	l = crashLoop{row: 7}
	if p, _, _ := step(crashWindow); p != firstPause {
		t.Fatalf("pause %v after a long run, want %v", p, firstPause)
	}
	// Crashes at once from the start: the fifth stops.
	l = crashLoop{}
	for i := 1; i <= crashLimit; i++ {
		_, n, stop := step(10 * time.Millisecond)
		if n != i || stop != (i == crashLimit) {
			t.Fatalf("crash %d: counted %d, stop %v", i, n, stop)
		}
	}
}

// A pause ends early when the supervisor is told to stop.
func TestCrashLoopPauseStops(t *testing.T) {
	var l crashLoop
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l.pause(ctx, time.Hour) {
		t.Fatal("pause ran to its end after ctx ended")
	}
	if !l.pause(context.Background(), time.Millisecond) || l.paused < time.Millisecond {
		t.Fatalf("pause of 1ms: paused %v", l.paused)
	}
}
