package dorrit

import (
	"net/http"
	"reflect"
	"testing"
)

// The forwarded header is kept as one block of lines and read back on
// demand: whatever the request carried (beyond the handshake's own
// fields) comes back the same, repeated fields in their order.
func TestForwardedHeaderRoundTrip(t *testing.T) {
	in := http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version": {"13"},
		"Cookie":                {"a=1; b=2", "c=3"},
		"X-Real-Ip":             {"192.0.2.1"},
		"X-Colon":               {"value: with a colon"},
		"Empty":                 {""},
	}
	c := &MessageConn{header: forwardedHeader(in)}
	want := http.Header{
		"Cookie":    {"a=1; b=2", "c=3"},
		"X-Real-Ip": {"192.0.2.1"},
		"X-Colon":   {"value: with a colon"},
		"Empty":     {""},
	}
	if got := c.Header(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Header() = %v, want %v", got, want)
	}
	for key, v := range map[string]string{"Cookie": "a=1; b=2", "X-Colon": "value: with a colon", "Empty": "", "Missing": ""} {
		if got := c.headerValue(key); got != v {
			t.Errorf("headerValue(%q) = %q, want %q", key, got, v)
		}
	}
}

// A request with nothing beyond the handshake keeps nothing.
func TestForwardedHeaderEmpty(t *testing.T) {
	c := &MessageConn{header: forwardedHeader(http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}})}
	if c.header != nil || c.Header() != nil || c.Cookie() != "" {
		t.Fatalf("kept %v for a bare handshake", c.Header())
	}
}
