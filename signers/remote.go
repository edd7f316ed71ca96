package signers

import "time"

// RemoteSigner is a Signer that may sign through a remote service (a key
// kept in a KMS, a cloud's signing API) instead of with a key it holds:
// each signature it cannot take from its caches is a network call. The
// handler gives it, at start (after Provision, before any Sign), the
// observer of its profile, which it tells of each such call. A profile
// that holds its key makes no call and tells nothing.
type RemoteSigner interface {
	SetRemoteObserver(o RemoteObserver)
}

// RemoteObserver is told of each call a profile makes to its remote
// signer: how it ended and how long it took, the wait for the identity's
// token included. It is safe for concurrent use.
type RemoteObserver interface {
	ObserveRemote(outcome RemoteOutcome, took time.Duration)
}

// RemoteOutcome is how a call to a remote signer ended: the outcome label
// of caddy_presign_remote_signatures_total.
type RemoteOutcome uint8

// The outcomes of remote signing calls.
const (
	RemoteOK      RemoteOutcome = iota // a signature
	RemoteError                        // a refusal, an error or no answer: the request is answered 503
	RemoteTimeout                      // no signature within the profile's timeout: 503 too
	NumRemoteOutcomes
)
