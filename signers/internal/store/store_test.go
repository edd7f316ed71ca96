package store

import (
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// TestListingCheck: a page with a key outside the prefix, or truncated
// without a token, is refused.
func TestListingCheck(t *testing.T) {
	ok := &signers.Listing{Folders: []string{"p/a/"}, Objects: []signers.Object{{Key: "p/x"}}}
	if err := Check(ok, "p/", false); err != nil {
		t.Errorf("a good page: %v", err)
	}
	for name, c := range map[string]struct {
		l         *signers.Listing
		truncated bool
	}{
		"object outside": {&signers.Listing{Objects: []signers.Object{{Key: "q/x"}}}, false},
		"folder outside": {&signers.Listing{Folders: []string{"pq/"}}, false},
		"no token":       {&signers.Listing{Objects: []signers.Object{{Key: "p/x"}}}, true},
		"too many":       {&signers.Listing{Objects: make([]signers.Object, signers.ListPageSize+1)}, false},
	} {
		if err := Check(c.l, "p/", c.truncated); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
