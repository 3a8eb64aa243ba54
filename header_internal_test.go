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
	c := &MessageConn{info: newConnInfo(in, nil)}
	want := http.Header{
		"Cookie":    {"a=1; b=2", "c=3"},
		"X-Real-Ip": {"192.0.2.1"},
		"X-Colon":   {"value: with a colon"},
		"Empty":     {""},
	}
	if got := c.Header(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Header() = %v, want %v", got, want)
	}
	for key, v := range want {
		if got := c.headerValues(key); !reflect.DeepEqual(got, v) {
			t.Errorf("headerValues(%q) = %q, want %q", key, got, v)
		}
	}
	if got := c.headerValues("Missing"); got != nil {
		t.Errorf("headerValues(Missing) = %q, want nil", got)
	}
}

// Cookie finds a cookie by name in any of the Cookie lines, as net/http's
// Request.Cookie does.
func TestCookieByName(t *testing.T) {
	c := &MessageConn{info: newConnInfo(http.Header{"Cookie": {"a=1; session=\"x y\"", "c=3"}}, nil)}
	for name, want := range map[string]string{"a": "1", "session": "x y", "c": "3"} {
		if got, err := c.Cookie(name); err != nil || got.Value != want {
			t.Errorf("Cookie(%q) = %v, %v; want %q", name, got, err, want)
		}
	}
	if _, err := c.Cookie("missing"); err != http.ErrNoCookie {
		t.Errorf("Cookie(missing) error = %v, want http.ErrNoCookie", err)
	}
}

// A request with nothing beyond the handshake keeps nothing.
func TestForwardedHeaderEmpty(t *testing.T) {
	c := &MessageConn{info: newConnInfo(http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, nil)}
	if _, err := c.Cookie("a"); c.info != nil || c.Header() != nil || err != http.ErrNoCookie {
		t.Fatalf("kept %v for a bare handshake", c.Header())
	}
}
