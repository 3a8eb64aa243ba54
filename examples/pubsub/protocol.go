package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The wire protocol: one JSON object per text message, told apart by
// "type". README.md documents it for client authors; keep the two in step.

// request is any message a client sends.
type request struct {
	Type  string          `json:"type"`  // subscribe, unsubscribe, publish
	ID    json.RawMessage `json:"id"`    // any JSON value; echoed in the reply
	Topic string          `json:"topic"` // every request has one
	Data  json.RawMessage `json:"data"`  // publish: the message, any JSON value

	// subscribe: resume after this position (the last message seen).
	// Offset present means resume; epoch "" with offset 0 asks for all
	// that is kept.
	Epoch  string  `json:"epoch"`
	Offset *uint64 `json:"offset"`
}

// Replies and events the server sends. Epoch and offset are never omitted
// where they are a position: "" and 0 mean an empty log.
type (
	subscribedReply struct {
		Type   string          `json:"type"` // "subscribed"
		ID     json.RawMessage `json:"id,omitempty"`
		Topic  string          `json:"topic"`
		Epoch  string          `json:"epoch"`
		Offset uint64          `json:"offset"` // messages follow from offset+1
	}
	unsubscribedReply struct {
		Type  string          `json:"type"` // "unsubscribed"
		ID    json.RawMessage `json:"id,omitempty"`
		Topic string          `json:"topic"`
	}
	ackReply struct {
		Type   string          `json:"type"` // "ack"
		ID     json.RawMessage `json:"id,omitempty"`
		Topic  string          `json:"topic"`
		Epoch  string          `json:"epoch"`
		Offset uint64          `json:"offset"`
	}
	errorReply struct {
		Type  string          `json:"type"` // "error"
		ID    json.RawMessage `json:"id,omitempty"`
		Topic string          `json:"topic,omitempty"`
		Error string          `json:"error"`
	}
	// missedEvent: the client did not and will not get some messages
	// (resume too far back, or the log was lost); the stream goes on
	// after Epoch/Offset.
	missedEvent struct {
		Type   string `json:"type"` // "missed"
		Topic  string `json:"topic"`
		Epoch  string `json:"epoch"`
		Offset uint64 `json:"offset"`
		Reason string `json:"reason"`
	}
	messageEvent struct {
		Type   string          `json:"type"` // "message"
		Topic  string          `json:"topic"`
		Epoch  string          `json:"epoch"`
		Offset uint64          `json:"offset"`
		Data   json.RawMessage `json:"data"`
	}
	// historyEvent carries missed messages to a resuming client, many per
	// WebSocket message, so that a replay takes few of the client's queue
	// slots.
	historyEvent struct {
		Type     string         `json:"type"` // "history"
		Topic    string         `json:"topic"`
		Epoch    string         `json:"epoch"`
		Messages []historyEntry `json:"messages"`
	}
	historyEntry struct {
		Offset uint64          `json:"offset"`
		Data   json.RawMessage `json:"data"`
	}
	statsEvent struct {
		Type        string         `json:"type"`        // "stats"
		Subscribers map[string]int `json:"subscribers"` // per topic the client subscribes to, on this server
	}
)

// Topic names: 1 to maxTopicLen bytes of letters, digits and . _ - : /.
// They go into Redis key names and channel names as they are, so nothing
// that could end Redis's {hash tag} or need quoting.
const maxTopicLen = 128

func checkTopic(t string) error {
	if t == "" {
		return fmt.Errorf(`a topic is needed: add "topic": "name"`)
	}
	if len(t) > maxTopicLen {
		return fmt.Errorf("topic is %d bytes long: at most %d", len(t), maxTopicLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == ':' || c == '/' {
			continue
		}
		return fmt.Errorf("topic %q has %q: use letters, digits and . _ - : / only", t, c)
	}
	return nil
}

// parseRequest decodes and checks one client message.
func parseRequest(b []byte) (request, error) {
	var r request
	if err := json.Unmarshal(b, &r); err != nil {
		if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' && json.Valid(b) {
			// A field of the wrong type; the others, id too, are decoded.
			return r, fmt.Errorf("%v: type, topic and epoch are strings, offset a whole number from 0", err)
		}
		return r, fmt.Errorf(`not a JSON object (%v): send e.g. {"type":"subscribe","topic":"news"}`, err)
	}
	switch r.Type {
	case "subscribe", "unsubscribe", "publish":
	case "":
		return r, fmt.Errorf(`"type" is missing: subscribe, unsubscribe or publish`)
	default:
		return r, fmt.Errorf("unknown type %q: subscribe, unsubscribe or publish", r.Type)
	}
	if err := checkTopic(r.Topic); err != nil {
		return r, err
	}
	switch {
	case r.Type == "publish" && len(r.Data) == 0:
		return r, fmt.Errorf(`publish needs "data": any JSON value`)
	case r.Type == "subscribe" && r.Offset == nil && r.Epoch != "":
		return r, fmt.Errorf(`"epoch" without "offset": to resume, send both from the last message seen`)
	case r.Type == "subscribe" && r.Offset != nil && r.Epoch == "" && *r.Offset != 0:
		return r, fmt.Errorf(`"offset" without "epoch": offsets count within an epoch; send the epoch of the last message seen, or offset 0 for all that is kept`)
	}
	return r, nil
}

// encode marshals a reply; the types above always marshal.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("pubsub: cannot encode %T: %v", v, err))
	}
	return b
}
