package systest

import (
	"os"
	"testing"

	"github.com/caddy-presign/presign/systest/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}
