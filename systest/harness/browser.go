package harness

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's Chromium, the browser of the browser tests.
const Chromium = "/usr/bin/chromium"

// Browser starts headless Chromium (Chromium, looked up with LookTool) for
// chromedp and returns a context for its actions, which ends with ctx. The
// browser itself lives until the test ends and is then closed gracefully
// (killed after 10 s), so that it and its helper processes are gone before
// its profile is removed: ending ctx, as a test's deferred cancel does,
// stops the actions, not the process. It reaches nothing but what the test
// points it at: no background networking, component updates, sync, QUIC,
// first-run pages, default apps or extensions. Its sandbox is off when the
// tests run as root, where Chromium refuses to start with it. extra options
// come last (e.g. chromedp.WindowSize).
func Browser(t testing.TB, ctx context.Context, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	profile := userDataDir(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(LookTool(t, Chromium)),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	life, kill := context.WithCancel(context.WithoutCancel(ctx))
	actx, acancel := chromedp.NewExecAllocator(life, append(opts, extra...)...)
	t.Cleanup(acancel) // registered after userDataDir: the browser ends before its profile is removed
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		stop := time.AfterFunc(10*time.Second, kill)
		defer stop.Stop()
		bcancel() // Browser.close, then wait for the process to exit
		kill()
	})
	// start the browser now, under its own lifetime: the first Run binds
	// the process to the context it is given
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("harness: starting Chromium: %v", err)
	}
	actions, cancel := context.WithCancel(bctx)
	t.Cleanup(cancel)
	context.AfterFunc(ctx, cancel)
	return actions
}

// userDataDir is a fresh Chromium profile folder, removed when the test
// ends. Chromium's helper processes can still write into it for a moment
// after the browser process has exited (chromedp notes the same), so the
// removal is retried for a few seconds instead of failing the test the way
// t.TempDir's cleanup would.
func userDataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "presign-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("harness: removing Chromium's profile: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}
