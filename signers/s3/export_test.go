package s3

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers/internal/credcache"
)

// Test hooks: what tests need of the production types and no production
// code calls.

// len counts the signing keys in c.
func (c *v4KeyCache) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// storeAWS makes s sign with creds from now on, as a fetch of its provider
// would, without a renewal ahead; s's clock stays.
func storeAWS(s *S3, creds aws.Credentials) {
	now := s.creds.Now
	s.creds = credcache.New(func(context.Context) (aws.Credentials, time.Time, error) {
		var expires time.Time
		if creds.CanExpire {
			expires = creds.Expires
		}
		return creds, expires, nil
	}, time.Second, 0)
	s.creds.Now = now
}
