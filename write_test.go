package dorrit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// An empty text message is legal (RFC 6455), and the echo loop every
// example shows sends it back, however the client framed it. The cases are
// Autobahn's 1.1.1 (an empty message), 6.1.2 (three empty fragments) and
// 6.1.3 (empty, "middle frame payload", empty).
func TestEchoOfEmptyMessages(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	for _, tc := range []struct {
		name      string
		fragments []string
	}{
		{"1.1.1 empty message", []string{""}},
		{"6.1.2 three empty fragments", []string{"", "", ""}},
		{"6.1.3 empty fragments around a payload", []string{"", "middle frame payload", ""}},
	} {
		want := ""
		for i, p := range tc.fragments {
			op := byte(wstest.OpContinuation)
			if i == 0 {
				op = wstest.OpText
			}
			if err := c.WriteFrame(wstest.Frame{Fin: i == len(tc.fragments)-1, Opcode: op, Payload: []byte(p)}); err != nil {
				t.Fatal(err)
			}
			want += p
		}
		op, got, err := c.ReadMessage()
		if err != nil || op != wstest.OpText || string(got) != want {
			t.Fatalf("%s: echo op %d %q, %v; want text %q", tc.name, op, got, err, want)
		}
	}
	roundTrip(t, c, "after the empty ones")
}

// Write sends an empty message as one empty text frame; WritePrepared too.
func TestWriteEmptyMessage(t *testing.T) {
	errs := make(chan error, 2)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		errs <- c.Write(nil)
		errs <- c.WritePrepared(dorrit.NewPreparedMessage([]byte{}))
		echo(c)
	})
	c := dialRaw(t, ln)
	for i := range 2 {
		f, err := c.ReadFrame()
		if err != nil || !f.Fin || f.Opcode != wstest.OpText || len(f.Payload) != 0 {
			t.Fatalf("frame %d: %+v, %v; want one empty final text frame", i, f, err)
		}
		if err := <-errs; err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

// Write refuses a message that is not valid UTF-8 instead of sending a
// text frame the client must fail with 1007; nothing of it is queued and
// the connection goes on. WritePrepared checks once, when the message is
// prepared, and refuses it on every connection.
func TestWriteRefusesInvalidUTF8(t *testing.T) {
	invalid := [][]byte{
		{0xff, 0xfe},                      // never valid
		{'a', 0xc0, 0x80},                 // overlong NUL
		{0xed, 0xa0, 0x80},                // a surrogate
		{'o', 'k', 0xe2, 0x82},            // cut in the middle of a character
		append(make([]byte, 70000), 0xff), // in the last fragment of a large one
	}
	errs := make(chan error, 2*len(invalid))
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		for _, msg := range invalid {
			errs <- c.Write(msg)
			errs <- c.WritePrepared(dorrit.NewPreparedMessage(msg))
		}
		c.Write([]byte("still open"))
		echo(c)
	})
	c := dialRaw(t, ln)
	op, got, err := c.ReadMessage()
	if err != nil || op != wstest.OpText || string(got) != "still open" {
		t.Fatalf("first message: op %d %q, %v; want \"still open\" and nothing before it", op, got, err)
	}
	for i := range 2 * len(invalid) {
		if err := <-errs; !errors.Is(err, dorrit.ErrInvalidUTF8) {
			t.Errorf("write %d of %q: %v, want ErrInvalidUTF8", i, invalid[i/2][:min(8, len(invalid[i/2]))], err)
		}
	}
	roundTrip(t, c, "héllo")
}

// A connection is handed out before the client knows it is connected: its
// 101 leaves only once the application reads, writes or closes. So an
// application that registers a connection in its accept loop (a hub for
// broadcasts) has it registered before the client's Dial returns, and a
// message to everyone sent right after that Dial reaches this client too.
func TestClientIsConnectedOnlyAfterAccept(t *testing.T) {
	ln, err := dorrit.Listen(dorrit.Options{Path: t.TempDir() + "/s.sock"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dialed := make(chan error, 1)
	var client *wstest.Conn
	go func() {
		var err error
		client, _, err = wstest.Dial(sockPath(ln), nil)
		dialed <- err
	}()

	c, err := ln.AcceptContext(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-dialed:
		t.Fatalf("the client's Dial returned (%v) before the application did anything with its connection", err)
	case <-time.After(200 * time.Millisecond): // the 101 would have arrived by now
	}
	// Registered: a broadcast reaches it before its handler even starts.
	if err := c.Write([]byte("to everyone")); err != nil {
		t.Fatal(err)
	}
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go echo(c)
	if op, got, err := client.ReadMessage(); err != nil || op != wstest.OpText || string(got) != "to everyone" {
		t.Fatalf("first message: op %d %q, %v", op, got, err)
	}
	roundTrip(t, client, "then the echo")
}

// The notification case: an accept loop that registers each connection
// before starting its handler, and a notice sent to every registered
// connection the moment a client's Dial has returned: the client gets it.
func TestNotifyEveryoneRightAfterDial(t *testing.T) {
	registered := make(chan *dorrit.MessageConn, 16)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		time.Sleep(20 * time.Millisecond) // an accept loop busy with the one before
		registered <- c                   // the hub: what an accept loop does before "go serve(c)"
		c.CloseRead(context.Background())
	})
	for i := range 5 {
		client := dialRaw(t, ln)
		select {
		case c := <-registered:
			if err := c.Write([]byte("notice")); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("client %d: Dial returned before the connection was registered", i)
		}
		if _, got, err := client.ReadMessage(); err != nil || string(got) != "notice" {
			t.Fatalf("client %d: %q, %v", i, got, err)
		}
	}
}
