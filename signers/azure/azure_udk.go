package azure

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

const (
	// azureStorageScope is the OAuth scope of Azure Storage's data plane.
	azureStorageScope = "https://storage.azure.com/.default"
	// azureUDKLifetime is how long a requested key lives: Azure allows 7
	// days from the request; a few minutes are kept for clocks.
	azureUDKLifetime = azureUDKMaxExpires - 10*time.Minute
	// azureUDKSkew is how far before now a requested key starts, for
	// clocks that differ.
	azureUDKSkew = 5 * time.Minute
)

// newAzureUDKSource builds the user delegation key source of an account
// whose blob service is at base (scheme://host[/path]), with the Azure
// default credential chain. Keys are renewed when less than the profile's
// URL lifetime (at least credcache.RefreshAhead) is left of them.
func newAzureUDKCache(base string, timeout, expires time.Duration) (*credcache.Cache[*azureUDK], error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("no account_key, and the Azure default credential chain cannot be set up: %v", err)
	}
	p := &azureUDKProvider{
		cred:    cred,
		client:  http.DefaultClient,
		url:     base + "/?restype=service&comp=userdelegationkey",
		timeout: 4 * timeout,
		now:     time.Now,
	}
	return credcache.New(p.fetch, timeout, max(expires, credcache.RefreshAhead)), nil
}

// azureUDKProvider gets user delegation keys (Get User Delegation Key, with
// a token for the storage scope) for the profile's credential cache.
type azureUDKProvider struct {
	cred    azcore.TokenCredential
	client  *http.Client
	url     string
	timeout time.Duration
	now     func() time.Time
}

// azureUDKFields are the fields of a user delegation key other than its
// value, as the service returns them.
type azureUDKFields struct {
	SignedOid     string `xml:"SignedOid"`
	SignedTid     string `xml:"SignedTid"`
	SignedStart   string `xml:"SignedStart"`
	SignedExpiry  string `xml:"SignedExpiry"`
	SignedService string `xml:"SignedService"`
	SignedVersion string `xml:"SignedVersion"`
}

// fetch is the credential cache's fetch: a fresh key, ready to sign with,
// and its expiry. Its errors hold neither the token nor the key, and wrap
// their causes: the cache keeps them without addresses.
func (p *azureUDKProvider) fetch(ctx context.Context) (*azureUDK, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{azureStorageScope}})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("azure token for the storage account: %w", err)
	}
	now := p.now().UTC().Truncate(time.Second)
	body := `<?xml version="1.0" encoding="utf-8"?><KeyInfo><Start>` + now.Add(-azureUDKSkew).Format(azureTimeLayout) +
		`</Start><Expiry>` + now.Add(azureUDKLifetime).Format(azureTimeLayout) + `</Expiry></KeyInfo>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(body))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get user delegation key: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("x-ms-version", azureSASVersion)
	req.Header.Set("x-ms-date", now.Format(http.TimeFormat))
	req.Header.Set("Content-Type", "application/xml")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get user delegation key: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get user delegation key: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// the error code only: the body may echo request details
		return nil, time.Time{}, fmt.Errorf("get user delegation key: %s (%s); the identity needs the Storage Blob Delegator role on the account",
			resp.Status, resp.Header.Get("x-ms-error-code"))
	}
	var key struct {
		azureUDKFields
		Value string `xml:"Value"`
	}
	if err := xml.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &key); err != nil {
		return nil, time.Time{}, errors.New("get user delegation key: the answer is not a UserDelegationKey")
	}
	f := key.azureUDKFields
	expiry, err := time.Parse(time.RFC3339, f.SignedExpiry)
	if err != nil || key.Value == "" || f.SignedOid == "" || f.SignedTid == "" || f.SignedService == "" || f.SignedVersion == "" {
		return nil, time.Time{}, errors.New("get user delegation key: the answer lacks fields of a UserDelegationKey")
	}
	k, err := newAzureUDK(key.Value, f)
	if err != nil {
		return nil, time.Time{}, err
	}
	return k, expiry, nil
}

// newAzureUDK makes a key ready to sign with from its value (base64) and
// its other fields. The times are written as the Azure SDK writes them
// (whole seconds, UTC), the same in the string to sign and the query.
func newAzureUDK(value string, f azureUDKFields) (*azureUDK, error) {
	secret, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(secret) == 0 {
		return nil, errors.New("the user delegation key's value is not base64")
	}
	var times [2]string
	var expiry time.Time
	for i, s := range []string{f.SignedStart, f.SignedExpiry} {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("the user delegation key's time %q is not RFC 3339", s)
		}
		times[i], expiry = t.UTC().Format(azureTimeLayout), t
	}
	oid, tid, service, version := f.SignedOid, f.SignedTid, f.SignedService, f.SignedVersion
	k := &azureUDK{
		expiry:    expiry.Truncate(time.Second),
		stsFields: strings.Join([]string{oid, tid, times[0], times[1], service, version, "", "", ""}, "\n") + "\n",
	}
	var q []byte
	for _, p := range [][2]string{{"ske", times[1]}, {"skoid", oid}, {"sks", service}, {"skt", times[0]}, {"sktid", tid}, {"skv", version}} {
		q = append(q, '&')
		q = append(q, p[0]...)
		q = append(q, '=')
		q = escape.AppendForm(q, p[1])
	}
	k.query = string(q)
	k.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return k, nil
}

// azureUDK is a user delegation key, ready to sign with.
type azureUDK struct {
	expiry    time.Time // ske
	stsFields string    // the lines skoid ... skv, saoid, suoid, scid (these three empty) of the string to sign, each with its '\n'
	query     string    // "&ske=...&skoid=...&sks=...&skt=...&sktid=...&skv=..."
	macs      sync.Pool // hash.Hash: HMAC-SHA256 under the key
}
