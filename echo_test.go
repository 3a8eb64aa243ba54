package dorrit_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

func TestEchoWithLibraryClient(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialCoder(t, ln, nil)
	ctx := ctxT(t)
	for _, size := range []int{1, 125, 126, 4096, 65535} {
		msg := []byte(strings.Repeat("é", size/2+1)[:size/2*2])
		if len(msg) == 0 {
			msg = []byte("x")
		}
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if typ != websocket.MessageText || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: got %d bytes of type %v", size, len(got), typ)
		}
	}
	// A message the client fragments is reassembled into one.
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"frag", "mented ", "message"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "fragmented message" {
		t.Fatalf("got %q, %v", got, err)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
}
