// Package pagetest writes the listing pages that the kinds' tests and
// benchmarks serve.
package pagetest

import (
	"fmt"
	"strings"
)

// ListObjectsV2 is a ListBucketResult of bucket and prefix holding n
// objects, prefix + file-NNNN.txt, as S3 writes one.
func ListObjectsV2(bucket, prefix string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>`, bucket, prefix, n)
	for i := range n {
		fmt.Fprintf(&b, `<Contents><Key>%sfile-%04d.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&#34;0123456789abcdef0123456789abcdef&#34;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`, prefix, i, 1000+i)
	}
	b.WriteString(`</ListBucketResult>`)
	return b.String()
}
