//go:build cgo && (linux || freebsd)

package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestCSideUnderASan runs rules.c built with gcc's AddressSanitizer
// through every call of the API: a read buffer used after it was freed or
// written past its end, a connection freed before its close callback, a
// double free, all abort the server with a report on stderr. The archive
// is built without -race here: ASan and the race runtime (ThreadSanitizer)
// cannot share a process.
func TestCSideUnderASan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second archive; -short skips it")
	}
	bin := libdorrit(t, false).cc(t, "testdata/rules.c", "rules-asan", "-fsanitize=address", "-fno-omit-frame-pointer", "-g")
	p := start(t, bin)

	// Messages that grow and shrink, so that the read buffer is
	// reallocated between callbacks.
	c := p.raw(t)
	for _, n := range []int{1, 100, 5000, 3, 65535, 10, 70} {
		msg := bytes.Repeat([]byte("a"), n)
		send(t, c, string(msg))
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(got), err)
		}
	}
	send(t, c, "ticks")
	message(t, c)

	// Each way a connection ends.
	bye := p.raw(t)
	send(t, bye, "bye")
	bye.ExpectClose(10 * time.Second)
	kill := p.raw(t)
	send(t, kill, "kill")
	kill.ExpectClose(10 * time.Second)
	refused, _, err := p.dialErr(&websocket.DialOptions{Subprotocols: []string{"refuse"}})
	if err == nil {
		refused.Read(ctxT(t))
		refused.CloseNow()
	}
	bin2 := p.raw(t)
	bin2.WriteBinary([]byte("x"))
	bin2.ExpectClose(10 * time.Second)
	fill := p.raw(t)
	send(t, fill, "fill")
	fill.Close() // gone with a full queue

	// The periodic function writes to c while the rest come and go.
	for range 2 {
		var f struct{ n int }
		if _, err := fmt.Sscanf(message(t, c), "tick %d", &f.n); err != nil {
			t.Fatal(err)
		}
	}
	if status := p.stop(t); status != 0 || strings.Contains(p.stderr(), "AddressSanitizer") {
		t.Fatalf("exit status %d; stderr:\n%s", status, p.stderr())
	}
	p.noCrash(t)
}
