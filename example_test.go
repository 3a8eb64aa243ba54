package dorrit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

// An echo server: the accept loop every dorrit server has. In production
// Path is e.g. /run/echo.socket and nginx forwards to it.
func Example() {
	dir, _ := os.MkdirTemp("", "dorrit")
	defer os.RemoveAll(dir)
	ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(dir, "echo.socket")})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					msg, err := c.Read(context.Background())
					if err != nil {
						return
					}
					if err := c.Write(msg); err != nil {
						return // queue full, or closing: the deferred Close drains
					}
				}
			}()
		}
	}()

	reply := exampleClient(ln.Addr().String(), "hello", nil)
	fmt.Println(reply)
	// Output: hello
}

// Authorize sees the forwarded request before the upgrade, so a session
// cookie set by the login page can be checked there; a refusal is a 403
// and nothing is upgraded. What it returns (the user) is the connection's
// Value.
func ExampleOptions_authorize() {
	dir, _ := os.MkdirTemp("", "dorrit")
	defer os.RemoveAll(dir)
	ln, err := dorrit.Listen(dorrit.Options{
		Path: filepath.Join(dir, "chat.socket"),
		Authorize: func(r *http.Request) (any, error) {
			ck, err := r.Cookie("session")
			if err != nil || ck.Value != "s3cret" {
				return nil, errors.New("log in first")
			}
			return "ada", nil // the user the session names: c.Value()
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("welcome, " + c.Value().(string)))
			c.Close()
		}
	}()

	fmt.Println(exampleClient(ln.Addr().String(), "", http.Header{"Cookie": {"session=nope"}}))
	fmt.Println(exampleClient(ln.Addr().String(), "", http.Header{"Cookie": {"session=s3cret"}}))
	// Output:
	// refused: 403
	// welcome, ada
}

// Write never blocks; a client that does not keep up fills its queue and
// Write says so. WriteContext waits for room instead.
func ExampleMessageConn_Write() {
	var c *dorrit.MessageConn // from ln.Accept()
	broadcast := func(msg []byte) {
		if err := c.Write(msg); errors.Is(err, dorrit.ErrQueueFull) {
			// Too slow for a live feed: its queue is discarded and it
			// gets 1008 at once; other clients do not wait for it.
			c.Drop(dorrit.StatusPolicyViolation, "too slow")
		}
	}
	_ = broadcast
}

// A handler that only writes calls CloseRead instead of Read: pings are
// still answered, the client's close is completed, and the context ends
// when the client is gone.
func ExampleMessageConn_CloseRead() {
	dir, _ := os.MkdirTemp("", "dorrit")
	defer os.RemoveAll(dir)
	ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(dir, "feed.socket")})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	gone := make(chan error)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		ctx := c.CloseRead(context.Background())
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				gone <- c.Err()
				return
			case <-tick.C:
				if err := c.Write(fmt.Appendf(nil, "tick %d", n)); err != nil {
					gone <- err
					return
				}
			}
		}
	}()

	fmt.Println(exampleClient(ln.Addr().String(), "", nil)) // reads one, then leaves
	fmt.Println(dorrit.CloseStatus(<-gone))
	// Output:
	// tick 1
	// 1006
}

// CloseWith closes with the application's code and reason, after the queue;
// a client that does not read what was queued for it is given up on when
// the context ends, and the error says how much it missed.
func ExampleMessageConn_CloseWith() {
	var c *dorrit.MessageConn // from ln.Accept()
	closeWithin := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var de *dorrit.DeliveryError
		if err := c.CloseWith(ctx, 4000, "session expired"); errors.As(err, &de) {
			log.Printf("client %d missed %d frames: %v", c.ID(), de.Undelivered, de.Err)
		}
	}
	_ = closeWithin
}

// Shutdown lets every client receive what was queued for it, then closes
// with 1001 (going away).
func ExampleListener_Shutdown() {
	dir, _ := os.MkdirTemp("", "dorrit")
	defer os.RemoveAll(dir)
	ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(dir, "s.socket")})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ln.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	_, err = ln.Accept()
	fmt.Println(errors.Is(err, dorrit.ErrClosed))
	// Output: true
}

// exampleClient sends msg (when not empty) and returns the first reply.
func exampleClient(socket, msg string, h http.Header) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	c, resp, err := websocket.Dial(ctx, "ws://localhost/", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return fmt.Sprint("refused: ", resp.StatusCode)
		}
		return err.Error()
	}
	defer c.CloseNow()
	if msg != "" {
		c.Write(ctx, websocket.MessageText, []byte(msg))
	}
	_, reply, err := c.Read(ctx)
	if err != nil {
		return err.Error()
	}
	return string(reply)
}
