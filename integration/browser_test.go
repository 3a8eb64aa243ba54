package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is headless Chromium, one per test, with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := tool(t, "chromium", "--version")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers' /dev/shm is small
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(800, 600),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser now, so that a browser that cannot start fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// pageResult is what a page of echoPage wrote into itself.
type pageResult struct {
	Status     string `json:"status"`
	Opened     string `json:"opened"`
	Echo       string `json:"echo"`
	screenshot []byte
}

// openPage opens url in a new tab of the browser, waits until the page's
// script is done (30 s at most), and takes a screenshot.
func openPage(t *testing.T, browserCtx context.Context, url string) pageResult {
	t.Helper()
	tab, cancel := chromedp.NewContext(browserCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(tab, 30*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	r, err := chromedp.Run(ctx, chromedp.Poll[pageResult](`document.body.dataset.done === "yes" && {
		status: document.getElementById("status").textContent,
		opened: document.getElementById("opened").textContent,
		echo: document.getElementById("echo").textContent,
	}`, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s: waiting for the page's script: %v", url, err)
	}
	if r.screenshot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatalf("%s: screenshot: %v", url, err)
	}
	return r
}

// saveArtifact writes a test's screenshot where it can be looked at:
// integration/testdata/out with DORRIT_ARTIFACTS set, else the test's
// temporary directory (kept until the test ends; the path is logged).
func saveArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("DORRIT_ARTIFACTS") != "" {
		dir = filepath.Join("testdata", "out")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	name = strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + name
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
