package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/caddyserver/caddy/v2"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/remote"
)

const (
	iamDefaultEndpoint = "https://iamcredentials.googleapis.com"
	iamDefaultTimeout  = 5 * time.Second
	iamScope           = "https://www.googleapis.com/auth/cloud-platform"
)

// provisionIAM sets the profile up to sign as the service account email
// through the IAM Credentials API's signBlob, with the OAuth token of the
// identity Caddy runs as: Application Default Credentials when there is a
// file of them (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's login, with
// impersonation), else the metadata server of GCE, GKE or Cloud Run
// (GCE_METADATA_HOST names another). At start Caddy asks the network
// nothing but, without such a file and without GCE_METADATA_HOST,
// whether a metadata server is there: a missing permission shows at the
// first signature, as a 503 and an error in the log.
func (g *GCS) provisionIAM(ctx context.Context, email string) error {
	if g.IAMTimeout == 0 {
		g.IAMTimeout = caddy.Duration(iamDefaultTimeout)
	}
	if g.IAMTimeout < 0 {
		return errors.New("iam_timeout must be positive")
	}
	timeout := time.Duration(g.IAMTimeout)
	base := iamDefaultEndpoint
	if g.IAMEndpoint != "" {
		scheme, host, err := endpoint.Parse("iam_endpoint", g.IAMEndpoint, iamDefaultEndpoint, true)
		if err != nil {
			return err
		}
		base = scheme + "://" + host
	}
	client := &http.Client{Timeout: timeout}
	tokens, err := identityTokens(ctx, client)
	if err != nil {
		return err
	}
	s := &iamSigner{
		url:    base + "/v1/projects/-/serviceAccounts/" + url.PathEscape(email) + ":signBlob",
		client: client,
		tokens: tokens,
	}
	g.email = email
	g.iam = remote.New("IAM signBlob as "+email, timeout, s.signBlob)
	return nil
}

// identityTokens returns the OAuth tokens of the identity Caddy runs as,
// as Application Default Credentials find it; client makes their calls.
func identityTokens(ctx context.Context, client *http.Client) (oauth2.TokenSource, error) {
	data, from, err := readADC()
	if err != nil {
		return nil, err
	}
	if data != nil {
		// the tokens' calls outlive the provisioning
		tctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
		// the file is the operator's (the environment's or gcloud's), and
		// of a type that names an identity
		var f struct {
			Type google.CredentialsType `json:"type"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: not a credentials file (JSON)", from)
		}
		switch f.Type {
		case google.ServiceAccount, google.AuthorizedUser, google.ImpersonatedServiceAccount, google.ExternalAccount, google.ExternalAccountAuthorizedUser:
		case google.GDCHServiceAccount:
			return nil, fmt.Errorf("%s: credentials of Google Distributed Cloud Hosted cannot call the IAM Credentials API", from)
		default:
			return nil, fmt.Errorf("%s: credentials of type %q cannot give the identity's token", from, f.Type)
		}
		creds, err := google.CredentialsFromJSONWithTypeAndParams(tctx, data, f.Type, google.CredentialsParams{Scopes: []string{iamScope}})
		if err != nil {
			return nil, fmt.Errorf("%s: %v", from, err)
		}
		return creds.TokenSource, nil
	}
	// asked anew (the package-level OnGCE remembers its first answer for
	// the process, and a reload may come with GCE_METADATA_HOST changed)
	if !metadata.NewClient(nil).OnGCEWithContext(ctx) {
		return nil, errors.New("service_account <email> signs with the token of the identity Caddy runs as, and there is none: no Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login) and no metadata server (GCE, GKE, Cloud Run; GCE_METADATA_HOST)")
	}
	return metadataTokens(client.Timeout), nil
}

// metadataTokens returns the tokens of the metadata server's default
// service account, reused until 225s before they expire (as Google's
// libraries do), each fetched with one request within timeout. The
// metadata package's retries would outlast iam_timeout, and the error
// would then be the timeout rather than its cause.
func metadataTokens(timeout time.Duration) oauth2.TokenSource {
	host := os.Getenv("GCE_METADATA_HOST")
	if host == "" {
		host = "169.254.169.254"
	}
	// never through a proxy, as Google's metadata client
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return oauth2.ReuseTokenSourceWithExpiry(nil, &metadataSource{
		url:    "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/token?scopes=" + url.QueryEscape(iamScope),
		client: &http.Client{Timeout: timeout, Transport: t},
	}, 225*time.Second)
}

// metadataSource fetches a token from the metadata server. Its errors say
// why there is none, and name no address.
type metadataSource struct {
	url    string
	client *http.Client
}

// Token implements oauth2.TokenSource.
func (m *metadataSource) Token() (*oauth2.Token, error) {
	req, err := http.NewRequest(http.MethodGet, m.url, nil)
	if err != nil {
		return nil, fmt.Errorf("GCE_METADATA_HOST: %v", err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the metadata server is unreachable: %w", endpoint.Scrub(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading the metadata server's answer: %w", endpoint.Scrub(err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the metadata server answered %s", resp.Status)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		return nil, errors.New("the metadata server answered no token")
	}
	return &oauth2.Token{
		AccessToken: tok.AccessToken,
		TokenType:   tok.TokenType,
		Expiry:      time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second),
	}, nil
}

// iamSigner calls signBlob of one service account.
type iamSigner struct {
	url    string // .../v1/projects/-/serviceAccounts/<email>:signBlob
	client *http.Client
	tokens oauth2.TokenSource
}

// signBlob returns the account's signature of msg (RSA-SHA256, PKCS #1
// v1.5, by a key Google keeps), within ctx. Its errors name no address.
func (s *iamSigner) signBlob(ctx context.Context, msg []byte) ([]byte, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("no OAuth token of the identity Caddy runs as: %w", endpoint.Scrub(err))
	}
	body, err := json.Marshal(struct {
		Payload []byte `json:"payload"`
	}{msg})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	tok.SetAuthHeader(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, endpoint.Scrub(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, endpoint.Scrub(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Status == "" {
			return nil, fmt.Errorf("answered %s", resp.Status)
		}
		return nil, fmt.Errorf("answered %s (%s: %s)", resp.Status, e.Error.Status, e.Error.Message)
	}
	var out struct {
		SignedBlob []byte `json:"signedBlob"`
	}
	if json.Unmarshal(b, &out) != nil || len(out.SignedBlob) == 0 {
		return nil, errors.New("answered no signature")
	}
	return out.SignedBlob, nil
}

// token returns the identity's token, waiting no longer than ctx allows:
// a token source takes no context.
func (s *iamSigner) token(ctx context.Context) (*oauth2.Token, error) {
	type result struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		tok, err := s.tokens.Token()
		ch <- result{tok, err}
	}()
	select {
	case r := <-ch:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SetRemoteObserver implements signers.RemoteSigner: without a key, o is
// told of each signBlob call.
func (g *GCS) SetRemoteObserver(o signers.RemoteObserver) {
	if g.iam != nil {
		g.iam.SetRemoteObserver(o)
	}
}
