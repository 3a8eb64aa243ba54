package main

import (
	"strings"
	"testing"
)

// The protocol end to end: subscribe, publish with an acknowledgement and
// an offset, messages in order, unsubscribe.
func TestPublishSubscribe(t *testing.T) {
	s := memoryServer(t, 100)
	sub, pub := dial(t, s), dial(t, s)

	sub.send(`{"type":"subscribe","topic":"news","id":"s1"}`)
	e := sub.expect("subscribed")
	if e.Topic != "news" || string(e.ID) != `"s1"` || e.Epoch != "" || e.Offset != 0 {
		t.Fatalf("subscribed to an empty topic: got %v", e)
	}

	pub.send(`{"type":"publish","topic":"news","data":{"n":1},"id":7}`)
	ack := pub.expect("ack")
	if string(ack.ID) != "7" || ack.Topic != "news" || ack.Offset != 1 || ack.Epoch == "" {
		t.Fatalf("ack: got %v", ack)
	}
	m := sub.expect("message")
	if m.Topic != "news" || m.Epoch != ack.Epoch || m.Offset != 1 || string(m.Data) != `{"n":1}` {
		t.Fatalf("message: got %v", m)
	}
	for i, d := range []string{`"two"`, `[3]`, `null`} {
		if a := pub.publish("news", d); a.Offset != uint64(i+2) || a.Epoch != ack.Epoch {
			t.Fatalf("ack %d: got %v", i+2, a)
		}
	}
	if got := joined(sub.messages("news", ack.Epoch, 1, 3)); got != `"two" [3] null` {
		t.Fatalf("messages: got %s", got)
	}

	// A publisher subscribed to its own topic gets its message too.
	pub.send(`{"type":"subscribe","topic":"news"}`)
	if e := pub.expect("subscribed"); e.Epoch != ack.Epoch || e.Offset != 4 {
		t.Fatalf("subscribed: got %v, want offset 4", e)
	}

	// After unsubscribed, nothing more of the topic: a message published
	// to another topic afterwards is the next thing the client gets.
	sub.send(`{"type":"unsubscribe","topic":"news","id":2}`)
	if e := sub.expect("unsubscribed"); e.Topic != "news" || string(e.ID) != "2" {
		t.Fatalf("unsubscribed: got %v", e)
	}
	sub.send(`{"type":"subscribe","topic":"other"}`)
	sub.expect("subscribed")
	pub.send(`{"type":"publish","topic":"news","data":5}`)
	pub.ackAndMessage() // its own subscription
	pub.publish("other", `"x"`)
	if e := sub.expect("message"); e.Topic != "other" || string(e.Data) != `"x"` {
		t.Fatalf("after unsubscribing from news: got %v, want the message of other", e)
	}
}

// Every bad request gets an error that says what to do, with the
// request's id, and the connection goes on.
func TestErrors(t *testing.T) {
	s := memoryServer(t, 100)
	c := dial(t, s)
	c.send(`{"type":"subscribe","topic":"a"}`)
	c.expect("subscribed")
	for _, tc := range []struct{ req, want string }{
		{`not json`, "not a JSON object"},
		{`["subscribe"]`, "not a JSON object"},
		{`{"type":"subscribe","topic":"a","offset":-1,"epoch":"e","id":1}`, "offset a whole number from 0"},
		{`{"topic":"a","id":1}`, `"type" is missing`},
		{`{"type":"shout","topic":"a","id":1}`, `unknown type "shout": subscribe, unsubscribe or publish`},
		{`{"type":"publish","id":1}`, `a topic is needed`},
		{`{"type":"publish","topic":"a b","data":1,"id":1}`, `use letters, digits and . _ - : / only`},
		{`{"type":"publish","topic":"` + strings.Repeat("x", 129) + `","data":1,"id":1}`, `at most 128`},
		{`{"type":"publish","topic":"a","id":1}`, `publish needs "data"`},
		{`{"type":"publish","topic":"a","data":{bad}}`, "not a JSON object"},
		{`{"type":"subscribe","topic":"a","id":1}`, `already subscribed to "a"`},
		{`{"type":"unsubscribe","topic":"b","id":1}`, "not subscribed to b"},
		{`{"type":"subscribe","topic":"b","offset":3,"id":1}`, `"offset" without "epoch"`},
		{`{"type":"subscribe","topic":"b","epoch":"x","id":1}`, `"epoch" without "offset"`},
	} {
		c.send("%s", tc.req)
		e := c.expect("error")
		if !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: got error %q, want it to say %q", tc.req, e.Error, tc.want)
		}
		if strings.Contains(tc.req, `"id":1`) && string(e.ID) != "1" {
			t.Errorf("%s: got id %s, want 1", tc.req, e.ID)
		}
	}
	c.send(`{"type":"publish","topic":"a","data":1}`)
	if a, _ := c.ackAndMessage(); a.Offset != 1 {
		t.Fatalf("after the errors: got %v", a)
	}
}

// The periodic message: each client gets the subscriber counts of its topics.
func TestStats(t *testing.T) {
	s := memoryServer(t, 100)
	a, b, idle := dial(t, s), dial(t, s), dial(t, s)
	a.send(`{"type":"subscribe","topic":"x"}`)
	a.expect("subscribed")
	a.send(`{"type":"subscribe","topic":"y"}`)
	a.expect("subscribed")
	b.send(`{"type":"subscribe","topic":"x"}`)
	b.expect("subscribed")

	s.h.sendStats() // what lifecycle's Periodic calls
	if e := a.expect("stats"); len(e.Subscribers) != 2 || e.Subscribers["x"] != 2 || e.Subscribers["y"] != 1 {
		t.Fatalf("a: got %v, want x 2, y 1", e)
	}
	if e := b.expect("stats"); len(e.Subscribers) != 1 || e.Subscribers["x"] != 2 {
		t.Fatalf("b: got %v, want x 2", e)
	}
	// A client without subscriptions gets none: its next message is the
	// answer to what it sends next.
	idle.send(`{"type":"unsubscribe","topic":"x"}`)
	idle.expect("error")
}
