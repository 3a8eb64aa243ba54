package lifecycle

import (
	"errors"
	"os"
	"testing"
)

// What writeReport says, readReport reads back, through a real pipe.
func TestReadyPipeReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent error
		want error // nil: ready
	}{
		{"ready", nil, nil},
		{"error", errors.New("cannot adopt the socket: bad descriptor"), errors.New("cannot adopt the socket: bad descriptor")},
		{"error on two lines", errors.New("first\nsecond"), errors.New("first second")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			writeReport(w, tc.sent)
			got := readReport(r)
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("readReport = %v, want ready", got)
			case tc.want != nil && (got == nil || got.Error() != tc.want.Error()):
				t.Fatalf("readReport = %v, want %v", got, tc.want)
			}
		})
	}
}

// A process that ends without a word is told from one that reported.
func TestReadyPipeClosedWithoutReport(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Write([]byte("READ")) // cut short
	w.Close()
	if got := readReport(r); !errors.Is(got, errNoReport) {
		t.Fatalf("readReport = %v, want errNoReport", got)
	}
}
