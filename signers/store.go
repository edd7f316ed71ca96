package signers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is a profile kind whose store Caddy can ask itself: list a prefix
// (browse) and check that an object exists (check_exists). The handler
// type-asserts a rule's profile to it at start; a kind that does not
// implement it refuses the browse and check_exists options in CheckRule.
//
// Errors are *StoreError: its Status is the answer (400 for a refusal the
// request caused, 502 for an outage, 503 when the credentials cannot be
// had; see StoreError).
type Store interface {
	// List returns one page, at most ListPageSize entries, of the objects
	// and folders (common prefixes) directly under prefix ("" or ending in
	// "/"), from the continuation token of the previous page ("" for the
	// first). Every key and folder it returns starts with prefix.
	List(ctx context.Context, prefix, token string) (*Listing, error)

	// Exists asks the store whether the object key exists now: true for
	// the store's answer about the object (with an ETag), false for its
	// answer that there is none; anything else (the store unreachable,
	// refusing, answering something other than the object) is an error,
	// never false. It caches nothing: Existence holds the one cache of
	// check_exists.
	Exists(ctx context.Context, key string) (bool, error)
}

// ListPageSize is the most entries (objects and folders) a page of List
// holds: what one ListObjectsV2 request returns.
const ListPageSize = 1000

// Listing is one page of a listing.
type Listing struct {
	// Folders are the common prefixes: full keys ending in "/".
	Folders []string
	// Objects are the objects directly under the prefix.
	Objects []Object
	// Next is the continuation token of the next page; "" on the last.
	Next string
}

// Object is one object of a listing.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// StoreError is a failed call to the store's API, classified for the
// answer: Status is the HTTP status to answer with, Reason a short
// explanation for the client that holds no secret.
//
// Every kind classifies its store's answers into one contract (refusal):
//   - the request's doing, 400: a 4xx answer (but 401 and 403) whose error
//     code names the request (a continuation token or marker the store
//     never issued, an invalid or too long name); the handler logs it at
//     debug level and counts it as a refusal (bad_key), like its own key
//     checks, so that no client can fill the error log or set off alerts;
//   - an outage, 502: the store unreachable, slow or failing (5xx), its
//     refusal of Caddy's own credentials (401, 403), a 4xx that blames the
//     profile (a missing bucket or container, a wrong region), and a 200
//     that is not the answer asked for (a body that is no listing of the
//     bucket and prefix, an existence answer without an ETag); logged at
//     error level;
//   - 503: the credentials cannot be had.
//
// A failure is never read as an object's absence (404).
type StoreError struct {
	Status int
	Reason string
	Err    error
}

func (e *StoreError) Error() string { return e.Reason + ": " + e.Err.Error() }

func (e *StoreError) Unwrap() error { return e.Err }

// CheckStore checks the options a Store kind serves alike: browse,
// browse_template and check_exists.
func (r *RuleInfo) CheckStore() error {
	o := r.Options
	if (o.Browse || o.CheckExists != 0) && !r.downloads() {
		return errors.New("browse and check_exists answer GET and HEAD: the rule needs GET or HEAD")
	}
	if o.BrowseTemplate != "" && !o.Browse {
		return errors.New("browse_template is the page of browse: the rule needs browse")
	}
	if o.CheckExists < 0 {
		return fmt.Errorf("check_exists must be a positive window, got %s", time.Duration(o.CheckExists))
	}
	return nil
}
