package harness

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's Chromium, the browser of the browser tests.
const Chromium = "/usr/bin/chromium"

// Browser starts headless Chromium (Chromium, looked up with LookTool) for
// chromedp under ctx and returns the browser's context; the browser ends
// with the test. It reaches nothing but what the test points it at: no
// background networking, component updates, sync, QUIC, first-run pages,
// default apps or extensions. Its sandbox is off when the tests run as
// root, where Chromium refuses to start with it. extra options come last
// (e.g. chromedp.WindowSize).
func Browser(t testing.TB, ctx context.Context, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(LookTool(t, Chromium)),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
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
	actx, acancel := chromedp.NewExecAllocator(ctx, append(opts, extra...)...)
	t.Cleanup(acancel) // registered after TempDir: runs before the user data dir is removed
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(bcancel)
	return bctx
}
