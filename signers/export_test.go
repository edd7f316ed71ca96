package signers

import "github.com/aws/aws-sdk-go-v2/aws"

// Test hooks: what tests need of the production types and no production
// code calls.

// reset empties c: the next request through it is signed afresh and stores
// nothing, as without the cache. A profile whose cache is reset before
// each request is the tests' reference for the cached answers.
func (c *slotCache[E]) reset() {
	for i := range c.tags {
		c.tags[i].Store(0)
		c.slots[i].Store(nil)
	}
}

// len counts the signatures in c.
func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

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

// storeAWS puts creds into c as a fetch would, without a renewal ahead.
func storeAWS(c *credCache[aws.Credentials], creds aws.Credentials) {
	e := &credEntry[aws.Credentials]{cred: creds}
	if creds.CanExpire {
		e.expires = creds.Expires
	}
	c.cur.Store(e)
}
