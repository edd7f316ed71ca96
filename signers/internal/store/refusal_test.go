package store

import (
	"errors"
	"strings"
	"testing"
)

// TestRefusalReason: the reason names the store's code when it is a plain
// token, never the store's text.
func TestRefusalReason(t *testing.T) {
	names := func(int, string) bool { return true }
	for _, c := range []struct {
		status int
		code   string
		want   string
	}{
		{400, "InvalidArgument", "the store refused the request: InvalidArgument"},
		{400, "", "the store refused the request: 400"},
		{400, "<b>10.0.0.5</b> said no", "the store refused the request: 400"},
		{400, strings.Repeat("A", 65), "the store refused the request: 400"},
		{403, "AccessDenied", "the store refused: AccessDenied"},
		{500, "", "the store refused: 500"},
	} {
		if se := Refusal(c.status, c.code, names, errors.New("e")); se.Reason != c.want {
			t.Errorf("%d %q: reason %q, want %q", c.status, c.code, se.Reason, c.want)
		}
	}
}
