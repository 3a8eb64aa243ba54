package dorrit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// fastKeepalive pings after 50 ms of silence and drops 50 ms later.
var fastKeepalive = dorrit.Options{PingInterval: 50 * time.Millisecond, PongTimeout: 50 * time.Millisecond}

// expectPing reads frames until the server's ping, within 5 s.
func expectPing(t *testing.T, c *wstest.Conn) []byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for the server's ping: %v", err)
		}
		if f.Opcode == wstest.OpPing {
			return append([]byte(nil), f.Payload...)
		}
	}
}

// A silent client is pinged; one that answers stays connected however long
// it stays silent otherwise.
func TestKeepalivePingsSilentClients(t *testing.T) {
	ln := serve(t, fastKeepalive, echo)
	c := dialRaw(t, ln)
	for range 5 { // 5 rounds of PingInterval + PongTimeout
		p := expectPing(t, c)
		if err := c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpPong, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(t, c, "still here")
	if s := ln.Stats(); s.Dropped.PongTimeout != 0 || s.Live != 1 {
		t.Fatalf("Stats: %d pong timeouts, %d live; want 0 and 1", s.Dropped.PongTimeout, s.Live)
	}
}

// A client that answers no ping is closed with 1001, whether the handler
// sits in Read or only writes after CloseRead, and Stats says why.
func TestKeepaliveDropsClientsThatDoNotAnswer(t *testing.T) {
	handlers := map[string]func(*dorrit.MessageConn, chan<- error){
		"Read": func(c *dorrit.MessageConn, ended chan<- error) {
			_, err := c.Read(context.Background())
			ended <- err
		},
		"CloseRead": func(c *dorrit.MessageConn, ended chan<- error) {
			<-c.CloseRead(context.Background()).Done()
			ended <- c.Err()
		},
	}
	for name, handle := range handlers {
		t.Run(name, func(t *testing.T) {
			ended := make(chan error, 1)
			ln := serve(t, fastKeepalive, func(c *dorrit.MessageConn) { handle(c, ended) })
			c := dialRaw(t, ln)
			code, reason, _, err := c.ExpectClose(5 * time.Second) // reads, answers nothing
			if err != nil || code != 1001 {
				t.Fatalf("client got close %d %q (%v), want 1001", code, reason, err)
			}
			err = <-ended
			var ce *dorrit.CloseError
			if !errors.As(err, &ce) || ce.Code != dorrit.StatusGoingAway || ce.Remote {
				t.Fatalf("handler saw %#v, want the server's 1001", err)
			}
			if s := ln.Stats(); s.Dropped.PongTimeout != 1 {
				t.Fatalf("Stats.Dropped.PongTimeout = %d, want 1", s.Dropped.PongTimeout)
			}
		})
	}
}

// A client whose bytes wait unread, because its handler stopped reading,
// is alive: keepalive leaves it alone, however late its answers to the
// pings come (a loaded machine once delayed this test's first pong past
// the 50 ms PongTimeout, and the client was dropped).
func TestKeepaliveSparesUnreadClients(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	read := make(chan struct{})
	ln := serve(t, fastKeepalive, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		close(read)
		<-release // busy elsewhere, reading nothing
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("hello"))
	<-read
	c.WriteText([]byte("for later")) // waits in the socket: nobody reads
	for i := range 5 {
		p := expectPing(t, c)
		if i == 0 {
			time.Sleep(3 * fastKeepalive.PongTimeout) // late, as under load
		}
		if err := c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpPong, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if s := ln.Stats(); s.Dropped.PongTimeout != 0 || s.Live != 1 {
		t.Fatalf("Stats: %d pong timeouts, %d live; want 0 and 1", s.Dropped.PongTimeout, s.Live)
	}
}
