package azure

import (
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// TestAzureExpiresLimit: without an account key, URLs are signed with a
// user delegation key, which lives at most 7 days: a rule's longer
// lifetime is refused at start, naming the profile and the limit.
func TestAzureExpiresLimit(t *testing.T) {
	a := newTestAzure(t, &Azure{Account: "devstoreaccount1", Container: "media"})
	err := a.CheckRule(&signers.RuleInfo{Profile: "az", Methods: []string{"GET", "HEAD"}, Expires: 8 * 24 * time.Hour, Options: &signers.Options{}})
	if want := `expires 192h0m0s is over profile "az"'s limit of 168h0m0s`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("8d: %v, want %q", err, want)
	}
	if err := a.CheckRule(&signers.RuleInfo{Profile: "az", Methods: []string{"GET"}, Expires: 7 * 24 * time.Hour, Options: &signers.Options{}}); err != nil {
		t.Errorf("7d: %v", err)
	}
}
