package cloudfront

// Test hooks: what tests need of the production types and no production
// code calls.

// len counts the signatures in c.
func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
