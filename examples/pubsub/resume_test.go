package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A client that comes back with the last offset it saw gets what it
// missed from the history, then the live messages, each once, in order.
func TestResume(t *testing.T) {
	s := memoryServer(t, 5)
	pub, sub := dial(t, s), dial(t, s)
	sub.send(`{"type":"subscribe","topic":"t"}`)
	sub.expect("subscribed")
	var epoch string
	for i := 1; i <= 3; i++ {
		epoch = pub.publish("t", fmt.Sprint(i)).Epoch
	}
	sub.messages("t", epoch, 0, 3)
	sub.c.CloseNow() // gone, knowing epoch and offset 3

	for i := 4; i <= 6; i++ {
		pub.publish("t", fmt.Sprint(i))
	}
	back := dial(t, s)
	back.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":3,"id":1}`, epoch)
	if e := back.expect("subscribed"); e.Epoch != epoch || e.Offset != 3 || string(e.ID) != "1" {
		t.Fatalf("subscribed: got %v, want epoch %s offset 3", e, epoch)
	}
	if got := joined(back.messages("t", epoch, 3, 3)); got != "4 5 6" {
		t.Fatalf("replay: got %s", got)
	}
	pub.publish("t", "7")
	if got := joined(back.messages("t", epoch, 6, 1)); got != "7" {
		t.Fatalf("live after the replay: got %s", got)
	}

	// Resuming from the oldest message kept's predecessor still works.
	for i := 8; i <= 10; i++ {
		pub.publish("t", fmt.Sprint(i))
	}
	edge := dial(t, s)
	edge.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":5}`, epoch)
	edge.expect("subscribed")
	if got := joined(edge.messages("t", epoch, 5, 5)); got != "6 7 8 9 10" {
		t.Fatalf("replay of all that is kept: got %s", got)
	}
}

// A client that comes back too late, with another epoch or with an offset
// never given out is told it missed messages, and goes on live.
func TestResumeMissed(t *testing.T) {
	s := memoryServer(t, 5)
	pub := dial(t, s)
	var epoch string
	for i := 1; i <= 10; i++ {
		epoch = pub.publish("t", fmt.Sprint(i)).Epoch
	}
	for _, tc := range []struct{ resume, why string }{
		{fmt.Sprintf(`"epoch":%q,"offset":2`, epoch), "offset 2 is older than the history kept (the oldest kept is 6): messages 3 to 5 are lost"},
		{`"epoch":"","offset":0`, "offset 0 is older than the history kept (the oldest kept is 6)"},
		{`"epoch":"feedface","offset":3`, "epoch feedface is not this topic's log any more"},
		{fmt.Sprintf(`"epoch":%q,"offset":99`, epoch), "offset 99 was never given out"},
	} {
		c := dial(t, s)
		c.send(`{"type":"subscribe","topic":"t",%s}`, tc.resume)
		c.expect("subscribed")
		e := c.expect("missed")
		if e.Epoch != epoch || e.Offset != 10 || !strings.Contains(e.Reason, tc.why) {
			t.Errorf("resume %s: got %v, want epoch %s offset 10 and reason %q", tc.resume, e, epoch, tc.why)
		}
		c.c.CloseNow()
	}
	// After missed, live from where it says.
	c := dial(t, s)
	c.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":1}`, epoch)
	c.expect("subscribed")
	c.expect("missed")
	pub.publish("t", "11")
	if got := joined(c.messages("t", epoch, 10, 1)); got != "11" {
		t.Fatalf("after missed: got %s", got)
	}
}

// Epoch "" with offset 0 asks for all that is kept.
func TestResumeFromStart(t *testing.T) {
	s := memoryServer(t, 100)
	pub := dial(t, s)
	var epoch string
	for i := 1; i <= 3; i++ {
		epoch = pub.publish("t", fmt.Sprint(i)).Epoch
	}
	c := dial(t, s)
	c.send(`{"type":"subscribe","topic":"t","epoch":"","offset":0}`)
	c.expect("subscribed")
	if got := joined(c.messages("t", epoch, 0, 3)); got != "1 2 3" {
		t.Fatalf("got %s", got)
	}
	// A topic nobody published to yet: nothing to replay, then live.
	c.send(`{"type":"subscribe","topic":"new","epoch":"","offset":0}`)
	c.expect("subscribed")
	e := pub.publish("new", `"first"`)
	if got := joined(c.messages("new", e.Epoch, 0, 1)); got != `"first"` {
		t.Fatalf("got %s", got)
	}
}

// A replay that races with publishing (and spans several history events
// and reads) hands over to the live messages without a gap or a repeat.
func TestResumeWhilePublishing(t *testing.T) {
	s := memoryServer(t, 1000)
	pub := dial(t, s)
	payload := strings.Repeat("x", 300) // 800 of them: several history events
	var epoch string
	for i := 1; i <= 400; i++ {
		epoch = pub.publish("t", fmt.Sprintf(`"%d %s"`, i, payload)).Epoch
	}
	done := make(chan error, 1)
	go func() { done <- publishRange(pub.c, "t", 401, 800, payload) }()

	c := dial(t, s)
	c.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":10}`, epoch)
	c.expect("subscribed")
	got := c.messages("t", epoch, 10, 790) // checks 11..800, in order, once each
	for i, d := range got {
		if want := fmt.Sprintf(`"%d %s"`, i+11, payload); d != want {
			t.Fatalf("offset %d: got %.20s…, want %.20s…", i+11, d, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// publishRange publishes from..to on its own goroutine, waiting for each ack.
func publishRange(c *websocket.Conn, topic string, from, to int, payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i <= to; i++ {
		msg := fmt.Sprintf(`{"type":"publish","topic":%q,"data":"%d %s"}`, topic, i, payload)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		var e event
		if json.Unmarshal(b, &e); e.Type != "ack" || e.Offset != uint64(i) {
			return fmt.Errorf("publish %d: got %s", i, b)
		}
	}
	return nil
}
