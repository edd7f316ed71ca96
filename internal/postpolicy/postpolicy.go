// Package postpolicy is the tests' independent check of a browser upload
// form's policy, as S3 and Cloud Storage document it ("Browser-Based
// Uploads Using POST", "Policy document"): what the policy allows, apart
// from its signature, which the store's verifier checks.
package postpolicy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Covers checks the base64 JSON policy of a POST form: not expired
// at now, and every field but policy and the signature field matched
// exactly by a condition ({"name": "value"} or ["eq", "$name", "value"]).
func Covers(fields map[string]string, now time.Time, sigField string) error {
	b, err := base64.StdEncoding.DecodeString(fields["policy"])
	if err != nil {
		return errors.New("policy is not base64")
	}
	var p struct {
		Expiration string
		Conditions []any
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return errors.New("policy is not JSON")
	}
	exp, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil || !now.Before(exp) {
		return errors.New("policy expired")
	}
	eq := map[string]string{}
	for _, c := range p.Conditions {
		switch c := c.(type) {
		case map[string]any:
			for n, v := range c {
				s, _ := v.(string)
				eq[strings.ToLower(n)] = s
			}
		case []any:
			if len(c) == 3 && c[0] == "eq" {
				n, _ := c[1].(string)
				v, _ := c[2].(string)
				eq[strings.ToLower(strings.TrimPrefix(n, "$"))] = v
			}
		}
	}
	for n, v := range fields {
		if n == "policy" || n == sigField {
			continue
		}
		if got, ok := eq[strings.ToLower(n)]; !ok || got != v {
			return fmt.Errorf("field %s is not the policy's", n)
		}
	}
	return nil
}
