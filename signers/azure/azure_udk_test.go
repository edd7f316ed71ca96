package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/signerstest"
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
	down := signerstest.DownURL()
	p := &azureUDKProvider{cred: tokenCred{}, client: http.DefaultClient, url: down + "/?restype=service&comp=userdelegationkey",
		timeout: 5 * time.Second, now: time.Now}
	_, err := credcache.New(p.fetch, 5*time.Second, time.Minute).Get(context.Background())
	if !errors.Is(err, signers.ErrCredentials) {
		t.Fatalf("%v, want an ErrCredentials", err)
	}
	text := err.Error()
	if addr := signerstest.AddressIn(text, down); addr != "" {
		t.Errorf("the error %q holds the service's address (%s)", text, addr)
	}
	if !strings.Contains(text, "get user delegation key") || !strings.Contains(text, "connection refused") {
		t.Errorf("the error %q does not say what failed and why: get user delegation key, connection refused", text)
	}
}
