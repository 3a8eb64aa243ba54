package dorrit

import (
	"net/http"
	"testing"
)

// Sub-protocol tokens are compared exactly (RFC 6455 §4.1): a browser fails
// the connection unless the answer is one of its offers, byte for byte.
func TestSelectProtocol(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offers []string // Sec-WebSocket-Protocol lines
		ours   []string
		want   string
	}{
		{"no offer", nil, []string{"chat"}, ""},
		{"no server protocols", []string{"chat"}, nil, ""},
		{"exact", []string{"chat"}, []string{"chat"}, "chat"},
		{"case differs", []string{"Chat"}, []string{"chat"}, ""},
		{"case differs, server upper", []string{"chat"}, []string{"CHAT"}, ""},
		{"exact among case variants", []string{"Chat, chat"}, []string{"chat"}, "chat"},
		{"our order wins", []string{"v1, v2"}, []string{"v2", "v1"}, "v2"},
		{"second of ours", []string{"v1"}, []string{"v2", "v1"}, "v1"},
		{"across lines, spaces trimmed", []string{"a", " v1 ,v2 "}, []string{"v2"}, "v2"},
		{"prefix is no match", []string{"chat.v1"}, []string{"chat"}, ""},
	} {
		h := http.Header{"Sec-Websocket-Protocol": tc.offers}
		if got := selectProtocol(h, tc.ours); got != tc.want {
			t.Errorf("%s: offers %q, ours %q: chose %q, want %q", tc.name, tc.offers, tc.ours, got, tc.want)
		}
	}
}

// A pattern without a port matches the origin's host name whatever its port;
// a pattern with one matches host:port. The request's own Host, port
// included, is always accepted.
func TestCheckOrigin(t *testing.T) {
	patterns := []string{"example.com", "*.trusted.example", "ports.example:8080", "any.example:*"}
	for _, tc := range []struct {
		origin, host string
		ok           bool
	}{
		{"", "chat.example", true}, // not a browser
		{"http://example.com", "chat.example", true},
		{"http://example.com:8080", "chat.example", true},
		{"https://EXAMPLE.com:8443", "chat.example", true},
		{"https://app.trusted.example:8443", "chat.example", true},
		{"http://ports.example:8080", "chat.example", true},
		{"http://ports.example:9090", "chat.example", false},
		{"http://ports.example", "chat.example", false}, // a pattern with a port needs that port
		{"http://any.example:1234", "chat.example", true},
		{"http://any.example", "chat.example", false},
		{"http://evil.example:8080", "chat.example", false},
		{"http://example.com.evil.example:8080", "chat.example", false},
		{"http://chat.example:8080", "chat.example:8080", true}, // the requested Host, port included
		{"http://CHAT.example:8080", "chat.example:8080", true},
		{"http://chat.example:8443", "chat.example", false}, // same name, other port: another origin
		{"http://chat.example", "chat.example:8080", false},
		{"http://[::1]:8080", "[::1]:8080", true},
		{"null", "chat.example", false},
		{"not a url", "chat.example", false},
	} {
		r := &http.Request{Host: tc.host, Header: http.Header{}}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if err := checkOrigin(r, patterns); (err == nil) != tc.ok {
			t.Errorf("Origin %q Host %q: %v, want accepted %v", tc.origin, tc.host, err, tc.ok)
		}
	}
}
