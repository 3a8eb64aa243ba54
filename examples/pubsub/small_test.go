package main

import (
	"fmt"
	"strings"
	"testing"
)

// A client on coder/websocket's default read limit (32 KiB) resumes
// through a replay of small messages: no history event is larger than
// that.
func TestHistoryFitsDefaultReadLimit(t *testing.T) {
	s := memoryServer(t, 1000)
	pub := dial(t, s)
	var epoch string
	for i := 1; i <= 200; i++ {
		epoch = pub.publish("t", fmt.Sprintf(`"%d %s"`, i, strings.Repeat("x", 500))).Epoch
	}
	back := dial(t, s)
	back.c.SetReadLimit(32768) // coder/websocket's default
	back.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":0}`, epoch)
	back.expect("subscribed")
	back.messages("t", epoch, 0, 200) // 100 KB: four events
}

// An invalid topic, however long, is not echoed back whole.
func TestLongInvalidTopicCut(t *testing.T) {
	s := memoryServer(t, 10)
	c := dial(t, s)
	long := strings.Repeat("é", 30000) // 60 KB
	c.send(`{"type":"subscribe","topic":%q,"id":7}`, long)
	e := c.expect("error")
	if string(e.ID) != "7" || len(e.String()) > 1024 {
		t.Fatalf("error to a 60 KB topic: %d bytes: %.300s…", len(e.String()), e)
	}
	c.send(`{"type":"subscribe","topic":%q}`, "a b"+strings.Repeat("x", 60000))
	if e := c.expect("error"); len(e.String()) > 1024 {
		t.Fatalf("error to a 60 KB topic: %d bytes: %.300s…", len(e.String()), e)
	}
}
