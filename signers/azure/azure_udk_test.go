package azure

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
)

// tokenCred is a credential that always has a token.
type tokenCred struct{}

func (tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestAzureUDKErrorWithoutAddress: when the blob service is down, the
// credential cache's error for a user delegation key, which the handler
// logs, names the cause but not the service's address.
func TestAzureUDKErrorWithoutAddress(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close()
	u, err := url.Parse(down.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &azureUDKProvider{cred: tokenCred{}, client: http.DefaultClient, url: down.URL + "/?restype=service&comp=userdelegationkey",
		timeout: 5 * time.Second, now: time.Now}
	_, err = credcache.New(p.fetch, 5*time.Second, time.Minute).Get(context.Background())
	if !errors.Is(err, signers.ErrCredentials) {
		t.Fatalf("%v, want an ErrCredentials", err)
	}
	text := err.Error()
	if strings.Contains(text, u.Hostname()) || strings.Contains(text, u.Port()) {
		t.Errorf("the error %q holds the service's address %s", text, u.Host)
	}
	if !strings.Contains(text, "get user delegation key") || !strings.Contains(text, "connection refused") {
		t.Errorf("the error %q does not say what failed and why: get user delegation key, connection refused", text)
	}
}
