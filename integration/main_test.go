package integration

import (
	"testing"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// Binaries the tests run as real processes, built once into a directory
// every account may enter: a server started as root runs as nobody and
// must be able to execute its binary.
var (
	dorritctlBin string
	echoBin      string
	pubsubBin    string
	notifyBin    string
)

// Each is built from its own module's directory (examples/pubsub is a
// module of its own), so that this module needs none of their
// dependencies.
func TestMain(m *testing.M) {
	testproc.Main(m,
		testproc.Program{Bin: &dorritctlBin, Dir: "..", Pkg: "./cmd/dorritctl"},
		testproc.Program{Bin: &echoBin, Dir: "..", Pkg: "./examples/echo"},
		testproc.Program{Bin: &notifyBin, Dir: "..", Pkg: "./examples/notify"},
		testproc.Program{Bin: &pubsubBin, Dir: "../examples/pubsub", Pkg: ".", Name: "pubsub"},
	)
}
