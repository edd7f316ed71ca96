package s3

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers/internal/escape"
)

// fuzzHosts are the hosts FuzzPresignV4 picks from; the last slot takes the
// fuzzed host instead.
var fuzzHosts = []string{
	"bucket.s3.us-east-1.amazonaws.com",
	"bucket.s3.amazonaws.com:443",
	"minio.local:80",
	"127.0.0.1:9000",
	"[::1]:443",
	"account.r2.cloudflarestorage.com",
}

// fuzzSchemes are the schemes FuzzPresignV4 picks from.
var fuzzSchemes = []string{"https", "http", "HTTPS", ""}

// fuzzMethods are the methods FuzzPresignV4 picks from.
var fuzzMethods = []string{http.MethodGet, http.MethodHead, http.MethodPut, "", "get", "X Y"}

// Bounds of the fuzzed signing time: 2000-01-01 to 2100-01-01, UTC.
const (
	fuzzMinUnix = 946684800
	fuzzMaxUnix = 4102444800
)

// FuzzPresignV4 checks presignV4 against the SDK on fuzzed keys,
// credentials, regions, times, lifetimes, methods, hosts and response
// parameters.
//
// flags: bit 0 use the key bytes as EscapedPath as is (not escaped), bit 1
// use the fuzzed host, bits 2-3 the scheme, bit 4 add
// response-content-disposition, bit 5 response-content-type, bit 6 an extra
// parameter named by extraName, bit 7 a non-UTC sign time; a non-empty
// signedType is signed as the Content-Type header (a typed PUT).
func FuzzPresignV4(f *testing.F) {
	type seed struct {
		key                          []byte
		region, akid, secret, token  string
		unix, expires                int64
		method, hostIdx, flags       uint8
		host, disp, ctype, extraName string
		extraValue, signedType       string
	}
	seeds := []seed{
		{key: []byte("photos/cat.jpg"), region: "us-east-1", akid: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", unix: 1715949296, expires: 900},
		{key: []byte("r\u00e9sum\u00e9 \u65e5\u672c/\U0001F600+%=&?#~.pdf"), region: "eu-central-1", akid: "ASIA", secret: "s", token: "FwoG+/ZXIvYXdz==", unix: 1735689599, expires: 604800, flags: 0x30, disp: testDisposition, ctype: "application/pdf; q=\"1\""},
		{key: []byte("a//b/"), region: "auto", akid: "a k/+", secret: "", unix: 1735689600, expires: 1, method: 1, hostIdx: 1, flags: 0x40, extraName: "X-Amz-Expires", extraValue: "5"},
		{key: []byte{0xff, 0xfe, '/', 0xc3}, region: "r", akid: "k", secret: "s", unix: 4102444799, expires: 3600, method: 2, hostIdx: 4, flags: 0x04},
		{key: []byte("/bad%zz"), region: "r", akid: "k", secret: "s", unix: 946684800, expires: 60, flags: 0x01},
		{key: []byte("a%c3%a9+b;c@d"), region: "r", akid: "k", secret: "s", unix: 1e9, expires: 60, flags: 0x01 | 0x02, host: " h  o:443 "},
		{key: []byte("k"), region: "my region/1", akid: "k", secret: "s", token: "t o+k/e=n%", unix: 2e9, expires: 60, flags: 0x02 | 0x08, host: "b\u00fccher.example:80"},
		{key: []byte("k"), region: "us-west-2", akid: "k", secret: "s", unix: 1.5e9, expires: 60, flags: 0x80 | 0x40, extraName: "a b\u00e9", extraValue: "\"q\";x"},
		{key: []byte(""), region: "", akid: "", secret: "", unix: 0, expires: 0, flags: 0xff},
		{key: []byte("up/cat.png"), region: "us-east-1", akid: "k", secret: "s", unix: 1.7e9, expires: 900, method: 2, signedType: "image/png"},
		{key: []byte("up/v.mp4"), region: "r", akid: "k", secret: "s", token: "t", unix: 1.7e9, expires: 60, method: 2, hostIdx: 3, signedType: " video/mp4;  codecs=\"a,  b\" "},
	}
	for _, s := range seeds {
		f.Add(s.key, s.region, s.akid, s.secret, s.token, s.unix, s.expires, s.method, s.hostIdx, s.flags,
			s.host, s.disp, s.ctype, s.extraName, s.extraValue, s.signedType)
	}
	f.Fuzz(func(t *testing.T, key []byte, region, akid, secret, token string, unix, expires int64,
		method, hostIdx, flags uint8, host, disp, ctype, extraName, extraValue, signedType string,
	) {
		in := v4Input{
			Method:      fuzzMethods[int(method)%len(fuzzMethods)],
			Scheme:      fuzzSchemes[int(flags>>2&3)],
			Host:        fuzzHosts[int(hostIdx)%len(fuzzHosts)],
			EscapedPath: "/" + escape.Path(string(key)),
			Region:      region,
			Service:     "s3",
			Creds:       aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token},
			SignTime:    time.Unix(fuzzMinUnix+mod(unix, fuzzMaxUnix-fuzzMinUnix), 0).UTC(),
			Expires:     1 + mod(expires, 604800),
			ContentType: signedType,
		}
		if flags&0x01 != 0 {
			in.EscapedPath = string(key)
		}
		if flags&0x02 != 0 {
			in.Host = host
		}
		if flags&0x10 != 0 {
			in.Query = append(in.Query, escape.QueryParam{Name: "response-content-disposition", Value: disp})
		}
		if flags&0x20 != 0 {
			in.Query = append(in.Query, escape.QueryParam{Name: "response-content-type", Value: ctype})
		}
		if flags&0x40 != 0 {
			in.Query = append(in.Query, escape.QueryParam{Name: extraName, Value: extraValue})
		}
		if flags&0x80 != 0 {
			in.SignTime = in.SignTime.In(time.FixedZone("X", -11*3600))
		}
		checkV4(t, &in)
	})
}

// mod is x modulo m in [0, m).
func mod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}
